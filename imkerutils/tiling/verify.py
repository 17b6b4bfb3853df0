"""``verify``: every byte of a canvas that matters, checked against what vouches for it.

* level-0 tiles: the manifest's SHA-256 of their raw pixels;
* coarser levels: each stored chunk (and each that should exist) equals the 2x reduction of its four
  children, except over tiles still marked stale (the next pyramid update recomputes those);
* journal entries: ``meta.json`` carries its own hash (:mod:`.sealed`); every tile snapshot decodes to the
  pixels whose hash the snapshot of its manifest entry holds;
* metadata: the root ``zarr.json`` equals what the committed state makes of it; every level array's
  ``zarr.json`` describes the array the frame and bounds call for; ``state.json`` and ``levels.json`` carry
  their own hash;
* artifacts (``_generated/``, ``outputs/``): each has a hash entry, written with it, that its bytes match;
* nothing else: a file the canvas does not account for (a killed writer's ``*.partial``, a stray chunk)
  is reported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from imkerutils.errors import CanvasCorruptError
from imkerutils.tiling.frame import TILE_KEY_PREFIX, Frame, level_window, project, tile_of_tile_key
from imkerutils.tiling.journal import ENTRIES_PREFIX, WRITING_KEY
from imkerutils.tiling.layout import BOOKKEEPING_ATTRS, level_metadata, root_document, root_seal
from imkerutils.tiling.pyramid import DIRTY_PREFIX, LEVELS_KEY, downsample2
from imkerutils.tiling.sealed import is_sealed
from imkerutils.tiling.step import MANIFEST_PREFIX, MANIFEST_TILES, chunk_pool, digest, manifest_key
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from imkerutils.tiling.canvas import Canvas

__all__ = ["ARTIFACT_HASH_SUFFIX", "ARTIFACT_PREFIXES", "VerifyReport", "artifact_hash_key", "verify_canvas"]

_BATCH = 256  # tiles checked at a time, on the chunk pool
ARTIFACT_PREFIXES = ("_generated/", "outputs/", "_staged/")
ARTIFACT_HASH_SUFFIX = ".sha256"


def artifact_hash_key(key: str) -> str:
    """Where the SHA-256 of artifact ``key`` is kept: beside it, so deleting a folder deletes both."""
    return key + ARTIFACT_HASH_SUFFIX


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of :meth:`Canvas.verify`."""

    tiles_checked: int
    problems: tuple[str, ...]
    leftovers: tuple[str, ...] = ()  # files an interrupted writer left; the next writable open removes them

    @property
    def ok(self) -> bool:
        return not self.problems


def _batched(check: Callable[[tuple[int, int]], str | None], items: list[tuple[int, int]]) -> list[str]:
    out: list[str] = []
    for start in range(0, len(items), _BATCH):  # batches: a bounded number of tasks in flight
        out.extend(p for p in chunk_pool().map(check, items[start : start + _BATCH]) if p)
    return out


def _decodes(read: Callable[[], np.ndarray], where: str) -> tuple[np.ndarray | None, str | None]:
    try:
        return read(), None
    except CanvasCorruptError:  # layout.read_window's word for bytes the codec cannot decode
        return None, f"{where}: its chunk cannot be decoded"


def verify_canvas(canvas: Canvas, *, full: bool = True) -> VerifyReport:
    """Check ``canvas`` as the module docstring says (``full=False``: level-0 tiles only, as format 1 did)."""
    raw, frame, t = canvas._read_raw, canvas.frame, canvas.tile
    problems: list[str] = []
    levels = canvas._pyramid.built_levels() if full else 1
    keys = (
        set(raw.list_prefix("", partials=True))
        if full
        else {*raw.list_prefix(MANIFEST_TILES), *raw.list_prefix(f"{frame.path(0)}/c/")}
    )
    accounted: set[str] = set()

    # -- level 0 against the manifest ----------------------------------------------
    manifest: set[tuple[int, int]] = set()
    for key in (k for k in keys if k.startswith(MANIFEST_TILES) and not k.endswith(".partial")):
        accounted.add(key)
        try:
            manifest.add(tile_of_tile_key(key))
        except CanvasCorruptError:
            problems.append(f"{key} is not a manifest entry of this canvas")
    stored: list[set[tuple[int, int]]] = []
    for level in range(levels):
        prefix = f"{frame.path(level)}/"
        accounted.add(prefix + "zarr.json")
        tiles = set()
        for key in (k for k in keys if k.startswith(prefix + "c/")):
            try:
                tiles.add(frame.tile_of_key(level, key))
                accounted.add(key)
            except CanvasCorruptError:
                pass  # reported as unaccounted below
        stored.append(tiles)
    for ij in sorted(stored[0] - manifest):
        problems.append(
            f"chunk {frame.chunk_key(0, *ij)} (tile {ij}) has no manifest entry (written outside imkerutils?)"
        )

    def check_tile(ij: tuple[int, int]) -> str | None:
        i, j = ij
        where = f"tile ({i}, {j}) at world row {i * t}, col {j * t}"
        block, problem = _decodes(lambda: canvas.read(canvas.grid.tile_window(i, j)), where)
        if problem or block is None or raw.get(manifest_key(i, j)) == digest(block):
            return problem
        return f"{where}: pixels do not match the manifest hash"

    problems += _batched(check_tile, sorted(manifest))
    if not full:
        return VerifyReport(tiles_checked=len(manifest), problems=tuple(problems))
    leftovers = sorted(k for k in keys if k.endswith(".partial"))  # temporary files of a killed or running write
    accounted.update(leftovers)

    # -- coarser levels against their children --------------------------------------
    stale = {tile_of_tile_key(k) for k in keys if k.startswith(DIRTY_PREFIX)}
    accounted.update(k for k in keys if k.startswith(DIRTY_PREFIX))
    arrays = [canvas._pyramid.array(level) for level in range(levels)]
    for level in range(1, levels):
        from imkerutils.tiling.layout import read_window

        lb = level_window(canvas.bounds, level)
        todo = stored[level] | {(i >> 1, j >> 1) for i, j in stored[level - 1]}
        todo -= {(i >> level, j >> level) for i, j in stale}
        inside = {p.tile for p in project(lb, t)}

        def check_parent(ij: tuple[int, int], level: int = level, inside: set[tuple[int, int]] = inside) -> str | None:
            i, j = ij
            where = f"pyramid level {level} tile ({i}, {j})"
            got, problem = _decodes(
                lambda: read_window(arrays[level], frame.to_array(Window(i * t, j * t, t, t), level)), where
            )
            if problem:
                return problem
            children, problem = _decodes(
                lambda: read_window(
                    arrays[level - 1], frame.to_array(Window(2 * i * t, 2 * j * t, 2 * t, 2 * t), level - 1)
                ),
                f"the children of {where}",
            )
            if problem or got is None or children is None:
                return problem
            want = downsample2(children) if ij in inside else np.zeros_like(got)
            if np.array_equal(got, want):
                return None
            return f"{where}: pixels differ from the reduction of level {level - 1}"

        problems += _batched(check_parent, sorted(todo))

    # -- the journal ---------------------------------------------------------------
    state = canvas._state
    pending = str(state.pending["id"]) if state.pending and "id" in state.pending else None
    for n, step_id in enumerate(state.steps, start=1):
        prefix = f"{ENTRIES_PREFIX}{step_id}/"
        entry = sorted(k for k in keys if k.startswith(prefix))
        accounted.update(entry)
        if step_id != pending:  # a pending entry is in the middle of being written or restored
            # "after/" is complete only for undone steps; a committed step's may hold an interrupted undo's
            problems += _check_entry(raw, prefix, entry, after=n > state.head)
    orphans = sorted(k for k in keys - accounted if k.startswith(ENTRIES_PREFIX))  # not listed: never committed
    building: list[str] = []
    if state.pending and state.pending.get("op") == "rebase":  # the arrays a pending rebase is building
        pending_frame = Frame.from_dict(state.pending["frame"])
        building = [pending_frame.path(level) for level in range(int(state.pending.get("levels", 1)))]
    for path in (*state.retired, *building):  # arrays a committed rebase has yet to delete, or one is building
        orphans += [k for k in keys if k.startswith(f"{path}/")]
    accounted.update(orphans)
    leftovers += orphans

    # -- metadata --------------------------------------------------------------------
    expect_root = root_document(canvas.mode, frame, canvas.bounds, levels, _root_name(raw))
    root = _json(raw, "zarr.json")
    if root != expect_root:
        try:
            ours = root["attributes"]["imkerutils"]  # type: ignore[index]
            # sealed and whole, or format 1's own (an upgrade stopped between its commit and the mirror)
            intact = ours.get("sha256") == root_seal(root) or ours.get("format") == "imkerutils.canvas/1"  # type: ignore[arg-type]
        except (KeyError, TypeError, AttributeError):
            intact = False
        if not intact:
            problems.append("zarr.json does not describe the committed canvas (damaged or edited)")
        else:  # whole, but of an earlier state: a writer was stopped between its commit and the mirror
            leftovers.append("zarr.json mirrors an earlier committed state (the next writable open updates it)")
    accounted.add("zarr.json")
    for level in range(len(arrays)):
        key = f"{frame.path(level)}/zarr.json"
        doc = _json(raw, key)
        shape = doc.get("shape") if isinstance(doc, dict) else None  # as stored (a writer may have resized it)
        if not (
            isinstance(shape, list) and len(shape) == 3 and all(isinstance(n, int) for n in shape)
        ) or doc != level_metadata(frame, level, (shape[1], shape[2]), canvas.channels):
            problems.append(f"{key} does not describe level {level}'s array (damaged or edited)")
            continue
        want = frame.shape(level, canvas.bounds)
        if shape[1] < want[0] or shape[2] < want[1]:  # larger is no damage: a step grows it before it writes
            problems.append(f"{key}: level {level} is {shape[1:]}, smaller than the frame and bounds call for ({want})")
    for key in ("_journal/state.json", LEVELS_KEY):
        data = raw.get(key)
        if data is not None and not is_sealed(data):
            problems.append(f"{key} is damaged (its sha256 does not match)")
        accounted.add(key)
    accounted.update(("_journal/lock", WRITING_KEY))
    level_docs = {f"{frame.path(level)}/zarr.json" for level in range(levels)}
    for key in (
        k for k in keys if k.endswith("/zarr.json") and k.count("/") == 1 and k not in level_docs and k not in accounted
    ):
        accounted.add(key)
        if _json(raw, key) != {"zarr_format": 3, "node_type": "group", "attributes": BOOKKEEPING_ATTRS}:
            problems.append(f"{key} is damaged")

    # -- artifacts -------------------------------------------------------------------
    for key in sorted(
        k
        for k in keys
        if k.startswith(ARTIFACT_PREFIXES) and not k.endswith(("/zarr.json", ARTIFACT_HASH_SUFFIX, ".partial"))
    ):
        accounted.update((key, artifact_hash_key(key)))
        stored_hash = raw.get(artifact_hash_key(key))
        data = raw.get(key)
        if stored_hash is None:
            problems.append(f"artifact {key} has no hash entry (written outside imkerutils?)")
        elif data is None or hashlib.sha256(data).hexdigest().encode() != stored_hash:
            problems.append(f"artifact {key} does not match its hash")

    for key in sorted(keys - accounted):
        problems.append(f"{key} is not part of this canvas (a killed writer's leftover, or written by hand)")
    return VerifyReport(tiles_checked=len(manifest), problems=tuple(problems), leftovers=tuple(leftovers))


def _root_name(raw: object) -> str:
    try:
        return str(_json(raw, "zarr.json")["attributes"]["ome"]["multiscales"][0]["name"])  # type: ignore[index]
    except (KeyError, TypeError, IndexError):
        return ""


def _json(raw: object, key: str) -> object:
    data = raw.get(key)  # type: ignore[attr-defined]
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _check_entry(raw: object, prefix: str, keys: Iterable[str], *, after: bool) -> list[str]:
    """A journal entry: its sealed ``meta.json``, and every tile snapshot against its manifest snapshot."""
    import imagecodecs

    problems = []
    meta = raw.get(prefix + "meta.json")  # type: ignore[attr-defined]
    if meta is None or not is_sealed(meta):
        problems.append(f"{prefix}meta.json is damaged or missing")
    for key in keys:
        rest = key[len(prefix) :]
        which, _, name = rest.partition("/")
        if which not in ("before", "after") or not name.startswith(TILE_KEY_PREFIX) or (which == "after" and not after):
            continue
        hash_key = f"{prefix}{which}/{MANIFEST_PREFIX}{name}"
        want = raw.get(hash_key)  # type: ignore[attr-defined]
        try:
            pixels = imagecodecs.zstd_decode(raw.get(key))  # type: ignore[attr-defined]
        except Exception as exc:  # imagecodecs' own error type
            problems.append(f"{key}: the snapshot cannot be decoded ({type(exc).__name__})")
            continue
        if want != hashlib.sha256(pixels).hexdigest().encode():
            problems.append(f"{key}: the snapshot does not match its manifest entry")
    return problems
