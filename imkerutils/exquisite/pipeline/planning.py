"""Fill plans of a canvas's regions, made once per step: what holds content, and the plan around it.

A step is planned once and the plan is passed on: a run's steps are planned before the first call,
:meth:`~.estimate.Estimate.of` counts their worst case (``--dry-run``, the budget, the progress bar), and the
run follows those plans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imkerutils.errors import InvalidGrowSettingsError
from imkerutils.exquisite.geometry.fill import FillPlan, edge_region, plan_fill, subtract
from imkerutils.exquisite.limits import DEFAULT_BY, check_by
from imkerutils.exquisite.pipeline.step import GrowSettings
from imkerutils.exquisite.pipeline.tile import derive_seed
from imkerutils.tiling.window import Window, intersection

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from imkerutils.exquisite.geometry.direction import Direction
    from imkerutils.tiling.canvas import Canvas

__all__ = [
    "content_windows",
    "merge_keep",
    "near",
    "plan_fill_step",
    "plan_grow_region",
    "plan_region",
    "step_seed",
    "tile_content",
]


def step_seed(run_seed: int, step: int) -> int:
    """Return the seed of a run's ``step``-th step (the rule :func:`~imkerutils.exquisite.pipeline.grow` follows)."""
    return derive_seed(run_seed, "step", step)


def near(region: Window, tile: int) -> Window:
    """``region`` and ``tile`` px around it: every pixel a fill plan of ``region`` can look at."""
    return Window(region.row_off - tile, region.col_off - tile, region.height + 2 * tile, region.width + 2 * tile)


def tile_content(written: Iterable[Window], bounds: Window, around: Window) -> list[Window]:
    """Return the written storage tiles meeting ``around``, cut to ``bounds``, in (row, column) order."""
    return [
        part
        for w in sorted(written, key=lambda w: (w.row_off, w.col_off))
        if w.intersection(around) is not None and (part := intersection(w, bounds)) is not None
    ]


def content_windows(canvas: Canvas, around: Window) -> list[Window]:
    """Return the windows near ``around`` that hold content: the bounds inside each storage tile some step wrote."""
    return tile_content(canvas.written_tile_windows(around), canvas.bounds, around)


def merge_keep(content: list[Window], keep: Sequence[Window]) -> list[Window]:
    """``content`` plus the parts of ``keep`` outside it (the plan wants disjoint windows)."""
    out = list(content)
    for k in keep:
        out.extend(subtract(k, out))
    return out


def plan_region(
    region: Window,
    content: list[Window],
    bounds: Window,
    settings: GrowSettings,
    *,
    cell: int | tuple[int, int] | None = None,
    keep: Sequence[Window] = (),
) -> FillPlan:
    """Return the fill plan of ``region`` given the ``content`` near it (the one place a fill step is planned)."""
    return plan_fill(region, merge_keep(content, keep), tile=settings.tile, cell=cell, bounds=bounds)


def plan_fill_step(
    canvas: Canvas,
    region: Window,
    settings: GrowSettings | None = None,
    *,
    cell: int | tuple[int, int] | None = None,
    keep: Sequence[Window] = (),
) -> FillPlan:
    """Return the plan :func:`~.fill.fill` would follow on ``canvas`` now (``keep``: more windows never written)."""
    settings = settings or GrowSettings()
    content = content_windows(canvas, near(region, settings.tile))
    return plan_region(region, content, canvas.bounds, settings, cell=cell, keep=keep)


def plan_grow_region(
    canvas: Canvas,
    directions: Sequence[Direction],
    settings: GrowSettings,
    *,
    by: int = DEFAULT_BY,
    along: tuple[int, int] | None = None,
    steps: int = 1,
) -> list[FillPlan]:
    """Return the plans of :func:`~.region.grow_region`'s ``steps`` steps on ``canvas`` now (each from the last).

    Each plan sees the content the canvas will hold when its step starts: what is written now, plus what
    the steps before it write.
    """
    check_by(by)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InvalidGrowSettingsError(f"steps must be an int >= 1, got {steps!r}")
    t, size = settings.tile, canvas.tile
    bounds = canvas.bounds
    written = {
        (w.row_off // size, w.col_off // size) for w in canvas.written_tile_windows(near(bounds, steps * by + 2 * t))
    }
    plans = []
    for _ in range(steps):
        region, keep = edge_region(bounds, directions, by, along)
        # the content plan_fill_step would see on the canvas this step starts from (the same windows, in
        # the same order), so grow_region can follow these plans: planned once, the same bytes
        tiles = [Window(i * size, j * size, size, size) for i, j in written]
        plan = plan_region(region, tile_content(tiles, bounds, near(region, t)), bounds, settings, keep=keep)
        for w in plan.written:
            written.update(canvas.grid.tiles(w))
        plans.append(plan)
        bounds = plan.new_bounds
    return plans
