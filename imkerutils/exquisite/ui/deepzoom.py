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

Never-written areas are served transparent: :meth:`Frame.written_grid` marks
the level-0 tiles some step wrote (one flag per 1024 px tile, from the
canvas manifest), and :meth:`Frame.coverage` turns it into a per-pixel mask
of one viewer tile, so a tile is opaque exactly where it meets a written
level-0 tile (tile granularity: the unwritten rest of a partly written tile
keeps the canvas background).

>>> g = f.written_grid([Window(0, 0, 1024, 1024)])
>>> g.astype(int).tolist()
[[0, 0], [0, 0], [1, 0], [0, 0]]
>>> m = f.coverage(g, 1, col=0, row=1)
>>> m.shape, bool(m[:512, :512].all()), bool(m[512:].any() or m[:, 512:].any())
((1024, 1024), True, False)
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from imkerutils.errors import TileNotFoundError
from imkerutils.tiling.imageio import encode_png
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["TILE_FORMATS", "Frame", "blank_png", "encode_tile", "with_alpha"]

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
        """Return the frame around ``bounds`` for a pyramid of ``levels`` levels (one top tile if empty)."""
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
        """Return the level-``level`` pixel window of tile ``(col, row)`` (level pixels = world // 2**level).

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
        """Return the JSON-ready form (:meth:`from_dict` reads it back)."""
        return {"window": self.window.to_dict(), "levels": self.levels, "tile": self.tile}

    def written_grid(self, written: Iterable[Window]) -> np.ndarray:
        """One flag per level-0 tile of the frame (rows, cols): whether a window of ``written`` lies in it.

        ``written`` are the world windows of written level-0 tiles (e.g. ``Canvas.written_tile_windows``);
        windows outside the frame are ignored.
        """
        rows, cols = self.tile_counts(0)
        grid = np.zeros((rows, cols), bool)
        r0, c0 = self.window.row_off // self.tile, self.window.col_off // self.tile
        for w in written:
            i, j = w.row_off // self.tile - r0, w.col_off // self.tile - c0
            if 0 <= i < rows and 0 <= j < cols:
                grid[i, j] = True
        return grid

    def coverage(self, grid: np.ndarray, level: int, col: int, row: int) -> np.ndarray:
        """``(tile, tile)`` bool mask of viewer tile ``(col, row)`` of ``level``: True over written tiles.

        ``grid`` is :meth:`written_grid`'s.  A level pixel counts as written when
        any level-0 tile under it was written.
        """
        self.tile_window(level, col, row)  # validates the address
        k = 1 << level  # level-0 tiles per viewer tile, per axis
        sub = grid[row * k : (row + 1) * k, col * k : (col + 1) * k]
        if k <= self.tile:
            s = self.tile // k
            return np.repeat(np.repeat(sub, s, axis=0), s, axis=1)
        s = k // self.tile
        return np.asarray(sub.reshape(self.tile, s, self.tile, s).any(axis=(1, 3)))


def encode_tile(pixels: np.ndarray, fmt: str) -> bytes:
    r"""``pixels`` (H, W, 3|4) uint8 as PNG (fast zlib level) or JPEG (quality 90, 4:4:4).

    >>> encode_tile(np.zeros((2, 2, 3), np.uint8), "png")[:4]
    b'\x89PNG'
    """
    if fmt == "png":
        return encode_png(pixels)
    if fmt != "jpg":
        raise TileNotFoundError(f"tile format must be one of {', '.join(TILE_FORMATS)}, got {fmt!r}")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="JPEG", quality=90, subsampling=0)
    return buf.getvalue()


@cache
def blank_png() -> bytes:
    """Return a 1x1 transparent PNG, served for tiles wholly outside the canvas bounds."""
    return encode_tile(np.zeros((1, 1, 4), np.uint8), "png")


def with_alpha(pixels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``pixels`` (H, W, 3|4) as RGBA whose alpha is 0 where ``mask`` is False (kept where it is True).

    >>> with_alpha(np.full((1, 2, 3), 7, np.uint8), np.array([[True, False]]))[..., 3].tolist()
    [[255, 0]]
    """
    if pixels.shape[2] == 4:
        out = pixels.copy()
        out[..., 3][~mask] = 0
        return out
    alpha = np.where(mask, np.uint8(255), np.uint8(0))
    return np.concatenate([pixels, alpha[..., None]], axis=2)
