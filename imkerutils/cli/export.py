"""``imkerutils export CANVAS OUT [--region X Y W H] [--level L] [--compression C] [--[no-]pyramid]``.

Export a region of a canvas; the format follows OUT's extension: .png, .tif/.tiff (tiled BigTIFF), .ome.zarr
(OME-Zarr 0.5, with every coarser level by default), .jpg/.webp (small regions). OUT may be a URL
(s3://bucket/out.tif): written locally, then uploaded. The output appears under its name only when complete.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from imkerutils.cli._common import Subparsers, add_canvas_command, add_region_option, emit, region_from, region_json
from imkerutils.errors import CanvasLockedError, CanvasReadOnlyError
from imkerutils.tiling import Canvas
from imkerutils.tiling.tiles import check_output_path

# The command's line in `imkerutils --help`; its description (`imkerutils export --help`) is the docstring's body.
HELP = "write a canvas (or a region of it) to PNG, TIFF, OME-Zarr, JPEG or WebP, streaming"


def add_parser(sub: Subparsers) -> None:
    """Add the ``export`` command to the subcommand parsers ``sub``."""
    p = add_canvas_command(sub, "export", run, help=HELP, doc=__doc__)
    p.add_argument(
        "out",
        nargs="?",
        help="output path or URL; its extension picks the format (default: outputs/<canvas>-step<N>.png)",
    )
    add_region_option(p, note="default: the canvas bounds")
    p.add_argument("--level", type=int, default=0, help="pyramid level (0 = full resolution, L = 1/2**L)")
    p.add_argument(
        "--compression",
        metavar="NAME[:LEVEL]",
        help="png: deflate[:0-9] (default), rle, none; tif: deflate (default), zstd, jpeg[:quality], "
        "none; ome.zarr: zstd (default), deflate, none; jpg: jpeg[:quality]; webp: lossless "
        "(default), lossy[:quality]",
    )
    p.add_argument(
        "--pyramid",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also write every coarser level, down to one chunk (tif, ome.zarr); the default for .ome.zarr, "
        "which multiscale viewers expect; --no-pyramid writes one level",
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")


def _size(out: Path | str) -> int:
    if isinstance(out, str):  # a URL
        from imkerutils.tiling.export._remote import output_size

        return output_size(out)
    path = out
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils export`` with the parsed ``args``; return the exit status."""
    from imkerutils.tiling.export import export_region, format_for
    from imkerutils.tiling.export._plan import plan_region

    if args.out is None:
        name = Path(args.canvas.rstrip("/")).name.removesuffix(".zarr")
        args.out = str(Path("outputs") / f"{name}-step{Canvas.open(args.canvas, read_only=True).head}.png")
    fmt = format_for(args.out)  # a bad extension fails before the canvas is opened
    pyramid = fmt.name == "OME-Zarr" if args.pyramid is None else args.pyramid
    check_output_path(args.out, args.canvas)  # not the canvas, nor inside any canvas, nor holding it
    region = None if args.region is None else region_from(args.region)
    plan_region(Canvas.open(args.canvas, read_only=True), region, args.level)  # refused before any write
    if args.level > 0 or pyramid:
        _freshen_pyramid(args.canvas)
    canvas = Canvas.open(args.canvas, read_only=True)  # a consistent committed view, whatever writers do
    out = export_region(
        canvas,
        args.out,
        region=region,
        level=args.level,
        compression=args.compression,
        pyramid=pyramid,
        progress=False if args.quiet else None,
        overwrite=args.overwrite,
    )
    r = canvas.bounds if region is None else region
    size = _size(out)
    emit(
        args,
        f"wrote {out} ({fmt.name}, {size:,} bytes): world region x={r.col_off}, y={r.row_off}, "
        f"{r.width}x{r.height} px, level {args.level}{', with pyramid' if pyramid else ''}",
        {
            "output": str(out),
            "format": fmt.name,
            "bytes": size,
            "region": region_json(r),
            "level": args.level,
            "pyramid": pyramid,
        },
    )
    return 0


def _freshen_pyramid(location: str) -> None:
    """Store the pyramid's pending updates if the canvas can be written now, so later reads are cheap.

    When it cannot (a read-only file system, or a writer holding the lock), the export still reads
    exact coarser levels: a read-only canvas reduces chunks over dirty tiles in memory.
    """
    with contextlib.suppress(CanvasLockedError, CanvasReadOnlyError, OSError):  # OSError: e.g. a read-only disk
        Canvas.open(location).update_pyramid()


if __name__ == "__main__":  # pragma: no cover
    from imkerutils.cli._common import run_guarded

    parser = argparse.ArgumentParser(prog="imkerutils")
    add_parser(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args(["export", *sys.argv[1:]])
    raise SystemExit(run_guarded("imkerutils export", ns.func, ns))
