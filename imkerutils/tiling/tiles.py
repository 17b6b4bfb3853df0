"""The seed's tiling API: cut a tile out of an image, or paste one in.

``x``/``y`` name the pixel at the tile's ``corner`` (``tl``, ``tr``, ``bl``,
``br``; inclusive, as in the seed).  Either path may be an ordinary image
file or a canvas (a folder or an fsspec URL such as ``s3://bucket/c.zarr``
holding a canvas's ``zarr.json``): on a canvas ``x``/``y`` are world
coordinates and a paste is an atomic, undoable step.  A box that does not fit
is a :class:`~imkerutils.errors.TileOutOfBoundsError`, which is a
``ValueError`` as in the seed (and an ``IndexError``).  No output is ever
written inside a canvas folder (:func:`check_output_path`).

>>> corner_window(2047, 0, "tr", tile=1024)
Window(row_off=0, col_off=1024, height=1024, width=1024)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from imkerutils.errors import (
    ExportFormatError,
    ImageFileError,
    InvalidTileError,
    InvalidWindowError,
    OutputPathError,
    TileOutOfBoundsError,
)
from imkerutils.tiling.decode import probe
from imkerutils.tiling.export._atomic import atomic_output
from imkerutils.tiling.grid import TILE_SIZE
from imkerutils.tiling.imageio import decode_image, image_mode, open_image, read_image, write_image
from imkerutils.tiling.window import Window

__all__ = [
    "Corner",
    "check_output_path",
    "corner_window",
    "default_paste_output",
    "extract_tile",
    "is_canvas",
    "paste_tile",
]

Corner = Literal["tl", "tr", "bl", "br"]
PathLike = str | os.PathLike[str]


def corner_window(x: int, y: int, corner: str = "tl", tile: int = TILE_SIZE) -> Window:
    """Return the ``tile x tile`` window whose ``corner`` pixel is ``(x, y)``."""
    c = str(corner).lower()
    if c not in ("tl", "tr", "bl", "br"):
        raise InvalidWindowError(f"corner must be one of tl, tr, bl, br; got {corner!r}")
    if tile <= 0:
        raise InvalidWindowError(f"tile size must be positive, got {tile}")
    left = x - (tile - 1) if c in ("tr", "br") else x
    top = y - (tile - 1) if c in ("bl", "br") else y
    return Window(top, left, tile, tile)


def is_canvas(path: PathLike) -> bool:
    """Whether ``path`` is a canvas (a folder, or an fsspec URL, holding ``zarr.json``) rather than an image file."""
    from imkerutils.tiling.location import is_remote

    if is_remote(path):
        import fsspec

        fs, root = fsspec.core.url_to_fs(os.fspath(path))
        return bool(fs.isfile(root.rstrip("/") + "/zarr.json"))
    return Path(path).is_dir() and (Path(path) / "zarr.json").is_file()


def _is_canvas_folder(folder: Path) -> bool:
    """Whether the local ``folder`` is a canvas's root (its ``zarr.json`` holds canvas metadata, or is unreadable)."""
    meta = folder / "zarr.json"
    if not meta.is_file():
        return False
    try:
        attrs = json.loads(meta.read_bytes()).get("attributes") or {}
    except (OSError, ValueError, AttributeError):
        return True  # a damaged canvas is still a canvas: refusing is the safe answer
    return isinstance(attrs, dict) and "imkerutils" in attrs


def check_output_path(out: PathLike, source: PathLike | None = None) -> None:
    """Refuse an output that is a canvas or lies inside one, or that is, or holds, the canvas ``source``.

    A file written into a canvas folder is one ``verify`` cannot account for (and
    inside a chunk folder it can break the canvas); an output holding ``source``
    would replace the canvas being read.  URLs are not checked.  Raises
    :class:`~imkerutils.errors.OutputPathError`; nothing is written.
    """
    from imkerutils.tiling.location import is_remote, local_path

    if is_remote(out):
        return
    o = Path(out).resolve()
    if source is not None and not is_remote(source):
        c = local_path(source).resolve()
        if o == c or c in o.parents or o in c.parents:
            raise OutputPathError(f"{out} is (or is inside, or holds) the canvas {source}; write it somewhere else")
    for folder in (o, *o.parents):
        if _is_canvas_folder(folder):
            raise OutputPathError(
                f"{out} is (or is inside) the canvas {folder}; write it somewhere outside every canvas folder"
            )


def _check_inside(w: Window, bounds: Window, what: str) -> None:
    if not bounds.contains(w):
        raise TileOutOfBoundsError(
            f"tile box x {w.col_off}..{w.col_end - 1}, y {w.row_off}..{w.row_end - 1} does not fit inside "
            f"{what} (x {bounds.col_off}..{bounds.col_end - 1}, y {bounds.row_off}..{bounds.row_end - 1})"
        )


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
    from_canvas = is_canvas(input_path)
    check_output_path(output_path, input_path if from_canvas else None)
    if from_canvas:
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

    Every pixel outside the pasted box keeps its exact value.  Returns ``(left, top)``.
    ``trusted`` lifts the decompression-bomb limit for the base and the tile alike.

    For an image file, the paste happens in the base's own mode and bit depth
    (1, L, LA, P, RGB, RGBA, I;16, and CMYK for TIFF), so read back by Pillow
    every pixel outside the box is byte-identical to the base.  It is the
    *tile* that is converted: with Pillow's ``convert`` (alpha dropped for a
    base without alpha; a 1-bit base thresholds at 128, no dithering); a
    16-bit tile into a 16-bit grey base keeps its values, and an 8-bit one is
    scaled by 257 (255 -> 65535).  A palette ('P') base stays 'P' when every
    tile colour (RGBA if the base has transparency, else RGB) is in its palette;
    otherwise the result is written as RGB (RGBA), the base's own colours outside
    the box, the tile's exact colours inside, rather than quantising the tile.

    The result is written as PNG or TIFF only (never lossy): by default
    ``outputs/<base>_pasted_x<X>_y<Y>`` with the base's suffix when that is PNG
    or TIFF, else ``.png`` (``.tif`` for CMYK; see :func:`default_paste_output`).  An
    explicit JPEG / WebP (or other) output raises :class:`ExportFormatError`.
    A base Pillow cannot decode exactly (16-bit RGB, several frames, or modes
    such as I, F, YCbCr) raises :class:`ImageFileError`; nothing is written.
    """
    w = corner_window(x, y, corner, tile)
    if is_canvas(base_path):
        from imkerutils.tiling.canvas import Canvas

        if output_path is not None and Path(output_path).resolve() != Path(base_path).resolve():
            raise InvalidWindowError(
                "pasting into a canvas changes it in place (undo with 'imkerutils undo'); do not pass an output path"
            )
        canvas = Canvas.open(base_path)
        _check_inside(w, canvas.bounds, f"canvas {base_path}")
        canvas.paste(
            _read_tile(tile_path, canvas.mode, tile, trusted), w.row_off, w.col_off, info={"tile_file": str(tile_path)}
        )
        return (w.col_off, w.row_off)
    probe(tile_path, trusted=trusted)  # the input policy for both files before either is decoded
    with decode_image(base_path, trusted=trusted) as base:
        _check_pasteable(base, base_path)
        _check_inside(w, Window(0, 0, base.height, base.width), f"image {base_path} ({base.width}x{base.height})")
        if output_path is None:
            output_path = _default_output(Path(base_path), base.mode, x, y)
        check_output_path(output_path)
        fmt = _output_format(output_path, base)
        with decode_image(tile_path, trusted=trusted, exact=False) as tile_img:  # the tile is converted anyway
            if tile_img.size != (tile, tile):
                raise InvalidTileError(
                    f"tile {tile_path} must be exactly {tile}x{tile}, got {tile_img.width}x{tile_img.height}"
                )
            result = _paste_in_mode(base, tile_img, (w.col_off, w.row_off))
        _save_exact(result, output_path, fmt, base.info)
    return (w.col_off, w.row_off)


def _read_tile(path: PathLike, mode: str, tile: int, trusted: bool = False) -> np.ndarray:
    pixels = read_image(path, mode=mode, trusted=trusted)
    if pixels.shape[:2] != (tile, tile):
        raise InvalidTileError(f"tile {path} must be exactly {tile}x{tile}, got {pixels.shape[1]}x{pixels.shape[0]}")
    return pixels


# -- pasting into image files in their own mode ------------------------------------------------------------
_I16 = {"I;16": "<u2", "I;16L": "<u2", "I;16B": ">u2"}  # 16-bit grey modes and their NumPy dtypes
#: The modes each output format holds exactly (written by Pillow, read back by Pillow in the same mode).
_EXACT_MODES = {
    "PNG": {"1", "L", "LA", "P", "RGB", "RGBA", *_I16},
    "TIFF": {"1", "L", "LA", "P", "RGB", "RGBA", "CMYK", *_I16},
}
_LOSSY = {"JPEG", "MPO", "WEBP", "JPEG2000", "AVIF", "HEIF"}
_TIFF_SUFFIXES = {".tif", ".tiff"}


def _check_pasteable(base: Image.Image, path: PathLike) -> None:
    if base.mode not in _EXACT_MODES["TIFF"]:
        raise ImageFileError(
            f"{path} has mode {base.mode}, which paste_tile cannot paste into exactly "
            "(supported: 1, L, LA, P, RGB, RGBA, I;16, CMYK); convert it first"
        )
    frames = getattr(base, "n_frames", 1)
    if frames > 1 and base.format != "MPO":  # an MPO is a JPEG with previews: its primary image is the picture
        raise ImageFileError(f"{path} holds {frames} frames; paste_tile would keep only the first, so it refuses")


def _format_of(path: PathLike) -> str | None:
    suffix = Path(path).suffix.lower()
    return "TIFF" if suffix in _TIFF_SUFFIXES else Image.registered_extensions().get(suffix)


def _exact_problem(fmt: str | None, base: Image.Image) -> str | None:
    """Why format ``fmt`` cannot hold the pasted ``base`` exactly (None if it can)."""
    if fmt in _LOSSY:
        return f"{fmt} is lossy, so pixels outside the pasted box would change"
    if fmt not in _EXACT_MODES:
        return "paste_tile writes only PNG or TIFF, which keep every pixel outside the pasted box exact"
    if base.mode not in _EXACT_MODES[fmt]:
        return f"{fmt} cannot hold mode {base.mode} exactly"
    if fmt == "TIFF" and "transparency" in base.info:
        return "TIFF cannot hold the base's transparency (palette or colour key)"
    return None


def default_paste_output(base_path: PathLike, x: int, y: int) -> Path:
    """Where :func:`paste_tile` writes an image file's result when no output is given.

    ``outputs/<stem>_pasted_x<X>_y<Y>`` plus the base's suffix when it is PNG
    or TIFF, else ``.png`` (``.tif`` for a mode PNG cannot hold, e.g. a CMYK
    JPEG): never a lossy format.  Only the header of a non-PNG/TIFF base is read.

    >>> default_paste_output("photos/rgb.png", 0, 512).as_posix()
    'outputs/rgb_pasted_x0_y512.png'
    """
    p = Path(base_path)
    return _default_output(p, None if _format_of(p) in _EXACT_MODES else image_mode(p), x, y)


def _default_output(p: Path, mode: str | None, x: int, y: int) -> Path:
    """As :func:`default_paste_output`; ``mode`` (the base's) matters only for a non-PNG/TIFF base."""
    suffix = p.suffix
    if _format_of(p) not in _EXACT_MODES:
        suffix = ".png" if mode in _EXACT_MODES["PNG"] else ".tif"
    return Path("outputs") / f"{p.stem}_pasted_x{x}_y{y}{suffix}"


def _output_format(output_path: PathLike, base: Image.Image) -> str:
    fmt = _format_of(output_path)
    if fmt is None:
        raise ExportFormatError(f"cannot tell the image format of {output_path} from its extension")
    problem = _exact_problem(fmt, base)
    if problem is not None:
        better = ".png" if _exact_problem("PNG", base) is None else ".tif"
        raise ExportFormatError(
            f"cannot write {output_path}: {problem}; write {Path(output_path).stem}{better} instead"
        )
    return fmt


def _eight_bit(img: Image.Image) -> Image.Image:
    """16/32-bit grey scaled to 8-bit 'L' (as :func:`to_rgb_or_rgba` does); other modes unchanged."""
    if img.mode in _I16 or img.mode == "I":
        arr = np.asarray(img).astype(np.uint32)
        shift = 8 if img.mode in _I16 else 24
        return Image.fromarray((arr >> shift).astype(np.uint8), "L")
    return img


def _tile_in_mode(tile_img: Image.Image, mode: str) -> Image.Image:
    """``tile_img`` converted to ``mode`` (not 'P'), as documented in :func:`paste_tile`."""
    if mode in _I16:
        if tile_img.mode in _I16:
            values = np.asarray(tile_img).astype(np.uint16)
        else:
            values = np.asarray(_tile_in_mode(tile_img, "L"), dtype=np.uint16) * np.uint16(257)
        return Image.frombytes(mode, tile_img.size, values.astype(_I16[mode]).tobytes())
    img = _eight_bit(tile_img)
    if img.mode == mode:
        return img
    via = "RGBA" if "A" in mode else "RGB"  # honours a tile's palette / colour-key transparency
    if img.mode != via:
        img = img.convert(via)
    if mode == "1":  # luma threshold at 128, no dithering
        return Image.fromarray(np.asarray(img.convert("L")) >= 128)
    return img if img.mode == mode else img.convert(mode)


def _paste_in_mode(base: Image.Image, tile_img: Image.Image, at: tuple[int, int]) -> Image.Image:
    """Return the base with the tile pasted in at ``at``, in the base's mode (a 'P' base may become RGB/RGBA)."""
    if base.mode != "P":
        base.paste(_tile_in_mode(tile_img, base.mode), at)
        return base
    alpha = "transparency" in base.info or (base.palette is not None and base.palette.mode == "RGBA")
    colour = "RGBA" if alpha else "RGB"
    tile_px = np.asarray(_tile_in_mode(tile_img, colour))
    indices = _palette_indices(base, tile_px, colour)
    if indices is not None:
        base.paste(Image.frombytes("P", tile_img.size, indices.tobytes()), at)
        return base
    result = base.convert(colour)
    result.paste(Image.fromarray(tile_px, colour), at)
    return result


def _palette_indices(base: Image.Image, tile_px: np.ndarray, colour: str) -> np.ndarray | None:
    """Return the base palette's index for every tile pixel, or None if some colour is not in the palette."""
    n = len(base.getpalette() or []) // 3
    if n == 0:
        return None
    strip = Image.frombytes("P", (256, 1), bytes(range(256)))  # every index, converted as the base would be
    strip.putpalette(base.getpalette() or [])
    if base.palette is not None and base.palette.mode == "RGBA":
        strip.putpalette(base.getpalette("RGBA") or [], "RGBA")
    if "transparency" in base.info:
        strip.info["transparency"] = base.info["transparency"]
    lut = np.asarray(strip.convert(colour))[0, :n]
    keys, first = np.unique(_pack(lut), return_index=True)
    wanted = _pack(tile_px.reshape(-1, len(colour)))
    pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    if not (keys[pos] == wanted).all():
        return None
    return first[pos].astype(np.uint8).reshape(tile_px.shape[:2])


def _pack(px: np.ndarray) -> np.ndarray:
    """``(N, C)`` uint8 colours as one uint32 key each."""
    key = np.zeros(px.shape[0], dtype=np.uint32)
    for c in range(px.shape[1]):
        key = (key << np.uint32(8)) | px[:, c].astype(np.uint32)
    return key


def _save_exact(img: Image.Image, path: PathLike, fmt: str, info: dict[Any, Any]) -> None:
    """Write ``img`` losslessly as ``fmt``, atomically (temp name, then rename), keeping colour metadata."""
    if fmt == "TIFF" and img.mode in ("RGB", "RGBA"):
        write_image(path, np.asarray(img))  # tiled, zlib-compressed, as every RGB(A) TIFF we write
        return
    params: dict[str, Any] = {k: info[k] for k in ("icc_profile", "dpi") if info.get(k)}
    if fmt == "TIFF":
        params["compression"] = "tiff_deflate"
    elif info.get("exif"):
        params["exif"] = info["exif"]
    with atomic_output(path, overwrite=True) as tmp:  # flushed, then renamed into place
        img.save(tmp, format=fmt, **params)
