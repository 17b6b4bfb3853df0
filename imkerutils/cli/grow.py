"""``imkerutils grow CANVAS --direction D [--steps N] ...``: grow a canvas with a generator."""

from __future__ import annotations

import argparse
import inspect
import logging
import sys
from pathlib import Path
from typing import Any

from imkerutils.cli._common import add_command, emit, positive_int, region_json, size_json
from imkerutils.errors import InvalidGeneratorParamsError
from imkerutils.tiling import Canvas
from imkerutils.tiling.location import is_remote
from imkerutils.tiling.tiles import is_canvas

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "grow", help="grow a canvas (or an image file) outward with an image generator")
    p.add_argument("canvas", help="a canvas, or an image file (a canvas <name>.zarr is created beside it)")
    p.add_argument("--direction", "-d", action="append", choices=["right", "left", "up", "down"], required=True,
                   help="edge to grow (repeat for several: each step grows them all, corners included)")
    p.add_argument("--steps", type=positive_int, default=1,
                   help="steps (at least 1), 512 px each (default 1); each is one undoable batch")
    p.add_argument("--prompt", default="", help="what the new pixels should show")
    p.add_argument("--generator", "-g", default="local", help="local (offline, default), openai, mock, or a plug-in")
    p.add_argument("--model", help="model id for the openai generator (default gpt-image-1)")
    p.add_argument("--quality", help="quality for the openai generator (low, medium, high)")
    p.add_argument("--seed", type=int, default=0, help="run seed (default 0); each step derives its own")
    p.add_argument("--seam", default="exact", help="seam strategy: exact (default) or feather")
    p.add_argument("--candidates", type=int, default=1, help="draw N candidates per tile, keep the best seam")
    p.add_argument("--budget-usd", type=float, help="refuse a step that could take the total past this")
    p.add_argument("--no-artifacts", action="store_true", help="do not keep per-tile PNG artifacts")
    p.add_argument("--trust-large", action="store_true", help="allow an input image over the decompression-bomb limit")
    p.add_argument("--scheduler", help="dask.distributed scheduler address: run the tile tasks on its workers")
    p.add_argument("--workers", type=int, help="tiles generated at once on this machine (default: the generator's)")
    p.set_defaults(func=run)


def open_or_create(path: str, *, trusted: bool = False) -> Canvas:
    """An existing canvas (folder or URL), or the canvas beside an image file (created on first use)."""
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


def planned_tiles(canvas: Canvas, directions: list[str], steps: int, settings: object) -> int:
    """Tiles the whole run will generate (pure geometry: each step's plan follows from the last)."""
    from imkerutils.exquisite.geometry.batch import plan_batch

    bounds, total = canvas.bounds, 0
    for _ in range(steps):
        batch = plan_batch(bounds, directions, overlap=getattr(settings, "overlap", 256))
        total += len(batch.tiles)
        bounds = batch.new_bounds
    return total


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from imkerutils.exquisite.api.registry import get_generator
    from imkerutils.exquisite.pipeline import GrowSettings, grow

    config = {k: v for k, v in (("model", args.model), ("quality", args.quality)) if v is not None}
    _check_options(args.generator, config)
    generator = get_generator(args.generator, **config)
    settings = GrowSettings(prompt=args.prompt, seed=args.seed, seam=args.seam, candidates=args.candidates,
                            save_artifacts=not args.no_artifacts, workers=args.workers)
    canvas = open_or_create(args.canvas, trusted=args.trust_large)  # only once the settings are known good
    client = None
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
        log.info("running tile tasks on %s; dashboard: %s", args.scheduler, client.dashboard_link)
    total_tiles = planned_tiles(canvas, args.direction, args.steps, settings)
    steps: list[dict[str, Any]] = []
    with tqdm(total=total_tiles, unit="tile", file=sys.stderr, disable=True if args.quiet else None,
              desc="growing") as bar:

        def report(records: list) -> None:  # one line per step (with --json: one entry of the document)
            b = records[-1].bounds_after
            seams = [r.qc.get("seam_excess") for r in records if r.qc.get("seam_excess") is not None]
            costs = [r.cost_usd for r in records]
            cost = "unknown" if None in costs else f"${sum(costs):.4f}"
            tiles = sum(len(r.tiles) for r in records)
            seconds = records[0].timings.get("total", 0.0)
            steps.append({"step": canvas.head, "directions": [r.direction.value for r in records], "tiles": tiles,
                          "size": size_json(b.width, b.height), "bounds": region_json(b),
                          "seam_excess": max(seams) if seams else None,
                          "cost_usd": None if None in costs else sum(costs), "seconds": seconds})
            if not args.json:
                bar.write(f"step {canvas.head} {'+'.join(r.direction.value for r in records)}: {tiles} tile(s), "
                          f"now {b.width}x{b.height} at ({b.col_off}, {b.row_off}); seam excess "
                          f"{f'{max(seams):.2f}' if seams else 'n/a'}, cost {cost}, {seconds:.1f} s")

        try:
            grow(canvas, args.direction, generator, settings, steps=args.steps, budget_usd=args.budget_usd,
                 on_step=report, on_tile=lambda _outcome: bar.update(1), client=client)
        finally:
            if client is not None:
                client.close()
    b = canvas.bounds
    emit(args, f"canvas {canvas.location}: {b.width}x{b.height}, {canvas.head} steps",
         {"canvas": canvas.location, "size": size_json(b.width, b.height), "bounds": region_json(b),
          "head": canvas.head, "steps": steps})
    return 0


def _check_options(name: str, config: dict[str, str]) -> None:
    """Refuse ``--model`` / ``--quality`` for a generator that takes no such parameter (one line, not a TypeError)."""
    from imkerutils.exquisite.api.registry import generator_class

    if not config:
        return
    try:
        inspect.signature(generator_class(name)).bind_partial(**config)
    except TypeError:
        options = " and ".join(f"--{k}" for k in config)
        raise InvalidGeneratorParamsError(
            f"the {name} generator takes no {options} (only generators with such a setting do, e.g. openai)"
        ) from None
    except ValueError:  # no signature to inspect: let the generator decide
        return
