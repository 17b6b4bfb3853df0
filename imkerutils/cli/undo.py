"""``imkerutils undo CANVAS`` and ``imkerutils redo CANVAS``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imkerutils.cli._common import Subparsers, add_canvas_command, emit, region_json
from imkerutils.tiling import Canvas, StepInfo

if TYPE_CHECKING:
    import argparse


def add_parser(sub: Subparsers) -> None:
    """Add the ``undo`` command to the subcommand parsers ``sub``."""
    add_canvas_command(sub, "undo", run_undo, help="revert the last step")
    add_canvas_command(sub, "redo", run_redo, help="re-apply the last undone step")


def _report(args: argparse.Namespace, canvas: Canvas, action: str, done: str, step: StepInfo) -> int:
    emit(
        args,
        f"{done} step {step.number} ({step.kind})",
        {
            "action": action,
            "step": step.number,
            "kind": step.kind,
            "head": canvas.head,
            "redoable": canvas.redoable,
            "bounds": region_json(canvas.bounds),
        },
    )
    return 0


def run_undo(args: argparse.Namespace) -> int:
    """Run ``imkerutils undo``: revert the last step; return the exit status."""
    canvas = Canvas.open(args.canvas)
    return _report(args, canvas, "undo", "undid", canvas.undo())


def run_redo(args: argparse.Namespace) -> int:
    """Run ``imkerutils redo``: re-apply the last undone step; return the exit status."""
    canvas = Canvas.open(args.canvas)
    return _report(args, canvas, "redo", "redid", canvas.redo())
