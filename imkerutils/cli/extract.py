"""``imkerutils extract CANVAS OUT --x --y [--width --height]``: write a region to an image file."""

from __future__ import annotations

import argparse

from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.imageio import write_image


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("extract", help="write a region of a canvas to an image file")
    p.add_argument("canvas")
    p.add_argument("out", help="output image (format from the extension)")
    p.add_argument("--x", type=int, required=True, help="world column of the region's left edge")
    p.add_argument("--y", type=int, required=True, help="world row of the region's top edge")
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--height", type=int, default=1024)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    canvas = Canvas.open(args.canvas, read_only=True)
    window = Window(args.y, args.x, args.height, args.width)
    path = write_image(args.out, canvas.read(window))
    print(f"wrote {path} ({args.width}x{args.height} at x={args.x}, y={args.y})")
    return 0
