"""What a run would do and cost at worst, from its plans, before anything is generated (``--dry-run``).

A run is planned first (:func:`~.planning.plan_fill_step`, :func:`~.planning.plan_grow_region`,
:func:`~.step.plan_steps`); :meth:`Estimate.of` counts what those plans would cost, and the run follows the
same plans instead of planning again (the ``plan`` / ``plans`` keywords of :func:`~.fill.fill`,
:func:`~.region.grow_region` and :func:`~.grow.grow`).

>>> from imkerutils.exquisite.api.mock import MockGenerator
>>> from imkerutils.exquisite.pipeline.step import GrowSettings, plan_steps
>>> from imkerutils.exquisite.geometry.direction import Direction
>>> from imkerutils.tiling.window import Window
>>> settings = GrowSettings(max_retries=1)
>>> plans = plan_steps(Window(0, 0, 1024, 1024), [Direction.RIGHT], settings, 2)
>>> e = Estimate.of(plans, MockGenerator(), settings)
>>> e.steps, e.tiles, e.calls, e.worst_case_usd, e.bounds_after.width
(2, 2, 4, 0.0, 2048)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imkerutils.errors import InvalidGrowSettingsError
from imkerutils.exquisite.geometry.fill import FillPlan
from imkerutils.exquisite.pipeline.grow import tile_worst_case_usd

if TYPE_CHECKING:
    from collections.abc import Sequence

    from imkerutils.exquisite.api.base import TileGenerator
    from imkerutils.exquisite.geometry.batch import BatchPlan
    from imkerutils.exquisite.pipeline.step import GrowSettings
    from imkerutils.tiling.window import Window

__all__ = ["Estimate"]


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

    @classmethod
    def of(
        cls,
        plans: Sequence[FillPlan | BatchPlan],
        generator: TileGenerator,
        settings: GrowSettings,
        *,
        candidates: int = 1,
    ) -> Estimate:
        """Return the estimate of a run that follows ``plans`` (one a step, in order); nothing is generated.

        Every tile counts ``settings.candidates`` draws on each of ``settings.max_retries + 1`` attempts;
        ``candidates`` is the number of whole-region candidates of a staged fill (1 for a direct run).
        """
        if not plans:
            raise InvalidGrowSettingsError("nothing to estimate: the run plans no step")
        tiles = sum(len(p.tiles) for p in plans)
        per_tile = settings.candidates * candidates
        attempts = settings.max_retries + 1
        calls = tiles * per_tile * attempts
        unit = tile_worst_case_usd(generator)
        params = generator.params()
        model = params.get("model") if isinstance(params, dict) else None
        return cls(
            steps=len(plans),
            tiles=tiles,
            candidates=per_tile,
            attempts=attempts,
            calls=calls,
            worst_case_usd=None if unit is None else calls * unit,
            generator=generator.name,
            model=None if model is None else str(model),
            bounds_before=plans[0].bounds,
            bounds_after=plans[-1].new_bounds,
            regions=tuple(p.region for p in plans if isinstance(p, FillPlan)),
            plans=tuple(plans),
        )
