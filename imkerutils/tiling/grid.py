"""A regular grid of square tiles anchored at world (0, 0).

Tile ``(i, j)`` covers rows ``[i*size, (i+1)*size)`` and columns
``[j*size, (j+1)*size)``; indices go negative left of and above the origin.

>>> g = TileGrid(1024)
>>> g.snap(Window(-10, 1000, 20, 30))
Window(row_off=-1024, col_off=0, height=2048, width=2048)
>>> list(g.tiles(Window(0, 1000, 10, 30)))
[(0, 0), (0, 1)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from imkerutils.errors import InvalidWindowError
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["TILE_SIZE", "TileGrid", "check_tile_size"]

TILE_SIZE = 1024


def check_tile_size(size: object) -> int:
    """Return the tile side ``size`` (pixels) when it is a positive integer, else raise :class:`InvalidWindowError`."""
    if not isinstance(size, int) or size <= 0:
        raise InvalidWindowError(f"tile size must be a positive integer, got {size!r}")
    return size


@dataclass(frozen=True, slots=True)
class TileGrid:
    """Square tiles of ``size`` pixels; pure arithmetic, no I/O."""

    size: int = TILE_SIZE

    def __post_init__(self) -> None:
        check_tile_size(self.size)

    def tile_window(self, i: int, j: int) -> Window:
        """Return the window of tile ``(i, j)``."""
        return Window(i * self.size, j * self.size, self.size, self.size)

    def tile_of(self, row: int, col: int) -> tuple[int, int]:
        """Return the tile holding pixel ``(row, col)`` (floor division, so negatives work)."""
        return row // self.size, col // self.size

    def snap(self, w: Window) -> Window:
        """Return the smallest tile-aligned window containing ``w`` (empty stays empty)."""
        if w.is_empty:
            return w
        s = self.size
        top, left = (w.row_off // s) * s, (w.col_off // s) * s
        bottom, right = -((-w.row_end) // s) * s, -((-w.col_end) // s) * s
        return Window.from_bounds(top, left, bottom, right)

    def is_aligned(self, w: Window) -> bool:
        """Return whether ``w`` lies on tile lines."""
        return self.snap(w) == w

    def tile_range(self, w: Window) -> tuple[range, range]:
        """Tile rows and tile columns touched by ``w``."""
        if w.is_empty:
            return range(0), range(0)
        s = self.snap(w)
        i0, j0 = s.row_off // self.size, s.col_off // self.size
        return range(i0, i0 + s.height // self.size), range(j0, j0 + s.width // self.size)

    def tiles(self, w: Window) -> Iterator[tuple[int, int]]:
        """Return the indices of the tiles ``w`` touches, row-major."""
        rows, cols = self.tile_range(w)
        for i in rows:
            for j in cols:
                yield i, j

    def split(self, w: Window) -> Iterator[tuple[tuple[int, int], Window]]:
        """Cut ``w`` along tile lines: ``((i, j), piece)`` for every tile it touches (:func:`~.frame.project`)."""
        from imkerutils.tiling.frame import project

        for p in project(w, self.size):
            yield p.tile, p.piece

    def count(self, w: Window) -> int:
        """Return the number of tiles ``w`` touches."""
        rows, cols = self.tile_range(w)
        return len(rows) * len(cols)
