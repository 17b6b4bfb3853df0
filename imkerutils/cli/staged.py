"""``imkerutils staged CANVAS [ID] [--json] [--preview OUT.png]``: the staged proposals of a canvas.

Without ID: every proposal (id, region, candidates with seam scores and cost, the canvas state it was made on).
With ID: that proposal; --preview writes a contact sheet of its candidates in context.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from imkerutils.cli._common import Subparsers, add_canvas_command, emit, region_json
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    import argparse

# The command's line in `imkerutils --help`; its description (`imkerutils staged --help`) is the docstring's body.
HELP = "list staged proposals (grow/fill --stage), or preview one's candidates"


def add_parser(sub: Subparsers) -> None:
    """Add the ``staged`` command to the subcommand parsers ``sub``."""
    p = add_canvas_command(sub, "staged", run, help=HELP, doc=__doc__)
    p.add_argument("id", nargs="?", help="one proposal")
    p.add_argument("--preview", metavar="OUT.png", help="with ID: write the candidates side by side in context")


def _line(summary: dict[str, Any]) -> list[str]:
    r = summary["region"]
    state = "" if summary.get("canvas_unchanged", True) else " (canvas changed since)"
    out = [
        f"{summary['id']}: region x {r['col_off']} y {r['row_off']} {r['width']}x{r['height']}, "
        f"{summary['tiles']} tile(s), made {summary['created_at']} on canvas state {summary['canvas_state']}"
        f"{state}"
    ]
    for c in summary["candidates"]:
        seam = c["seam_scores"].get("seam_excess")
        cost = "unknown" if c["cost_usd"] is None else f"${c['cost_usd']:.4f}"
        out.append(
            f"  candidate {c['candidate']}: seed {c['seed']}, seam excess "
            f"{'n/a' if seam is None else f'{seam:.2f}'}, cost {cost}"
        )
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils staged`` with the parsed ``args``; return the exit status."""
    from imkerutils.errors import InvalidWindowError
    from imkerutils.exquisite.pipeline.staging import contact_sheet, list_proposals, load_proposal
    from imkerutils.tiling import Canvas
    from imkerutils.tiling.imageio import write_image

    canvas = Canvas.open(args.canvas, read_only=True)
    if args.preview is not None and args.id is None:
        raise InvalidWindowError("--preview needs a proposal ID")
    proposals = list_proposals(canvas) if args.id is None else [load_proposal(canvas, args.id)]
    if args.preview is not None:
        path = write_image(args.preview, contact_sheet(canvas, args.id))
        emit(
            args,
            f"wrote {path}: {len(proposals[0].candidates)} candidate(s), left to right from 0",
            {"output": str(path), "candidates": len(proposals[0].candidates)},
        )
        return 0
    summaries = [p.summary(canvas.state_token) for p in proposals]
    if args.json:  # regions as x, y, width, height, like every other command's JSON
        for s in summaries:
            s["region"] = region_json(Window.from_dict(s["region"]))
        print(json.dumps(summaries if args.id is None else summaries[0], indent=2))
        return 0
    if not summaries:
        print("no staged proposals")
    for s in summaries:
        print("\n".join(_line(s)))
    return 0
