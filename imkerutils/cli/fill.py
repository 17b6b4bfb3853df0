"""``imkerutils fill CANVAS --region X Y W H``: generate every pixel of a region that holds no content.

Generate every pixel of the region that holds no content, conditioned on the content around it on every side, as
one undoable step. Pixels that hold content are kept byte for byte. Ctrl-C or SIGTERM stops it with nothing written
(exit 130 / 143).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from imkerutils.cli import _generation as gen
from imkerutils.cli._common import (
    Subparsers,
    add_canvas_command,
    add_region_option,
    emit,
    region_from,
    region_json,
    size_json,
)

if TYPE_CHECKING:
    import argparse

log = logging.getLogger(__name__)

# The command's line in `imkerutils --help`; its description (`imkerutils fill --help`) is the docstring's body.
HELP = "generate the empty pixels of a region (outside the bounds, or in chunks never written)"


def add_parser(sub: Subparsers) -> None:
    """Add the ``fill`` command to the subcommand parsers ``sub``."""
    p = add_canvas_command(sub, "fill", run, help=HELP, doc=__doc__)
    add_region_option(p, required=True, note="GDAL order, like export --region")
    gen.add_generator_options(p)
    gen.add_plan_options(p)


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils fill`` with the parsed ``args``; return the exit status."""
    from imkerutils.errors import StepCancelledError
    from imkerutils.exquisite.pipeline import Cancel, Estimate, fill, plan_fill_step
    from imkerutils.exquisite.pipeline.staging import stage_fill
    from imkerutils.tiling import Canvas

    region = region_from(args.region)
    generator = gen.make_generator(args)
    settings = gen.make_settings(args, stage=args.stage)
    candidates = args.candidates if args.stage else 1
    canvas = Canvas.open(args.canvas, read_only=args.dry_run)
    plan = plan_fill_step(canvas, region, settings)  # planned once, here
    estimate = Estimate.of([plan], generator, settings, candidates=candidates)
    if args.dry_run:
        gen.print_estimate(estimate, canvas, args.budget_usd)
        return 0
    cancel = Cancel()
    with (
        gen.on_signals(cancel) as received,
        gen.tile_bar(args, estimate.tiles * candidates, "filling") as bar,
    ):
        log.info("filling %d tile(s); Ctrl-C stops with nothing written", estimate.tiles * candidates)
        shared: dict[str, Any] = {  # what staging and filling are both given
            "budget_usd": args.budget_usd,
            "cancel": cancel,
            "on_tile": lambda _o: bar.update(1),
            "plan": plan,
        }
        try:
            if args.stage:
                proposal = stage_fill(canvas, region, generator, settings, candidates=candidates, **shared)
            else:
                record = fill(canvas, region, generator, settings, **shared)
        except StepCancelledError:
            bar.close()
            return gen.cancelled_exit("imkerutils", received)
    if args.stage:
        gen.print_staged(proposal, canvas)
        return 0
    gen.note_late_signals(received)
    b = canvas.bounds
    seam = record.seam_excess
    cost = "unknown" if record.cost_usd is None else f"${record.cost_usd:.4f}"
    emit(
        args,
        f"step {canvas.head} fill: {len(record.tiles)} tile(s), now {b.width}x{b.height} at "
        f"({b.col_off}, {b.row_off}); seam excess {'n/a' if seam is None else f'{seam:.2f}'}, cost {cost}",
        {
            "step": canvas.head,
            "kind": "fill",
            "tiles": len(record.tiles),
            "region": region_json(region),
            "size": size_json(b.width, b.height),
            "bounds": region_json(b),
            "seam_excess": seam,
            "cost_usd": record.cost_usd,
        },
    )
    return 0
