"""The deep-zoom layout the viewer uses: a frame over the canvas whose tiles are pyramid chunks.

OpenSeadragon asks for tile ``(col, row)`` of a level; we make every such tile
exactly one chunk of one pyramid level, so serving it is one chunk read.  The
*frame* is the canvas bounds snapped outward to the grid of the top level's
tiles (``tile * 2**(levels-1)`` world pixels), so its edges fall on chunk lines
at every level.  Pyramid level ``L`` is OpenSeadragon level ``levels - 1 - L``.

>>> f = Frame.of(Window(-512, 0, 1024, 1536), levels=2, tile=1024)
>>> f.window
Window(row_off=-2048, col_off=0, height=4096, width=2048)
>>> f.tile_counts(0), f.tile_counts(1)
((4, 2), (2, 1))
>>> f.tile_window(1, col=0, row=1)
Window(row_off=0, col_off=0, height=1024, width=1024)
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

from imkerutils.errors import TileNotFoundError
from imkerutils.tiling.window import Window

__all__ = ["TILE_FORMATS", "Frame", "TileNotFoundError", "blank_png", "encode_tile"]

#: Tile encodings by URL suffix.  JPEG (quality 90, no chroma subsampling) is ~10x faster to encode than PNG
#: and is offered for RGB canvases; PNG is exact and keeps alpha.
TILE_FORMATS = {"png": "image/png", "jpg": "image/jpeg"}


def _floor(x: int, step: int) -> int:
    return (x // step) * step


def _ceil(x: int, step: int) -> int:
    return -(-x // step) * step


@dataclass(frozen=True, slots=True)
class Frame:
    """The world window the viewer shows, aligned so that each viewer tile is one pyramid chunk."""

    window: Window
    levels: int
    tile: int

    @classmethod
    def of(cls, bounds: Window, *, levels: int, tile: int) -> Frame:
        """The frame around ``bounds`` for a pyramid of ``levels`` levels (one top tile if empty)."""
        if levels < 1:
            raise ValueError(f"a pyramid has at least one level, got {levels}")
        step = tile << (levels - 1)
        if bounds.is_empty:
            return cls(Window(0, 0, step, step), levels, tile)
        window = Window.from_bounds(
            _floor(bounds.row_off, step),
            _floor(bounds.col_off, step),
            _ceil(bounds.row_end, step),
            _ceil(bounds.col_end, step),
        )
        return cls(window, levels, tile)

    def tile_counts(self, level: int) -> tuple[int, int]:
        """``(rows, cols)`` of viewer tiles at pyramid ``level``."""
        size = self.tile << level
        return self.window.height // size, self.window.width // size

    def tile_window(self, level: int, col: int, row: int) -> Window:
        """The level-``level`` pixel window of tile ``(col, row)`` (level pixels = world // 2**level).

        Raises
        ------
        TileNotFoundError
            If ``level`` is not a pyramid level or the tile lies outside the frame.
        """
        if not 0 <= level < self.levels:
            raise TileNotFoundError(f"level {level} is not in 0..{self.levels - 1}")
        rows, cols = self.tile_counts(level)
        if not (0 <= col < cols and 0 <= row < rows):
            raise TileNotFoundError(f"tile ({col}, {row}) is outside the {cols}x{rows} tiles of level {level}")
        return Window(
            (self.window.row_off >> level) + row * self.tile,
            (self.window.col_off >> level) + col * self.tile,
            self.tile,
            self.tile,
        )

    def to_dict(self) -> dict[str, object]:
        return {"window": self.window.to_dict(), "levels": self.levels, "tile": self.tile}


def encode_tile(pixels: np.ndarray, fmt: str) -> bytes:
    """``pixels`` (H, W, 3|4) uint8 as PNG (fast zlib level) or JPEG (quality 90, 4:4:4).

    >>> encode_tile(np.zeros((2, 2, 3), np.uint8), "png")[:4]
    b'\\x89PNG'
    """
    buf = io.BytesIO()
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if fmt == "png":
        image.save(buf, format="PNG", compress_level=1)
    elif fmt == "jpg":
        image.save(buf, format="JPEG", quality=90, subsampling=0)
    else:
        raise TileNotFoundError(f"tile format must be one of {', '.join(TILE_FORMATS)}, got {fmt!r}")
    return buf.getvalue()


@cache
def blank_png() -> bytes:
    """A 1x1 transparent PNG, served for tiles wholly outside the canvas bounds."""
    return encode_tile(np.zeros((1, 1, 4), np.uint8), "png")
