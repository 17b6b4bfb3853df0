"""A few decoded level-0 tiles kept for the length of one step (:meth:`Canvas.caching_tiles`).

An Exquisite step reads the same stored chunks up to three times: the reference tile, the band its record
hashes, and the tile its write merges into.  Decoding a photo chunk is about 6 ms, a tenth of the step, so
inside a step each tile is decoded once and kept (least recently used first out, a handful at most: memory
stays a few tiles).  The canvas forgets a tile when it writes it; nothing outlives the step.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

    from imkerutils.tiling.grid import TileGrid
    from imkerutils.tiling.window import Window

__all__ = ["TileCache"]


class TileCache:
    """Up to ``capacity`` decoded tiles, each read with ``read_tile(i, j)`` on first use (thread-safe)."""

    def __init__(
        self, read_tile: Callable[[int, int], np.ndarray], grid: TileGrid, channels: int, capacity: int = 4
    ) -> None:
        self._read_tile = read_tile
        self._grid = grid
        self._channels = channels
        self._capacity = capacity
        self._tiles: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._writes = 0  # forget() and clear() calls so far: a decode that one overlapped is not kept

    def tile(self, i: int, j: int) -> np.ndarray:
        """Return world tile ``(i, j)`` (read-only), decoding it only when it is not kept."""
        with self._lock:
            kept = self._tiles.get((i, j))
            if kept is not None:
                self._tiles.move_to_end((i, j))
                return kept
            writes = self._writes
        pixels = self._read_tile(i, j)  # outside the lock: two threads decode two tiles at once
        pixels.flags.writeable = False
        with self._lock:
            if self._writes != writes:  # a write came in while decoding: these may be the bytes it replaced
                return pixels
            self._tiles[(i, j)] = pixels
            while len(self._tiles) > self._capacity:
                self._tiles.popitem(last=False)
        return pixels

    def read(self, window: Window) -> np.ndarray:
        """Return the pixels of world ``window`` as a new ``(h, w, C)`` array, assembled from kept tiles."""
        out = np.empty((window.height, window.width, self._channels), np.uint8)
        for (i, j), piece in self._grid.split(window):
            tw = self._grid.tile_window(i, j)
            tile = self.tile(i, j)
            out[piece.slices((window.row_off, window.col_off))] = tile[piece.slices((tw.row_off, tw.col_off))]
        return out

    def clear(self) -> None:
        """Drop every kept tile."""
        with self._lock:
            self._writes += 1
            self._tiles.clear()

    def forget(self, ij: tuple[int, int]) -> None:
        """Drop tile ``ij`` (it is being written)."""
        with self._lock:
            self._writes += 1
            self._tiles.pop(ij, None)
