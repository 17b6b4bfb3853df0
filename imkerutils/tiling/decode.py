"""Image files in: one input policy, and decoding a strip at a time in bounded memory.

Every entry point that takes an image file (``Canvas.from_image`` / ``new
--from``, ``paste``, ``paste-tile``, ``grow IMAGE``, ``ui IMAGE``) first calls
:func:`probe`, which reads the file's *header only* and applies one policy:

- one image per file: a file holding several pages or frames (multi-page TIFF,
  animated GIF / WebP / PNG, several HEIF images) is refused, except a TIFF
  whose further pages are all reduced-resolution copies of the first (a
  pyramid: its first page is the picture), and an MPO (a JPEG with previews);
- 8- or 16-bit unsigned samples only: float, signed and 32-bit images are refused;
- grey, grey + alpha, RGB, RGBA (palettes expanded) or CMYK (4 bands, no
  alpha); other colour spaces (Lab, multiband, ...) are refused;
- the decompression-bomb guard: more than :data:`MAX_PIXELS` pixels (width x
  height from the header) needs ``trusted=True`` (``--trust-large``).

Nothing is decoded before all of that passes. Pixels then come from libvips
(pyvips, bundled by ``pyvips[binary]``) in sequential access, a strip of rows
at a time (:func:`iter_strips`), and are converted to RGB or RGBA uint8 exactly
as Pillow's decode followed by the conversion documented in
:func:`imkerutils.tiling.imageio.to_rgb_or_rgba`:

- 16-bit samples keep their high byte (``v >> 8``), as Pillow does for 16-bit RGB(A);
- grey becomes R = G = B; grey + alpha becomes RGBA;
- CMYK becomes RGB with Pillow's formula (``nk = 255 - K``, ``R = nk - C * nk / 255``
  rounded as Pillow rounds), never K as alpha;
- images with alpha (or a transparent palette entry / colour key) become RGBA,
  everything else RGB.

Formats libvips has no loader for (BMP, PPM, ICO, ...) are read by Pillow,
whole (under the same guard and policy), and served in strips from memory.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np

from imkerutils.allocator import fix_mmap_threshold
from imkerutils.errors import DecompressionBombError, ImageFileError, ImkerError, InvalidTileError
from imkerutils.tiling.handover import Output, handed
from imkerutils.tiling.strips import Cut, Strip, handed_over

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO

__all__ = ["MAX_PIXELS", "ImageInfo", "Strip", "iter_strips", "probe", "read_pixels"]

#: Images with more pixels than this need ``trusted=True`` (Pillow's error threshold).
MAX_PIXELS = 2 * 89_478_485

_VIPS_FORMATS = {"uchar": np.uint8, "ushort": np.uint16}
_VIPS_INTERPRETATIONS = {"b-w", "grey16", "srgb", "rgb", "rgb16", "cmyk", "multiband"}
#: Pillow modes the Pillow fallback accepts (the same set as through libvips).
_PIL_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "I;16", "I;16L", "I;16B", "I;16N"}
_PIL_LOCK = threading.Lock()  # Image.MAX_IMAGE_PIXELS is process-global
_T = TypeVar("_T")
Reserve = Callable[[int], None]  # told how many bytes of pixels are about to be decoded

_TIFF_LOADERS = ("tiffload", "tiffload_source", "tiffload_buffer")


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What :func:`probe` read from an image file's header, once the input policy passed."""

    path: Path
    height: int
    width: int
    mode: str  # "RGB" or "RGBA": what the image becomes
    bands: int  # samples per pixel in the file (after palette expansion)
    bits: int  # 8 or 16
    cmyk: bool
    backend: str  # "vips", "tifffile" (TIFFs, see _TIFFFILE_CODECS) or "pillow" (formats libvips lacks)
    loader: str = ""  # libvips' loader ("pngload", "tiffload", ...) or Pillow's format name

    @property
    def pixels(self) -> int:
        """Return the number of pixels (height x width)."""
        return self.height * self.width


def probe(path: str | os.PathLike[str], *, trusted: bool = False) -> ImageInfo:
    """Apply the input policy to ``path`` from its header alone (nothing is decoded).

    Raises :class:`ImageFileError` for a missing, unreadable or refused file,
    and :class:`DecompressionBombError` for one over :data:`MAX_PIXELS` pixels
    without ``trusted``.
    """
    p = Path(path)
    if not p.exists():
        raise ImageFileError(f"image file not found: {p}")
    if p.is_dir():
        raise ImageFileError(f"expected an image file, got a directory: {p}")
    info = _probe_vips(p) if _vips_loader(p) is not None else _probe_pillow(p)
    if info.pixels > MAX_PIXELS and not trusted:
        raise DecompressionBombError(
            f"{p} has {info.width}x{info.height} = {info.pixels:,} pixels, over the {MAX_PIXELS:,}-pixel safety "
            "limit; if you trust this file, pass trusted=True (--trust-large on the command line)"
        )
    return info


@overload
def iter_strips(
    info: ImageInfo,
    rows: int = ...,
    *,
    mode: str | None = ...,
    columns: None = ...,
    reserve: Reserve | None = ...,
    spill: bool = ...,
) -> Iterator[tuple[int, np.ndarray]]: ...
@overload
def iter_strips(
    info: ImageInfo,
    rows: int = ...,
    *,
    mode: str | None = ...,
    columns: int,
    reserve: Reserve | None = ...,
    spill: bool = ...,
) -> Iterator[tuple[int, Strip]]: ...
def iter_strips(
    info: ImageInfo,
    rows: int = 1024,
    *,
    mode: str | None = None,
    columns: int | None = None,
    reserve: Reserve | None = None,
    spill: bool = False,
) -> Iterator[tuple[int, np.ndarray]] | Iterator[tuple[int, Strip]]:
    """Decode ``info``'s file top to bottom: ``(row_off, (h, width, C) uint8)`` strips of ``rows`` rows.

    ``C`` is 3 or 4 (``mode``, default ``info.mode``); the last strip may be
    shorter. Each strip is a fresh array the caller may keep. Memory stays
    about one strip whatever the image size: libvips decodes sequentially and
    is asked for a few MiB of rows at a time. A truncated or corrupt file
    raises :class:`ImageFileError` at the strip where decoding fails.

    With ``columns``, each strip comes as a :class:`Strip` of column blocks that
    wide. ``reserve(nbytes)``, when given, is called before that many bytes of
    output are decoded (a few MiB at a time): a caller bounding its memory may
    wait there until it has freed enough.

    With ``spill`` (and ``columns``), no strip is held in memory: its rows go to an unnamed temporary
    file as they are decoded, and its blocks are :class:`~imkerutils.tiling.spill.SpilledBlock` s, each
    read back once (``read()``); ``reserve`` is not called for them (see :mod:`.spill`). The Pillow
    fallback, which holds the whole image anyway, never spills.
    """
    if rows <= 0 or (columns is not None and columns <= 0):
        raise InvalidTileError(f"rows and columns must be positive, got {rows} and {columns}")
    if spill and columns is None:
        raise InvalidTileError("a spilled strip comes as column blocks: pass columns= too")
    out_mode = mode or info.mode
    if out_mode not in ("RGB", "RGBA"):
        raise InvalidTileError(f"mode must be RGB or RGBA, got {out_mode!r}")
    fill = (
        _vips_strips if info.backend == "vips" else _tifffile_strips if info.backend == "tifffile" else _pillow_strips
    )
    cut = Output(Cut(info.width, len(out_mode), columns or info.width), reserve, spill and info.backend != "pillow")
    return handed_over(fill(info, rows, out_mode, cut), whole=columns is None)


def _vips_strips(info: ImageInfo, rows: int, mode: str, cut: Output) -> Iterator[tuple[int, list[Any]]]:
    pyvips = _pyvips()
    p = info.path
    # Only a JPEG is read through Python: each of libvips' reads is then a call into Python, and a PNG is never
    # mapped (RssFile stays flat); a 60000x20000 PNG import took 1.00-1.03x the pyvips loop read that way, 0.89x not
    if not info.loader.startswith("jpeg"):
        yield from _fetch_strips(pyvips, info, rows, mode, cut, None)
        return
    try:
        stream = open(p, "rb", buffering=0)  # noqa: SIM115 - closed when the generator ends (finally below)
    except OSError as exc:
        raise ImageFileError(f"{p} could not be opened: {exc.strerror or exc}") from None
    try:
        yield from _fetch_strips(pyvips, info, rows, mode, cut, _read_through(pyvips, stream))
    finally:
        stream.close()


def _read_through(pyvips: Any, stream: BinaryIO) -> Any:
    """Return a libvips source that reads ``stream`` (plain reads) instead of mapping its file.

    Given a file name, libvips maps a JPEG into memory, and the pages it has decoded stay resident: the
    process's peak RSS grew by the whole file as decoding went down the image (a 172 MiB JPEG of 32768²:
    +170 MiB).  Through a custom source nothing is mapped, at the same speed for a JPEG.
    """
    source = pyvips.SourceCustom()
    source.on_read(stream.read)
    source.on_seek(stream.seek)
    return source


def _fetch_strips(
    pyvips: Any, info: ImageInfo, rows: int, mode: str, cut: Output, source: Any
) -> Iterator[tuple[int, list[Any]]]:
    """Decode ``info``'s file through ``source`` (a :func:`_read_through` source, held while read) or by name."""
    p = info.path
    fail_on = _fail_on(info.loader)
    try:
        if source is not None:
            image = pyvips.Image.new_from_source(source, "", access="sequential", fail_on=fail_on)
        else:
            image = pyvips.Image.new_from_file(str(p), access="sequential", fail_on=fail_on)
        region = pyvips.Region.new(image)
    except pyvips.Error as exc:
        raise ImageFileError(f"{p} could not be decoded (truncated or corrupt?): {_vips_message(exc)}") from None
    dtype = np.uint16 if info.bits == 16 else np.uint8
    row_bytes = info.width * info.bands * np.dtype(dtype).itemsize
    step = max(1, min(rows, cut.fetch_bytes() // max(1, row_bytes)))

    def fetch(top: int, n: int) -> np.ndarray:
        try:
            buf = region.fetch(0, top, info.width, n)
        except pyvips.Error as exc:
            raise ImageFileError(
                f"{p} could not be decoded at rows {top}..{top + n} (truncated or corrupt?): {_vips_message(exc)}"
            ) from None
        return np.frombuffer(buf, dtype=dtype).reshape(n, info.width, info.bands)  # holds buf until dropped

    yield from _strips(info, rows, step, mode, cut, fetch)


def _strips(
    info: ImageInfo, rows: int, band: int, mode: str, cut: Output, read: Callable[[int, int], np.ndarray]
) -> Iterator[tuple[int, list[Any]]]:
    """Yield ``(top, strip)`` for each strip of ``rows`` rows, ``read(top, n)`` giving its rows ``band`` at a time."""
    for top in range(0, info.height, rows):
        h = min(rows, info.height - top)
        out = cut.new(h, 0)
        for r in range(0, h, band):
            n = min(band, h - r)
            cut.more(n)
            raw = read(top + r, n)
            cut.convert(out, r, raw, info, mode)
            del raw
        yield top, handed(out)
        del out


def read_pixels(info: ImageInfo, *, mode: str | None = None) -> np.ndarray:
    """Return the whole image as ``(height, width, 3 or 4)`` uint8 (see :func:`iter_strips`)."""
    out = np.empty((info.height, info.width, len(mode or info.mode)), np.uint8)
    for top, strip in iter_strips(info, 1024, mode=mode):
        out[top : top + strip.shape[0]] = strip
    return out


# -- libvips ------------------------------------------------------------------------------------------------
@functools.cache
def _pyvips() -> Any:
    """pyvips, imported on first use (it starts libvips); its log messages stay off stderr."""
    logging.getLogger("pyvips").addHandler(logging.NullHandler())
    fix_mmap_threshold()  # libvips frees many row buffers: keep them out of a fragmenting heap
    import pyvips

    return pyvips


def _vips_loader(p: Path) -> str | None:
    """Return the libvips loader for ``p`` (from its first bytes), or ``None`` when libvips has none."""
    pyvips = _pyvips()
    name = pyvips.vips_lib.vips_foreign_find_load(os.fsencode(p))
    if name == pyvips.ffi.NULL:
        pyvips.vips_lib.vips_error_clear()
        return None
    return str(pyvips.ffi.string(name).decode())


def _vips_message(exc: Exception) -> str:
    """Return the first meaningful line of a libvips error (its messages repeat the stack)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    detail = [ln for ln in lines if not ln.startswith(("unable to", "VipsImage:"))] or lines
    return detail[0] if detail else type(exc).__name__


def _probe_vips(p: Path) -> ImageInfo:
    pyvips = _pyvips()
    try:
        image = pyvips.Image.new_from_file(str(p), access="sequential", fail_on="error")
    except pyvips.Error as exc:
        raise ImageFileError(f"{p} is not a readable image (truncated or corrupt?): {_vips_message(exc)}") from None
    loader = image.get("vips-loader") if image.get_typeof("vips-loader") else ""
    pages = image.get("n-pages") if image.get_typeof("n-pages") else 1
    if pages > 1 and not (loader in _TIFF_LOADERS and _tiff_is_pyramid(p)):
        raise ImageFileError(
            f"{p} holds {pages} pages (or frames); imkerutils reads one image per file, so it refuses rather than "
            "keep the first: save the page you want as its own file"
        )
    if image.format not in _VIPS_FORMATS:
        raise ImageFileError(
            f"{p} holds {image.format} samples; imkerutils reads 8- or 16-bit unsigned images only (convert it first)"
        )
    interp, bands = str(image.interpretation), int(image.bands)
    cmyk = interp == "cmyk"
    if interp not in _VIPS_INTERPRETATIONS or not 1 <= bands <= 4 or (cmyk and bands != 4):
        raise ImageFileError(
            f"{p} is a {bands}-band {interp} image; imkerutils reads grey, grey + alpha, RGB, RGBA, palette "
            "and CMYK images only (convert it first)"
        )
    mode = "RGBA" if bands in (2, 4) and not cmyk else "RGB"
    bits = 16 if image.format == "ushort" else 8
    backend = "tifffile" if loader in _TIFF_LOADERS and _tifffile_decodes(p) else "vips"
    return ImageInfo(p, int(image.height), int(image.width), mode, bands, bits, cmyk, backend, str(loader))


#: TIFF compressions decoded through tifffile + imagecodecs: none, LZW, JPEG, deflate, PackBits, LZMA, zstd,
#: WebP. The bundled libvips (pyvips-binary) has no zstd (what our own TIFF exports use), and it decodes a
#: corrupt deflate tile into garbage without a word, where imagecodecs raises. Other compressions (CCITT fax,
#: old-style JPEG) go through libvips.
_TIFFFILE_CODECS = {1, 5, 7, 8, 32773, 32946, 34925, 50000, 50001}


def _tifffile_decodes(p: Path) -> bool:
    """Whether the first page's compression (read from the header) is one tifffile decodes for us."""
    import tifffile

    try:
        with tifffile.TiffFile(p) as tif:
            return int(tif.pages.first.compression) in _TIFFFILE_CODECS
    except (tifffile.TiffFileError, OSError, ValueError, IndexError, AttributeError):
        return False  # let libvips say what is wrong with it


def _tifffile_strips(info: ImageInfo, rows: int, mode: str, cut: Output) -> Iterator[tuple[int, list[Any]]]:
    """Return the strips of a TIFF's first page through tifffile's Zarr view (tiles or strips decoded on demand).

    A spilled strip is read in bands of whole tile (or strip) rows of the file, so that no TIFF tile is
    decoded twice and no more than a band of the strip is in memory.
    """
    import tifffile
    import zarr

    p = info.path
    try:
        with tifffile.TiffFile(p) as tif:
            page = tif.pages.first
            axes, photometric, colormap = page.axes, int(page.photometric), page.colormap
            with page.aszarr() as store:
                z = zarr.open_array(store, mode="r")
                planar = axes.startswith("S")  # samples first
                file_rows = int(z.chunks[1 if planar else 0])  # rows of one tile or strip of the file
                band_bytes = file_rows * info.width * info.bands * z.dtype.itemsize
                band = file_rows * max(1, cut.fetch_bytes() // max(1, band_bytes)) if cut.spill else rows
                yield from _strips(
                    info, rows, band, mode, cut, lambda top, n: _tiff_rows(z, top, n, planar, photometric, colormap)
                )
    except (tifffile.TiffFileError, OSError, ValueError, RuntimeError, IndexError) as exc:
        if isinstance(exc, ImkerError):
            raise
        raise ImageFileError(f"{p} could not be decoded (truncated or corrupt?): {exc}") from None


def _tiff_rows(z: Any, top: int, n: int, planar: bool, photometric: int, colormap: Any) -> np.ndarray:
    """Rows ``top:top + n`` of a TIFF page's Zarr view as ``(n, width, samples)``, as libvips would read them."""
    raw = np.moveaxis(np.asarray(z[:, top : top + n]), 0, -1) if planar else np.asarray(z[top : top + n])
    if raw.ndim == 2:
        raw = raw[..., None]
    if raw.dtype == np.bool_:  # 1-bit: black and white, as libvips and Pillow expand it
        raw = raw.astype(np.uint8) * np.uint8(255)
    if photometric == 0:  # MINISWHITE: 0 is white, as libvips and Pillow read it
        raw = np.iinfo(raw.dtype).max - raw
    elif photometric == 3 and colormap is not None:  # palette: 16-bit colour map entries
        raw = np.moveaxis(colormap[:, raw[..., 0]], 0, -1)
    return raw


def _fail_on(loader: str) -> str:
    """How much libvips tolerates while decoding: any error, and for TIFF also a tile or strip it cannot read.

    libvips reports a TIFF tile or strip it cannot read (a truncated file) as a
    warning and goes on with zeros, so TIFFs fail on warnings. Other formats
    fail on errors only: libjpeg and libpng warn about harmless things common
    in real files (extraneous bytes before a marker, an odd ICC profile), and
    Pillow accepts those files too.
    """
    return "warning" if loader in _TIFF_LOADERS else "error"


def _tiff_is_pyramid(p: Path) -> bool:
    """Whether every page of a TIFF after the first is a reduced-resolution copy (NewSubfileType bit 0)."""
    import tifffile

    try:
        with tifffile.TiffFile(p) as tif:
            return all(int(getattr(page, "subfiletype", 0)) & 1 for page in list(tif.pages)[1:])
    except (tifffile.TiffFileError, OSError, ValueError, IndexError, AttributeError):
        return False


# -- Pillow fallback ----------------------------------------------------------------------------------------
def open_pillow_header(p: Path) -> Any:
    """``Image.open`` without Pillow's own pixel limit (ours is applied by the policy)."""
    from PIL import Image

    with _PIL_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(p)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def pillow_errors(p: Path, fn: Callable[[], _T]) -> _T:
    """Run ``fn``, turning Pillow's errors about ``p`` into :class:`ImageFileError`."""
    from PIL import UnidentifiedImageError

    try:
        return fn()
    except UnidentifiedImageError:
        raise ImageFileError(f"{p} is not an image file imkerutils can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, ImkerError):  # ours already (a refused file, a bomb): keep its message
            raise
        raise ImageFileError(f"{p} could not be decoded (truncated or corrupt?): {exc}") from None


def check_pillow_policy(img: Any, p: Path) -> None:
    """Apply the input policy to a Pillow-opened image (header only): one frame, a supported mode."""
    frames = getattr(img, "n_frames", 1)
    if frames > 1 and img.format != "MPO":  # an MPO is a JPEG with previews: its primary image is the picture
        raise ImageFileError(
            f"{p} holds {frames} pages (or frames); imkerutils reads one image per file, so it refuses rather "
            "than keep the first: save the page you want as its own file"
        )
    if img.mode not in _PIL_MODES:
        raise ImageFileError(
            f"{p} has mode {img.mode}; imkerutils reads 1, L, LA, P, RGB, RGBA, 16-bit grey and CMYK images "
            "only (convert it first)"
        )


def _probe_pillow(p: Path) -> ImageInfo:
    def run() -> ImageInfo:
        with open_pillow_header(p) as img:
            check_pillow_policy(img, p)
            has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
            return ImageInfo(
                p,
                img.height,
                img.width,
                "RGBA" if has_alpha else "RGB",
                len(img.getbands()),
                16 if img.mode.startswith("I;16") else 8,
                img.mode == "CMYK",
                "pillow",
                str(img.format),
            )

    return pillow_errors(p, run)


def _pillow_strips(info: ImageInfo, rows: int, mode: str, cut: Output) -> Iterator[tuple[int, list[np.ndarray]]]:
    from imkerutils.tiling.imageio import to_rgb_or_rgba

    p = info.path

    def load() -> Any:
        img = open_pillow_header(p)
        try:
            img.load()
        except BaseException:
            img.close()
            raise
        return img

    img = pillow_errors(p, load)

    def strip(top: int, h: int) -> list[np.ndarray]:
        cut.more(h)
        rgb = np.asarray(pillow_errors(p, lambda: to_rgb_or_rgba(img.crop((0, top, info.width, top + h)), mode)))
        return cut.split(rgb)

    try:
        for top in range(0, info.height, rows):
            yield top, strip(top, min(rows, info.height - top))
    finally:
        img.close()
