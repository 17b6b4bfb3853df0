"""JPEG and WebP, for regions small enough to hold in memory (Pillow encodes whole images only).

Limits: JPEG at most 65,500 px per side, WebP at most 16,383; both at most
:data:`imkerutils.tiling.imageio.MAX_PIXELS` pixels in all, since the region is
read into memory first.  Larger regions get a clear error pointing to PNG,
TIFF or OME-Zarr, which stream.  WebP is lossless by default (every pixel,
alpha included, comes back exactly); JPEG has no alpha channel, so an RGBA
canvas cannot be exported to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from imkerutils.errors import ExportFormatError, ExportSizeError
from imkerutils.tiling.export._plan import Compression, Format, LevelRegion, parse_compression
from imkerutils.tiling.export._source import CanvasSource, LevelReader, Progress, bands, prefetched
from imkerutils.tiling.imageio import MAX_PIXELS

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["JPEG", "JPEG_MAX_SIDE", "WEBP", "WEBP_MAX_SIDE"]

JPEG_MAX_SIDE = 65_500  # libjpeg's JPEG_MAX_DIMENSION
WEBP_MAX_SIDE = 16_383  # the WebP bitstream's 14-bit sizes
JPEG_COMPRESSIONS: dict[str, tuple[int, int] | None] = {"jpeg": (1, 100)}
WEBP_COMPRESSIONS: dict[str, tuple[int, int] | None] = {"lossless": None, "lossy": (1, 100)}
DEFAULT_QUALITY = 90


def _check_size(name: str, levels: list[LevelRegion], max_side: int) -> None:
    h, w = levels[0].window.shape
    if h > max_side or w > max_side or h * w > MAX_PIXELS:
        raise ExportSizeError(
            f"a {w}x{h} px region is too large for {name} (at most {max_side:,} px per side and "
            f"{MAX_PIXELS:,} px in all, since {name} is written from memory); export it to .png, .tif or "
            ".ome.zarr instead, which stream any size"
        )


def prepare_jpeg(mode: str, levels: list[LevelRegion], compression: str | None) -> Compression:
    """Check that JPEG can hold the export; return the compression (quality) to use."""
    if mode == "RGBA":
        raise ExportFormatError(
            "JPEG cannot hold an alpha channel; export this RGBA canvas to .png, .webp, .tif or .ome.zarr"
        )
    _check_size("JPEG", levels, JPEG_MAX_SIDE)
    return parse_compression(compression, JPEG_COMPRESSIONS, default="jpeg", fmt="JPEG")


def prepare_webp(mode: str, levels: list[LevelRegion], compression: str | None) -> Compression:
    """Check that WebP can hold the export; return the compression to use."""
    _check_size("WebP", levels, WEBP_MAX_SIDE)
    return parse_compression(compression, WEBP_COMPRESSIONS, default="lossless", fmt="WebP")


def _read_all(canvas: CanvasSource, region: LevelRegion, progress: Progress) -> np.ndarray:
    w = region.window
    out = np.empty((w.height, w.width, canvas.channels), np.uint8)
    reader = LevelReader(canvas, region.level, region.offset)
    for bw, band in prefetched(reader.read, bands(w, canvas.tile, align=canvas.tile)):
        out[bw.row_off - w.row_off : bw.row_end - w.row_off] = band
        progress.advance(bw.size)
    return out


def write_jpeg(
    canvas: CanvasSource, tmp: Path, levels: list[LevelRegion], compression: Compression, progress: Progress
) -> None:
    """Read the region into memory and save it as a JPEG at ``tmp``."""
    from PIL import Image

    pixels = _read_all(canvas, levels[0], progress)
    quality = DEFAULT_QUALITY if compression.level is None else compression.level
    Image.fromarray(pixels, "RGB").save(tmp, format="JPEG", quality=quality)


def write_webp(
    canvas: CanvasSource, tmp: Path, levels: list[LevelRegion], compression: Compression, progress: Progress
) -> None:
    """Read the region into memory and save it as a WebP at ``tmp``."""
    from PIL import Image

    pixels = _read_all(canvas, levels[0], progress)
    img = Image.fromarray(pixels, canvas.mode)
    if compression.name == "lossless":
        img.save(tmp, format="WEBP", lossless=True, exact=True)
    else:
        img.save(tmp, format="WEBP", quality=DEFAULT_QUALITY if compression.level is None else compression.level)


JPEG = Format("JPEG", (".jpg", ".jpeg"), prepare_jpeg, write_jpeg)
WEBP = Format("WebP", (".webp",), prepare_webp, write_webp)
