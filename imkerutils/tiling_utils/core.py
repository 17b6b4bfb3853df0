"""The seed's tiling functions, with the seed's names, signatures, defaults and return values.

A thin layer over :mod:`imkerutils.tiling.tiles`, so the seed's users get its
improvements (canvases and canvas URLs as inputs, tiled reads of large TIFFs,
pastes that keep the base's own mode and bit depth, atomic outputs) without
changing a line.  What the seed refused with ``ValueError`` is still a
``ValueError``: a bad corner and a non-positive tile size
(:class:`~imkerutils.errors.InvalidWindowError`), a box outside the image
(:class:`~imkerutils.errors.TileOutOfBoundsError`, also an ``IndexError``), a
tile of the wrong size (:class:`~imkerutils.errors.InvalidTileError`).

Two differences remain.  An extracted tile is written as 8-bit RGB or RGBA,
whatever the input's mode (the seed cropped in the input's mode); and a paste
writes PNG or TIFF only, never a lossy format (the seed re-encoded the whole
base, e.g. as JPEG, changing pixels outside the tile).

>>> rect_from_corner(2047, 0, "tr")
(1024, 0, 2048, 1024)
>>> top_left_from_corner(1023, 1023, "br")
(0, 0)
"""

from __future__ import annotations

import os

from imkerutils.tiling import tiles
from imkerutils.tiling.grid import TILE_SIZE
from imkerutils.tiling.tiles import Corner

__all__ = ["TILE", "Corner", "extract_tile", "paste_tile", "rect_from_corner", "top_left_from_corner"]

TILE = TILE_SIZE  # 1024, as in the seed

PathLike = str | os.PathLike[str]


def rect_from_corner(x: int, y: int, corner: Corner, tile: int = TILE) -> tuple[int, int, int, int]:
    """Return the box ``(left, top, right, bottom)`` of the tile whose ``corner`` pixel is ``(x, y)``.

    Right and bottom are exclusive.
    """
    w = tiles.corner_window(x, y, corner, tile)
    return (w.col_off, w.row_off, w.col_end, w.row_end)


def top_left_from_corner(x: int, y: int, corner: Corner, tile: int = TILE) -> tuple[int, int]:
    """``(left, top)`` of the tile whose ``corner`` pixel is ``(x, y)``."""
    left, top, _, _ = rect_from_corner(x, y, corner, tile=tile)
    return left, top


# The seed's names for the same functions (same signatures, defaults and return values).
extract_tile = tiles.extract_tile
paste_tile = tiles.paste_tile
