"""A streaming, multi-threaded PNG writer.

Why hand-written: Pillow's PNG encoder needs the whole image in memory (as a
Pillow image, 4 bytes per RGB pixel, on top of the array it came from) and
deflates on one core; pypng streams rows but filters and deflates them in one
thread (filtering in pure Python).  A canvas export can be
far larger than memory, and deflate is the whole cost of writing a PNG, so
this writer takes the image a strip of rows at a time and compresses
independent blocks of rows on every core.

How the blocks become one valid PNG (the technique of ``pigz``):

* rows are filtered with numpy (PNG filter type "Up" by default: each byte
  minus the byte above it; "Sub" and "None" are there too), one filter-type
  byte per row;
* each block of filtered rows is deflated by its own ``zlib.compressobj`` as
  a *raw* deflate stream primed with the previous 32 KiB of filtered data as
  its dictionary (what a single compressor would have had in its window).
  Every block but the last ends with ``Z_SYNC_FLUSH`` (byte-aligned, not
  final); the last ends with ``Z_FINISH``.  Raw deflate blocks joined this way
  are one valid deflate stream;
* the zlib header goes in front, and the zlib trailer is the Adler-32 of all
  the filtered bytes, combined from per-block checksums
  (:func:`adler32_combine`);
* each compressed block is one ``IDAT`` chunk, its CRC computed in the worker.

``zlib`` releases the GIL while it compresses and checksums, so a thread pool
is enough.  Memory: the strip being filtered, the next one or two strips being
read (one for strips over 64 MiB), and a few blocks in flight.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from imkerutils.errors import ExportSizeError
from imkerutils.tiling.export._plan import Compression, Format, LevelRegion, parse_compression
from imkerutils.tiling.export._source import CanvasSource, LevelReader, Progress, bands, prefetched, usable_cores

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

__all__ = ["FORMAT", "MAX_SIDE", "SUFFIXES", "adler32_combine", "prepare", "write", "write_png"]

SUFFIXES = (".png",)
MAX_SIDE = 2**31 - 1  # the PNG specification's limit on width and height
COMPRESSIONS: dict[str, tuple[int, int] | None] = {"deflate": (0, 9), "rle": None, "none": None}
STRATEGIES = {"default": zlib.Z_DEFAULT_STRATEGY, "filtered": zlib.Z_FILTERED, "rle": zlib.Z_RLE}
DEFAULT_LEVEL = 6  # zlib's and Pillow's default
FILTERS = {"none": 0, "sub": 1, "up": 2}
SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ADLER_BASE = 65521
_WINDOW = 32768  # deflate's window: the dictionary each block is primed with
_BLOCK_BYTES = 2 << 20  # raw bytes per compressed block (several per strip, so both cores stay busy)
_STRIP_BYTES = 256 << 20  # a strip is one tile row, fewer rows only for extremely wide images
_TWO_AHEAD_BYTES = 64 << 20  # strips up to this size are read two ahead
_MAX_CHUNK = 2**31 - 1


def adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """Return the Adler-32 of ``A + B`` from ``adler32(A)``, ``adler32(B)`` and ``len(B)`` (zlib's ``adler32_combine``).

    >>> a, b = b"hello ", b"world"
    >>> adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)
    True
    """
    s1a, s2a = adler1 & 0xFFFF, adler1 >> 16
    s1b, s2b = adler2 & 0xFFFF, adler2 >> 16
    s1 = (s1a + s1b - 1) % _ADLER_BASE
    s2 = (s2a + s2b + (len2 % _ADLER_BASE) * (s1a - 1)) % _ADLER_BASE
    return (s2 << 16) | s1


def _zlib_header(level: int) -> bytes:
    """Return the two-byte zlib header (deflate, 32 KiB window) with the level hint zlib itself would write."""
    cmf = 0x78
    flevel = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    flg = flevel << 6
    flg += 31 - ((cmf << 8) + flg) % 31
    return bytes((cmf, flg))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def filter_rows(rows: np.ndarray, prev: np.ndarray | None, kind: str = "up") -> np.ndarray:
    """PNG-filter ``rows`` ``(n, width, channels)`` uint8; ``prev`` is the row above (``None`` for the first).

    Returns ``(n, 1 + width * channels)`` uint8, each row led by its filter-type byte.

    >>> filter_rows(np.array([[[1], [3]], [[4], [4]]], np.uint8), None, "up")
    array([[2, 1, 3],
           [2, 3, 1]], dtype=uint8)
    """
    n = rows.shape[0]
    x = rows.reshape(n, -1)
    out = np.empty((n, x.shape[1] + 1), np.uint8)
    out[:, 0] = FILTERS[kind]
    if kind == "none":
        out[:, 1:] = x
    elif kind == "up":
        if prev is None:
            out[0, 1:] = x[0]
        else:
            np.subtract(x[0], prev.reshape(-1), out=out[0, 1:])
        np.subtract(x[1:], x[:-1], out=out[1:, 1:])
    elif kind == "sub":
        bpp = rows.shape[2]
        out[:, 1 : 1 + bpp] = x[:, :bpp]
        np.subtract(x[:, bpp:], x[:, :-bpp], out=out[:, 1 + bpp :])
    else:
        raise ValueError(f"unknown PNG filter {kind!r}; choose one of {sorted(FILTERS)}")
    return out


def _deflate_block(
    raw: np.ndarray, level: int, strategy: int, zdict: bytes, last: bool, crc_start: int
) -> tuple[bytes, int, int]:
    """Raw-deflate one block; returns (compressed bytes, IDAT CRC so far, Adler-32 of ``raw``)."""
    if zdict and level > 0:
        co = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy, zdict)
    else:
        co = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
    buf = raw.data  # a C-contiguous uint8 array's buffer: no copy
    data = co.compress(buf) + co.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
    return data, zlib.crc32(data, crc_start), zlib.adler32(buf)


class _IdatWriter:
    """Writes the compressed blocks, in order, as IDAT chunks with the zlib header and trailer."""

    def __init__(self, f: BinaryIO, header: bytes) -> None:
        self.f = f
        self.header = header
        self.adler = 1

    def write(self, data: bytes, crc: int, adler: int, raw_len: int, *, last: bool, with_header: bool) -> None:
        self.adler = adler32_combine(self.adler, adler, raw_len)
        prefix = self.header if with_header else b""
        suffix = struct.pack(">I", self.adler) if last else b""
        length = len(prefix) + len(data) + len(suffix)
        if length > _MAX_CHUNK:  # a single enormous row: split it over several chunks (rare)
            body = prefix + data + suffix
            for start in range(0, len(body), _MAX_CHUNK):
                self.f.write(_chunk(b"IDAT", body[start : start + _MAX_CHUNK]))
            return
        self.f.write(struct.pack(">I", length) + b"IDAT" + prefix)
        self.f.write(data)
        self.f.write(suffix + struct.pack(">I", zlib.crc32(suffix, crc)))


def write_png(
    out: str | os.PathLike[str] | BinaryIO,
    strips: Iterable[np.ndarray],
    *,
    width: int,
    height: int,
    channels: int,
    level: int = DEFAULT_LEVEL,
    filter: str = "up",
    strategy: str = "default",
    workers: int | None = None,
    offset: tuple[int, int] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> None:
    """Write a PNG from ``strips``: arrays ``(rows, width, channels)`` uint8, top to bottom.

    Parameters
    ----------
    out
        A path or a binary file open for writing.
    strips
        Full-width strips whose rows add up to ``height``.  Each is released
        once its rows are filtered.
    channels
        3 (RGB) or 4 (RGBA), 8 bits per sample.
    level
        zlib level, 0 (stored) to 9.
    filter
        PNG filter for every row: ``"up"``, ``"sub"`` or ``"none"``.
    strategy
        zlib strategy: ``"default"``, ``"filtered"`` or ``"rle"`` (runs only:
        several times faster than level 6 on photographs, files ~10% larger).
    workers
        Compression threads (default: the usable CPU cores).
    offset
        ``(x, y)`` written as an ``oFFs`` chunk (the image's position in pixels).
    on_rows
        Called with the number of rows each time a strip's rows are written.

    Examples
    --------
    >>> import io, PIL.Image
    >>> img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    >>> buf = io.BytesIO()
    >>> write_png(buf, [img[:1], img[1:]], width=3, height=2, channels=3)
    >>> bool((np.asarray(PIL.Image.open(io.BytesIO(buf.getvalue()))) == img).all())
    True
    """
    if channels not in (3, 4):
        raise ValueError(f"channels must be 3 (RGB) or 4 (RGBA), got {channels}")
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise ExportSizeError(f"a PNG must be 1..{MAX_SIDE} px on each side, got {width}x{height}")
    if filter not in FILTERS:
        raise ValueError(f"unknown PNG filter {filter!r}; choose one of {sorted(FILTERS)}")
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown zlib strategy {strategy!r}; choose one of {sorted(STRATEGIES)}")
    args = (strips, width, height, channels, level, filter, STRATEGIES[strategy], workers, offset, on_rows)
    if isinstance(out, str | os.PathLike):
        with open(out, "wb") as f:
            _write(f, *args)
    else:
        _write(out, *args)


def _write(
    f: BinaryIO,
    strips: Iterable[np.ndarray],
    width: int,
    height: int,
    channels: int,
    level: int,
    kind: str,
    strategy: int,
    workers: int | None,
    offset: tuple[int, int] | None,
    on_rows: Callable[[int], None] | None,
) -> None:
    f.write(SIGNATURE)
    f.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2 if channels == 3 else 6, 0, 0, 0)))
    if offset is not None and all(-(2**31) <= v < 2**31 for v in offset):
        f.write(_chunk(b"oFFs", struct.pack(">iiB", offset[0], offset[1], 0)))
    row_bytes = 1 + width * channels
    block_rows = max(1, _BLOCK_BYTES // row_bytes)
    workers = workers or usable_cores()
    idat = _IdatWriter(f, _zlib_header(level))
    pending: deque[tuple[Future[tuple[bytes, int, int]], int, bool, bool, int]] = deque()
    window = b""  # the last 32 KiB of filtered bytes: the next block's dictionary
    prev: np.ndarray | None = None
    done_rows = 0
    pool = ThreadPoolExecutor(workers, thread_name_prefix="imkerutils-png")

    def drain(limit: int) -> None:
        while len(pending) > limit:
            fut, raw_len, last, first, rows = pending.popleft()
            data, crc, adler = fut.result()
            idat.write(data, crc, adler, raw_len, last=last, with_header=first)
            if on_rows is not None:
                on_rows(rows)

    try:
        for strip in strips:
            if strip.ndim != 3 or strip.shape[1:] != (width, channels) or strip.dtype != np.uint8:
                raise ValueError(
                    f"strip of shape {strip.shape} {strip.dtype} does not fit a {width}x{height}x{channels} uint8 image"
                )
            for top in range(0, strip.shape[0], block_rows):
                rows = strip[top : top + block_rows]
                raw = filter_rows(rows, prev, kind)
                prev = rows[-1]
                first = done_rows == 0
                done_rows += rows.shape[0]
                if done_rows > height:
                    raise ValueError(f"the strips hold more than the {height} rows of the image")
                last = done_rows == height
                crc_start = zlib.crc32(b"IDAT" + (idat.header if first else b""))
                pending.append(
                    (
                        pool.submit(_deflate_block, raw, level, strategy, window, last, crc_start),
                        raw.nbytes,
                        last,
                        first,
                        rows.shape[0],
                    )
                )
                flat = raw.reshape(-1)
                window = flat[-_WINDOW:].tobytes() if flat.nbytes >= _WINDOW else (window + flat.tobytes())[-_WINDOW:]
                del flat
                del raw
                drain(2 * workers)
            prev = None if prev is None else prev.copy()  # let the strip go
            del strip
        if done_rows != height:
            raise ValueError(f"the strips hold {done_rows} rows, the image {height}")
        drain(0)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    f.write(_chunk(b"IEND", b""))


# -- the export format -----------------------------------------------------------------------------------------
def prepare(mode: str, levels: list[LevelRegion], compression: str | None) -> Compression:
    """Check that PNG can hold the export; return the compression to use."""
    h, w = levels[0].window.shape
    if h > MAX_SIDE or w > MAX_SIDE:
        raise ExportSizeError(f"a {w}x{h} px region is too large for PNG (at most {MAX_SIDE} px per side)")
    return parse_compression(compression, COMPRESSIONS, default="deflate", fmt="PNG")


def write(
    canvas: CanvasSource, tmp: Path, levels: list[LevelRegion], compression: Compression, progress: Progress
) -> None:
    """Stream ``levels[0]`` of ``canvas`` into a PNG file at ``tmp``."""
    region = levels[0]
    win = region.window
    level = 0 if compression.name == "none" else (DEFAULT_LEVEL if compression.level is None else compression.level)
    strategy = "rle" if compression.name == "rle" else "default"
    reader = LevelReader(canvas, region.level, region.offset)
    rows = max(1, min(canvas.tile, _STRIP_BYTES // (win.width * canvas.channels)))
    ahead = 2 if rows * win.width * canvas.channels <= _TWO_AHEAD_BYTES else 1  # wide strips: one at a time
    strips = (data for _w, data in prefetched(reader.read, bands(win, rows, align=canvas.tile), ahead=ahead))
    write_png(
        tmp,
        strips,
        width=win.width,
        height=win.height,
        channels=canvas.channels,
        level=level,
        strategy=strategy,
        offset=(win.col_off, win.row_off),
        on_rows=lambda n: progress.advance(n * win.width),
    )


FORMAT = Format("PNG", SUFFIXES, prepare, write)
