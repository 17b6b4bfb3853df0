"""Pure geometry of growing a canvas: edge plans, reference tiles, masks, seams.

No I/O: everything here maps numbers and numpy arrays to numbers and numpy arrays.
Geometry is implemented for growing RIGHT and mapped onto the other directions
through :mod:`.direction` (pixel arrays) and :mod:`.frame` (windows).
"""

from imkerutils.exquisite.geometry.band import build_reference
from imkerutils.exquisite.geometry.blend import SEAM_STRATEGIES, apply_seam, seam_strategy_names
from imkerutils.exquisite.geometry.direction import Direction, from_right, to_right
from imkerutils.exquisite.geometry.frame import window_from_right, window_to_right
from imkerutils.exquisite.geometry.glue import compose, new_pixels
from imkerutils.exquisite.geometry.mask import mask_to_openai_rgba, openai_rgba_to_mask, window_mask
from imkerutils.exquisite.geometry.plan import EdgePlan, TilePlan, grow_bounds, plan_edge
from imkerutils.exquisite.geometry.seam import (
    BandDrift,
    SeamScores,
    band_drift,
    colour_step,
    detail_ratio,
    local_seam_excess,
    seam_rows,
    seam_scores,
)

__all__ = [
    "SEAM_STRATEGIES",
    "BandDrift",
    "Direction",
    "EdgePlan",
    "SeamScores",
    "TilePlan",
    "apply_seam",
    "band_drift",
    "build_reference",
    "colour_step",
    "compose",
    "detail_ratio",
    "from_right",
    "grow_bounds",
    "local_seam_excess",
    "mask_to_openai_rgba",
    "new_pixels",
    "openai_rgba_to_mask",
    "plan_edge",
    "seam_rows",
    "seam_scores",
    "seam_strategy_names",
    "to_right",
    "window_from_right",
    "window_mask",
    "window_to_right",
]
