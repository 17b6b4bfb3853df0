"""``imkerutils info CANVAS [--json]``: bounds, mode, tiles written, size on disk.

Text and JSON give sizes width first (``W x H``; ``{"width": W, "height": H}``) and
the bounds as ``x, y, width, height``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imkerutils.cli._common import Subparsers, add_canvas_command, emit, region_json, size_json
from imkerutils.tiling import Canvas, Window

if TYPE_CHECKING:
    import argparse


def add_parser(sub: Subparsers) -> None:
    """Add the ``info`` command to the subcommand parsers ``sub``."""
    add_canvas_command(sub, "info", run, help="describe a canvas")


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils info`` with the parsed ``args``; return the exit status."""
    s = Canvas.open(args.canvas, read_only=True).summary()
    b = Window.from_dict(s["bounds"])
    data = {
        "path": s["path"],
        "mode": s["mode"],
        "tile": s["tile"],
        "size": size_json(b.width, b.height),
        "bounds": region_json(b),
        "steps": s["steps"],
        "redoable": s["redoable"],
        "tiles_written": s["tiles_written"],
        "levels": s["levels"],
        "bytes_on_disk": s["bytes_on_disk"],
    }
    emit(
        args,
        "\n".join(
            [
                f"canvas     {s['path']}",
                f"mode       {s['mode']}",
                f"size       {b.width} x {b.height} px",
                f"bounds     x {b.col_off}..{b.col_end}, y {b.row_off}..{b.row_end}",
                f"tiles      {s['tiles_written']} written ({s['tile']} px)",
                f"steps      {s['steps']} ({s['redoable']} redoable)",
                f"on disk    {s['bytes_on_disk']:,} bytes",
            ]
        ),
        data,
    )
    return 0
