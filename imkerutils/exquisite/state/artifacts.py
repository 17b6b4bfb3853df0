"""Where a step's artifacts live: store keys inside the canvas, so they work on any store.

::

    <canvas>/
      _generated/steps/<step_id>/edge-<k>-tile-<i>-reference.png   (and -mask, -raw, -final)

Pure key arithmetic; the pipeline writes the bytes with
:meth:`imkerutils.tiling.Canvas.put_artifact`.  Exports go to ``outputs/``
(see :mod:`imkerutils.cli.export`).

>>> tile_artifact_name(3, "raw")
'tile-3-raw.png'
>>> step_artifact_key("20261125-right-ab12", 0, 3, "final")
'_generated/steps/20261125-right-ab12/edge-0-tile-3-final.png'
"""

from __future__ import annotations

from imkerutils.errors import ArtifactPathError
from imkerutils.exquisite.state.record import check_step_id

__all__ = ["GENERATED_STEPS", "TILE_ROLES", "step_artifact_key", "tile_artifact_name"]

#: Per-tile artifacts, in the order a step produces them.
TILE_ROLES: tuple[str, ...] = ("reference", "mask", "raw", "final")
GENERATED_STEPS = "_generated/steps"


def tile_artifact_name(index: int, role: str) -> str:
    """File name of tile ``index``'s artifact ``role`` (one of :data:`TILE_ROLES`)."""
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ArtifactPathError(f"tile index must be a non-negative integer, got {index!r}")
    if role not in TILE_ROLES:
        raise ArtifactPathError(f"artifact role must be one of {', '.join(TILE_ROLES)}; got {role!r}")
    return f"tile-{index}-{role}.png"


def step_artifact_key(step_id: str, edge: int, index: int, role: str) -> str:
    """Store key of one tile artifact of a step (the step id is checked to be a safe folder name)."""
    if isinstance(edge, bool) or not isinstance(edge, int) or edge < 0:
        raise ArtifactPathError(f"edge must be a non-negative integer, got {edge!r}")
    return f"{GENERATED_STEPS}/{check_step_id(step_id)}/edge-{edge}-{tile_artifact_name(index, role)}"
