"""Tiled BigTIFF through tifffile, fed one tile at a time; optional pyramid as SubIFDs.

tifffile writes the file (tags, offsets, BigTIFF, SubIFDs) from an iterator of
tiles, so the whole export streams: the bands of the region are read two ahead
in a background thread and cut into 1024x1024 tiles.  For deflate, zstd and no
compression the tiles reach tifffile already encoded, by the same imagecodecs
functions tifffile would call, on a thread pool kept busy continuously (tifffile's
own pool works in batches and idles while each batch is written); JPEG tiles are
left to tifffile, which also writes the JPEG tables.  Coarser levels
follow as sub-resolution images (SubIFDs of the full-resolution page, each
marked ``subfiletype=1``), the layout libvips, OpenSlide-style viewers and
QuPath read as a pyramid.  Each level halves the one before it exactly
(``ceil(size / 2)``, on a grid starting at the image's corner), as readers
require; where that grid is the canvas pyramid's own, its levels are copied,
else blocks of the finest fitting canvas level are averaged.
"""

from __future__ import annotations

import functools
import json
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import numpy as np

from imkerutils.tiling.export._errors import ExportFormatError, ExportSizeError
from imkerutils.tiling.export._plan import Compression, Format, LevelRegion, parse_compression
from imkerutils.tiling.export._source import LevelReader, Progress, bands, prefetched, usable_cores
from imkerutils.tiling.window import Window

__all__ = ["FORMAT", "COMPRESSIONS", "MAX_SIDE", "SUFFIXES", "prepare", "write"]

SUFFIXES = (".tif", ".tiff")
MAX_SIDE = 2**32 - 1  # ImageWidth / ImageLength are LONG
COMPRESSIONS: dict[str, tuple[int, int] | None] = {"none": None, "deflate": (1, 9), "zstd": (1, 22),
                                                   "jpeg": (1, 100)}
_TIFFFILE_NAME = {"none": None, "deflate": "zlib", "zstd": "zstd", "jpeg": "jpeg"}
_BAND_TILES = 16  # tiles per band: bounds memory for wide regions


def prepare(mode: str, levels: list[LevelRegion], compression: str | None) -> Compression:
    """Check that a BigTIFF can hold the export; return the compression to use."""
    h, w = levels[0].window.shape
    if h > MAX_SIDE or w > MAX_SIDE:
        raise ExportSizeError(f"a {w}x{h} px region is too large for TIFF (at most {MAX_SIDE} px per side)")
    comp = parse_compression(compression, COMPRESSIONS, default="deflate", fmt="TIFF")
    if comp.name == "jpeg" and mode == "RGBA":
        raise ExportFormatError("JPEG compression cannot hold an alpha channel: export this RGBA canvas to TIFF "
                                "with deflate, zstd or none")
    return comp


def _tiles(reader: LevelReader, window: Window, tile: int, progress: Progress) -> Iterator[np.ndarray]:
    """The tiles of ``window``, row-major, as views of bands read ahead in threads."""
    for band_window, band in prefetched(reader.read, bands(window, tile, _BAND_TILES * tile)):
        for left in range(0, band_window.width, tile):
            yield band[:, left : left + tile]
        progress.advance(band_window.size)


def _encoder(compression: Compression) -> Callable[[np.ndarray], bytes] | None:
    """What encodes one tile (full size, C-contiguous) as tifffile would; ``None`` for JPEG (tifffile's)."""
    import imagecodecs

    if compression.name == "none":
        return lambda t: t.tobytes()
    if compression.name == "deflate":  # tag 8 (Adobe deflate): a zlib stream
        return cast(Callable[[np.ndarray], bytes],
                    functools.partial(imagecodecs.deflate_encode, level=compression.level or 6))
    if compression.name == "zstd":
        return cast(Callable[[np.ndarray], bytes],
                    functools.partial(imagecodecs.zstd_encode, level=compression.level or 3))
    return None


def _encode_tile(t: np.ndarray, tile: int, encode: Callable[[np.ndarray], bytes]) -> bytes:
    if t.shape[:2] != (tile, tile):  # edge tiles are stored full size, zero-padded
        full = np.zeros((tile, tile, t.shape[2]), np.uint8)
        full[: t.shape[0], : t.shape[1]] = t
        t = full
    return encode(np.ascontiguousarray(t))


def _encoded_tiles(tiles: Iterator[np.ndarray], tile: int, encode: Callable[[np.ndarray], bytes]) -> Iterator[bytes]:
    """``tiles`` encoded on every core, in order, a few tiles ahead of the writer."""
    workers = usable_cores()
    pending: deque[Future[bytes]] = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="imkerutils-tiff")
    try:
        for t in tiles:
            pending.append(pool.submit(_encode_tile, t, tile, encode))
            if len(pending) > 2 * workers + 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def write(canvas: Any, tmp: Path, levels: list[LevelRegion], compression: Compression, progress: Progress,
          *, tile: int | None = None) -> None:
    """Write every level of ``levels`` of ``canvas`` as one tiled BigTIFF at ``tmp``.

    TIFF tiles are the canvas's tiles (1024 px) unless those are not a multiple of 16, as TIFF requires.
    """
    import tifffile

    if tile is None:
        tile = canvas.tile if canvas.tile % 16 == 0 else 1024

    channels = canvas.channels
    encode = _encoder(compression)
    args: dict[str, Any] = ({"compressionargs": {"level": compression.level}}
                            if compression.level and encode is None else {})
    # JPEG tiles stay photometric RGB: tifffile's YCbCr JPEG tiles do not read back (in tifffile or libvips).
    options: dict[str, Any] = {"photometric": "rgb"}
    if channels == 4:
        options["extrasamples"] = ("unassalpha",)
    common: dict[str, Any] = {
        "tile": (tile, tile),
        "compression": _TIFFFILE_NAME[compression.name],
        "maxworkers": usable_cores(),
        "buffersize": _BAND_TILES * tile * tile * channels,
        **options,
        **args,
    }
    with tifffile.TiffWriter(tmp, bigtiff=True) as tw:
        for i, region in enumerate(levels):
            w = region.window
            # Our own JSON description: tifffile's "shaped" metadata does not read back with SubIFDs.
            description = json.dumps({"imkerutils": {"world_origin": list(region.world_origin),
                                                     "level": region.level, "scale": region.scale}})
            tiles = _tiles(LevelReader(canvas, region.level, region.offset), w, tile, progress)
            tw.write(
                tiles if encode is None else _encoded_tiles(tiles, tile, encode),
                shape=(w.height, w.width, channels),
                dtype=np.uint8,
                subifds=len(levels) - 1 if i == 0 else None,
                subfiletype=1 if i else 0,
                metadata=None,
                description=description if i == 0 else None,
                **common,
            )


FORMAT = Format("TIFF", SUFFIXES, prepare, write, pyramid=True, world_grid=False)
