"""The seed's ``imkerutils.tiling_utils``, kept so that code written for the seed runs unchanged.

New code should use :mod:`imkerutils.tiling` (``extract_tile``, ``paste_tile``, ``corner_window``).
"""

from imkerutils.tiling_utils.core import TILE, extract_tile, paste_tile, rect_from_corner, top_left_from_corner

__all__ = ["TILE", "extract_tile", "paste_tile", "rect_from_corner", "top_left_from_corner"]
