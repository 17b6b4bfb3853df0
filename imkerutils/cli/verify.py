"""``imkerutils verify CANVAS``: check every tile against the manifest (exit 1 on a mismatch)."""

from __future__ import annotations

import argparse
import sys

from imkerutils.cli._common import EXIT_FAILED
from imkerutils.tiling import Canvas


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check every tile's pixels against the manifest hashes")
    p.add_argument("canvas")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = Canvas.open(args.canvas, read_only=True).verify()
    for problem in report.problems:
        print(f"MISMATCH {problem}", file=sys.stderr)
    if not report.ok:
        print(f"{len(report.problems)} problem(s) in {report.tiles_checked} tiles")
        return EXIT_FAILED
    print(f"ok: {report.tiles_checked} tiles match the manifest")
    return 0
