"""Tiled BigTIFF through tifffile, fed one tile at a time; optional pyramid as further pages.

tifffile writes the file (tags, offsets, BigTIFF, SubIFDs) from an iterator of
tiles, so the whole export streams: the bands of the region are read two ahead
in a background thread and cut into 1024x1024 tiles.  For deflate, zstd and no
compression the tiles reach tifffile already encoded, by the same imagecodecs
functions tifffile would call, on a thread pool kept busy continuously (tifffile's
own pool works in batches and idles while each batch is written); JPEG tiles are
left to tifffile, which also writes the JPEG tables.  Coarser levels
follow as successive top-level tiled pages of decreasing size, each marked
``subfiletype=1`` (reduced image): the layout libvips' ``tiffsave(pyramid=True)``
writes and OpenSlide's generic-tiff reader (and so QuPath) reads as a pyramid;
SubIFDs are seen as one level.  Each level halves the one before it exactly
(``ceil(size / 2)``, on a grid starting at the image's corner), as readers
require; where that grid is the canvas pyramid's own, its levels are copied,
else blocks of the finest fitting canvas level are averaged.

Where a TIFF tile is exactly one canvas chunk inside the bounds (the region
and level on the canvas's chunk grid, see :mod:`._chunks`), the chunk is read
from the store as stored: for zstd at the canvas's own level its bytes are the
TIFF tile (pass-through: no decoding, no encoding); for other codecs it is
decoded by one imagecodecs call and re-encoded.  Other tiles (the region's
edges, the bounds' edges, regions off the chunk grid, JPEG) are read through
:meth:`Canvas.read` as before.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from imkerutils.errors import ExportFormatError, ExportSizeError
from imkerutils.tiling.chunkio import ZSTD_DEFAULT_LEVEL
from imkerutils.tiling.export._chunks import LevelChunks
from imkerutils.tiling.export._plan import Compression, Format, LevelRegion, parse_compression
from imkerutils.tiling.export._source import CanvasSource, LevelReader, Progress, bands, prefetched, usable_cores
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

__all__ = ["COMPRESSIONS", "FORMAT", "MAX_SIDE", "SUFFIXES", "prepare", "write"]

SUFFIXES = (".tif", ".tiff")
MAX_SIDE = 2**32 - 1  # ImageWidth / ImageLength are LONG
COMPRESSIONS: dict[str, tuple[int, int] | None] = {"none": None, "deflate": (1, 9), "zstd": (1, 22), "jpeg": (1, 100)}
_TIFFFILE_NAME = {"none": None, "deflate": "zlib", "zstd": "zstd", "jpeg": "jpeg"}
_BAND_TILES = 16  # tiles per band: bounds memory for wide regions
# How whole-chunk tiles are read: "pass" (stored bytes as the tile when the codec allows, else decoded by
# imagecodecs), "decode" (always decoded and re-encoded) or "zarr" (through Canvas.read).  Benchmarks set it.
_CHUNKS = "pass"

# A band's tiles, in order: pixels to encode, or a whole chunk's stored bytes (None: never written).
_Item = np.ndarray | bytes | None


def prepare(mode: str, levels: list[LevelRegion], compression: str | None) -> Compression:
    """Check that a BigTIFF can hold the export; return the compression to use."""
    h, w = levels[0].window.shape
    if h > MAX_SIDE or w > MAX_SIDE:
        raise ExportSizeError(f"a {w}x{h} px region is too large for TIFF (at most {MAX_SIDE} px per side)")
    comp = parse_compression(compression, COMPRESSIONS, default="deflate", fmt="TIFF")
    if comp.name == "jpeg" and mode == "RGBA":
        raise ExportFormatError(
            "JPEG compression cannot hold an alpha channel: export this RGBA canvas to TIFF with deflate, zstd or none"
        )
    return comp


def _tiles(
    reader: LevelReader, chunks: LevelChunks | None, window: Window, tile: int, progress: Progress
) -> Iterator[_Item]:
    """Return the tiles of ``window``, row-major, from bands read ahead in threads (see :data:`_Item`)."""

    def read(band: Window) -> list[_Item]:
        if chunks is None:
            data = reader.read(band)
            return [data[:, left : left + tile] for left in range(0, band.width, tile)]
        steps = chunks.walk(band)  # the band is one row of tiles on the chunk grid (find checked the grid)
        tws = [s.projection.piece for s in steps]
        whole = [s.key is not None for s in steps]
        stored = iter(chunks.get_many([s.key for s in steps if s.key is not None]))
        items: list[_Item] = []
        i = 0
        while i < len(tws):  # each run of other tiles is one canvas read
            if whole[i]:
                items.append(next(stored))
                i += 1
                continue
            j = i
            while j < len(tws) and not whole[j]:
                j += 1
            data = reader.read(Window.from_bounds(band.row_off, tws[i].col_off, band.row_end, tws[j - 1].col_end))
            items.extend(data[:, t.col_off - tws[i].col_off : t.col_end - tws[i].col_off] for t in tws[i:j])
            i = j
        return items

    for band_window, band in prefetched(read, bands(window, tile, _BAND_TILES * tile)):
        yield from band
        progress.advance(band_window.size)


def _encoder(compression: Compression) -> Callable[[np.ndarray], bytes] | None:
    """Return what encodes one tile (full size, C-contiguous) as tifffile would; ``None`` for JPEG (tifffile's)."""
    import imagecodecs

    if compression.name == "none":
        return lambda t: t.tobytes()
    if compression.name == "deflate":  # tag 8 (Adobe deflate): a zlib stream
        return cast(
            "Callable[[np.ndarray], bytes]", functools.partial(imagecodecs.deflate_encode, level=compression.level or 6)
        )
    if compression.name == "zstd":
        return cast(
            "Callable[[np.ndarray], bytes]",
            functools.partial(imagecodecs.zstd_encode, level=compression.level or ZSTD_DEFAULT_LEVEL),
        )
    return None


def _encode_tile(t: np.ndarray, tile: int, encode: Callable[[np.ndarray], bytes]) -> bytes:
    if t.shape[:2] != (tile, tile):  # edge tiles are stored full size, zero-padded
        full = np.zeros((tile, tile, t.shape[2]), np.uint8)
        full[: t.shape[0], : t.shape[1]] = t
        t = full
    return encode(np.ascontiguousarray(t))


_scratch = threading.local()


def _recode(data: bytes | None, chunks: LevelChunks, encode: Callable[[np.ndarray], bytes]) -> bytes:
    """Return a stored chunk decoded and encoded again."""
    # Decoding into this thread's own buffer, not a fresh one per chunk, spares the page faults of a
    # new 3 MiB allocation: measured 1.45 s against 2.2 s to decode and encode 256 chunks on 2 cores.
    buf = getattr(_scratch, "buf", None)
    if buf is None or len(buf) != chunks.nbytes:
        buf = _scratch.buf = bytearray(chunks.nbytes)
    return encode(chunks.decode(data, buf))


def _done(value: bytes) -> Future[bytes]:
    f: Future[bytes] = Future()
    f.set_result(value)
    return f


def _encoded_tiles(
    items: Iterator[_Item],
    tile: int,
    encode: Callable[[np.ndarray], bytes],
    chunks: LevelChunks | None,
    pass_through: bool,
) -> Iterator[bytes]:
    """``items`` as TIFF tiles, encoded on every core, in order, a few tiles ahead of the writer.

    With ``pass_through`` a chunk's stored bytes are the tile as they are.
    """
    workers = usable_cores()
    pending: deque[Future[bytes]] = deque()
    background: bytes | None = None  # a never-written chunk, encoded once
    pool = ThreadPoolExecutor(workers, thread_name_prefix="imkerutils-tiff")
    try:
        for item in items:
            if isinstance(item, np.ndarray):
                pending.append(pool.submit(_encode_tile, item, tile, encode))
            else:
                assert chunks is not None
                if item is None:
                    if background is None:
                        background = _recode(None, chunks, encode)
                    pending.append(_done(background))
                elif pass_through:
                    pending.append(_done(item))
                else:
                    pending.append(pool.submit(_recode, item, chunks, encode))
            if len(pending) > 2 * workers + 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def write(
    canvas: CanvasSource, tmp: Path, levels: list[LevelRegion], compression: Compression, progress: Progress
) -> None:
    """Write every level of ``levels`` of ``canvas`` as one tiled BigTIFF at ``tmp``.

    TIFF tiles are the canvas's tiles (1024 px) unless those are not a multiple of 16, as TIFF requires.
    """
    import tifffile

    tile = canvas.tile if canvas.tile % 16 == 0 else 1024
    channels = canvas.channels
    encode = _encoder(compression)
    args: dict[str, Any] = (
        {"compressionargs": {"level": compression.level}} if compression.level and encode is None else {}
    )
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
            # Our own JSON description on every level (tifffile's "shaped" metadata would make each its own series).
            description = json.dumps(
                {
                    "imkerutils": {
                        "world_origin": list(region.world_origin),
                        "level": region.level,
                        "scale": region.scale,
                    }
                }
            )
            chunks = None if encode is None or _CHUNKS == "zarr" else LevelChunks.find(canvas, region, tile)
            pass_through = (
                _CHUNKS == "pass"
                and chunks is not None
                and compression.name == "zstd"
                and (compression.level or ZSTD_DEFAULT_LEVEL) == chunks.zstd_level
            )
            tiles = _tiles(LevelReader(canvas, region.level, region.offset), chunks, w, tile, progress)
            tw.write(
                cast("Iterator[np.ndarray]", tiles)
                if encode is None  # no chunks: pixels only
                else _encoded_tiles(tiles, tile, encode, chunks, pass_through),
                shape=(w.height, w.width, channels),
                dtype=np.uint8,
                subfiletype=1 if i else 0,
                metadata=None,
                description=description,
                **common,
            )


FORMAT = Format("TIFF", SUFFIXES, prepare, write, pyramid=True, world_grid=False)
