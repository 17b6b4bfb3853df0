"""``imkerutils verify CANVAS``: check every chunk against the manifest (exit 1 on a mismatch)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from imkerutils.cli._common import EXIT_FAILED, Subparsers, add_canvas_command, emit
from imkerutils.tiling import Canvas

if TYPE_CHECKING:
    import argparse


def add_parser(sub: Subparsers) -> None:
    """Add the ``verify`` command to the subcommand parsers ``sub``."""
    add_canvas_command(sub, "verify", run, help="check every chunk's pixels against the manifest hashes")


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils verify`` with the parsed ``args``; return the exit status."""
    report = Canvas.open(args.canvas, read_only=True).verify()
    if not args.json:
        for problem in report.problems:
            print(f"MISMATCH {problem}", file=sys.stderr)
        for leftover in report.leftovers:
            print(
                f"LEFTOVER {leftover} (an interrupted write's; opening the canvas for writing removes it)",
                file=sys.stderr,
            )
    if report.ok:
        text = f"ok: {report.tiles_checked} tiles match the manifest"
    else:
        text = f"{len(report.problems)} problem(s) in {report.tiles_checked} tiles"
    emit(
        args,
        text,
        {
            "ok": report.ok,
            "tiles_checked": report.tiles_checked,
            "problems": list(report.problems),
            "leftovers": list(report.leftovers),
        },
    )
    return 0 if report.ok else EXIT_FAILED
