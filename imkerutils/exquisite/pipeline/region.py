"""Grow edges by fills: any depth a step (``--by``), or only a stretch of one edge (``--along``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imkerutils.exquisite.geometry.fill import FillPlan, edge_region
from imkerutils.exquisite.limits import DEFAULT_BY, check_by
from imkerutils.exquisite.pipeline.fill import FillOutcome, fill
from imkerutils.exquisite.pipeline.step import GrowSettings, parse_directions

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from imkerutils.exquisite.api.base import TileGenerator
    from imkerutils.exquisite.geometry.direction import Direction
    from imkerutils.exquisite.pipeline.cancel import Cancel
    from imkerutils.exquisite.state.record import StepRecord
    from imkerutils.tiling.canvas import Canvas

__all__ = ["grow_region", "growth_direction"]


def growth_direction(directions: Sequence[Direction]) -> Direction | None:
    """Return the direction the tiles of a growth step face: the edge's, when one edge grows."""
    ds = set(directions)
    return ds.pop() if len(ds) == 1 else None


def grow_region(
    canvas: Canvas,
    directions: Sequence[Direction | str],
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    by: int = DEFAULT_BY,
    along: tuple[int, int] | None = None,
    steps: int = 1,
    budget_usd: float | None = None,
    cancel: Cancel | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
    on_tile: Callable[[FillOutcome], None] | None = None,
    plans: Sequence[FillPlan] = (),
) -> list[StepRecord]:
    """Grow edges by ``by`` px a step (``along``: only that stretch of one edge), each step ONE :func:`fill`.

    Sugar over :func:`fill`: a step fills
    :func:`~imkerutils.exquisite.geometry.fill.edge_region` of the current bounds (tiles facing the
    edge's direction when one edge grows), so its seeds, record and bytes are those of ``fill`` on
    that region with the same settings and direction.  ``plans`` are the steps' plans when the
    caller made them on the canvas as it is (:func:`~.planning.plan_grow_region`'s): a step follows
    its plan when the plan is of the region and bounds it fills, and is planned anew otherwise.
    """
    check_by(by)
    ds = parse_directions(directions)
    tile = (settings or GrowSettings()).tile
    records = []
    for n in range(steps):
        region, keep = edge_region(canvas.bounds, ds, by, along)
        ahead = plans[n] if n < len(plans) else None
        if ahead is not None and (ahead.region, ahead.bounds, ahead.tile) != (region, canvas.bounds, tile):
            ahead = None  # not this step's plan (the canvas is not as planned): plan it anew
        record = fill(
            canvas,
            region,
            generator,
            settings,
            keep=keep,
            direction=growth_direction(ds),
            budget_usd=budget_usd,
            cancel=cancel,
            on_tile=on_tile,
            plan=ahead,
        )
        records.append(record)
        if on_step is not None:
            on_step(record)
    return records
