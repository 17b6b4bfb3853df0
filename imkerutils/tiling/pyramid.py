"""Coarser levels of a canvas, kept up to date from the tiles each write dirties.

Level ``L`` is a sibling Zarr array named ``str(L)``: a 2x mean reduction of
level ``L-1`` (rounded half up, all channels alike, background included), with
the same chunking and world (0, 0) at ``origin / 2**L``.  Levels go down to
the first one whose bounds fit in one tile, so an overview of a gigapixel
canvas is one tile read.

A write step drops a *dirty marker* per level-0 tile it touches
(``_pyramid/dirty/<ci>.<cj>``) just before it writes that tile; undo and redo do
the same.  :meth:`Pyramid.update` recomputes only the parents of dirty tiles,
level by level, then removes the markers.  Markers are not journaled: a step
that is rolled back just leaves markers whose recomputation changes nothing,
and an update killed half-way is redone from the markers that remain, so the
pyramid is always derivable from level 0 and never needs undo of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import zarr

from imkerutils.errors import CanvasCorruptError
from imkerutils.tiling.rawstore import RawStore
from imkerutils.tiling.window import Window

__all__ = ["MAX_LEVELS", "Pyramid", "downsample2", "level_array", "level_window", "levels_needed", "read_window",
           "write_chunk"]

MAX_LEVELS = 17  # origin is 2**17 tiles from the array start, so every level stays chunk-aligned
DIRTY_PREFIX = "_pyramid/dirty/"
LEVELS_KEY = "_pyramid/levels.json"


def level_array(group: zarr.Group, level: int) -> zarr.Array:
    """The array of pyramid level ``level`` (0: full resolution); ``KeyError`` when there is none."""
    node = group[str(level)]
    if not isinstance(node, zarr.Array):
        raise CanvasCorruptError(f"canvas level {level} is a Zarr group, not an array")
    return node


def read_window(z: zarr.Array, w: Window) -> np.ndarray:
    """Pixels of array window ``w``; zeros where it leaves the array."""
    inside = w.intersection(Window(0, 0, z.shape[0], z.shape[1]))
    if inside == w:
        return np.asarray(z[w.row_off : w.row_end, w.col_off : w.col_end])
    out = np.zeros((w.height, w.width, z.shape[2]), dtype=z.dtype)
    if inside is not None:
        out[inside.slices((w.row_off, w.col_off))] = z[
            inside.row_off : inside.row_end, inside.col_off : inside.col_end
        ]
    return out


def write_chunk(array: zarr.Array, row: int, col: int, block: np.ndarray) -> None:
    """Write ``block`` into ``array`` at index ``(row, col)`` (a whole chunk, as the callers use it).

    With zarr's default ``write_empty_chunks=False`` every chunk write compares the whole chunk
    with the fill value (``np.array_equal``: about 4 ms of a 10 ms write of a 3 MiB chunk). A block
    with any nonzero byte cannot be empty, which ``flat[0]`` or ``any()`` tells in about 0.1 ms, so
    it goes through a ``write_empty_chunks=True`` handle (made per write, about 6 µs, because a
    resize replaces the array's metadata); an all-background block still goes through ``array``,
    which drops the chunk from the store.
    """
    target = array
    if array.fill_value == 0 and (block.flat[0] or block.any()):
        target = array.with_config({"write_empty_chunks": True})
    target[row:row + block.shape[0], col:col + block.shape[1]] = block


def downsample2(block: np.ndarray) -> np.ndarray:
    """2x mean reduction of ``(2h, 2w, C)`` uint8, rounding half up.

    >>> downsample2(np.array([[[1], [2]], [[3], [5]]], np.uint8))[..., 0].tolist()
    [[3]]
    """
    b = block.astype(np.uint16)
    s = b[0::2, 0::2] + b[1::2, 0::2] + b[0::2, 1::2] + b[1::2, 1::2]
    return ((s + 2) >> 2).astype(np.uint8)


def level_window(w: Window, level: int) -> Window:
    """The level-``level`` window covering world window ``w`` (floor of the start, ceil of the end)."""
    f = 1 << level
    return Window.from_bounds(w.row_off // f, w.col_off // f, -(-w.row_end // f), -(-w.col_end // f))


def levels_needed(bounds: Window, tile: int) -> int:
    """Number of levels (level 0 included) down to one whose bounds fit in one tile."""
    n = 1
    while n < MAX_LEVELS + 1:
        lb = level_window(bounds, n - 1)
        if lb.height <= tile and lb.width <= tile:
            break
        n += 1
    return n


class Pyramid:
    """The coarser levels of one canvas group."""

    def __init__(self, group: zarr.Group, raw: RawStore, tile: int, origin: tuple[int, int]) -> None:
        self.group, self.raw, self.tile, self.origin = group, raw, tile, origin

    # -- arrays --------------------------------------------------------------
    def array(self, level: int) -> zarr.Array:
        return level_array(self.group, level)

    def built_levels(self) -> int:
        data = self.raw.get(LEVELS_KEY)
        return 1 if data is None else int(json.loads(data)["levels"])

    def _ensure_array(self, level: int) -> zarr.Array:
        try:
            return level_array(self.group, level)
        except KeyError:
            z0 = self.array(0)
            extent = z0.shape[0] >> level
            return self.group.create_array(
                str(level), shape=(extent, extent, z0.shape[2]), chunks=(self.tile, self.tile, z0.shape[2]),
                dtype="uint8", fill_value=0, dimension_names=("y", "x", "c"))

    def resize(self, extent: int) -> None:
        """Follow a resize of level 0 to ``extent`` px."""
        for level in range(1, self.built_levels()):
            z = self.array(level)
            z.resize((extent >> level, extent >> level, z.shape[2]))

    # -- dirty markers ---------------------------------------------------------
    def mark_dirty(self, chunks: Iterable[tuple[int, int]]) -> None:
        for ci, cj in chunks:  # markers are empty and never snapshotted: a plain create is enough
            self.raw.put_fresh(f"{DIRTY_PREFIX}{ci}.{cj}", b"")

    def dirty(self) -> set[tuple[int, int]]:
        out = set()
        for key in self.raw.list_prefix(DIRTY_PREFIX):
            ci, cj = key.rsplit("/", 1)[1].split(".")
            out.add((int(ci), int(cj)))
        return out

    # -- update ----------------------------------------------------------------
    def _reduce_chunk(self, src: zarr.Array, dst: zarr.Array, ci: int, cj: int) -> None:
        """Write chunk ``(ci, cj)`` of ``dst`` as the 2x reduction of its four children in ``src``."""
        t = self.tile
        block = np.asarray(src[2 * ci * t:(2 * ci + 2) * t, 2 * cj * t:(2 * cj + 2) * t])
        write_chunk(dst, ci * t, cj * t, downsample2(block))

    def is_current(self, bounds: Window) -> bool:
        """Whether no tile is dirty and every needed level is built (a cheap check, no lock)."""
        return not self.raw.list_prefix(DIRTY_PREFIX) and self.built_levels() >= levels_needed(bounds, self.tile)

    def update(self, bounds: Window, *, workers: int = 2) -> int:
        """Bring every level up to date; returns the number of chunks recomputed."""
        dirty = self.dirty()
        built = self.built_levels()
        needed = max(levels_needed(bounds, self.tile), built)
        if not dirty and needed == built:
            return 0
        count = 0
        current = dirty
        src = self.array(0)  # opened once per level: each lookup reads the array's zarr.json
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for level in range(1, needed):
                dst = self._ensure_array(level)
                if level >= built:  # a new level: compute all of it from the level below
                    rows, cols = self._bounds_chunks(bounds, level)
                    current = {(i, j) for i in rows for j in cols}
                else:
                    current = {(ci // 2, cj // 2) for ci, cj in current}
                list(pool.map(lambda ij, a=src, b=dst: self._reduce_chunk(a, b, *ij), sorted(current)))
                count += len(current)
                src = dst
        self.raw.put(LEVELS_KEY, json.dumps({"levels": needed}).encode())
        for ci, cj in dirty:
            self.raw.delete(f"{DIRTY_PREFIX}{ci}.{cj}")
        return count

    def read_current(self, level: int, a: Window, bounds: Window) -> np.ndarray:
        """Pixels of level ``level`` over its array window ``a`` as :meth:`update` would leave them.

        Nothing is written (for read-only canvases): stored chunks that are current are read as they
        are; a chunk over dirty tiles, or of a level not built yet, is reduced in memory from the
        level below, recursively, down to current chunks. The cost is one chunk read per current
        chunk plus about four per stale chunk and level of depth, never a pass over the canvas.
        """
        dirty, built = self.dirty(), self.built_levels()
        if not dirty and level < built:
            return read_window(self.array(level), a)
        arrays = {lv: self.array(lv) for lv in range(min(level + 1, built))}  # the built levels needed
        stale: list[set[tuple[int, int]]] = [set()]  # level 0 is never stale
        stale += [{(ci >> lv, cj >> lv) for ci, cj in dirty} for lv in range(1, level + 1)]
        t = self.tile
        if level in arrays:
            out, todo = read_window(arrays[level], a), sorted(stale[level])
        else:  # update() would compute the level over the bounds; outside them it stays background
            out = np.zeros((a.height, a.width, arrays[0].shape[2]), np.uint8)
            rows, cols = self._bounds_chunks(bounds, level)
            todo = [(i, j) for i in range(max(rows.start, a.row_off // t), min(rows.stop, -(-a.row_end // t)))
                    for j in range(max(cols.start, a.col_off // t), min(cols.stop, -(-a.col_end // t)))]
        for ci, cj in todo:
            cw = Window(ci * t, cj * t, t, t)
            piece = cw.intersection(a)
            if piece is not None:
                out[piece.slices((a.row_off, a.col_off))] = self._current_chunk(
                    arrays, stale, level, ci, cj)[piece.slices((cw.row_off, cw.col_off))]
        return out

    def _current_chunk(self, arrays: dict[int, zarr.Array], stale: list[set[tuple[int, int]]],
                       level: int, ci: int, cj: int) -> np.ndarray:
        """Chunk ``(ci, cj)`` of ``level`` as stored if it is built and current, else reduced from its children."""
        t = self.tile
        if level in arrays and (ci, cj) not in stale[level]:
            return np.asarray(arrays[level][ci * t:(ci + 1) * t, cj * t:(cj + 1) * t])
        block = np.empty((2 * t, 2 * t, arrays[0].shape[2]), np.uint8)
        for di in (0, 1):
            for dj in (0, 1):
                block[di * t:(di + 1) * t, dj * t:(dj + 1) * t] = self._current_chunk(
                    arrays, stale, level - 1, 2 * ci + di, 2 * cj + dj)
        return downsample2(block)

    def _bounds_chunks(self, bounds: Window, level: int) -> tuple[range, range]:
        """The chunk rows and columns of level ``level`` that overlap the bounds."""
        lb, t = self._to_array_level(bounds, level), self.tile
        return range(lb.row_off // t, -(-lb.row_end // t)), range(lb.col_off // t, -(-lb.col_end // t))

    def _to_array_level(self, bounds: Window, level: int) -> Window:
        lb = level_window(bounds, level)
        return lb.translate(self.origin[0] >> level, self.origin[1] >> level)
