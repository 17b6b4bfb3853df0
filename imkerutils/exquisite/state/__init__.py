"""Step records, the artifact layout and the cost budget: serialisable values, no hidden I/O."""

from imkerutils.exquisite.state.artifacts import (
    TILE_ROLES,
    ArtifactLayout,
    ArtifactPathError,
    ensure_dir,
    tile_artifact_name,
    write_png,
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
    "TILE_ROLES",
    "ArtifactLayout",
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
    "ensure_dir",
    "format_usd",
    "format_utc",
    "tile_artifact_name",
    "write_png",
]
