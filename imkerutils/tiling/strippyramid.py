"""The pyramid of an import, built from its level-0 strips while they are in memory.

:meth:`Pyramid.update <imkerutils.tiling.pyramid.Pyramid.update>` after an import would read every level-0
chunk back and reduce it; an import into a fresh canvas already holds each strip of tile rows, so it
reduces them as they pass instead.  A world tile of level ``L`` is the 2x reduction of its four children,
and :func:`~imkerutils.tiling.pyramid.downsample2` works on 2x2 blocks, so each child reduces on its own
to one quarter of its parent: the same bytes as reducing the four at once.  Children arrive row by row,
left to right, so each level holds at most the top halves of one row of parents (a quarter of the row
below it) and one parent being completed: the whole chain stays under half a level-0 strip.  Each parent
is written through :func:`~imkerutils.tiling.chunkio.write_tile` as soon as its last child arrives, exactly
as ``update`` writes it; a child outside the level's tiles is background, as the stored chunk it stands
for would be (padded tiles of level 0 are zero-filled the way a chunk of a fresh canvas is merged).
"""

from __future__ import annotations

import collections
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from imkerutils.tiling.chunkio import write_tile
from imkerutils.tiling.frame import level_window
from imkerutils.tiling.pyramid import downsample2, levels_needed
from imkerutils.tiling.step import chunk_pool

if TYPE_CHECKING:
    from imkerutils.tiling.pyramid import Pyramid
    from imkerutils.tiling.window import Window

__all__ = ["StripPyramid"]

_TOPS_IN_MEMORY = 4 << 20  # bytes of one level's row of top halves kept in memory; more go to a file
_WRITES_IN_FLIGHT = 4  # parent tiles queued or being written; placing waits for the oldest beyond that


def _count(n: int, t: int) -> int:
    return -(-n // t)


class _Parents:
    """One level's parents under construction, fed its children row-major (see the module docstring).

    A row of top halves larger than :data:`_TOPS_IN_MEMORY` waits in a temporary file instead (each top is
    written there once complete and read back when its first bottom child arrives), so a wide image's
    pyramid holds about one parent per level in memory, not a quarter of a strip.
    """

    def __init__(self, rows_below: int, cols_below: int, tile: int, channels: int) -> None:
        self.rows_below, self.cols_below, self.t, self.channels = rows_below, cols_below, tile, channels
        self.tops: dict[int, np.ndarray] = {}  # parent column -> its top half, while its bottom children are due
        self.current: np.ndarray | None = None  # the parent whose bottom children are arriving
        self.half = (tile // 2) * tile * channels  # bytes of one top half
        spill = _count(cols_below, 2) * self.half > _TOPS_IN_MEMORY and rows_below > 1
        # closed by close() (finish or cancel); an unnamed file the OS deletes whatever happens
        self.spill: IO[bytes] | None = tempfile.TemporaryFile(prefix="imkerutils-pyramid-") if spill else None  # noqa: SIM115

    def close(self) -> None:
        """Drop the temporary file, if any."""
        if self.spill is not None:
            self.spill.close()

    def take(self, r: int, c: int, small: np.ndarray) -> tuple[int, int, np.ndarray] | None:
        """Add child ``(r, c)``, reduced (``small``); return ``(i, j, tile)`` when that completes parent ``(i, j)``."""
        t, h, j = self.t, self.t // 2, c // 2
        left = (c % 2) * h
        last_col = c == min(2 * j + 1, self.cols_below - 1)
        if r % 2 == 0:
            top = self.tops.get(j)
            if top is None:
                top = self.tops[j] = np.zeros((h, t, self.channels), np.uint8)
            top[:, left : left + h] = small
            if r < self.rows_below - 1 or not last_col:
                if last_col and self.spill is not None:  # complete: it waits on disk for its bottom half
                    self.spill.seek(j * self.half)
                    self.spill.write(self.tops.pop(j).data)
                return None
            tile = np.zeros((t, t, self.channels), np.uint8)  # the last row of children has no bottom half
            tile[:h] = self.tops.pop(j)
            return r // 2, j, tile
        if self.current is None:
            self.current = np.zeros((t, t, self.channels), np.uint8)
            if self.spill is not None:
                self.spill.seek(j * self.half)
                data = self.spill.read(self.half)
                if len(data) != self.half:
                    raise OSError(f"the pyramid's temporary file lost the top half of parent column {j}")
                self.current[:h] = np.frombuffer(data, np.uint8).reshape(h, t, self.channels)
            else:
                self.current[:h] = self.tops.pop(j)
        self.current[h:, left : left + h] = small
        if not last_col:
            return None
        tile, self.current = self.current, None
        return r // 2, j, tile


class StripPyramid:
    """Every level of a fresh canvas whose bounds ``bounds`` (at the world origin) arrive as level-0 strips.

    :meth:`submit` each strip of tile rows, top to bottom, once its tiles' tasks reduce them to quarters
    (the importer's, on the chunk pool, from the copy they hash and encode): one thread places the quarters
    into their parents in order, and every finished parent is written on the chunk pool.  :meth:`finish`
    waits for the writes; then all :attr:`levels` levels are stored, and the caller records them
    (:meth:`Pyramid.record_built <imkerutils.tiling.pyramid.Pyramid.record_built>`) once level 0 is
    committed.  Failures are returned, not raised, for the step's commit to roll back.
    """

    def __init__(self, pyramid: Pyramid, bounds: Window, channels: int) -> None:
        t = pyramid.tile
        if bounds.row_off or bounds.col_off or bounds.is_empty or t % 2:
            raise ValueError(f"a strip pyramid needs non-empty bounds at the origin and an even tile, got {bounds}")
        self.pyramid, self.t, self.channels = pyramid, t, channels
        self.levels = levels_needed(bounds, t)
        self.rows = [_count(level_window(bounds, lv).height, t) for lv in range(self.levels)]
        self.cols = [_count(level_window(bounds, lv).width, t) for lv in range(self.levels)]
        self.arrays = [pyramid.array(0)] + [pyramid.ensure_array(lv, bounds) for lv in range(1, self.levels)]
        self.parents = [None] + [
            _Parents(self.rows[lv - 1], self.cols[lv - 1], t, channels) for lv in range(1, self.levels)
        ]
        self._placer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imkerutils-pyramid")  # rows in order
        self._writes: collections.deque[Future[BaseException | None]] = collections.deque()

    def submit(
        self, i: int, tiles: list[Future[Any]], quarters: list[np.ndarray | None]
    ) -> Future[BaseException | None]:
        """Place level-0 tile row ``i``'s tiles, once reduced, into their parents.

        Task ``tiles[j]`` sets ``quarters[j]`` to its tile's :func:`~imkerutils.tiling.pyramid.downsample2`
        (background beyond the image) before it finishes.  The future is done when the row's quarters are
        placed and dropped (its failure, if any, is its result).
        """
        if self.levels == 1:
            done: Future[BaseException | None] = Future()
            done.set_result(None)
            return done
        return self._placer.submit(self._place_row, i, tiles, quarters)

    def finish(self) -> list[BaseException | None]:
        """Wait for every write (after the last :meth:`submit`); their failures, if any."""
        self._placer.shutdown()
        self._close()
        return [f.result() for f in self._writes]

    def cancel(self) -> None:
        """Stop: nothing more is placed, and no write started after this returns."""
        self._placer.shutdown(cancel_futures=True)
        self._close()
        for f in self._writes:
            f.cancel()
            if not f.cancelled():
                f.exception()

    def _close(self) -> None:
        for parents in self.parents:
            if parents is not None:
                parents.close()

    def _place_row(self, i: int, tiles: list[Future[Any]], quarters: list[np.ndarray | None]) -> BaseException | None:
        try:
            for j, f in enumerate(tiles):
                f.result()
                small, quarters[j] = quarters[j], None  # placed: its pixels go as soon as its parent is written
                assert small is not None
                self._feed(1, i, j, small)
                del small
        except Exception as exc:
            return exc
        return None

    def _feed(self, level: int, r: int, c: int, small: np.ndarray) -> None:
        while level < self.levels:
            parents = self.parents[level]
            assert parents is not None
            done = parents.take(r, c, small)
            if done is None:
                return
            r, c, tile = done
            while len(self._writes) >= _WRITES_IN_FLIGHT:  # bounded: each holds a whole tile
                if (failed := self._writes.popleft().result()) is not None:
                    raise failed
            self._writes.append(chunk_pool().submit(self._write, level, r, c, tile))
            if level + 1 < self.levels:
                small = downsample2(tile)
            level += 1

    def _write(self, level: int, i: int, j: int, tile: np.ndarray) -> BaseException | None:
        try:
            p = self.pyramid
            write_tile(p.raw, p.frame, self.arrays[level], level, i, j, tile)
        except Exception as exc:
            return exc
        return None
