"""Step records: what one growth step did, as frozen values that round-trip through JSON.

A :class:`StepRecord` holds everything needed to explain and reproduce a step:
the windows it read and wrote, hashes of the band and result, the exact prompt
and template, the generator and its parameters, the seed, seam strategy, usage,
cost, timings, QC scores, rejected attempts and artifact paths; one
:class:`TileRecord` per generated tile.

Records are validated on construction, so a record that exists is one that
saves and loads back equal.  Saved records carry ``"format": "imkerutils.step/1"``;
loading asks each known format, newest first, whether it :meth:`~StepFormat.matches`
the data (the ome-zarr format ladder).  Format ``/1`` is a closed schema: a
missing or unknown key is an error, and a new field means a new format version.

Floats must be finite (JSON has no NaN or infinity): record an undefined score
as ``None``.  The checks each field passes live in :mod:`.checks`.

>>> from imkerutils.tiling.window import Window
>>> t = TileRecord(index=0, tile_window=Window(0, 512, 1024, 1024),
...                write_window=Window(0, 1024, 1024, 512), seed=7)
>>> TileRecord.from_dict(t.to_dict()) == t
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from imkerutils.errors import InvalidRecordError, UnknownRecordFormatError
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.exquisite.prompt.templates import prompt_sha256
from imkerutils.exquisite.state.checks import (
    MAX_SEED,
    JSONValue,
    check_artifacts,
    check_int,
    check_json,
    check_list,
    check_mapping,
    check_opt_float,
    check_opt_str,
    check_scores,
    check_sha,
    check_step_id,
    check_str,
    check_timings,
    check_tuple_of,
    check_usage,
    check_utc,
    check_window,
    decoding,
    error,
    format_utc,
    load_usage,
)
from imkerutils.jsonform import fields_form
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from imkerutils.exquisite.api.base import Usage

__all__ = [
    "CURRENT_FORMAT",
    "FORMATS",
    "Attempt",
    "StepFormat",
    "StepFormatV1",
    "StepRecord",
    "TileRecord",
    "check_step_id",
    "detect_format",
    "format_utc",
]


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


# --- records ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """A candidate that QC rejected before the accepted one: its seed, scores and why."""

    seed: int
    scores: dict[str, float | None] = field(default_factory=dict)
    reason: str = ""

    def __post_init__(self) -> None:
        _set(self, "seed", check_int(self.seed, "attempt.seed", minimum=0, below=MAX_SEED))
        _set(self, "scores", check_scores(self.scores, "attempt.scores"))
        check_str(self.reason, "attempt.reason")

    def to_dict(self) -> dict[str, JSONValue]:
        """Return the JSON-ready form (:meth:`from_dict` reads it back)."""
        return fields_form(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attempt:
        """Rebuild from the output of :meth:`to_dict`."""
        with decoding("attempt", data, {"seed", "scores", "reason"}):
            return cls(seed=data["seed"], scores=data["scores"], reason=data["reason"])


@dataclass(frozen=True, slots=True, kw_only=True)
class TileRecord:
    """One generated tile of a step.

    ``tile_window`` is the world window of the 1024x1024 reference tile;
    ``write_window`` the world window of the pixels written to the canvas.
    ``band_drift`` is how much the model changed the band (``None`` = not
    measured); ``artifacts`` maps a role (``"reference"``, ``"mask"``,
    ``"raw"``, ``"final"``) to a path relative to the artifact root.
    """

    index: int
    tile_window: Window
    write_window: Window
    seed: int
    band_drift: float | None = None
    seam_scores: dict[str, float | None] = field(default_factory=dict)
    usage: Usage | None = None
    cost_usd: float | None = None
    request_id: str | None = None
    artifacts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _set(self, "index", check_int(self.index, "tile.index", minimum=0))
        check_window(self.tile_window, "tile.tile_window")
        check_window(self.write_window, "tile.write_window")
        _set(self, "seed", check_int(self.seed, "tile.seed", minimum=0, below=MAX_SEED))
        _set(self, "band_drift", check_opt_float(self.band_drift, "tile.band_drift", nonnegative=True))
        _set(self, "seam_scores", check_scores(self.seam_scores, "tile.seam_scores"))
        check_usage(self.usage, "tile.usage")
        _set(self, "cost_usd", check_opt_float(self.cost_usd, "tile.cost_usd", nonnegative=True))
        check_opt_str(self.request_id, "tile.request_id")
        _set(self, "artifacts", check_artifacts(self.artifacts, "tile.artifacts"))

    def to_dict(self) -> dict[str, JSONValue]:
        """Return the JSON-ready form (:meth:`from_dict` reads it back)."""
        return fields_form(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TileRecord:
        """Rebuild from the output of :meth:`to_dict`."""
        with decoding("tile", data, _TILE_KEYS):
            return cls(
                index=data["index"],
                tile_window=Window.from_dict(data["tile_window"]),
                write_window=Window.from_dict(data["write_window"]),
                seed=data["seed"],
                band_drift=data["band_drift"],
                seam_scores=data["seam_scores"],
                usage=load_usage(data["usage"]),
                cost_usd=data["cost_usd"],
                request_id=data["request_id"],
                artifacts=data["artifacts"],
            )


_TILE_KEYS = frozenset(TileRecord.__dataclass_fields__)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRecord:
    """Everything one growth step did; see the module docstring.

    ``prompt_sha256`` must equal
    :func:`imkerutils.exquisite.prompt.prompt_sha256` of the template name,
    version and ``prompt_text`` (checked).  ``created_at`` is an ISO-8601 UTC
    string supplied by the caller (see :func:`format_utc`).  ``cost_usd`` is
    ``None`` when the cost is unknown.  ``timings`` maps a phase to seconds.
    Records compare by value but are not hashable (they hold dicts).
    """

    step_id: str
    direction: Direction
    created_at: str
    strip_window: Window
    bounds_before: Window
    bounds_after: Window
    band_sha256: str
    result_sha256: str
    prompt_text: str
    template_name: str
    template_version: int
    prompt_sha256: str
    generator_name: str
    generator_version: str
    seed: int
    user_prompt: str = ""
    generator_params: dict[str, JSONValue] = field(default_factory=dict)
    seam_strategy: str = "exact"
    seam_params: dict[str, JSONValue] = field(default_factory=dict)
    tiles: tuple[TileRecord, ...] = ()
    usage: Usage | None = None
    cost_usd: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    qc: dict[str, float | None] = field(default_factory=dict)
    attempts: tuple[Attempt, ...] = ()
    artifacts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_step_id(self.step_id)
        try:
            _set(self, "direction", Direction.parse(self.direction))
        except ValueError as exc:
            raise error("step.direction", str(exc)) from None
        check_utc(self.created_at)
        for name in ("strip_window", "bounds_before", "bounds_after"):
            check_window(getattr(self, name), f"step.{name}")
        check_sha(self.band_sha256, "step.band_sha256")
        check_sha(self.result_sha256, "step.result_sha256")
        for name in (
            "prompt_text",
            "user_prompt",
            "template_name",
            "generator_name",
            "generator_version",
            "seam_strategy",
        ):
            check_str(getattr(self, name), f"step.{name}")
        _set(self, "template_version", check_int(self.template_version, "step.template_version", minimum=1))
        check_sha(self.prompt_sha256, "step.prompt_sha256")
        expected = prompt_sha256(self.template_name, self.template_version, self.prompt_text)
        if self.prompt_sha256 != expected:
            raise error(
                "step.prompt_sha256",
                f"does not match the prompt text and template {self.template_name}/{self.template_version} "
                f"(expected {expected})",
            )
        _set(self, "seed", check_int(self.seed, "step.seed", minimum=0, below=MAX_SEED))
        _set(
            self,
            "generator_params",
            check_json(check_mapping(self.generator_params, "step.generator_params"), "step.generator_params"),
        )
        _set(self, "seam_params", check_json(check_mapping(self.seam_params, "step.seam_params"), "step.seam_params"))
        _set(self, "tiles", check_tuple_of(self.tiles, TileRecord, "step.tiles"))
        indices = [t.index for t in self.tiles]
        if len(set(indices)) != len(indices):
            raise error("step.tiles", f"tile indices must be unique, got {indices}")
        check_usage(self.usage, "step.usage")
        _set(self, "cost_usd", check_opt_float(self.cost_usd, "step.cost_usd", nonnegative=True))
        _set(self, "timings", check_timings(self.timings, "step.timings"))
        _set(self, "qc", check_scores(self.qc, "step.qc"))
        _set(self, "attempts", check_tuple_of(self.attempts, Attempt, "step.attempts"))
        _set(self, "artifacts", check_artifacts(self.artifacts, "step.artifacts"))

    @property
    def seam_excess(self) -> float | None:
        """The worst tile's local seam excess (``qc["seam_excess"]``); ``None`` when no seam was measured."""
        return self.qc.get("seam_excess")

    def to_dict(self) -> dict[str, JSONValue]:
        """Return a JSON-ready dict in the current format (:data:`CURRENT_FORMAT`)."""
        return CURRENT_FORMAT.encode(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRecord:
        """Load a dict in any known format."""
        return detect_format(data).decode(data)

    def to_json(self, *, indent: int | None = None) -> str:
        """Strict JSON (no NaN), keys sorted, non-ASCII kept."""
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, allow_nan=False, indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> StepRecord:
        """Read a record from its JSON text (any known format)."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidRecordError(f"step record is not valid JSON: {exc}") from None
        return cls.from_dict(data)


_STEP_KEYS = frozenset(StepRecord.__dataclass_fields__)


# --- formats ----------------------------------------------------------------------------------------


class StepFormat:
    """One version of the saved step-record format."""

    version: ClassVar[str]

    def matches(self, data: Mapping[str, Any]) -> bool:
        """Whether saved ``data`` is in this format."""
        return data.get("format") == self.version

    def encode(self, record: StepRecord) -> dict[str, JSONValue]:
        """Return ``record`` as saved data in this format."""
        raise NotImplementedError

    def decode(self, data: Mapping[str, Any]) -> StepRecord:
        """Read a record from saved data in this format."""
        raise NotImplementedError


class StepFormatV1(StepFormat):
    """``imkerutils.step/1``: every :class:`StepRecord` field, windows as dicts."""

    version = "imkerutils.step/1"

    @override
    def encode(self, record: StepRecord) -> dict[str, JSONValue]:
        return {
            "format": self.version,
            "step_id": record.step_id,
            "direction": record.direction.value,
            "created_at": record.created_at,
            "strip_window": record.strip_window.to_dict(),
            "bounds_before": record.bounds_before.to_dict(),
            "bounds_after": record.bounds_after.to_dict(),
            "band_sha256": record.band_sha256,
            "result_sha256": record.result_sha256,
            "user_prompt": record.user_prompt,
            "prompt_text": record.prompt_text,
            "template_name": record.template_name,
            "template_version": record.template_version,
            "prompt_sha256": record.prompt_sha256,
            "generator_name": record.generator_name,
            "generator_version": record.generator_version,
            "generator_params": json.loads(json.dumps(record.generator_params)),
            "seed": record.seed,
            "seam_strategy": record.seam_strategy,
            "seam_params": json.loads(json.dumps(record.seam_params)),
            "tiles": [t.to_dict() for t in record.tiles],
            "usage": None if record.usage is None else record.usage.to_dict(),
            "cost_usd": record.cost_usd,
            "timings": dict(record.timings),
            "qc": dict(record.qc),
            "attempts": [a.to_dict() for a in record.attempts],
            "artifacts": dict(record.artifacts),
        }

    @override
    def decode(self, data: Mapping[str, Any]) -> StepRecord:
        with decoding("step", data, _STEP_KEYS | {"format"}):
            fields = {k: v for k, v in data.items() if k != "format"}
            for name in ("strip_window", "bounds_before", "bounds_after"):
                fields[name] = Window.from_dict(data[name])
            fields["tiles"] = tuple(TileRecord.from_dict(t) for t in check_list(data["tiles"], "step.tiles"))
            fields["attempts"] = tuple(Attempt.from_dict(a) for a in check_list(data["attempts"], "step.attempts"))
            fields["usage"] = load_usage(data["usage"])
            return StepRecord(**fields)


#: Known formats, newest first.
FORMATS: tuple[StepFormat, ...] = (StepFormatV1(),)
#: The format new records are saved in.
CURRENT_FORMAT: StepFormat = FORMATS[0]


def detect_format(data: object) -> StepFormat:
    """Return the known format that ``data`` matches, or :class:`UnknownRecordFormatError`."""
    if not isinstance(data, Mapping):
        raise InvalidRecordError(f"a step record must be a JSON object, got {type(data).__name__}")
    for fmt in FORMATS:
        if fmt.matches(data):
            return fmt
    known = ", ".join(f.version for f in FORMATS)
    raise UnknownRecordFormatError(
        f"step record format {data.get('format')!r} is not one this imkerutils can read (known: {known}); "
        "it may come from a newer version"
    )
