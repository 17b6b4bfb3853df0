"""Fill plans of a canvas's regions, made once per step: what holds content, and the plan around it.

A step is planned once and the plan is passed on: an :class:`~.estimate.Estimate` plans every step of a
run before the first call (``--dry-run``, the budget, the progress bar), and the run follows those plans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imkerutils.exquisite.geometry.fill import FillPlan, plan_fill, subtract
from imkerutils.exquisite.pipeline.step import GrowSettings
from imkerutils.exquisite.pipeline.tile import derive_seed
from imkerutils.tiling.window import Window, intersection

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from imkerutils.tiling.canvas import Canvas

__all__ = ["content_windows", "merge_keep", "near", "plan_fill_step", "plan_region", "step_seed", "tile_content"]


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
