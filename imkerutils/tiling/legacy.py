"""Canvases of format 1 (a fixed virtual extent, ``(y, x, c)`` arrays): read them, and upgrade them in place.

Format 1 put world (0, 0) at a fixed offset of 2**17 tiles inside a ``(2**28, 2**28, C)`` array per level,
named its chunks ``L/c/<ci>/<cj>/0``, and kept physical chunk keys in its journal (``_journal/steps/``),
manifest (``_manifest/0/c/...``) and pyramid markers (``_pyramid/dirty/<ci>.<cj>``).  Its chunk *bytes*
are exactly a format-2 chunk's (zstd of chunky ``(tile, tile, C)`` bytes), so nothing is re-encoded:

* :class:`LegacyView` shows a format-1 canvas to the format-2 code as a read-only store (its keys mapped,
  its metadata translated on the fly), so ``Canvas.open(path, read_only=True)`` reads it as before;
* :func:`upgrade` converts it in place: the new arrays (sized to the content) get links to the old chunk
  files, the manifest, journal entries and markers are rewritten under their format-2 names, all beside the
  old ones, and one replace of ``_journal/state.json`` commits; the old keys are then *retired* (deleted
  after the root ``zarr.json`` is rewritten).  A kill before the commit leaves a format-1 canvas (the next
  upgrade clears the partial work first), after it a format-2 canvas whose leftovers the next writer
  removes.  Every pixel, step record and undo entry is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from imkerutils.errors import CanvasCorruptError
from imkerutils.tiling.frame import Frame, plan_frame, tile_key, tile_of_tile_key
from imkerutils.tiling.journal import ENTRIES_PREFIX, LEGACY_JOURNAL_FORMAT, STATE_KEY, JournalState
from imkerutils.tiling.layout import MODES, ZSTD_LEVEL, create_level, mark_bookkeeping
from imkerutils.tiling.pyramid import DIRTY_PREFIX, LEVELS_KEY
from imkerutils.tiling.rawstore import RawStore
from imkerutils.tiling.readonly import ReadOnlyWrapper
from imkerutils.tiling.sealed import seal
from imkerutils.tiling.step import MANIFEST_PREFIX
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from zarr.abc.store import ByteRequest, Store
    from zarr.core.buffer import Buffer, BufferPrototype

__all__ = ["LEGACY_FORMAT", "LegacyView", "is_legacy", "upgrade"]

LEGACY_FORMAT = "imkerutils.canvas/1"
OLD_ENTRIES = "_journal/steps/"
OLD_MANIFEST = "_manifest/0/c/"
OLD_MARKERS = "_pyramid/dirty/"


def is_legacy(raw: RawStore) -> bool:
    """Whether the canvas's committed state is still format 1 (its journal is format 2)."""
    data = raw.get(STATE_KEY)
    try:
        return data is not None and json.loads(data).get("format") == LEGACY_JOURNAL_FORMAT
    except (ValueError, AttributeError):
        return False


@dataclass(frozen=True, slots=True)
class _Old:
    """Format 1's key names: level ``L``'s array index of world (0, 0) is ``origin >> L``."""

    tile: int
    origin: tuple[int, int]
    mode: str

    @classmethod
    def read(cls, raw: RawStore) -> _Old:
        try:
            attrs = json.loads(raw.get("zarr.json") or b"{}")["attributes"]["imkerutils"]
            return cls(int(attrs["tile"]), (int(attrs["origin"][0]), int(attrs["origin"][1])), str(attrs["mode"]))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise CanvasCorruptError(f"format-1 canvas metadata is unreadable: {exc}") from None

    def shift(self, level: int) -> tuple[int, int]:
        """Chunk index of world tile (0, 0) of ``level``."""
        return (self.origin[0] >> level) // self.tile, (self.origin[1] >> level) // self.tile

    def chunk_key(self, level: int, i: int, j: int) -> str:
        si, sj = self.shift(level)
        return f"{level}/c/{i + si}/{j + sj}/0"

    def tile_of(self, level: int, key: str) -> tuple[int, int]:
        """World tile of a format-1 chunk key of ``level`` (``L/c/ci/cj/0``) or manifest key."""
        parts = key.split("/")
        try:
            ci, cj = int(parts[-3]), int(parts[-2])
        except (ValueError, IndexError):
            raise CanvasCorruptError(f"{key!r} is not a format-1 chunk key") from None
        si, sj = self.shift(level)
        return ci - si, cj - sj

    def new_key(self, key: str) -> str:
        """Return the format-2 name of a format-1 journal key (chunk or manifest entry)."""
        if key.startswith("0/c/"):
            return tile_key(*self.tile_of(0, key))
        if key.startswith(OLD_MANIFEST):
            return MANIFEST_PREFIX + tile_key(*self.tile_of(0, key))
        raise CanvasCorruptError(f"format-1 journal key {key!r} is neither a level-0 chunk nor a manifest entry")

    def old_key(self, key: str) -> str:
        """Inverse of :meth:`new_key`."""
        if key.startswith(MANIFEST_PREFIX):
            i, j = tile_of_tile_key(key)
            si, sj = self.shift(0)
            return f"{OLD_MANIFEST}{i + si}/{j + sj}/0"
        return self.chunk_key(0, *tile_of_tile_key(key))


def _state(raw: RawStore) -> dict[str, Any]:
    data = raw.get(STATE_KEY)
    if data is None:
        raise CanvasCorruptError("the canvas journal (_journal/state.json) is missing")
    try:
        state = json.loads(data)
        Window.from_dict(state["bounds"])
        return dict(state)
    except (ValueError, KeyError, TypeError) as exc:
        raise CanvasCorruptError(f"the format-1 journal (_journal/state.json) is unreadable: {exc}") from None


def _levels(raw: RawStore) -> int:
    data = raw.get(LEVELS_KEY)
    return 1 if data is None else int(json.loads(data)["levels"])


def _meta(raw: RawStore, step_id: str) -> dict[str, Any]:
    data = raw.get(f"{OLD_ENTRIES}{step_id}/meta.json")
    if data is None:
        raise CanvasCorruptError(f"format-1 journal entry {step_id} is missing")
    return dict(json.loads(data))


def _new_meta(old: _Old, meta: dict[str, Any]) -> dict[str, Any]:
    return {**meta, "keys": [old.new_key(k) for k in meta["keys"]]}


def _recover(raw: RawStore, old: _Old) -> dict[str, Any]:
    """Finish or roll back a format-1 operation a killed writer left pending (as format 1 itself would)."""
    state = _state(raw)
    pending = state.get("pending")
    if pending is None:
        return state
    step_id, op = str(pending["id"]), pending.get("op")
    meta = _meta(raw, step_id)
    which = "after" if op == "redo" else "before"
    for key in meta["keys"]:
        raw.copy(f"{OLD_ENTRIES}{step_id}/{which}/{key}", key)
    if op == "apply":
        state["pending"] = None
    elif op == "undo":
        n = int(meta["number"])
        state.update(
            head=n - 1, bounds=meta["bounds_before"], pending=None, token=state["steps"][n - 2] if n > 1 else "empty"
        )
    elif op == "redo":
        state.update(head=int(meta["number"]), bounds=meta["bounds_after"], token=meta["id"], pending=None)
    else:
        raise CanvasCorruptError(f"unknown pending journal operation {op!r}")
    raw.put(STATE_KEY, json.dumps(state, sort_keys=True).encode())
    return state


def upgrade(raw: RawStore) -> JournalState:
    """Convert the format-1 canvas behind ``raw`` and commit (the caller holds the write lock).

    Returns the committed format-2 state, whose ``retired`` entries the caller deletes with
    :func:`~imkerutils.tiling.rebase.finish` after rewriting the root metadata.
    """
    old = _Old.read(raw)
    if old.mode not in MODES:
        raise CanvasCorruptError(f"canvas mode {old.mode!r} is not one of {sorted(MODES)}")
    legacy = _recover(raw, old)
    bounds = Window.from_dict(legacy["bounds"])
    levels = _levels(raw)
    frame = plan_frame(bounds, old.tile, levels, generation=1)
    # Whatever an upgrade killed before its commit left is not part of the canvas yet: start afresh.
    for prefix in [f"{frame.path(level)}/" for level in range(levels)] + [
        f"{MANIFEST_PREFIX}tile/",
        ENTRIES_PREFIX,
        DIRTY_PREFIX,
    ]:
        raw.delete_prefix(prefix)
    for level in range(levels):
        shape = frame.shape(level, bounds)
        create_level(raw.store, frame, level, shape, MODES[old.mode])
        for key in raw.list_prefix(f"{level}/c/"):
            i, j = old.tile_of(level, key)
            new = frame.chunk_key(level, i, j)
            ci, cj = (int(p) for p in new.rsplit("/", 2)[1:])
            if 0 <= ci * old.tile < shape[0] and 0 <= cj * old.tile < shape[1]:  # stale beyond the content: drop
                raw.copy(key, new)
    for key in raw.list_prefix(OLD_MANIFEST):
        raw.copy(key, MANIFEST_PREFIX + tile_key(*old.tile_of(0, key)))
    for step_id in legacy["steps"]:
        meta = _meta(raw, step_id)
        for which in ("before", "after"):
            for key in meta["keys"]:
                raw.snapshot(
                    f"{OLD_ENTRIES}{step_id}/{which}/{key}", f"{ENTRIES_PREFIX}{step_id}/{which}/{old.new_key(key)}"
                )
        raw.put_fresh(f"{ENTRIES_PREFIX}{step_id}/meta.json", seal(_new_meta(old, meta)))
    si, sj = old.shift(0)
    for key in raw.list_prefix(OLD_MARKERS):
        mi, mj = key.rsplit("/", 1)[1].split(".")
        raw.put_fresh(f"{DIRTY_PREFIX}{int(mi) - si}.{int(mj) - sj}", b"")
    raw.put(LEVELS_KEY, seal({"levels": levels}))  # format 1 reads the sealed record just as well
    for folder in ("_journal", "_manifest", "_pyramid"):
        mark_bookkeeping(raw, folder)
    state = JournalState(
        head=int(legacy["head"]),
        top=int(legacy["top"]),
        bounds=bounds,
        token=str(legacy["token"]),
        steps=tuple(legacy["steps"]),
        frame=frame,
        retired=(*(str(level) for level in range(levels)), "_manifest/0", "_journal/steps", "_pyramid/dirty"),
    )
    raw.put(STATE_KEY, seal(state.to_dict()))  # the commit
    return state


class LegacyView(ReadOnlyWrapper):
    """A format-1 canvas as a read-only format-2 store (frame: format 1's origin, arrays ``"0"``, ``"1"``...).

    Keys are mapped to their format-1 names; the root and array metadata, ``state.json`` and journal
    entries are translated when read.  Only what a read-only :class:`~imkerutils.tiling.Canvas` reads is
    mapped: arrays, the manifest, pyramid markers and levels, the journal.
    """

    refusal = "a format-1 canvas opened read-only cannot be changed ({action} {key!r}); upgrade it first"

    def __init__(self, store: Store, old: _Old | None = None) -> None:
        super().__init__(store)
        self.old = old or _Old.read(RawStore(store))
        t = self.old.tile
        self.frame = Frame(t, (self.old.origin[0] // t, self.old.origin[1] // t), 0)

    def _with_store(self, store: Store) -> LegacyView:
        return type(self)(store, self.old)

    def _source(self, key: str) -> str:
        """Return the format-1 key holding the bytes of format-2 key ``key``."""
        old = self.old
        if key.startswith(ENTRIES_PREFIX):
            step_id, rest = key[len(ENTRIES_PREFIX) :].split("/", 1)
            if rest.startswith(("before/", "after/")):
                which, name = rest.split("/", 1)
                return f"{OLD_ENTRIES}{step_id}/{which}/{old.old_key(name)}"
            return f"{OLD_ENTRIES}{step_id}/{rest}"
        if key.startswith(MANIFEST_PREFIX + "tile/"):
            return old.old_key(key)
        if key.startswith(DIRTY_PREFIX):
            i, j = tile_of_tile_key(key)
            si, sj = old.shift(0)
            return f"{OLD_MARKERS}{i + si}.{j + sj}"
        parts = key.split("/")
        if len(parts) == 5 and parts[1] == "c" and parts[2] == "0":  # L/c/0/ci/cj -> L/c/ci/cj/0
            return f"{parts[0]}/c/{parts[3]}/{parts[4]}/0"
        return key

    def _translated(self, key: str, data: bytes) -> bytes:
        """Metadata of format 1 in format 2's words."""
        if key == STATE_KEY:
            state = json.loads(data)
            return json.dumps(
                {**state, "format": "imkerutils.journal/3", "frame": self.frame.to_dict(), "retired": []}
            ).encode()
        if key.startswith(ENTRIES_PREFIX) and key.endswith("/meta.json"):
            return json.dumps(_new_meta(self.old, json.loads(data))).encode()
        if key == "zarr.json":
            doc = json.loads(data)
            doc["attributes"]["imkerutils"] = {
                "format": "imkerutils.canvas/2",
                "mode": self.old.mode,
                "tile": self.old.tile,
                "legacy": LEGACY_FORMAT,
            }
            return json.dumps(doc).encode()
        if key.endswith("/zarr.json"):
            doc = json.loads(data)
            if doc.get("node_type") == "array" and len(doc.get("shape", ())) == 3:
                h, w, c = doc["shape"]
                doc["shape"] = [c, h, w]
                doc["chunk_grid"]["configuration"]["chunk_shape"] = [c, self.old.tile, self.old.tile]
                doc["codecs"] = [
                    {"name": "transpose", "configuration": {"order": [1, 2, 0]}},
                    {"name": "bytes"},
                    {"name": "zstd", "configuration": {"level": ZSTD_LEVEL, "checksum": False}},
                ]
                doc["dimension_names"] = ["c", "y", "x"]
                doc["chunk_key_encoding"] = {"name": "default", "configuration": {"separator": "/"}}
            return json.dumps(doc).encode()
        return data

    @override
    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None) -> Buffer | None:
        source = self._source(key)
        if not key.endswith(".json"):
            return await self._store.get(source, prototype, byte_range)
        buf = await self._store.get(source, prototype)
        if buf is None:
            return None
        return prototype.buffer.from_bytes(self._translated(key, buf.to_bytes()))

    @override
    async def exists(self, key: str) -> bool:
        return await self._store.exists(self._source(key))

    @override
    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        old = self.old
        if prefix.startswith(MANIFEST_PREFIX):
            async for key in self._store.list_prefix(OLD_MANIFEST):
                yield MANIFEST_PREFIX + tile_key(*old.tile_of(0, key))
        elif prefix.startswith(DIRTY_PREFIX):
            si, sj = old.shift(0)
            async for key in self._store.list_prefix(OLD_MARKERS):
                ci, cj = key.rsplit("/", 1)[1].split(".")
                yield f"{DIRTY_PREFIX}{int(ci) - si}.{int(cj) - sj}"
        elif prefix.endswith("/c/") and prefix[:-3].isdigit():
            async for key in self._store.list_prefix(prefix):
                parts = key.split("/")
                yield f"{parts[0]}/c/0/{parts[2]}/{parts[3]}"
        else:
            async for key in self._store.list_prefix(prefix):
                yield key
