"""``imkerutils undo CANVAS`` and ``imkerutils redo CANVAS``."""

from __future__ import annotations

import argparse

from imkerutils.tiling import Canvas


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("undo", help="revert the last step")
    p.add_argument("canvas")
    p.set_defaults(func=run_undo)
    p = sub.add_parser("redo", help="re-apply the last undone step")
    p.add_argument("canvas")
    p.set_defaults(func=run_redo)


def run_undo(args: argparse.Namespace) -> int:
    step = Canvas.open(args.canvas).undo()
    print(f"undid step {step.number} ({step.kind})")
    return 0


def run_redo(args: argparse.Namespace) -> int:
    step = Canvas.open(args.canvas).redo()
    print(f"redid step {step.number} ({step.kind})")
    return 0
