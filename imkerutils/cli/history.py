"""``imkerutils history CANVAS [--json]``: the committed steps, oldest first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from imkerutils.cli._common import Subparsers, add_canvas_command, region_json
from imkerutils.tiling import Canvas

if TYPE_CHECKING:
    import argparse


def add_parser(sub: Subparsers) -> None:
    """Add the ``history`` command to the subcommand parsers ``sub``."""
    add_canvas_command(sub, "history", run, help="list a canvas's steps (--json: the full step records)")


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils history`` with the parsed ``args``; return the exit status."""
    from imkerutils.exquisite.pipeline.step import EXQUISITE_INFO_KEY

    canvas = Canvas.open(args.canvas, read_only=True)
    steps = canvas.history()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "number": s.number,
                        "kind": s.kind,
                        "created_at": s.created_at,
                        "bounds_after": region_json(s.bounds_after),
                        "tiles": s.tiles,
                        "info": s.info,
                    }
                    for s in steps
                ],
                indent=2,
            )
        )
        return 0
    for s in steps:
        records = s.info.get(EXQUISITE_INFO_KEY) or []
        b = s.bounds_after
        line = f"{s.number:>4}  {s.created_at}  {s.kind:<16} -> {b.width}x{b.height} at ({b.col_off}, {b.row_off})"
        if records:
            costs = [r.get("cost_usd") for r in records]
            seams = [r["qc"]["seam_excess"] for r in records if (r.get("qc") or {}).get("seam_excess") is not None]
            first = records[0]
            line += (
                f"  {first['generator_name']} seed {first['seed']}"
                f"  seam {f'{max(seams):.2f}' if seams else 'n/a'}"
                f"  cost {'unknown' if None in costs else f'${sum(costs):.4f}'}"
                f"  prompt {first.get('user_prompt', '')!r}"
            )
        print(line)
    if not steps:
        print("no steps yet")
    return 0
