"""Reading and writing ordinary image files, with explicit limits and modes.

Every read applies the input policy of :mod:`imkerutils.tiling.decode` from
the file's header first (one page, 8- or 16-bit samples, supported colour
modes, and a pixel limit, Pillow's own decompression-bomb threshold, that a
caller lifts with ``trusted=True``).  Imports stream through
:func:`~imkerutils.tiling.decode.iter_strips`; the helpers here read whole
images (pastes, tiles) or any window of one (chunky RGB(A) TIFFs tile by tile).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from imkerutils.errors import ImageFileError, InvalidTileError
from imkerutils.tiling.atomicfile import replacing
from imkerutils.tiling.checks import check_tile
from imkerutils.tiling.decode import (
    MAX_PIXELS,
    ImageInfo,
    check_pillow_policy,
    open_pillow_header,
    pillow_errors,
    probe,
    read_pixels,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Callable

    import dask.array as da

    from imkerutils.tiling.window import Window

__all__ = [
    "MAX_PIXELS",
    "ImageSource",
    "decode_image",
    "encode_png",
    "image_mode",
    "open_image",
    "read_image",
    "to_rgb_or_rgba",
    "write_image",
]

_TIFF_SUFFIXES = {".tif", ".tiff"}


@dataclass(frozen=True)
class ImageSource:
    """An opened image: its size, its canvas mode and a lazy reader."""

    path: Path
    height: int
    width: int
    mode: str  # "RGB" or "RGBA"
    _array: Any  # numpy array or a zarr array (TIFF), (H, W, C) uint8
    _close: Callable[[], None] | None = None  # releases an open file (lazy TIFFs)

    def close(self) -> None:
        """Release the file a lazy source keeps open (reads after this fail)."""
        if self._close is not None:
            self._close()

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, window: Window) -> np.ndarray:
        """Return the pixels of ``window`` (decoding only what it needs)."""
        return np.asarray(self._array[window.row_off : window.row_end, window.col_off : window.col_end])

    def to_dask(self, tile: int = 1024) -> da.Array:
        """Return the image as a lazy dask array in ``tile``-px blocks."""
        import dask.array as da

        view: da.Array
        if isinstance(self._array, np.ndarray):
            view = da.from_array(self._array, chunks=(tile, tile, -1))
        else:
            meta = np.empty((0, 0, 0), dtype=self._array.dtype)
            view = da.from_array(self._array, chunks=(tile, tile, -1), lock=False, meta=meta)
        return view


class _TiffTiles:
    """A TIFF's pixels through tifffile's Zarr view, read on demand.

    A tile that fails to decode (truncated or corrupt file) raises
    :class:`ImageFileError` instead of tifffile's or imagecodecs' own errors.
    """

    def __init__(self, z: Any, path: Path) -> None:
        self._z, self._path = z, path
        self.shape, self.dtype, self.ndim = tuple(z.shape), z.dtype, z.ndim

    def __dask_tokenize__(self) -> tuple[str, int, int]:
        st = self._path.stat()
        return (str(self._path), st.st_mtime_ns, st.st_size)

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return np.asarray(self._z[key])
        except (ValueError, OSError, RuntimeError) as exc:  # TiffFileError, imagecodecs' codec errors
            raise ImageFileError(f"{self._path} could not be decoded (truncated or corrupt?): {exc}") from None


def open_image(path: str | os.PathLike[str], *, trusted: bool = False) -> ImageSource:
    """Open an image file as RGB or RGBA uint8 for reads of any window; close it when done.

    The input policy (:func:`imkerutils.tiling.decode.probe`) is applied from
    the header first.  A chunky 8-bit RGB(A) TIFF is then read tile by tile
    from the file; anything else is decoded whole (through libvips, converted
    as :mod:`~imkerutils.tiling.decode` documents).  To import an image of any
    size in bounded memory use :func:`~imkerutils.tiling.decode.iter_strips`.
    """
    info = probe(path, trusted=trusted)
    if info.path.suffix.lower() in _TIFF_SUFFIXES and not info.cmyk:
        lazy = _open_tiff_lazily(info)
        if lazy is not None:
            return lazy
    pixels = read_pixels(info)
    return ImageSource(info.path, info.height, info.width, info.mode, pixels)


def read_image(path: str | os.PathLike[str], *, trusted: bool = False, mode: str | None = None) -> np.ndarray:
    """Decode a whole image file into an ``(H, W, 3 or 4)`` uint8 array.

    ``mode`` forces "RGB" or "RGBA"; by default images with alpha (or a
    transparent palette) become RGBA and everything else RGB.  The input
    policy and conversions are those of :mod:`~imkerutils.tiling.decode`.
    """
    if mode not in (None, "RGB", "RGBA"):
        raise InvalidTileError(f"mode must be RGB or RGBA, got {mode!r}")
    return read_pixels(probe(path, trusted=trusted), mode=mode)


def decode_image(path: str | os.PathLike[str], *, trusted: bool = False, exact: bool = True) -> Image.Image:
    """Decode a whole image file with Pillow in the file's own mode (not converted); the caller closes it.

    The input policy (:func:`~imkerutils.tiling.decode.probe`: one page, 8- or
    16-bit samples, the pixel limit) is applied from the header first.  With
    ``exact``, a file Pillow would decode with fewer bits than it holds
    (16-bit RGB, RGBA or grey with alpha, which Pillow cuts to 8 bits) raises
    :class:`ImageFileError`.
    """
    p = Path(path)
    probe(p, trusted=trusted)

    def check(img: Image.Image) -> None:
        check_pillow_policy(img, p)
        if exact:
            _refuse_narrowing(img, p)

    return _decode(p, check)


#: Pillow rawmodes that unpack 16 bits per sample into an 8-bit mode, dropping the low byte
#: (not "RGB;16"/"BGR;16", which are 5-6-5 packed pixels and lose nothing).
_NARROWING = re.compile(r"^(?:(?:L|LA|RGB|RGBA|RGBX|CMYK|YCbCr|LAB);16[BLN]|L;16)$")


def _refuse_narrowing(img: Image.Image, p: Path) -> None:
    for t in getattr(img, "tile", None) or []:  # an ImageFile's pending decoder tiles
        rawmode = t.args[0] if isinstance(t.args, tuple) and t.args else t.args
        if isinstance(rawmode, str) and _NARROWING.match(rawmode):
            raise ImageFileError(
                f"{p} holds 16-bit samples that Pillow can only decode to 8 bits (as {img.mode}); "
                "imkerutils cannot keep them exactly (16-bit grey is supported; convert it to 8 bits first)"
            )


def image_mode(path: str | os.PathLike[str]) -> str:
    """Return the mode Pillow decodes an image file in, read from its header only (nothing is decoded)."""
    p = Path(path)
    if not p.exists():
        raise ImageFileError(f"image file not found: {p}")
    if p.is_dir():
        raise ImageFileError(f"expected an image file, got a directory: {p}")

    def run() -> str:
        with open_pillow_header(p) as img:
            return str(img.mode)

    return pillow_errors(p, run)


def _decode(p: Path, check: Callable[[Image.Image], None]) -> Image.Image:
    """Open ``p`` with Pillow, run ``check`` on its header, then decode it fully (the policy passed already)."""

    def run() -> Image.Image:
        img: Image.Image = open_pillow_header(p)
        try:
            check(img)
            img.load()
        except BaseException:
            img.close()
            raise
        return img

    return pillow_errors(p, run)


def to_rgb_or_rgba(img: Image.Image, mode: str | None = None) -> np.ndarray:
    """Convert a Pillow image to an RGB or RGBA uint8 array, explicitly.

    16-bit grey keeps its high byte (``v >> 8``); CMYK uses Pillow's own
    conversion (``R = (255 - K) - C * (255 - K) / 255``); images with alpha or
    a transparent palette entry become RGBA unless ``mode`` says otherwise.
    """
    if mode is None:
        has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
        mode = "RGBA" if has_alpha else "RGB"
    if mode not in ("RGB", "RGBA"):
        raise InvalidTileError(f"mode must be RGB or RGBA, got {mode!r}")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grey: scale to 8 bits, not clip
        arr = np.asarray(img, dtype=np.uint32)
        shift = 8 if img.mode.startswith("I;16") else 24
        img = Image.fromarray((arr >> shift).astype(np.uint8), "L")
    if img.mode != mode:
        img = img.convert(mode)
    return np.asarray(img, dtype=np.uint8).copy()


def _open_tiff_lazily(info: ImageInfo) -> ImageSource | None:
    """Return a chunky 8-bit RGB(A) TIFF read tile by tile through tifffile's Zarr view (None for other layouts)."""
    import tifffile
    import zarr

    p = info.path
    try:
        with tifffile.TiffFile(p) as tif:
            series = tif.series[0]
            shape, dtype, axes = series.shape, series.dtype, series.axes
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as exc:
        raise ImageFileError(f"{p} is not a readable TIFF: {exc}") from None
    if not (dtype == np.uint8 and axes == "YXS" and shape[2] in (3, 4) and shape[:2] == (info.height, info.width)):
        return None
    store = tifffile.imread(p, aszarr=True)
    z = zarr.open_array(store, mode="r")
    return ImageSource(p, shape[0], shape[1], "RGBA" if shape[2] == 4 else "RGB", _TiffTiles(z, p), store.close)


def encode_png(image: np.ndarray | Image.Image, *, compress_level: int = 1) -> bytes:
    r"""Encode ``image`` (an ``(H, W[, C])`` uint8 array or a Pillow image) as the bytes of a PNG file.

    The one PNG encoder for in-memory images (artifacts, the OpenAI request, the
    viewer's tiles and thumbnails).  zlib level 1 by default: these are written
    often and read rarely.

    >>> png = encode_png(np.full((2, 3, 3), 7, np.uint8))
    >>> png[:8] == b"\x89PNG\r\n\x1a\n", np.asarray(Image.open(io.BytesIO(png))).tolist()[0][0]
    (True, [7, 7, 7])
    """
    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.ascontiguousarray(image))
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def write_image(path: str | os.PathLike[str], pixels: np.ndarray) -> Path:
    """Write ``pixels`` to an image file chosen by extension, atomically (temp name, then rename)."""
    p = Path(path)
    pixels = check_tile(pixels, dtype=np.uint8)
    suffix = p.suffix.lower()
    p.parent.mkdir(parents=True, exist_ok=True)
    with replacing(p) as tmp:
        if suffix in _TIFF_SUFFIXES:
            import tifffile

            tifffile.imwrite(
                tmp,
                pixels,
                photometric="rgb",
                tile=(256, 256) if min(pixels.shape[:2]) >= 256 else None,
                compression="zlib",
                extrasamples=("unassalpha",) if pixels.shape[2] == 4 else None,
            )
        else:
            fmt = Image.registered_extensions().get(suffix)
            if fmt is None:
                raise ImageFileError(f"cannot tell the image format of {p} from its extension {suffix!r}")
            img = Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB")
            if fmt == "JPEG" and img.mode == "RGBA":
                raise InvalidTileError(f"JPEG cannot hold an alpha channel; write {p.stem}.png instead")
            img.save(tmp, format=fmt)
    return p
