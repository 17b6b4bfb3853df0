"""Grow a canvas by several steps, within a budget, with progress reporting."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from imkerutils.exquisite.api.base import GeneratorBase, TileGenerator
from imkerutils.exquisite.pipeline.cancel import Cancel
from imkerutils.exquisite.pipeline.step import (
    GrowSettings,
    fits,
    parse_directions,
    plan_batch_of,
    run_step,
    step_records,
)
from imkerutils.exquisite.pipeline.tile import derive_seed
from imkerutils.exquisite.state.budget import Budget

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from distributed import Client

    from imkerutils.exquisite.geometry.batch import BatchPlan
    from imkerutils.exquisite.geometry.direction import Direction
    from imkerutils.exquisite.pipeline.cancel import Cancel
    from imkerutils.exquisite.state.record import StepRecord
    from imkerutils.tiling.canvas import Canvas

__all__ = ["canvas_spent_usd", "grow", "step_worst_case_usd", "tile_worst_case_usd"]


def tile_worst_case_usd(generator: TileGenerator) -> float | None:
    """Return the most one generator call can cost: 0 for offline generators, ``None`` if unknown."""
    if isinstance(generator, GeneratorBase):  # declared (GeneratorBase's default is the rule below)
        return generator.max_cost_per_tile_usd()
    return None if generator.needs_network else 0.0  # a plain TileGenerator declares no cost


def step_worst_case_usd(tiles: int, generator: TileGenerator, settings: GrowSettings) -> float | None:
    """Worst case of one step: every tile drawn ``candidates`` times on every allowed attempt."""
    per_tile = tile_worst_case_usd(generator)
    if per_tile is None:
        return None
    return tiles * settings.candidates * (settings.max_retries + 1) * per_tile


def canvas_spent_usd(canvas: Canvas) -> float:
    """Dollars recorded by the committed growth steps of ``canvas`` (unknown costs count as 0)."""
    return sum(r.cost_usd or 0.0 for r in step_records(canvas))


def grow(
    canvas: Canvas,
    directions: Sequence[Direction | str],
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    steps: int = 1,
    budget_usd: float | None = None,
    client: Client | None = None,
    on_step: Callable[[list[StepRecord]], None] | None = None,
    on_tile: Callable[..., None] | None = None,
    cancel: Cancel | None = None,
    plans: Sequence[BatchPlan] = (),
) -> list[StepRecord]:
    """Grow every edge in ``directions`` by 512 px, ``steps`` times; each step is one atomic batch.

    Returns one record per edge per step.  Each step's seed (recorded) is
    derived from ``settings.seed`` and the step's number on the canvas, so
    growing in one run or in several gives the same bytes with a
    deterministic generator.  Before each step, its worst-case cost is
    checked against what is left of ``budget_usd`` (counting what earlier
    steps on this canvas recorded); a step that could exceed it is refused
    before anything is generated.  A set ``cancel`` stops the running step
    with nothing written (:class:`~imkerutils.errors.StepCancelledError`);
    steps committed before it stay.  ``plans`` are the steps' plans when the
    caller made them already (:func:`~.step.plan_steps`): a step
    follows its plan when it still is the plan of the canvas as it is, and
    is planned anew otherwise.
    """
    settings = settings or GrowSettings()
    ds = parse_directions(directions)
    records: list[StepRecord] = []
    spent = canvas_spent_usd(canvas) if budget_usd is not None else 0.0
    for n in range(steps):
        ahead = plans[n] if n < len(plans) else None
        plan = (
            ahead
            if ahead is not None and fits(ahead, canvas, ds, settings)
            else plan_batch_of(canvas.bounds, ds, settings)
        )
        budget = Budget(budget_usd, spent)
        budget.check(step_worst_case_usd(len(plan.tiles), generator, settings))
        step_settings = replace(settings, seed=derive_seed(settings.seed, "step", canvas.head + 1))
        batch = run_step(canvas, plan, generator, step_settings, on_tile=on_tile, client=client, cancel=cancel)
        spent += sum(r.cost_usd or 0.0 for r in batch)
        records.extend(batch)
        if on_step is not None:
            on_step(batch)
    return records
