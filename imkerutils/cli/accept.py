"""``imkerutils accept CANVAS ID [--candidate K]``: commit one staged candidate as one undoable step.

Commit candidate K of a staged proposal: the bytes a direct run with that candidate's seed writes. Refused (exit 2,
nothing changed) when the canvas has changed, since the proposal was staged, in pixels it depends on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imkerutils.cli._common import Subparsers, add_canvas_command, emit, region_json, size_json

if TYPE_CHECKING:
    import argparse

# The command's line in `imkerutils --help`; its description (`imkerutils accept --help`) is the docstring's body.
HELP = "commit a staged candidate (one undoable step) and drop the proposal"


def add_parser(sub: Subparsers) -> None:
    """Add the ``accept`` command to the subcommand parsers ``sub``."""
    p = add_canvas_command(sub, "accept", run, help=HELP, doc=__doc__)
    p.add_argument("id", help="the proposal (see `imkerutils staged`)")
    p.add_argument("--candidate", "-k", type=int, default=0, help="which candidate (default 0)")


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils accept`` with the parsed ``args``; return the exit status."""
    from imkerutils.exquisite.pipeline.staging import accept
    from imkerutils.tiling import Canvas

    canvas = Canvas.open(args.canvas)
    record = accept(canvas, args.id, args.candidate)
    b = canvas.bounds
    emit(
        args,
        f"step {canvas.head} fill: accepted candidate {args.candidate} of {args.id} ({len(record.tiles)} "
        f"tile(s)), now {b.width}x{b.height} at ({b.col_off}, {b.row_off})",
        {
            "step": canvas.head,
            "proposal": args.id,
            "candidate": args.candidate,
            "tiles": len(record.tiles),
            "size": size_json(b.width, b.height),
            "bounds": region_json(b),
        },
    )
    return 0
