"""``imkerutils grow CANVAS --direction D [--steps N] ...``: grow a canvas with a generator."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imkerutils.cli import _generation as gen
from imkerutils.cli._common import Subparsers, add_command, emit, positive_int, region_json, size_json
from imkerutils.exquisite.limits import DEFAULT_BY, MAX_BY, check_by
from imkerutils.tiling import Canvas
from imkerutils.tiling.location import is_remote
from imkerutils.tiling.tiles import is_canvas

if TYPE_CHECKING:
    import argparse

log = logging.getLogger(__name__)


def add_parser(sub: Subparsers) -> None:
    """Add the ``grow`` command to the subcommand parsers ``sub``."""
    p = add_command(sub, "grow", help="grow a canvas (or an image file) outward with an image generator")
    p.add_argument("canvas", help="a canvas, or an image file (a canvas <name>.zarr is created beside it)")
    p.add_argument(
        "--direction",
        "-d",
        action="append",
        choices=["right", "left", "up", "down"],
        required=True,
        help="edge to grow (repeat for several: each step grows them all, corners included)",
    )
    p.add_argument(
        "--steps",
        type=positive_int,
        default=1,
        help="steps (at least 1), 512 px (or --by N) each (default 1); each is one undoable batch",
    )
    p.add_argument(
        "--along",
        nargs=2,
        type=int,
        metavar=("START", "LENGTH"),
        help="grow only this stretch of the edge: world rows START..START+LENGTH for right / left, "
        "columns for up / down (one direction)",
    )
    p.add_argument(
        "--by",
        type=int,
        metavar="N",
        help=f"depth of a step in px, {1} to {MAX_BY} (default {DEFAULT_BY}); deeper than half a generator tile "
        "takes several rings of tiles",
    )
    gen.add_generator_options(p)
    gen.add_plan_options(p)
    p.add_argument("--trust-large", action="store_true", help="allow an input image over the decompression-bomb limit")
    p.add_argument("--scheduler", help="dask.distributed scheduler address: run the generator tiles on its workers")
    p.add_argument(
        "--worker-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="with --scheduler: give up (writing nothing) after this long without any worker (default 300)",
    )
    p.set_defaults(func=run)


def open_or_create(path: str, *, trusted: bool = False) -> Canvas:
    """Return an existing canvas (folder or URL), or the canvas beside an image file (created on first use)."""
    if is_remote(path) or is_canvas(path):
        return Canvas.open(path)
    image = Path(path)
    beside = image.with_suffix(".zarr")
    if is_canvas(beside):
        log.info("continuing the canvas %s made from %s", beside, image)
        return Canvas.open(beside)
    canvas = Canvas.from_image(image, beside, trusted=trusted)
    log.info("created canvas %s from %s", beside, image)
    return canvas


def _existing(path: str) -> str:
    """Return the canvas a dry run plans on: ``path``, or the canvas made beside an image file."""
    if is_remote(path) or is_canvas(path):
        return path
    beside = Path(path).with_suffix(".zarr")
    if is_canvas(beside):
        return str(beside)
    from imkerutils.errors import CanvasNotFoundError

    raise CanvasNotFoundError(
        f"{path} is not a canvas and {beside} does not exist yet: a dry run plans on an "
        "existing canvas (grow once without --dry-run, or `imkerutils new`)"
    )


def _uses_fill(args: argparse.Namespace) -> bool:
    """``--along``, ``--by``, ``--stage`` and ``--tile`` grow through ``fill`` (any depth, part of an edge)."""
    return args.along is not None or args.by is not None or args.stage or args.tile != 1024


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils grow`` with the parsed ``args``; return the exit status."""
    from imkerutils.errors import InvalidGrowSettingsError, StepCancelledError
    from imkerutils.exquisite.geometry.direction import Direction
    from imkerutils.exquisite.pipeline import (
        Cancel,
        Estimate,
        canvas_spent_usd,
        grow,
        grow_region,
        plan_grow_region,
        plan_steps,
    )
    from imkerutils.exquisite.pipeline.staging import stage_fill
    from imkerutils.exquisite.state.budget import Budget

    by = check_by(DEFAULT_BY if args.by is None else args.by)
    if args.stage and args.steps != 1:
        raise InvalidGrowSettingsError("--stage stages one step: leave out --steps")
    via_fill = _uses_fill(args)
    if args.scheduler and via_fill:  # before anything is created (an image's canvas included)
        raise InvalidGrowSettingsError("--scheduler runs whole-edge steps only (without --along/--by/--stage)")
    along = None if args.along is None else (args.along[0], args.along[1])
    directions = [Direction.parse(d) for d in args.direction]  # parsed once, here
    generator = gen.make_generator(args)
    settings = gen.make_settings(args, stage=args.stage)
    candidates = args.candidates if args.stage else 1
    if args.dry_run:
        canvas = Canvas.open(_existing(args.canvas), read_only=True)
    else:
        canvas = open_or_create(args.canvas, trusted=args.trust_large)  # only once the settings are known good
    plans = (  # each step planned once, here: the runs below follow these plans
        plan_grow_region(canvas, directions, settings, by=by, along=along, steps=args.steps)
        if via_fill
        else plan_steps(canvas.bounds, directions, settings, args.steps)
    )
    estimate = Estimate.of(plans, generator, settings, candidates=candidates)
    if args.dry_run:
        gen.print_estimate(estimate, canvas, args.budget_usd)
        return 0
    if args.budget_usd is not None:  # the whole run's worst case, before the first call
        Budget(args.budget_usd, canvas_spent_usd(canvas)).check(estimate.worst_case_usd)
    client = None
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
        log.info("running tile tasks on %s; dashboard: %s", args.scheduler, client.dashboard_link)
    cancel = Cancel()
    head = canvas.head
    steps: list[dict[str, Any]] = []
    with (
        gen.on_signals(cancel) as received,
        gen.tile_bar(args, estimate.tiles * candidates, "growing") as bar,
    ):
        log.info("growing %d tile(s); Ctrl-C stops with nothing written", estimate.tiles * candidates)

        def report(records: list[Any]) -> None:  # one line per step (with --json: one entry of the document)
            b = records[-1].bounds_after
            seams = [s for r in records if (s := r.seam_excess) is not None]
            costs = [r.cost_usd for r in records]
            cost = "unknown" if None in costs else f"${sum(costs):.4f}"
            tiles = sum(len(r.tiles) for r in records)
            name = "fill" if via_fill else "+".join(r.direction.value for r in records)
            seconds = records[0].timings.get("total", records[0].timings.get("generate", 0.0))
            steps.append(
                {
                    "step": canvas.head,
                    "kind": name,
                    "directions": [r.direction.value for r in records],
                    "tiles": tiles,
                    "size": size_json(b.width, b.height),
                    "bounds": region_json(b),
                    "seam_excess": max(seams) if seams else None,
                    "cost_usd": None if None in costs else sum(costs),
                    "seconds": seconds,
                }
            )
            if not args.json:
                bar.write(
                    f"step {canvas.head} {name}: {tiles} tile(s), "
                    f"now {b.width}x{b.height} at ({b.col_off}, {b.row_off}); seam excess "
                    f"{f'{max(seams):.2f}' if seams else 'n/a'}, cost {cost}, {seconds:.1f} s"
                )

        try:
            if args.stage:
                from imkerutils.exquisite.geometry.fill import edge_region
                from imkerutils.exquisite.pipeline.region import growth_direction

                region, keep = edge_region(canvas.bounds, directions, by, along)
                proposal = stage_fill(
                    canvas,
                    region,
                    generator,
                    settings,
                    candidates=candidates,
                    keep=keep,
                    direction=growth_direction(directions),
                    cancel=cancel,
                    on_tile=lambda _o: bar.update(1),
                    plan=estimate.plans[0],
                )
            elif via_fill:
                grow_region(
                    canvas,
                    directions,
                    generator,
                    settings,
                    by=by,
                    along=along,
                    steps=args.steps,
                    budget_usd=args.budget_usd,
                    cancel=cancel,
                    on_step=lambda r: report([r]),
                    on_tile=lambda _o: bar.update(1),
                    plans=estimate.plans,
                )
            else:
                grow(
                    canvas,
                    directions,
                    generator,
                    settings,
                    steps=args.steps,
                    budget_usd=args.budget_usd,
                    on_step=report,
                    on_tile=lambda _outcome: bar.update(1),
                    client=client,
                    cancel=cancel,
                    plans=estimate.plans,
                )
        except StepCancelledError:
            bar.close()
            return gen.cancelled_exit("imkerutils", received, canvas.head - head)
        finally:
            if client is not None:
                client.close()
    if args.stage:
        gen.print_staged(proposal, canvas)
        return 0
    gen.note_late_signals(received)
    b = canvas.bounds
    emit(
        args,
        f"canvas {canvas.location}: {b.width}x{b.height}, {canvas.head} steps",
        {
            "canvas": canvas.location,
            "size": size_json(b.width, b.height),
            "bounds": region_json(b),
            "head": canvas.head,
            "steps": steps,
        },
    )
    return 0
