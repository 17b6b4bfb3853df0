"""``imkerutils paste CANVAS TILE --x --y [--extend]``: paste an image file into a canvas (one step)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imkerutils.cli._common import Subparsers, add_canvas_command, emit, region_json
from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.imageio import read_image

if TYPE_CHECKING:
    import argparse


def add_parser(sub: Subparsers) -> None:
    """Add the ``paste`` command to the subcommand parsers ``sub``."""
    p = add_canvas_command(sub, "paste", run, help="paste an image into a canvas as one undoable step")
    p.add_argument("tile", help="image file to paste (any size)")
    p.add_argument("--x", type=int, required=True, help="world column of the image's left edge")
    p.add_argument("--y", type=int, required=True, help="world row of the image's top edge")
    p.add_argument(
        "--extend",
        "--grow",
        dest="extend",
        action="store_true",
        help="extend the canvas when the image reaches past it (--grow: the old name)",
    )
    p.add_argument("--trust-large", action="store_true", help="allow an image over the decompression-bomb limit")


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils paste`` with the parsed ``args``; return the exit status."""
    canvas = Canvas.open(args.canvas)
    pixels = read_image(args.tile, mode=canvas.mode, trusted=args.trust_large)
    step = canvas.paste(pixels, args.y, args.x, extend=args.extend, info={"tile_file": args.tile})
    h, w = pixels.shape[:2]
    emit(
        args,
        f"step {step.number}: pasted {w}x{h} at x={args.x}, y={args.y} ({step.tiles} tiles written)",
        {
            "step": step.number,
            "region": region_json(Window(args.y, args.x, h, w)),
            "tiles_written": step.tiles,
            "bounds": region_json(step.bounds_after),
        },
    )
    return 0
