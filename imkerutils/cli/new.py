"""``imkerutils new CANVAS --from IMAGE``: create a canvas."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imkerutils.cli._common import Subparsers, add_command, emit, region_json, size_json
from imkerutils.tiling import Canvas

if TYPE_CHECKING:
    import argparse


def add_parser(sub: Subparsers) -> None:
    """Add the ``new`` command to the subcommand parsers ``sub``."""
    p = add_command(sub, "new", help="create a canvas from an image (or an empty one)")
    p.add_argument("canvas", help="where to create the canvas (a folder, or a URL such as s3://bucket/c.zarr)")
    p.add_argument("--from", dest="image", help="image file to start from (PNG, JPEG, TIFF, ...)")
    p.add_argument("--width", type=int, default=0, help="width of an empty canvas (without --from)")
    p.add_argument("--height", type=int, default=0, help="height of an empty canvas (without --from)")
    p.add_argument("--mode", choices=["RGB", "RGBA"], default="RGB", help="mode of an empty canvas")
    p.add_argument("--trust-large", action="store_true", help="allow images over the decompression-bomb limit")
    p.add_argument("--overwrite", action="store_true", help="replace an existing canvas")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils new`` with the parsed ``args``; return the exit status."""
    if args.image:
        canvas = Canvas.from_image(args.image, args.canvas, trusted=args.trust_large, overwrite=args.overwrite)
    else:
        canvas = Canvas.create(
            args.canvas, mode=args.mode, height=args.height, width=args.width, overwrite=args.overwrite
        )
    b, tiles = canvas.bounds, canvas.written_tiles()
    emit(
        args,
        f"created {canvas.location}: {b.width}x{b.height} {canvas.mode}, {tiles} tiles",
        {
            "canvas": canvas.location,
            "mode": canvas.mode,
            "size": size_json(b.width, b.height),
            "bounds": region_json(b),
            "tiles_written": tiles,
        },
    )
    return 0
