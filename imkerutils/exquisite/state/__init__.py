"""Step records, the artifact layout and the cost budget: serialisable values, no hidden I/O."""

from imkerutils.exquisite.state.artifacts import (
    GENERATED_STEPS,
    TILE_ROLES,
    ArtifactPathError,
    step_artifact_key,
    tile_artifact_name,
)
from imkerutils.exquisite.state.budget import Budget, InvalidBudgetError, format_usd
from imkerutils.exquisite.state.record import (
    CURRENT_FORMAT,
    FORMATS,
    Attempt,
    InvalidRecordError,
    StepFormat,
    StepFormatV1,
    StepRecord,
    TileRecord,
    UnknownRecordFormatError,
    check_step_id,
    detect_format,
    format_utc,
)

__all__ = [
    "CURRENT_FORMAT",
    "FORMATS",
    "GENERATED_STEPS",
    "TILE_ROLES",
    "ArtifactPathError",
    "Attempt",
    "Budget",
    "InvalidBudgetError",
    "InvalidRecordError",
    "StepFormat",
    "StepFormatV1",
    "StepRecord",
    "TileRecord",
    "UnknownRecordFormatError",
    "check_step_id",
    "detect_format",
    "format_usd",
    "format_utc",
    "step_artifact_key",
    "tile_artifact_name",
]
