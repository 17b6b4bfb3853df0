"""Reading and writing ordinary image files, with explicit limits and modes.

Pillow decodes a PNG or JPEG whole, so those are guarded by a pixel limit
(Pillow's own decompression-bomb threshold) that a caller lifts with
``trusted=True``.  TIFFs are read through tifffile's Zarr view, tile by tile
(or strip by strip), so they are never held whole whatever their size.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from imkerutils.errors import DecompressionBombError, ImageFileError, ImkerError, InvalidTileError
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    import dask.array as da

__all__ = [
    "MAX_PIXELS", "ImageSource", "decode_image", "image_mode", "open_image", "read_image", "to_rgb_or_rgba",
    "write_image",
]

#: Images with more pixels than this need ``trusted=True`` (Pillow's error threshold).
MAX_PIXELS = 2 * 89_478_485
_TIFF_SUFFIXES = {".tif", ".tiff"}
_PIL_LOCK = threading.Lock()  # Image.MAX_IMAGE_PIXELS is process-global


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
        return np.asarray(self._array[window.row_off : window.row_end, window.col_off : window.col_end])

    def to_dask(self, tile: int = 1024) -> da.Array:
        import dask.array as da

        if isinstance(self._array, np.ndarray):
            return da.from_array(self._array, chunks=(tile, tile, -1))
        return da.from_array(self._array, chunks=(tile, tile, -1), lock=False,
                             meta=np.empty((0, 0, 0), dtype=self._array.dtype))


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


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise ImageFileError(f"image file not found: {path}")
    if path.is_dir():
        raise ImageFileError(f"expected an image file, got a directory: {path}")


def open_image(path: str | os.PathLike[str], *, trusted: bool = False) -> ImageSource:
    """Open an image file as RGB or RGBA uint8, read on demand; close it when done.

    TIFFs are read tile by tile from the file.  Other formats are decoded once
    by Pillow and then converted strip by strip as they are read, so no second
    full-size copy is ever made.
    """
    p = Path(path)
    _check_exists(p)
    if p.suffix.lower() in _TIFF_SUFFIXES:
        return _open_tiff(p, trusted)
    img = _decode(p, trusted)
    view = _PillowPixels(img, p)
    return ImageSource(p, img.height, img.width, view.mode, view, img.close)


def read_image(path: str | os.PathLike[str], *, trusted: bool = False, mode: str | None = None) -> np.ndarray:
    """Decode a whole image file into an ``(H, W, 3 or 4)`` uint8 array.

    ``mode`` forces "RGB" or "RGBA"; by default images with alpha (or a
    transparent palette) become RGBA and everything else RGB.
    """
    p = Path(path)
    _check_exists(p)
    with _decode(p, trusted) as img:
        return _pillow_errors(p, lambda: to_rgb_or_rgba(img, mode))


def decode_image(path: str | os.PathLike[str], *, trusted: bool = False, exact: bool = True) -> Image.Image:
    """Decode a whole image file with Pillow in the file's own mode (not converted); the caller closes it.

    The pixel-limit check applies as in :func:`read_image`.  With ``exact``, a
    file Pillow would decode with fewer bits than it holds (16-bit RGB, RGBA
    or grey with alpha, which Pillow cuts to 8 bits) raises :class:`ImageFileError`.
    """
    p = Path(path)
    _check_exists(p)
    return _decode(p, trusted, check=(lambda img: _refuse_narrowing(img, p)) if exact else None)


#: Pillow rawmodes that unpack 16 bits per sample into an 8-bit mode, dropping the low byte
#: (not "RGB;16"/"BGR;16", which are 5-6-5 packed pixels and lose nothing).
_NARROWING = re.compile(r"^(?:(?:L|LA|RGB|RGBA|RGBX|CMYK|YCbCr|LAB);16[BLN]|L;16)$")


def _refuse_narrowing(img: Image.Image, p: Path) -> None:
    for t in getattr(img, "tile", None) or []:  # an ImageFile's pending decoder tiles
        rawmode = t.args[0] if isinstance(t.args, tuple) and t.args else t.args
        if isinstance(rawmode, str) and _NARROWING.match(rawmode):
            raise ImageFileError(
                f"{p} holds 16-bit samples that Pillow can only decode to 8 bits (as {img.mode}); "
                "imkerutils cannot keep them exactly (16-bit grey is supported; convert it to 8 bits first)")


def image_mode(path: str | os.PathLike[str]) -> str:
    """The mode Pillow decodes an image file in, read from its header only (nothing is decoded)."""
    p = Path(path)
    _check_exists(p)

    def run() -> str:
        with _open_header(p) as img:
            return str(img.mode)

    return _pillow_errors(p, run)


def _open_header(p: Path) -> Image.Image:
    """``Image.open`` without Pillow's own pixel limit (ours is checked by the callers that decode)."""
    with _PIL_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(p)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _decode(p: Path, trusted: bool, check: Callable[[Image.Image], None] | None = None) -> Image.Image:
    """Open and fully decode ``p`` with Pillow, after the pixel-limit check (and ``check``, before decoding)."""

    def run() -> Image.Image:
        img = _open_header(p)
        if img.width * img.height > MAX_PIXELS and not trusted:
            img.close()
            raise DecompressionBombError(
                f"{p} has {img.width}x{img.height} = {img.width * img.height:,} pixels, over the "
                f"{MAX_PIXELS:,}-pixel safety limit; if you trust this file, pass trusted=True "
                "(--trust-large on the command line)")
        try:
            if check is not None:
                check(img)
            img.load()
        except BaseException:
            img.close()
            raise
        return img

    return _pillow_errors(p, run)


def _pillow_errors(p: Path, fn: Callable[[], Any]) -> Any:
    """Run ``fn``, turning Pillow's errors about ``p`` into :class:`ImageFileError`."""
    try:
        return fn()
    except UnidentifiedImageError:
        raise ImageFileError(f"{p} is not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, ImkerError):  # ours already (a bad mode, a bomb): keep its message
            raise
        raise ImageFileError(f"{p} could not be decoded (truncated or corrupt?): {exc}") from None


class _PillowPixels:
    """A decoded Pillow image as an ``(H, W, C)`` array-like, converted region by region on read."""

    def __init__(self, img: Image.Image, path: Path) -> None:
        has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
        self.mode = "RGBA" if has_alpha else "RGB"
        self._img, self._path = img, path
        self.shape = (img.height, img.width, len(self.mode))
        self.dtype = np.dtype(np.uint8)
        self.ndim = 3

    def __dask_tokenize__(self) -> tuple[str, int, int]:
        st = self._path.stat()
        return (str(self._path), st.st_mtime_ns, st.st_size)

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        rows = key[0] if len(key) > 0 else slice(None)
        cols = key[1] if len(key) > 1 else slice(None)
        r0, r1, rs = rows.indices(self.shape[0])
        c0, c1, cs = cols.indices(self.shape[1])
        if rs != 1 or cs != 1:
            raise InvalidTileError("image sources support only contiguous windows")
        region = self._img.crop((c0, r0, max(c0, c1), max(r0, r1)))
        out = to_rgb_or_rgba(region, self.mode)
        return out[(slice(None), slice(None), *key[2:])] if len(key) > 2 else out


def to_rgb_or_rgba(img: Image.Image, mode: str | None = None) -> np.ndarray:
    """Convert a Pillow image to an RGB or RGBA uint8 array, explicitly."""
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


def _open_tiff(p: Path, trusted: bool) -> ImageSource:
    import tifffile
    import zarr

    try:
        with tifffile.TiffFile(p) as tif:
            series = tif.series[0]
            shape, dtype, axes = series.shape, series.dtype, series.axes
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as exc:
        raise ImageFileError(f"{p} is not a readable TIFF: {exc}") from None
    lazy = dtype == np.uint8 and axes == "YXS" and shape[2] in (3, 4)
    if not lazy:
        # Unusual layouts (grey, 16-bit, planar, multi-page): decode explicitly, bounded by the pixel limit.
        height = shape[axes.index("Y")] if "Y" in axes else 1
        width = shape[axes.index("X")] if "X" in axes else int(np.prod(shape))
        if height * width > MAX_PIXELS and not trusted:
            raise DecompressionBombError(
                f"{p} has {width}x{height} = {height * width:,} pixels in a layout that must be decoded whole, "
                f"over the {MAX_PIXELS:,}-pixel safety limit; if you trust this file, pass trusted=True "
                "(--trust-large on the command line)")
        try:
            arr = tifffile.imread(p)
        except (tifffile.TiffFileError, OSError, ValueError, RuntimeError) as exc:
            raise ImageFileError(f"{p} could not be decoded (truncated or corrupt?): {exc}") from None
        arr = _normalise_tiff(arr, axes)
        return ImageSource(p, arr.shape[0], arr.shape[1], "RGBA" if arr.shape[2] == 4 else "RGB", arr)
    store = tifffile.imread(p, aszarr=True)
    z = zarr.open_array(store, mode="r")
    return ImageSource(p, shape[0], shape[1], "RGBA" if shape[2] == 4 else "RGB", _TiffTiles(z, p), store.close)


def _normalise_tiff(arr: np.ndarray, axes: str) -> np.ndarray:
    if axes == "SYX":  # planar (separate) samples: make them the last axis
        arr = np.moveaxis(arr, 0, -1)
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise InvalidTileError(f"TIFF sample type {arr.dtype} is not supported (use 8- or 16-bit)")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InvalidTileError(f"TIFF layout {axes} with shape {arr.shape} is not an RGB(A) image")
    return arr


def write_image(path: str | os.PathLike[str], pixels: np.ndarray) -> Path:
    """Write ``pixels`` to an image file chosen by extension, atomically (temp name, then rename)."""
    p = Path(path)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or pixels.dtype != np.uint8:
        raise InvalidTileError(f"pixels must be (H, W, 3|4) uint8, got {pixels.shape} {pixels.dtype}")
    suffix = p.suffix.lower()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex}.partial")
    try:
        if suffix in _TIFF_SUFFIXES:
            import tifffile

            tifffile.imwrite(tmp, pixels, photometric="rgb", tile=(256, 256) if min(pixels.shape[:2]) >= 256
                             else None, compression="zlib", extrasamples=("unassalpha",)
                             if pixels.shape[2] == 4 else None)
        else:
            fmt = Image.registered_extensions().get(suffix)
            if fmt is None:
                raise ImageFileError(f"cannot tell the image format of {p} from its extension {suffix!r}")
            img = Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB")
            if fmt == "JPEG" and img.mode == "RGBA":
                raise InvalidTileError(f"JPEG cannot hold an alpha channel; write {p.stem}.png instead")
            img.save(tmp, format=fmt)
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p
