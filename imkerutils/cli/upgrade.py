"""``imkerutils upgrade CANVAS``: convert a canvas of format 1 to the OME-Zarr layout, in place."""

from __future__ import annotations

import argparse

from imkerutils.tiling import Canvas


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upgrade", help="convert an older canvas to the current format, in place (crash-safe)")
    p.add_argument("canvas")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if Canvas.upgrade(args.canvas):
        canvas = Canvas.open(args.canvas, read_only=True)
        print(f"upgraded {canvas.location}: {canvas.head} steps kept, {canvas.written_tiles()} tiles")
    else:
        print(f"{args.canvas} is already in the current format")
    return 0
