"""The only layer that calls a generator and writes a canvas."""

from imkerutils.exquisite.pipeline.cancel import Cancel
from imkerutils.exquisite.pipeline.estimate import Estimate
from imkerutils.exquisite.pipeline.fill import FillResult, commit_fill, fill, generate_fill
from imkerutils.exquisite.pipeline.grow import canvas_spent_usd, grow, step_worst_case_usd
from imkerutils.exquisite.pipeline.planning import content_windows, plan_fill_step, plan_grow_region
from imkerutils.exquisite.pipeline.qc import Candidate, Verdict, accept_all, seam_threshold
from imkerutils.exquisite.pipeline.region import grow_region
from imkerutils.exquisite.pipeline.step import GrowSettings, grow_batch, grow_step, plan_step, plan_steps, step_records

__all__ = [
    "Cancel",
    "Candidate",
    "Estimate",
    "FillResult",
    "GrowSettings",
    "Verdict",
    "accept_all",
    "canvas_spent_usd",
    "commit_fill",
    "content_windows",
    "fill",
    "generate_fill",
    "grow",
    "grow_batch",
    "grow_region",
    "grow_step",
    "plan_fill_step",
    "plan_grow_region",
    "plan_step",
    "plan_steps",
    "seam_threshold",
    "step_records",
    "step_worst_case_usd",
]
