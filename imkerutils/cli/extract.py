"""``imkerutils extract CANVAS OUT --x --y [--width --height]``: write a region to an image file.

PNG, TIFF and OME-Zarr (``.ome.zarr``) outputs are streamed by
:func:`imkerutils.tiling.export.export_region` (a band of tiles at a time, any
size); JPEG and WebP go through it too and are refused past their size limits.
Any other extension Pillow can write (``.bmp``, ``.gif``, ...) is written from
memory by :func:`imkerutils.tiling.imageio.write_image`, up to
:data:`~imkerutils.tiling.imageio.MAX_PIXELS` pixels.  Parts of the region
outside the canvas bounds come out as background; a region with no canvas
pixel at all is refused (it can only be a coordinate mistake).  An existing
output file is replaced, as before; an existing OME-Zarr folder is not.  OUT
may be an fsspec URL (``s3://bucket/tile.png``): written locally, then uploaded.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

from imkerutils.cli._common import Subparsers, add_canvas_command, emit, region_json
from imkerutils.errors import (
    ExportExistsError,
    ExportFormatError,
    ExportSizeError,
    ExportWriteError,
    ImkerError,
    InvalidWindowError,
    OutOfBoundsError,
)
from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.tiles import check_output_path
from imkerutils.tiling.window import intersection

if TYPE_CHECKING:
    import argparse


def add_parser(sub: Subparsers) -> None:
    """Add the ``extract`` command to the subcommand parsers ``sub``."""
    p = add_canvas_command(sub, "extract", run, help="write a region of a canvas to an image file")
    p.add_argument(
        "out", help="output image, a path or URL (format from the extension: .png, .tif, .ome.zarr, .jpg, .webp, ...)"
    )
    p.add_argument("--x", type=int, required=True, help="world column of the region's left edge")
    p.add_argument("--y", type=int, required=True, help="world row of the region's top edge")
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--height", type=int, default=1024)


def region_of(args: argparse.Namespace) -> Window:
    """Return the world window asked for; a zero or negative size is an :class:`InvalidWindowError`."""
    bad = [
        f"--{name} {v} ({'zero' if v == 0 else 'negative'})"
        for name, v in (("width", args.width), ("height", args.height))
        if v <= 0
    ]
    if bad:
        raise InvalidWindowError(f"the region must be at least 1x1 px; got {' and '.join(bad)}")
    return Window(args.y, args.x, args.height, args.width)


def _check_parent(out: Path) -> None:
    """Fail early (before any work) if a file stands where a folder above ``out`` must be."""
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent))
            return


def _in_memory_format(out: Path) -> bool:
    """Whether ``write_image`` (Pillow) can write ``out`` although the streaming export cannot."""
    from PIL import Image

    return out.suffix.lower() in Image.registered_extensions()


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils extract`` with the parsed ``args``; return the exit status."""
    from imkerutils.tiling.export import export_region, format_for
    from imkerutils.tiling.location import is_remote

    window = region_of(args)
    remote = is_remote(args.out)
    out: Path | str = args.out if remote else Path(args.out)
    try:
        fmt = format_for(out)  # a bad extension fails before the canvas is opened
    except ExportFormatError:
        if not _in_memory_format(Path(out)):
            raise
        fmt = None
    canvas = Canvas.open(args.canvas, read_only=True)
    check_output_path(out, canvas.location)  # not the canvas, nor inside any canvas, nor holding it
    if isinstance(out, Path):
        _check_parent(out)
    b = canvas.bounds
    if intersection(window, b) is None:
        raise OutOfBoundsError(
            f"region x={window.col_off}, y={window.row_off}, {window.width}x{window.height} lies entirely outside "
            f"the canvas (x {b.col_off}..{b.col_end - 1}, y {b.row_off}..{b.row_end - 1}); nothing to extract"
        )
    if fmt is None:
        path = _write_in_memory(canvas, window, out)
    else:
        if fmt.directory and isinstance(out, Path) and (out.exists() or out.is_symlink()):
            raise ExportExistsError(
                f"{out} already exists; extract does not replace a folder (remove it, or use "
                "'imkerutils export ... --overwrite')"
            )
        # A file is replaced, as extract always did; progress shows only on a terminal.
        path = export_region(canvas, out, region=window, overwrite=not fmt.directory)
    emit(
        args,
        f"wrote {path} ({args.width}x{args.height} at x={args.x}, y={args.y})",
        {"output": str(path), "region": region_json(window)},
    )
    return 0


def _write_in_memory(canvas: Canvas, window: Window, out: Path | str) -> Path | str:
    """Write formats only Pillow writes (``.bmp``, ``.gif``, ...): read the region whole, within the pixel limit."""
    from imkerutils.tiling.imageio import MAX_PIXELS, write_image

    suffix = Path(out).suffix
    if window.size > MAX_PIXELS:
        raise ExportSizeError(
            f"a {window.width}x{window.height} px region is too large for {suffix} (at most {MAX_PIXELS:,} px, "
            "since it is written from memory); extract it to .png, .tif or .ome.zarr instead, which stream any size"
        )
    pixels = canvas.read(window)
    try:
        if isinstance(out, str):  # a URL: written locally, uploaded when complete
            from imkerutils.tiling.export._remote import remote_output

            with remote_output(out, overwrite=True) as tmp:
                write_image(tmp, pixels)
            return out
        return write_image(out, pixels)
    except ImkerError:
        raise
    except OSError as exc:
        if exc.filename is not None:  # a path we cannot write: reported by run_guarded
            raise
        raise ExportWriteError(f"could not write {out}: {exc}") from None
    except (ValueError, TypeError, KeyError) as exc:  # Pillow refusing this image for this format
        raise ExportFormatError(f"could not write {out} as {suffix}: {exc}") from None
