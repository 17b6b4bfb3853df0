"""What a run would do and cost at worst, planned before anything is generated (``--dry-run``).

An :class:`Estimate` holds the plan of every step of the run; the run follows those plans instead of
planning again (:func:`~.grow.grow`'s and :func:`~.region.grow_region`'s ``plans``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imkerutils.exquisite.geometry.fill import edge_region
from imkerutils.exquisite.limits import DEFAULT_BY
from imkerutils.exquisite.pipeline.grow import tile_worst_case_usd
from imkerutils.exquisite.pipeline.planning import near, plan_fill_step, plan_region, tile_content
from imkerutils.exquisite.pipeline.step import GrowSettings, parse_directions, plan_steps
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Sequence

    from imkerutils.exquisite.api.base import TileGenerator
    from imkerutils.exquisite.geometry.direction import Direction
    from imkerutils.tiling.canvas import Canvas

__all__ = ["Estimate", "estimate_fill", "estimate_grow", "estimate_grow_region"]


@dataclass(frozen=True)
class Estimate:
    """What a run would do and cost at worst, before anything is generated (``--dry-run``)."""

    steps: int
    tiles: int
    candidates: int
    attempts: int
    calls: int
    worst_case_usd: float | None
    generator: str
    model: str | None
    bounds_before: Window
    bounds_after: Window
    regions: tuple[Window, ...] = ()
    plans: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (what ``--dry-run --json`` prints)."""
        return {
            "steps": self.steps,
            "tiles": self.tiles,
            "candidates": self.candidates,
            "attempts": self.attempts,
            "generator_calls": self.calls,
            "worst_case_usd": self.worst_case_usd,
            "generator": self.generator,
            "model": self.model,
            "bounds_before": self.bounds_before.to_dict(),
            "bounds_after": self.bounds_after.to_dict(),
            "regions": [r.to_dict() for r in self.regions],
        }

    def lines(self) -> list[str]:
        """Return the plan in plain words (what ``--dry-run`` prints)."""
        a = self.bounds_after
        usd = "unknown" if self.worst_case_usd is None else f"${self.worst_case_usd:.4f}"
        model = f", model {self.model}" if self.model else ""
        out = [f"region: x {r.col_off} y {r.row_off} {r.width}x{r.height}" for r in self.regions]
        out += [
            f"steps: {self.steps}",
            f"tiles: {self.tiles}",
            f"generator calls (worst case): {self.calls} = {self.tiles} tile(s) x {self.candidates} candidate(s) "
            f"x {self.attempts} attempt(s)",
            f"worst-case cost: {usd} (generator {self.generator}{model})",
            f"new bounds: x {a.col_off} y {a.row_off} {a.width}x{a.height}",
        ]
        return out


def _estimate(
    plans: list[Any],
    tiles: int,
    before: Window,
    after: Window,
    generator: TileGenerator,
    settings: GrowSettings,
    candidates: int,
    regions: tuple[Window, ...],
) -> Estimate:
    per_tile = settings.candidates * candidates
    attempts = settings.max_retries + 1
    calls = tiles * per_tile * attempts
    unit = tile_worst_case_usd(generator)
    params = generator.params()
    model = params.get("model") if isinstance(params, dict) else None
    return Estimate(
        steps=len(plans),
        tiles=tiles,
        candidates=per_tile,
        attempts=attempts,
        calls=calls,
        worst_case_usd=None if unit is None else calls * unit,
        generator=generator.name,
        model=None if model is None else str(model),
        bounds_before=before,
        bounds_after=after,
        regions=regions,
        plans=tuple(plans),
    )


# Mirrors generate_fill's leading parameters on purpose: a dry run takes its run's arguments (as estimate_grow does).
def estimate_fill(
    canvas: Canvas,
    region: Window,
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    cell: int | tuple[int, int] | None = None,
    keep: Sequence[Window] = (),
    candidates: int = 1,
) -> Estimate:
    """Return the plan of one fill and its worst case (tiles x candidates x attempts calls); nothing is generated.

    ``candidates`` is the number of whole-region candidates of a staged fill (1 for a direct one).
    """
    settings = settings or GrowSettings()
    plan = plan_fill_step(canvas, region, settings, cell=cell, keep=keep)
    return _estimate([plan], len(plan.tiles), plan.bounds, plan.new_bounds, generator, settings, candidates, (region,))


# Mirrors grow_region's parameters on purpose (region.py says why); estimate_grow mirrors grow's the same way.
def estimate_grow_region(
    canvas: Canvas,
    directions: Sequence[Direction | str],
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    by: int = DEFAULT_BY,
    along: tuple[int, int] | None = None,
    steps: int = 1,
    candidates: int = 1,
) -> Estimate:
    """Return the plans of :func:`grow_region`'s steps (each follows from the last), without generating."""
    settings = settings or GrowSettings()
    ds = parse_directions(directions)
    t, size = settings.tile, canvas.tile
    bounds = before = canvas.bounds
    written = {
        (w.row_off // size, w.col_off // size) for w in canvas.written_tile_windows(near(bounds, steps * by + 2 * t))
    }
    plans, regions = [], []
    for _ in range(steps):
        region, keep = edge_region(bounds, ds, by, along)
        # the content plan_fill_step would see on the canvas this step starts from (the same windows, in
        # the same order), so grow_region can follow these plans: planned once, the same bytes
        tiles = [Window(i * size, j * size, size, size) for i, j in written]
        plan = plan_region(region, tile_content(tiles, bounds, near(region, t)), bounds, settings, keep=keep)
        for w in plan.written:
            written.update(canvas.grid.tiles(w))
        plans.append(plan)
        regions.append(region)
        bounds = plan.new_bounds
    return _estimate(
        plans, sum(len(p.tiles) for p in plans), before, bounds, generator, settings, candidates, tuple(regions)
    )


def estimate_grow(
    canvas: Canvas,
    directions: Sequence[Direction | str],
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    steps: int = 1,
) -> Estimate:
    """Return the plans of :func:`~imkerutils.exquisite.pipeline.grow` (whole edges, 512 px a step); no generation."""
    settings = settings or GrowSettings()
    plans = plan_steps(canvas.bounds, parse_directions(directions), settings, steps)
    after = plans[-1].new_bounds if plans else canvas.bounds
    return _estimate(plans, sum(len(b.tiles) for b in plans), canvas.bounds, after, generator, settings, 1, ())
