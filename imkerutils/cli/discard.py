"""``imkerutils discard CANVAS ID``: drop a staged proposal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imkerutils.cli._common import Subparsers, add_canvas_command, emit

if TYPE_CHECKING:
    import argparse


def add_parser(sub: Subparsers) -> None:
    """Add the ``discard`` command to the subcommand parsers ``sub``."""
    p = add_canvas_command(sub, "discard", run, help="drop a staged proposal (the canvas is not touched)")
    p.add_argument("id", help="the proposal (see `imkerutils staged`)")


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils discard`` with the parsed ``args``; return the exit status."""
    from imkerutils.exquisite.pipeline.staging import discard
    from imkerutils.tiling import Canvas

    discard(Canvas.open(args.canvas), args.id)
    emit(args, f"discarded {args.id}", {"discarded": args.id})
    return 0
