"""``imkerutils grow CANVAS --direction D [--steps N] ...``: grow a canvas with a generator."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imkerutils.tiling import Canvas
from imkerutils.tiling.location import is_remote
from imkerutils.tiling.tiles import is_canvas


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grow", help="grow a canvas (or an image file) outward with an image generator")
    p.add_argument("canvas", help="a canvas, or an image file (a canvas <name>.zarr is created beside it)")
    p.add_argument("--direction", "-d", action="append", choices=["right", "left", "up", "down"], required=True,
                   help="edge to grow (repeat for several: each step grows them all, corners included)")
    p.add_argument("--steps", type=int, default=1, help="steps, 512 px each (default 1); each is one undoable batch")
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
        print(f"continuing the canvas {beside} made from {image}", file=sys.stderr)
        return Canvas.open(beside)
    canvas = Canvas.from_image(image, beside, trusted=trusted)
    print(f"created canvas {beside} from {image}", file=sys.stderr)
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
    generator = get_generator(args.generator, **config)
    settings = GrowSettings(prompt=args.prompt, seed=args.seed, seam=args.seam, candidates=args.candidates,
                            save_artifacts=not args.no_artifacts, workers=args.workers)
    canvas = open_or_create(args.canvas, trusted=args.trust_large)  # only once the settings are known good
    client = None
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
        print(f"running tile tasks on {args.scheduler}; dashboard: {client.dashboard_link}", file=sys.stderr)
    total_tiles = planned_tiles(canvas, args.direction, args.steps, settings)
    with tqdm(total=total_tiles, unit="tile", file=sys.stderr, disable=None, desc="growing") as bar:

        def report(records: list) -> None:  # one line per step
            b = records[-1].bounds_after
            seams = [r.qc.get("seam_excess") for r in records if r.qc.get("seam_excess") is not None]
            costs = [r.cost_usd for r in records]
            cost = "unknown" if None in costs else f"${sum(costs):.4f}"
            tiles = sum(len(r.tiles) for r in records)
            bar.write(f"step {canvas.head} {'+'.join(r.direction.value for r in records)}: {tiles} tile(s), "
                      f"now {b.width}x{b.height} at ({b.col_off}, {b.row_off}); seam excess "
                      f"{f'{max(seams):.2f}' if seams else 'n/a'}, cost {cost}, "
                      f"{records[0].timings.get('total', 0.0):.1f} s")

        try:
            grow(canvas, args.direction, generator, settings, steps=args.steps, budget_usd=args.budget_usd,
                 on_step=report, on_tile=lambda _outcome: bar.update(1), client=client)
        finally:
            if client is not None:
                client.close()
    print(f"canvas {canvas.location}: {canvas.bounds.width}x{canvas.bounds.height}, {canvas.head} steps")
    return 0
