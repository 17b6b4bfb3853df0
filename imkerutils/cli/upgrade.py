"""``imkerutils upgrade CANVAS``: convert a canvas of format 1 to the OME-Zarr layout, in place (crash-safe)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imkerutils.cli._common import Subparsers, add_canvas_command, emit
from imkerutils.tiling import Canvas

if TYPE_CHECKING:
    import argparse


def add_parser(sub: Subparsers) -> None:
    """Add the ``upgrade`` command to the subcommand parsers ``sub``."""
    add_canvas_command(sub, "upgrade", run, help="convert an older canvas to the current format, in place (crash-safe)")


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils upgrade`` with the parsed ``args``; return the exit status."""
    upgraded = Canvas.upgrade(args.canvas)
    canvas = Canvas.open(args.canvas, read_only=True)
    data = {"path": canvas.location, "upgraded": upgraded, "steps": canvas.head, "tiles": canvas.written_tiles()}
    if upgraded:
        text = f"upgraded {canvas.location}: {canvas.head} steps kept, {data['tiles']} tiles"
    else:
        text = f"{canvas.location} is already in the current format"
    emit(args, text, data)
    return 0
