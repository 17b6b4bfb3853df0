"""The seed's tiling API: cut a tile out of an image, or paste one in.

``x``/``y`` name the pixel at the tile's ``corner`` (``tl``, ``tr``, ``bl``,
``br``; inclusive, as in the seed).  Either path may be an ordinary image
file or a canvas (a directory holding ``zarr.json``): on a canvas ``x``/``y``
are world coordinates and a paste is an atomic, undoable step.

>>> corner_window(2047, 0, "tr", tile=1024)
Window(row_off=0, col_off=1024, height=1024, width=1024)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np

from imkerutils.errors import InvalidTileError, InvalidWindowError, OutOfBoundsError
from imkerutils.tiling.grid import TILE_SIZE
from imkerutils.tiling.imageio import open_image, read_image, write_image
from imkerutils.tiling.window import Window

__all__ = ["Corner", "corner_window", "extract_tile", "is_canvas", "paste_tile"]

Corner = Literal["tl", "tr", "bl", "br"]
PathLike = str | os.PathLike[str]


def corner_window(x: int, y: int, corner: str = "tl", tile: int = TILE_SIZE) -> Window:
    """The ``tile x tile`` window whose ``corner`` pixel is ``(x, y)``."""
    c = str(corner).lower()
    if c not in ("tl", "tr", "bl", "br"):
        raise InvalidWindowError(f"corner must be one of tl, tr, bl, br; got {corner!r}")
    if tile <= 0:
        raise InvalidWindowError(f"tile size must be positive, got {tile}")
    left = x - (tile - 1) if c in ("tr", "br") else x
    top = y - (tile - 1) if c in ("bl", "br") else y
    return Window(top, left, tile, tile)


def is_canvas(path: PathLike) -> bool:
    """Whether ``path`` is a canvas directory rather than an image file."""
    return Path(path).is_dir() and (Path(path) / "zarr.json").is_file()


def _check_inside(w: Window, bounds: Window, what: str) -> None:
    if not bounds.contains(w):
        raise OutOfBoundsError(
            f"tile box x {w.col_off}..{w.col_end - 1}, y {w.row_off}..{w.row_end - 1} does not fit inside "
            f"{what} (x {bounds.col_off}..{bounds.col_end - 1}, y {bounds.row_off}..{bounds.row_end - 1})")


def extract_tile(
    input_path: PathLike,
    output_path: PathLike,
    *,
    x: int,
    y: int,
    corner: Corner = "tl",
    tile: int = TILE_SIZE,
    trusted: bool = False,
) -> tuple[int, int, int, int]:
    """Write the tile at ``(x, y)`` of an image or canvas to ``output_path``.

    Returns the box ``(left, top, right, bottom)``, right/bottom exclusive.
    """
    w = corner_window(x, y, corner, tile)
    if is_canvas(input_path):
        from imkerutils.tiling.canvas import Canvas

        canvas = Canvas.open(input_path, read_only=True)
        _check_inside(w, canvas.bounds, f"canvas {input_path}")
        pixels = canvas.read(w)
    else:
        with open_image(input_path, trusted=trusted) as src:
            _check_inside(w, Window(0, 0, src.height, src.width), f"image {input_path} ({src.width}x{src.height})")
            pixels = src.read(w)
    write_image(output_path, pixels)
    return (w.col_off, w.row_off, w.col_end, w.row_end)


def paste_tile(
    base_path: PathLike,
    tile_path: PathLike,
    output_path: PathLike | None = None,
    *,
    x: int,
    y: int,
    corner: Corner = "tl",
    tile: int = TILE_SIZE,
    trusted: bool = False,
) -> tuple[int, int]:
    """Paste a ``tile x tile`` image into an image (written to ``output_path``) or a canvas (in place).

    Every pixel outside the pasted box keeps its exact value.  The tile is
    converted to the base's mode (RGB or RGBA).  Returns ``(left, top)``.
    """
    w = corner_window(x, y, corner, tile)
    if is_canvas(base_path):
        from imkerutils.tiling.canvas import Canvas

        if output_path is not None and Path(output_path).resolve() != Path(base_path).resolve():
            raise InvalidWindowError(
                "pasting into a canvas changes it in place (undo with 'imkerutils undo'); do not pass an output path")
        canvas = Canvas.open(base_path)
        _check_inside(w, canvas.bounds, f"canvas {base_path}")
        canvas.paste(_read_tile(tile_path, canvas.mode, tile), w.row_off, w.col_off,
                     info={"tile_file": str(tile_path)})
        return (w.col_off, w.row_off)
    base = read_image(base_path, trusted=trusted)
    _check_inside(w, Window(0, 0, base.shape[0], base.shape[1]),
                  f"image {base_path} ({base.shape[1]}x{base.shape[0]})")
    base[w.slices()] = _read_tile(tile_path, "RGBA" if base.shape[2] == 4 else "RGB", tile)
    if output_path is None:
        p = Path(base_path)
        output_path = Path("outputs") / f"{p.stem}_pasted_x{x}_y{y}{p.suffix}"
    write_image(output_path, base)
    return (w.col_off, w.row_off)


def _read_tile(path: PathLike, mode: str, tile: int) -> np.ndarray:
    pixels = read_image(path, mode=mode)
    if pixels.shape[:2] != (tile, tile):
        raise InvalidTileError(
            f"tile {path} must be exactly {tile}x{tile}, got {pixels.shape[1]}x{pixels.shape[0]}")
    return pixels
