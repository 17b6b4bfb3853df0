"""Where a generate request draws and what it would cost: the region it fills, and its plan for the page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imkerutils.exquisite.geometry.fill import edge_region
from imkerutils.exquisite.pipeline.region import growth_direction
from imkerutils.exquisite.state.budget import Budget, format_usd

if TYPE_CHECKING:
    from imkerutils.exquisite.geometry.direction import Direction
    from imkerutils.exquisite.pipeline import Estimate
    from imkerutils.exquisite.ui.requests import GenerateRequest
    from imkerutils.tiling.window import Window

__all__ = ["plan_summary", "region_of"]


def region_of(req: GenerateRequest, bounds: Window) -> tuple[Window, tuple[Window, ...], Direction | None]:
    """Return the region a generate request fills on a canvas with ``bounds``, the windows it keeps, its direction."""
    if req.region is not None:
        return req.region, (), None
    region, keep = edge_region(bounds, req.directions, req.by, req.along)
    return region, keep, growth_direction(req.directions)


def plan_summary(estimate: Estimate, request: GenerateRequest, budget: Budget) -> dict[str, Any]:
    """Return what the page shows of a plan: the estimate, the region, and whether it fits ``budget``."""
    out = estimate.to_dict()
    region = estimate.regions[0]
    out.update(
        region={"x": region.col_off, "y": region.row_off, "width": region.width, "height": region.height},
        tiles_total=estimate.tiles * request.candidates,
        worst_case=None if estimate.worst_case_usd is None else format_usd(estimate.worst_case_usd),
        lines=estimate.lines(),
        budget={
            "budget_usd": budget.limit_usd,
            "remaining_usd": budget.remaining_usd,
            "fits": budget.fits(estimate.worst_case_usd),
        },
    )
    return out
