"""Step records, the artifact layout and the cost budget: serialisable values, no hidden I/O."""

from imkerutils.exquisite.state.artifacts import (
    GENERATED_STEPS,
    TILE_ROLES,
    step_artifact_key,
    tile_artifact_name,
)
from imkerutils.exquisite.state.budget import Budget, format_usd
from imkerutils.exquisite.state.record import (
    CURRENT_FORMAT,
    FORMATS,
    Attempt,
    StepFormat,
    StepFormatV1,
    StepRecord,
    TileRecord,
    check_step_id,
    detect_format,
    format_utc,
)

# The package re-exports its modules' public names: record.py's __all__ stands again in this list, by design.
__all__ = [
    "CURRENT_FORMAT",
    "FORMATS",
    "GENERATED_STEPS",
    "TILE_ROLES",
    "Attempt",
    "Budget",
    "StepFormat",
    "StepFormatV1",
    "StepRecord",
    "TileRecord",
    "check_step_id",
    "detect_format",
    "format_usd",
    "format_utc",
    "step_artifact_key",
    "tile_artifact_name",
]
