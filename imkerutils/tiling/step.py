"""One write step of a canvas: plan per chunk, lock, snapshot, pending mark, chunk tasks, commit.

:func:`plan_pieces` cuts every piece of a write along tile lines and groups the parts by world tile, so
each chunk gets exactly one task, which merges every part that falls in it (no two tasks ever write one
chunk).  :class:`Step` drives the journal around those tasks; see ``docs/design.md`` ("A write step").
:func:`run_now` runs a step's chunk tasks on the shared chunk pool; :func:`run_later` makes them a dask
graph (``compute=False``); either way a chunk task is :func:`write_tile` (:func:`merge_tile`, then the
canvas's ``_store_tile``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import threading
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from imkerutils.errors import CanvasChangedError, InvalidWindowError, OutOfBoundsError
from imkerutils.tiling.frame import TILE_KEY_PREFIX, project, tile_key, tile_of_tile_key
from imkerutils.tiling.journal import check_step_id
from imkerutils.tiling.window import Window, union

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from dask.delayed import Delayed

    from imkerutils.tiling.canvas import Canvas
    from imkerutils.tiling.journal import JournalState, StepMeta

__all__ = [
    "MANIFEST_PREFIX",
    "MANIFEST_TILES",
    "Step",
    "StepInfo",
    "chunk_pool",
    "digest",
    "manifest_key",
    "merge_tile",
    "plan_pieces",
    "run_later",
    "run_now",
    "write_tile",
]

MANIFEST_PREFIX = "_manifest/"
MANIFEST_TILES = MANIFEST_PREFIX + "tile/"  # the entries, one per written level-0 tile

TilePart = tuple[Window, Any]  # a world window inside one tile, and its pixels (NumPy, or a _Lazy dask block)


def manifest_key(i: int, j: int) -> str:
    """Return the manifest entry of level-0 world tile ``(i, j)``."""
    return MANIFEST_PREFIX + tile_key(i, j)


def digest(block: np.ndarray) -> bytes:
    """SHA-256 (hex) of a tile's raw ``(h, w, C)`` C-order pixel bytes: codec- and layout-independent."""
    return hashlib.sha256(np.ascontiguousarray(block).data).hexdigest().encode()


@dataclass(frozen=True, slots=True)
class StepInfo:
    """A committed (or undone / redone) step, as the caller sees it."""

    number: int
    id: str
    kind: str
    bounds_before: Window
    bounds_after: Window
    tiles: int
    created_at: str
    info: dict[str, Any]
    #: The level-0 world tiles ``(i, j)`` the step wrote (empty for a step that only grew the bounds).
    written: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_meta(cls, meta: StepMeta) -> StepInfo:
        """Return the summary of a journal entry."""
        tiles = sum(1 for k in meta.keys if k.startswith(MANIFEST_PREFIX))
        written = tuple(tile_of_tile_key(k) for k in meta.keys if k.startswith(TILE_KEY_PREFIX))
        return cls(
            meta.number,
            meta.id,
            meta.kind,
            meta.bounds_before,
            meta.bounds_after,
            tiles,
            meta.created_at,
            meta.info,
            written,
        )


def plan_pieces(
    pieces: Sequence[tuple[int, int, Any]], tile: int, channels: int, mode: str, bounds: Window, extend: bool
) -> tuple[dict[tuple[int, int], list[TilePart]], Window]:
    """Group the parts of ``(row, col, pixels)`` pieces by world tile; returns them and the covered window."""
    from imkerutils.errors import InvalidTileError

    if not pieces:
        raise InvalidWindowError("nothing to write: no pieces given")
    per_tile: dict[tuple[int, int], list[TilePart]] = {}
    covered: Window | None = None
    for row, col, data in pieces:
        shape = getattr(data, "shape", None)
        if shape is None or len(shape) != 3 or shape[2] != channels:
            raise InvalidTileError(
                f"pixels must have shape (height, width, {channels}) for a {mode} canvas, got {shape}"
            )
        if getattr(data, "dtype", None) != np.uint8:
            raise InvalidTileError(f"pixels must be uint8, got {getattr(data, 'dtype', None)}")
        target = Window(row, col, int(shape[0]), int(shape[1]))
        if target.is_empty:
            raise InvalidWindowError("nothing to paste: the pixels have zero height or width")
        if not extend and not bounds.contains(target):
            b = bounds
            raise OutOfBoundsError(
                f"paste window rows {target.row_off}..{target.row_end}, cols {target.col_off}..{target.col_end}"
                f" leaves the canvas bounds rows {b.row_off}..{b.row_end}, cols {b.col_off}..{b.col_end} "
                "(pass extend=True, or --extend on the command line, to extend the canvas)"
            )
        covered = target if covered is None else union(covered, target)
        for proj, block in zip(project(target, tile), _source_blocks(data, target, tile), strict=True):
            # A lazy source block is computed inside its chunk task (see _Lazy), so that its failure,
            # like any other, reaches the commit task, which rolls the step back.
            per_tile.setdefault(proj.tile, []).append(
                (proj.piece, _Lazy(block) if hasattr(block, "compute") else block)
            )
    assert covered is not None
    return per_tile, covered


def extend_flag(extend: bool, grow: bool | None) -> bool:
    """Return the ``extend=`` flag of a write, honouring ``grow=``, its deprecated old name."""
    if grow is None:
        return extend
    warnings.warn("grow= is deprecated: use extend=", DeprecationWarning, stacklevel=3)  # the caller of paste/write
    return extend or grow


def step_keys(tiles: Sequence[tuple[int, int]]) -> list[str]:
    """Return the journal keys of a step writing ``tiles``: each tile and its manifest entry."""
    return [k for ij in tiles for k in (tile_key(*ij), manifest_key(*ij))]


class Step:
    """One write step: lock, snapshot, pending mark, writes, commit."""

    def __init__(
        self,
        canvas: Canvas,
        kind: str,
        keys: list[str],
        window: Window,
        extend: bool,
        info: dict[str, Any],
        expect_token: str | None = None,
        step_id: str | None = None,
    ) -> None:
        self.canvas, self.kind, self.keys, self.window, self.extend, self.info = (
            canvas,
            kind,
            keys,
            window,
            extend,
            info,
        )
        self.expect_token = expect_token
        self.step_id = None if step_id is None else check_step_id(step_id)  # refused before the lock
        self._lock: contextlib.ExitStack | None = None
        self._meta: StepMeta | None = None
        self._state: JournalState | None = None
        self._after = window

    def begin(self) -> None:
        """Take the write lock and mark the step pending."""
        self.lock()
        self.mark_pending()

    def lock(self) -> None:
        """Take the write lock, finish what a killed writer left, check the token, make room: no writes yet."""
        c = self.canvas
        stack = contextlib.ExitStack()
        stack.enter_context(c._journal.lock())
        self._lock = stack
        try:
            state = c._storage.recover()
            if self.expect_token is not None and state.token != self.expect_token:
                raise CanvasChangedError(
                    f"canvas {c.location} changed since the data for this step was read; nothing was written"
                )
            self._after = union(state.bounds, self.window) if self.extend else state.bounds
            self._state = c._storage.make_room(self._after)
        except BaseException:
            self.abort()
            raise

    def mark_pending(self) -> None:
        """Snapshot every key and mark the step pending: chunk writes may start after this.

        (Each chunk task drops its tile's pyramid dirty marker itself, just before its write.)
        """
        c = self.canvas
        assert self._state is not None
        try:
            self._meta, self._state = c._journal.begin(
                self._state, self.kind, self.keys, self._after, self.info, self.step_id
            )
        except BaseException:
            self.abort()
            raise

    def commit(self, writes: list[BaseException | None]) -> StepInfo:
        """Commit when every chunk task succeeded; else roll back, release the lock and raise the first failure."""
        failures = [w for w in writes if isinstance(w, BaseException)]
        if failures:
            self.abort()
            raise failures[0]
        assert self._meta is not None
        assert self._state is not None
        c = self.canvas
        try:
            c._storage.settle(c._journal.commit(self._state, self._meta))
        finally:
            self._release()
        return StepInfo.from_meta(self._meta)

    def abort(self) -> None:
        """Roll back a begun step (after a failed write) and release the lock."""
        c = self.canvas
        try:
            if self._state is not None and self._state.pending is not None and self._lock is not None:
                c._storage.settle(c._journal.rollback(c._journal.read_state()))
        finally:
            self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def run_now(step: Step, per_tile: dict[tuple[int, int], list[TilePart]], merge: Any, store: Any) -> StepInfo:
    """Run ``step`` on the shared chunk pool: begin, one task per tile, commit.

    Each chunk task reads and merges its chunk (``merge``) and hashes it while this thread snapshots and
    marks the step pending (reads only: the lock is held); the gate lets the writes (``store``) start
    after that.  Chunk tasks return their failures, so commit() sees them all and rolls back if needed.
    """
    step.lock()
    gate = _Gate()

    def chunk_task(item: tuple[tuple[int, int], list[TilePart]]) -> BaseException | None:
        try:
            full = merge(*item)
            d = digest(full)
        except Exception as exc:
            return exc
        if not gate.wait():
            return None  # the step was abandoned before any write
        try:
            store(item[0], full, d)
        except Exception as exc:
            return exc
        return None

    results = chunk_pool().map(chunk_task, per_tile.items())  # submits every task now
    try:
        step.mark_pending()
        gate.open()
    finally:
        gate.close()  # no-op once open; else (begin failed, or an interrupt) tasks end without writing
    try:
        done = list(results)
    except BaseException:
        step.abort()
        raise
    return step.commit(done)


def run_later(step: Step, per_tile: dict[tuple[int, int], list[TilePart]]) -> Delayed:
    """``step`` as a dask graph: a begin task, one :func:`write_tile` task per tile after it, then the commit.

    The commit task gets every chunk task's result, failures included, so it always runs and can roll the
    step back, even when a caller computes the graph.
    """
    from dask.delayed import delayed

    kind, token = step.kind, uuid.uuid4().hex
    write = functools.partial(write_tile, step.canvas)
    begun = delayed(step.begin, pure=False)(dask_key_name=f"{kind}-begin-{token}")
    writes = [
        delayed(write, pure=False)(begun, ij, parts, dask_key_name=f"{kind}-chunk-{token}-{n}")
        for n, (ij, parts) in enumerate(per_tile.items())
    ]
    commit: Delayed = delayed(step.commit, pure=False)(writes, dask_key_name=f"{kind}-commit-{token}")
    return commit


def write_tile(canvas: Canvas, _begun: Any, ij: tuple[int, int], parts: list[TilePart]) -> BaseException | None:
    """Write tile ``ij``'s share of a step (the only writer of that chunk) and its manifest entry.

    ``_begun`` is the step's begin task, which the write must follow in a graph.  Returns, rather than
    raises, any failure, so that the step's commit task always runs and can roll the step back, even when
    the graph is computed by a caller (``compute=False``).
    """
    try:
        full = merge_tile(canvas, ij, parts)
        canvas._store_tile(ij, full, digest(full))
    except Exception as exc:  # handed to Step.commit, which rolls back and re-raises
        return exc
    return None


def merge_tile(canvas: Canvas, ij: tuple[int, int], parts: list[TilePart]) -> np.ndarray:
    """Tile ``ij`` as the step leaves it: its parts merged into its current pixels (no write)."""
    parts = [(piece, block.compute() if isinstance(block, _Lazy) else block) for piece, block in parts]
    tw = canvas.grid.tile_window(*ij)
    if len(parts) == 1 and parts[0][0] == tw:
        return np.asarray(parts[0][1])
    full = canvas.read(tw)  # a fresh, writable array
    for piece, block in parts:
        full[piece.slices((tw.row_off, tw.col_off))] = block
    return full


@functools.cache
def chunk_pool() -> ThreadPoolExecutor:
    """Return the threads that run chunk tasks of writes computed at once (made on first use).

    A chunk task spends much of its time waiting on zarr's event loop (I/O, and codecs in zarr's own
    threads), so more tasks than cores keep both busy: measured on 2 cores, a 4-chunk paste took
    about 75 ms with 2 threads and 57 ms with 8 (``benchmarks/bench_paste_ratio.py``).
    """
    return ThreadPoolExecutor(max_workers=4 * (os.cpu_count() or 1), thread_name_prefix="imkerutils-chunk")


class _Gate:
    """Opened once a step is pending (chunk writes may start), or closed for good (they must not)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._open = False

    def open(self) -> None:
        self._open = True
        self._event.set()

    def close(self) -> None:
        self._event.set()

    def wait(self) -> bool:
        """Block until opened or closed; whether writes may go ahead."""
        self._event.wait()
        return self._open


class _Lazy:
    """A dask block hidden from dask's argument traversal, computed inside the task that needs it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def compute(self) -> np.ndarray:
        return np.asarray(self.value.compute(scheduler="sync"))


def aligned_chunks(start: int, length: int, tile: int) -> tuple[int, ...]:
    """Block sizes along one axis so that block edges fall on tile lines.

    >>> aligned_chunks(-10, 1030, 1024)
    (10, 1020)
    """
    if length == 0:
        return (0,)
    return tuple(p.piece.height for p in project(Window(start, 0, length, 1), tile))


def _source_blocks(data: Any, target: Window, tile: int) -> Iterator[Any]:
    """Return the part of ``data`` for each tile piece of ``target``, in :func:`project` order.

    A dask source is rechunked so its blocks are exactly those pieces; a NumPy source is sliced (views).
    """
    rows = aligned_chunks(target.row_off, target.height, tile)
    cols = aligned_chunks(target.col_off, target.width, tile)
    if hasattr(data, "to_delayed"):
        blocks = data.rechunk((rows, cols, data.shape[2])).to_delayed()
        for bi in range(len(rows)):
            for bj in range(len(cols)):
                yield blocks[bi, bj, 0]
        return
    arr = np.asarray(data)
    r = 0
    for h in rows:
        c = 0
        for w in cols:
            yield arr[r : r + h, c : c + w]
            c += w
        r += h
