"""Tiles, windows and the out-of-core canvas.  ``tiling`` never imports ``exquisite``."""

from imkerutils.tiling.canvas import Canvas, StepInfo, VerifyReport
from imkerutils.tiling.grid import TILE_SIZE, TileGrid
from imkerutils.tiling.tiles import corner_window, extract_tile, paste_tile
from imkerutils.tiling.window import Window, intersection, subdivide, translate, union

__all__ = [
    "TILE_SIZE",
    "Canvas",
    "StepInfo",
    "TileGrid",
    "VerifyReport",
    "Window",
    "corner_window",
    "extract_tile",
    "intersection",
    "paste_tile",
    "subdivide",
    "translate",
    "union",
]
