"""Coarser levels of a canvas, kept up to date from the tiles each write dirties.

Level ``L`` is a 2x mean reduction of level ``L-1`` (rounded half up, all channels alike, background
included), stored as one more dataset of the canvas's multiscale image with the same chunking.  A world
tile ``(i, j)`` of level ``L`` is the reduction of world tiles ``(2i..2i+1, 2j..2j+1)`` of level ``L-1``,
each one whole chunk (see :class:`~imkerutils.tiling.frame.Frame`).  Levels go down to the first one whose
bounds fit in one tile, so an overview of a gigapixel canvas is one tile read.

A write step drops a *dirty marker* per level-0 world tile it touches (``_pyramid/stale/<i>.<j>``) just
before it writes that tile; undo and redo do the same.  :meth:`Pyramid.update` recomputes only the parents
of dirty tiles, level by level, then removes the markers.  Markers are named in world tiles, so a rebase
leaves them valid, and they are not journaled: a step that is rolled back just leaves markers whose
recomputation changes nothing, and an update killed half-way is redone from the markers that remain, so
the pyramid is always derivable from level 0 and never needs undo of its own.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from imkerutils.errors import CanvasCorruptError
from imkerutils.tiling.chunkio import read_tile, write_tile
from imkerutils.tiling.frame import Frame, level_window, project
from imkerutils.tiling.layout import create_level, open_level, read_window
from imkerutils.tiling.location import public_storage_options
from imkerutils.tiling.rawstore import RawStore
from imkerutils.tiling.sealed import seal, unseal
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    import zarr
    from distributed import Client

__all__ = ["MAX_LEVELS", "Pyramid", "downsample2", "levels_needed", "reduce_four", "reduce_tile", "run_as_ready"]

_TASK_TILES = 8  # tiles per task on a dask cluster (a tile is ~10 ms of work; a task costs the scheduler ~2 ms)

MAX_LEVELS = 20
_BAND = 64  # output rows per band of downsample2
DIRTY_PREFIX = "_pyramid/stale/"  # world tiles (format 1 canvases: _pyramid/dirty/<chunk>)
LEVELS_KEY = "_pyramid/levels.json"


def downsample2(block: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """2x mean reduction of ``(2h, 2w, C)`` uint8, rounding half up, into ``out`` (``(h, w, C)``) when given.

    >>> downsample2(np.array([[[1], [2]], [[3], [5]]], np.uint8))[..., 0].tolist()
    [[3]]
    """
    h, w, c = block.shape[0] // 2, block.shape[1] // 2, block.shape[2]
    out = np.empty((h, w, c), np.uint8) if out is None else out
    s = np.empty((min(h, _BAND), w, c), np.uint16)
    for top in range(0, h, _BAND):  # a band of rows at a time: small uint16 temporaries on any thread
        end = min(h, top + _BAND)
        rows = block[2 * top : 2 * end : 2].astype(np.uint16)  # pairs of rows, then pairs of columns
        rows += block[2 * top + 1 : 2 * end : 2]
        pairs = rows.reshape(end - top, w, 2 * c)  # a pixel pair's channels side by side
        band = s[: end - top]
        for k in range(c):  # one channel at a time: long strided loops, not loops over c values
            np.add(pairs[:, :, k], pairs[:, :, c + k], out=band[:, :, k])
        band += 2
        band >>= 2
        out[top:end] = band
    return out


def reduce_tile(
    raw: RawStore, frame: Frame, src: zarr.Array[Any], dst: zarr.Array[Any], level: int, i: int, j: int
) -> None:
    """Write world tile ``(i, j)`` of ``level`` (array ``dst``) as the 2x reduction of its children.

    The four children are in ``src`` (level ``level - 1``); a tile beyond ``dst`` (left by an undo) is deleted:
    background.
    """
    kids = [read_tile(raw, frame, src, level - 1, 2 * i + di, 2 * j + dj) for di in (0, 1) for dj in (0, 1)]
    write_tile(raw, frame, dst, level, i, j, reduce_four(kids))


def reduce_four(kids: Sequence[np.ndarray]) -> np.ndarray:
    """Return the 2x reduction of four ``(t, t, C)`` tiles (top left, top right, bottom left, bottom right).

    With an even ``t`` each is reduced straight into its quarter (the reduction is local): no ``2t x 2t``
    array of the four, whose fresh pages cost more than the reduction when tiles run on every core (verify
    of a 16384² canvas 2.2 -> 1.6 s on 2 cores).
    """
    t, channels = kids[0].shape[0], kids[0].shape[2]
    if t % 2:
        children = np.empty((2 * t, 2 * t, channels), np.uint8)
        for n, kid in enumerate(kids):
            children[(n >> 1) * t : ((n >> 1) + 1) * t, (n & 1) * t : ((n & 1) + 1) * t] = kid
        return downsample2(children)
    h = t // 2
    parent = np.empty((t, t, channels), np.uint8)
    for n, kid in enumerate(kids):
        downsample2(kid, out=parent[(n >> 1) * h : ((n >> 1) + 1) * h, (n & 1) * h : ((n & 1) + 1) * h])
    return parent


@functools.lru_cache(maxsize=8)
def _worker_store(location: str, options_json: str) -> RawStore:
    from imkerutils.tiling.location import open_store

    return RawStore(open_store(location, storage_options=json.loads(options_json) or None))


def _reduce_task(location: str, options_json: str, frame_json: str, level: int, tiles: list[tuple[int, int]]) -> int:
    """Reduce ``tiles`` of ``level`` of the canvas at ``location`` (a dask task: the store is opened on the worker)."""
    raw = _worker_store(location, options_json)
    frame = Frame.from_dict(json.loads(frame_json))
    src, dst = open_level(raw.store, frame, level - 1), open_level(raw.store, frame, level)
    for i, j in tiles:
        reduce_tile(raw, frame, src, dst, level, i, j)
    return len(tiles)


def run_as_ready(
    pool: ThreadPoolExecutor, levels: Sequence[Sequence[tuple[int, int]]], run: Callable[[int, int, int], None]
) -> None:
    """Call ``run(k, i, j)`` for each tile ``(i, j)`` of ``levels[k]`` on ``pool``, once its children have run.

    The children of ``(i, j)`` are the tiles ``(2i..2i+1, 2j..2j+1)`` of ``levels[k - 1]`` (those listed
    there; others are already stored).  A level no longer waits for the whole level below, so the few
    tiles of a pyramid's top levels overlap with the rest (a 6144² update on 2 threads waited at every
    level).  After an error nothing new starts, and the first error is raised once nothing is running.
    """
    lock = threading.Lock()
    finished = threading.Event()
    errors: list[BaseException] = []
    outstanding = 1  # this call's own token, so the count cannot reach 0 while tiles are being submitted
    left = {
        (k, ij): sum((2 * ij[0] + di, 2 * ij[1] + dj) in below for di in (0, 1) for dj in (0, 1))
        for k in range(1, len(levels))
        for below in [set(levels[k - 1])]
        for ij in levels[k]
    }

    def settle(n: int) -> None:
        nonlocal outstanding
        with lock:
            outstanding += n
            if outstanding == 0:
                finished.set()

    def task(k: int, i: int, j: int) -> None:
        try:
            run(k, i, j)
        except BaseException as exc:  # kept for the caller; the tiles above it are not run
            with lock:
                errors.append(exc)
        else:
            parent = (k + 1, (i >> 1, j >> 1))
            with lock:
                ready = parent in left and not errors
                if ready:
                    left[parent] -= 1
                    ready = left[parent] == 0
            if ready:
                submit(parent[0], *parent[1])
        finally:
            settle(-1)

    def submit(k: int, i: int, j: int) -> None:
        settle(1)
        pool.submit(task, k, i, j)

    # chosen before any runs: a finished child may bring a parent's count to 0 while the loop submits
    ready = [(k, i, j) for k, tiles in enumerate(levels) for i, j in tiles if k == 0 or left[(k, (i, j))] == 0]
    for k, i, j in ready:
        submit(k, i, j)
    settle(-1)
    finished.wait()
    if errors:
        raise errors[0]


def levels_needed(bounds: Window, tile: int) -> int:
    """Return the number of levels (level 0 included) down to one whose bounds fit in one tile."""
    n = 1
    while n < MAX_LEVELS + 1:
        lb = level_window(bounds, n - 1)
        if lb.height <= tile and lb.width <= tile:
            break
        n += 1
    return n


class Pyramid:
    """The coarser levels of one canvas, in the canvas's current :class:`Frame`.

    ``level_zero`` returns the canvas's level-0 array (the canvas owns it, and replaces it on a resize or a
    rebase); ``on_new_levels`` is called after an update built new levels (the canvas rewrites its root
    metadata, whose datasets list the levels).
    """

    def __init__(
        self,
        raw: RawStore,
        frame: Frame,
        level_zero: Callable[[], zarr.Array[Any]],
        on_new_levels: Callable[[int], None] | None = None,
    ) -> None:
        self.raw, self.frame, self.tile = raw, frame, frame.tile
        self._level_zero = level_zero
        self._on_new_levels = on_new_levels

    # -- arrays --------------------------------------------------------------
    def array(self, level: int) -> zarr.Array[Any]:
        """Level ``level``'s array; ``KeyError`` when it is not built."""
        if level == 0:
            return self._level_zero()
        if level >= self.built_levels():
            raise KeyError(level)
        return open_level(self.raw.store, self.frame, level)

    def built_levels(self) -> int:
        """Return how many levels are built (level 0 included)."""
        data = self.raw.get(LEVELS_KEY)
        if data is None:
            return 1
        try:
            levels = int(unseal(data, f"the pyramid record ({LEVELS_KEY})")["levels"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CanvasCorruptError(f"the pyramid record ({LEVELS_KEY}) is unreadable: {exc}") from None
        if not 1 <= levels <= MAX_LEVELS + 1:
            raise CanvasCorruptError(f"the pyramid record ({LEVELS_KEY}) names {levels} levels")
        return levels

    def ensure_array(self, level: int, bounds: Window) -> zarr.Array[Any]:
        """Level ``level``'s array, created or grown to ``bounds``."""
        shape = self.frame.shape(level, bounds)
        try:
            z = open_level(self.raw.store, self.frame, level)
        except KeyError:
            return create_level(self.raw.store, self.frame, level, shape, self._level_zero().shape[0])
        if tuple(z.shape[1:]) != shape:
            from imkerutils.tiling.layout import resize_level

            resize_level(z, (max(shape[0], z.shape[1]), max(shape[1], z.shape[2])))
        return z

    # -- dirty markers ---------------------------------------------------------
    def mark_dirty(self, tiles: Iterable[tuple[int, int]]) -> None:
        """Mark level-0 tiles whose reductions are out of date."""
        for i, j in tiles:  # markers are empty and never snapshotted: a plain create is enough
            self.raw.put_fresh(f"{DIRTY_PREFIX}{i}.{j}", b"")

    def dirty(self) -> set[tuple[int, int]]:
        """Return the level-0 tiles marked out of date."""
        out = set()
        for key in self.raw.list_prefix(DIRTY_PREFIX):
            try:
                i, j = key.rsplit("/", 1)[1].split(".")
                out.add((int(i), int(j)))
            except ValueError:
                raise CanvasCorruptError(f"{key!r} is not a pyramid marker of this canvas") from None
        return out

    # -- update ----------------------------------------------------------------
    def _reduce_tile(self, src: zarr.Array[Any], dst: zarr.Array[Any], level: int, i: int, j: int) -> None:
        """Write world tile ``(i, j)`` of ``level`` as the 2x reduction of its four children."""
        reduce_tile(self.raw, self.frame, src, dst, level, i, j)

    def is_current(self, bounds: Window) -> bool:
        """Whether no tile is dirty and every needed level is built (a cheap check, no lock)."""
        return not self.raw.list_prefix(DIRTY_PREFIX) and self.built_levels() >= levels_needed(bounds, self.tile)

    def update(
        self,
        bounds: Window,
        *,
        workers: int | None = None,
        client: Client | None = None,
        location: str | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> int:
        """Bring every level up to date; returns the number of chunks recomputed.

        On ``workers`` threads (default: one per core) a parent is reduced as soon as its recomputed children
        are written (:func:`run_as_ready`); given a ``dask.distributed`` ``client``, level by level as tasks on
        its workers, which open the canvas's store at ``location`` themselves (``storage_options`` travel
        without credentials, as in the distributed growth).  Every path writes the same bytes.
        """
        dirty = self.dirty()
        built = self.built_levels()
        needed = max(levels_needed(bounds, self.tile), built)
        if not dirty and needed == built:
            return 0
        src = self.array(0)  # opened once per level: each lookup reads the array's zarr.json
        plan: list[tuple[int, zarr.Array[Any], zarr.Array[Any], list[tuple[int, int]]]] = []
        current = dirty
        for level in range(1, needed):
            if level >= built:  # chunks of a level no record lists are a killed import's: not to be reused
                self.raw.delete_prefix(f"{self.frame.path(level)}/c/")
            dst = self.ensure_array(level, bounds)
            if level >= built:  # a new level: compute all of it from the level below
                current = {p.tile for p in project(level_window(bounds, level), self.tile)}
            else:
                current = {(i >> 1, j >> 1) for i, j in current}
            plan.append((level, src, dst, sorted(current)))
            src = dst
        if client is not None:  # level by level: a level's tasks need the one below complete
            for level, _, _, tiles in plan:
                self._reduce_on(client, level, tiles, location, storage_options or {})
        else:
            with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
                run_as_ready(
                    pool,
                    [tiles for *_, tiles in plan],
                    lambda k, i, j: self._reduce_tile(plan[k][1], plan[k][2], plan[k][0], i, j),
                )
        count = sum(len(tiles) for *_, tiles in plan)
        self.record_built(needed, built, dirty)
        return count

    def record_built(self, needed: int, built: int, current: Iterable[tuple[int, int]]) -> None:
        """Record that ``needed`` levels are built (``built`` were) and current over level-0 tiles ``current``."""
        self.raw.put(LEVELS_KEY, seal({"levels": needed}))
        for i, j in current:
            self.raw.delete(f"{DIRTY_PREFIX}{i}.{j}")
        if needed > built and self._on_new_levels is not None:
            self._on_new_levels(needed)

    def _reduce_on(
        self,
        client: Client,
        level: int,
        tiles: list[tuple[int, int]],
        location: str | None,
        storage_options: dict[str, Any],
    ) -> None:
        """Reduce ``tiles`` of ``level`` as tasks on ``client``'s workers, a batch of tiles per task."""
        if location is None:
            raise TypeError("a pyramid update on a dask cluster needs the canvas's location")
        options = public_storage_options(storage_options)
        frame = json.dumps(self.frame.to_dict(), sort_keys=True)
        name = uuid.uuid4().hex
        futures = [
            client.submit(
                _reduce_task,
                location,
                options,
                frame,
                level,
                tiles[start : start + _TASK_TILES],
                key=f"imkerutils-pyramid-{name}-{level}-{n}",
                pure=False,
                retries=2,
            )
            for n, start in enumerate(range(0, len(tiles), _TASK_TILES))
        ]
        client.gather(futures)

    def read_current(self, level: int, w: Window, bounds: Window) -> np.ndarray:
        """Pixels of level ``level`` over level window ``w`` as :meth:`update` would leave them.

        Nothing is written (for read-only canvases): stored chunks that are current are read as they
        are; a chunk over dirty tiles, or of a level not built yet, is reduced in memory from the level
        below, recursively, down to current chunks.  The cost is one chunk read per current chunk plus
        about four per stale chunk and level of depth, never a pass over the canvas.
        """
        dirty, built = self.dirty(), self.built_levels()
        if not dirty and level < built:
            return read_window(self.array(level), self.frame.to_array(w, level))
        arrays = {lv: self.array(lv) for lv in range(min(level + 1, built))}  # the built levels needed
        stale: list[set[tuple[int, int]]] = [set()]  # level 0 is never stale
        stale += [{(i >> lv, j >> lv) for i, j in dirty} for lv in range(1, level + 1)]
        if level in arrays:
            out = read_window(arrays[level], self.frame.to_array(w, level))
            todo = sorted(stale[level])
        else:  # update() would compute the level over the bounds; outside them it stays background
            out = np.zeros((w.height, w.width, arrays[0].shape[0]), np.uint8)
            lb = level_window(bounds, level).intersection(w)
            todo = [] if lb is None else [p.tile for p in project(lb, self.tile)]
        t = self.tile
        for i, j in todo:
            tw = Window(i * t, j * t, t, t)
            piece = tw.intersection(w)
            if piece is not None:
                out[piece.slices((w.row_off, w.col_off))] = self._current_tile(arrays, stale, level, i, j)[
                    piece.slices((tw.row_off, tw.col_off))
                ]
        return out

    def _current_tile(
        self, arrays: dict[int, zarr.Array[Any]], stale: list[set[tuple[int, int]]], level: int, i: int, j: int
    ) -> np.ndarray:
        """World tile ``(i, j)`` of ``level`` as stored if built and current, else reduced from its children."""
        t = self.tile
        if level in arrays and (i, j) not in stale[level]:
            return read_window(arrays[level], self.frame.to_array(Window(i * t, j * t, t, t), level))
        block = np.empty((2 * t, 2 * t, arrays[0].shape[0]), np.uint8)
        for di in (0, 1):
            for dj in (0, 1):
                block[di * t : (di + 1) * t, dj * t : (dj + 1) * t] = self._current_tile(
                    arrays, stale, level - 1, 2 * i + di, 2 * j + dj
                )
        return downsample2(block)
