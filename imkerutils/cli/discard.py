"""``imkerutils discard CANVAS ID``: drop a staged proposal."""

from __future__ import annotations

import argparse

from imkerutils.cli._common import Subparsers, add_command, emit


def add_parser(sub: Subparsers) -> None:
    p = add_command(sub, "discard", help="drop a staged proposal (the canvas is not touched)")
    p.add_argument("canvas", help="the canvas (folder or URL)")
    p.add_argument("id", help="the proposal (see `imkerutils staged`)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from imkerutils.exquisite.pipeline.staging import discard
    from imkerutils.tiling import Canvas

    discard(Canvas.open(args.canvas), args.id)
    emit(args, f"discarded {args.id}", {"discarded": args.id})
    return 0
