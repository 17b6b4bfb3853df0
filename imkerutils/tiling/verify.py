"""``verify``: every byte of a canvas that matters, checked against what vouches for it.

* level-0 tiles: the manifest's SHA-256 of their raw pixels;
* coarser levels: each stored chunk (and each that should exist) equals the 2x reduction of its four
  children, except over tiles still marked stale (the next pyramid update recomputes those);
* journal entries: ``meta.json`` carries its own hash (:mod:`.sealed`); every tile snapshot decodes to the
  pixels whose hash the snapshot of its manifest entry holds;
* metadata: the root ``zarr.json`` equals what the committed state makes of it; every level array's
  ``zarr.json`` describes the array the frame and bounds call for; ``state.json`` and ``levels.json`` carry
  their own hash;
* artifacts (``_generated/``, ``outputs/``, ``_staged/``): each has a hash entry, written before it, that its
  bytes match (a hash whose artifact never came is a killed writer's leftover);
* nothing else: a file the canvas does not account for (a killed writer's ``*.partial``, a stray chunk)
  is reported.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from imkerutils.errors import CanvasCorruptError
from imkerutils.tiling.artifacts import ARTIFACT_HASH_SUFFIX, ARTIFACT_PREFIXES, artifact_hash_key, lone_hashes
from imkerutils.tiling.chunkio import read_tile
from imkerutils.tiling.frame import TILE_KEY_PREFIX, Frame, level_window, project, tile_of_tile_key
from imkerutils.tiling.journal import ENTRIES_PREFIX, WRITING_KEY
from imkerutils.tiling.layout import BOOKKEEPING_ATTRS, level_metadata, root_document, root_seal
from imkerutils.tiling.pyramid import DIRTY_PREFIX, LEVELS_KEY, reduce_four
from imkerutils.tiling.sealed import is_sealed
from imkerutils.tiling.step import MANIFEST_PREFIX, MANIFEST_TILES, digest, manifest_key

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from imkerutils.tiling.canvas import Canvas

__all__ = ["VerifyReport", "verify_canvas"]

_BATCH = 256  # tiles checked at a time, on the chunk pool


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of :meth:`Canvas.verify`."""

    tiles_checked: int
    problems: tuple[str, ...]
    leftovers: tuple[str, ...] = ()  # files an interrupted writer left; the next writable open removes them

    @property
    def ok(self) -> bool:
        """Return whether no problem was found (leftovers do not count)."""
        return not self.problems


def _run(tasks: Sequence[Callable[[], None]]) -> None:
    """Run ``tasks`` on every core (the verify pool), a bounded number in flight; re-raise the first failure."""
    pool = verify_pool()
    for start in range(0, len(tasks), _BATCH):  # batches: a bounded number of decoded chunks alive
        for future in [pool.submit(task) for task in tasks[start : start + _BATCH]]:
            future.result()


@functools.cache
def verify_pool() -> ThreadPoolExecutor:
    """Threads that read, decode and hash stored chunks (zstd, SHA-256 and NumPy release the GIL)."""
    return ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1), thread_name_prefix="imkerutils-verify")


def _decodes(read: Callable[[], np.ndarray], where: str) -> tuple[np.ndarray | None, str | None]:
    try:
        return read(), None
    except CanvasCorruptError:  # layout.read_window's word for bytes the codec cannot decode
        return None, f"{where}: its chunk cannot be decoded"


def verify_canvas(canvas: Canvas, *, full: bool = True) -> VerifyReport:
    """Check ``canvas`` as the module docstring says (``full=False``: level-0 tiles only, as format 1 did)."""
    raw, frame, t = canvas._storage.read_raw, canvas.frame, canvas.tile
    problems: list[str] = []
    levels = canvas._storage.pyramid.built_levels() if full else 1
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
    problems.extend(
        f"chunk {frame.chunk_key(0, *ij)} (tile {ij}) has no manifest entry (written outside imkerutils?)"
        for ij in sorted(stored[0] - manifest)
    )

    leftovers: list[str] = []
    if full:
        leftovers = sorted(k for k in keys if k.endswith(".partial"))  # temporary files of a killed or running write
        accounted.update(leftovers)
    stale = {tile_of_tile_key(k) for k in keys if k.startswith(DIRTY_PREFIX)} if full else set()
    accounted.update(k for k in keys if k.startswith(DIRTY_PREFIX))
    arrays = [canvas._storage.pyramid.array(level) for level in range(levels)]

    def chunk(level: int, i: int, j: int) -> np.ndarray:  # whole stored chunks, one zstd call each
        return read_tile(raw, frame, arrays[level], level, i, j)

    todo = [set[tuple[int, int]]() for _ in range(levels)]
    inside = [set[tuple[int, int]]() for _ in range(levels)]
    for level in range(1, levels):
        todo[level] = stored[level] | {(i >> 1, j >> 1) for i, j in stored[level - 1]}
        todo[level] -= {(i >> level, j >> level) for i, j in stale}
        inside[level] = {p.tile for p in project(level_window(canvas.bounds, level), t)}
    found: list[dict[tuple[int, int], str]] = [{} for _ in range(levels)]  # problems by level and tile

    def check_tile(ij: tuple[int, int], pixels: np.ndarray | None = None) -> None:
        """Level-0 tile ``ij`` against its manifest hash (``pixels``: its chunk, when already decoded)."""
        i, j = ij
        where = f"tile ({i}, {j}) at world row {i * t}, col {j * t}"
        if pixels is None:
            pixels, problem = _decodes(lambda: chunk(0, i, j), where)
            if problem or pixels is None:
                found[0][ij] = str(problem)
                return
        if raw.get(manifest_key(i, j)) != digest(pixels):
            found[0][ij] = f"{where}: pixels do not match the manifest hash"

    def check_parent(level: int, ij: tuple[int, int], hashed: set[tuple[int, int]]) -> None:
        """Check tile ``ij`` of ``level`` against the reduction of its four children.

        Level-0 children in ``hashed`` are checked against the manifest on the way (each chunk is decoded once).
        """
        i, j = ij
        where = f"pyramid level {level} tile ({i}, {j})"
        kids: list[np.ndarray | None] = []
        failed: str | None = None
        for ci, cj in ((2 * i, 2 * j), (2 * i, 2 * j + 1), (2 * i + 1, 2 * j), (2 * i + 1, 2 * j + 1)):
            kid, problem = _decodes(functools.partial(chunk, level - 1, ci, cj), f"the children of {where}")
            if (ci, cj) in hashed:
                if kid is None:
                    found[0][ci, cj] = (
                        f"tile ({ci}, {cj}) at world row {ci * t}, col {cj * t}: its chunk cannot be decoded"
                    )
                else:
                    check_tile((ci, cj), kid)
            failed = failed or problem
            kids.append(kid)
        if ij not in todo[level]:
            return
        got, problem = _decodes(functools.partial(chunk, level, i, j), where)
        if problem or got is None:
            found[level][ij] = str(problem)
            return
        if failed is not None:
            found[level][ij] = failed
            return
        if ij in inside[level]:
            same = np.array_equal(got, reduce_four([k for k in kids if k is not None]))  # all four: failed is None
        else:
            same = not got.any()
        if not same:
            found[level][ij] = f"{where}: pixels differ from the reduction of level {level - 1}"

    # Level 1 is checked together with level 0: a task decodes four level-0 chunks, checks those in the
    # manifest against it and their reduction against their parent.  Level-0 tiles whose parent needs no
    # check (stale, or a canvas without levels) are checked alone.
    groups: dict[tuple[int, int], set[tuple[int, int]]] = {}
    alone: list[tuple[int, int]] = []
    for i, j in manifest:
        if levels > 1 and (i >> 1, j >> 1) in todo[1]:
            groups.setdefault((i >> 1, j >> 1), set()).add((i, j))
        else:
            alone.append((i, j))
    parents = sorted(todo[1]) if levels > 1 else []
    _run(
        [functools.partial(check_tile, ij) for ij in sorted(alone)]
        + [functools.partial(check_parent, 1, ij, groups.get(ij, set())) for ij in parents]
    )
    for level in range(2, levels):
        _run([functools.partial(check_parent, level, ij, set()) for ij in sorted(todo[level])])
    for level in range(levels):
        problems += [found[level][ij] for ij in sorted(found[level])]
    if not full:
        return VerifyReport(tiles_checked=len(manifest), problems=tuple(problems))

    # -- the journal ---------------------------------------------------------------
    state = canvas._storage.state
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
    lone = lone_hashes(keys)  # a writer killed between an artifact's hash and its bytes (the hash goes first)
    accounted.update(lone)
    leftovers += lone

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
    """Check a journal entry: its sealed ``meta.json``, and every tile snapshot against its manifest snapshot."""
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
