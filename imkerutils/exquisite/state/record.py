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
as ``None``.

>>> from imkerutils.tiling.window import Window
>>> t = TileRecord(index=0, tile_window=Window(0, 512, 1024, 1024),
...                write_window=Window(0, 1024, 1024, 512), seed=7)
>>> TileRecord.from_dict(t.to_dict()) == t
True
"""

from __future__ import annotations

import json
import math
import numbers
import operator
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, ClassVar

from imkerutils.errors import InvalidRecordError, UnknownRecordFormatError
from imkerutils.exquisite.api.base import Usage
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.exquisite.prompt.templates import prompt_sha256
from imkerutils.tiling.window import Window

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

JSONValue = Any  # None | bool | int | float | str | list[JSONValue] | dict[str, JSONValue]


# --- field validation -------------------------------------------------------------------------------

_STEP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MAX_SEED = 2**63


def check_step_id(step_id: object) -> str:
    """Return ``step_id`` if it is a safe directory name (letters, digits, ``.``, ``_``, ``-``).

    >>> check_step_id("000042-right")
    '000042-right'
    """
    if not isinstance(step_id, str) or not _STEP_ID.fullmatch(step_id) or len(step_id) > 128:
        raise InvalidRecordError(
            f"step id must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit; got {step_id!r}"
        )
    return step_id


def format_utc(moment: datetime) -> str:
    """``moment`` (timezone-aware) as an ISO-8601 UTC string with microseconds and a ``Z``.

    >>> from datetime import datetime, timezone, timedelta
    >>> format_utc(datetime(2025, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1))))
    '2025-01-02T03:04:05.000000Z'
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidRecordError("format_utc needs a timezone-aware datetime")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _err(where: str, problem: str) -> InvalidRecordError:
    return InvalidRecordError(f"{where}: {problem}")


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _err(where, f"must be a string, got {value!r}")
    return value


def _opt_str(value: object, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _int(value: object, where: str, *, minimum: int | None = None, below: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _err(where, f"must be an integer, got {value!r}")
    n = operator.index(value)
    if (minimum is not None and n < minimum) or (below is not None and n >= below):
        raise _err(where, f"must be in [{minimum}, {below}), got {n}")
    return n


def _float(value: object, where: str, *, nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _err(where, f"must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise _err(where, f"must be finite (record an undefined value as None), got {x}")
    if nonnegative and x < 0:
        raise _err(where, f"must not be negative, got {x}")
    return x


def _opt_float(value: object, where: str, *, nonnegative: bool = False) -> float | None:
    return None if value is None else _float(value, where, nonnegative=nonnegative)


def _sha(value: object, where: str) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise _err(where, f"must be 64 lowercase hex digits, got {value!r}")
    return value


def _window(value: object, where: str) -> Window:
    if not isinstance(value, Window):
        raise _err(where, f"must be a Window, got {value!r}")
    return value


def _usage(value: object, where: str) -> Usage | None:
    if value is not None and not isinstance(value, Usage):
        raise _err(where, f"must be a Usage or None, got {value!r}")
    return value


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _err(where, f"must be a mapping with string keys, got {value!r}")
    return value


def _scores(value: object, where: str) -> dict[str, float | None]:
    return {k: _opt_float(v, f"{where}[{k!r}]") for k, v in _mapping(value, where).items()}


def _timings(value: object, where: str) -> dict[str, float]:
    return {k: _float(v, f"{where}[{k!r}]", nonnegative=True) for k, v in _mapping(value, where).items()}


def _artifacts(value: object, where: str) -> dict[str, str]:
    out = {}
    for role, path in _mapping(value, where).items():
        p = _str(path, f"{where}[{role!r}]")
        parts = PurePosixPath(p).parts
        if not p or p.startswith("/") or "\\" in p or ":" in p or ".." in parts:
            raise _err(f"{where}[{role!r}]", f"must be a relative POSIX path inside the root, got {p!r}")
        out[role] = p
    return out


def _json(value: object, where: str) -> JSONValue:
    """A JSON-safe copy of ``value``: tuples become lists, NumPy scalars plain numbers."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return _float(value, where)
    if isinstance(value, Mapping):
        return {k: _json(v, f"{where}[{k!r}]") for k, v in _mapping(value, where).items()}
    if isinstance(value, list | tuple):
        return [_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise _err(where, f"{type(value).__name__} is not JSON-serialisable")


def _tuple_of(value: object, kind: type, where: str) -> tuple[Any, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, kind) for v in value):
        raise _err(where, f"must be a sequence of {kind.__name__}, got {value!r}")
    return tuple(value)


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
        _set(self, "seed", _int(self.seed, "attempt.seed", minimum=0, below=_MAX_SEED))
        _set(self, "scores", _scores(self.scores, "attempt.scores"))
        _str(self.reason, "attempt.reason")

    def to_dict(self) -> dict[str, JSONValue]:
        return {"seed": self.seed, "scores": dict(self.scores), "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attempt:
        with _decoding("attempt", data, {"seed", "scores", "reason"}):
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
        _set(self, "index", _int(self.index, "tile.index", minimum=0))
        _window(self.tile_window, "tile.tile_window")
        _window(self.write_window, "tile.write_window")
        _set(self, "seed", _int(self.seed, "tile.seed", minimum=0, below=_MAX_SEED))
        _set(self, "band_drift", _opt_float(self.band_drift, "tile.band_drift", nonnegative=True))
        _set(self, "seam_scores", _scores(self.seam_scores, "tile.seam_scores"))
        _usage(self.usage, "tile.usage")
        _set(self, "cost_usd", _opt_float(self.cost_usd, "tile.cost_usd", nonnegative=True))
        _opt_str(self.request_id, "tile.request_id")
        _set(self, "artifacts", _artifacts(self.artifacts, "tile.artifacts"))

    def to_dict(self) -> dict[str, JSONValue]:
        return {
            "index": self.index,
            "tile_window": self.tile_window.to_dict(),
            "write_window": self.write_window.to_dict(),
            "seed": self.seed,
            "band_drift": self.band_drift,
            "seam_scores": dict(self.seam_scores),
            "usage": None if self.usage is None else self.usage.to_dict(),
            "cost_usd": self.cost_usd,
            "request_id": self.request_id,
            "artifacts": dict(self.artifacts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TileRecord:
        with _decoding("tile", data, _TILE_KEYS):
            return cls(
                index=data["index"],
                tile_window=Window.from_dict(data["tile_window"]),
                write_window=Window.from_dict(data["write_window"]),
                seed=data["seed"],
                band_drift=data["band_drift"],
                seam_scores=data["seam_scores"],
                usage=_load_usage(data["usage"]),
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
            raise _err("step.direction", str(exc)) from None
        _check_utc(self.created_at)
        for name in ("strip_window", "bounds_before", "bounds_after"):
            _window(getattr(self, name), f"step.{name}")
        _sha(self.band_sha256, "step.band_sha256")
        _sha(self.result_sha256, "step.result_sha256")
        for name in (
            "prompt_text",
            "user_prompt",
            "template_name",
            "generator_name",
            "generator_version",
            "seam_strategy",
        ):
            _str(getattr(self, name), f"step.{name}")
        _set(self, "template_version", _int(self.template_version, "step.template_version", minimum=1))
        _sha(self.prompt_sha256, "step.prompt_sha256")
        expected = prompt_sha256(self.template_name, self.template_version, self.prompt_text)
        if self.prompt_sha256 != expected:
            raise _err(
                "step.prompt_sha256",
                f"does not match the prompt text and template {self.template_name}/{self.template_version} "
                f"(expected {expected})",
            )
        _set(self, "seed", _int(self.seed, "step.seed", minimum=0, below=_MAX_SEED))
        _set(
            self,
            "generator_params",
            _json(_mapping(self.generator_params, "step.generator_params"), "step.generator_params"),
        )
        _set(self, "seam_params", _json(_mapping(self.seam_params, "step.seam_params"), "step.seam_params"))
        _set(self, "tiles", _tuple_of(self.tiles, TileRecord, "step.tiles"))
        indices = [t.index for t in self.tiles]
        if len(set(indices)) != len(indices):
            raise _err("step.tiles", f"tile indices must be unique, got {indices}")
        _usage(self.usage, "step.usage")
        _set(self, "cost_usd", _opt_float(self.cost_usd, "step.cost_usd", nonnegative=True))
        _set(self, "timings", _timings(self.timings, "step.timings"))
        _set(self, "qc", _scores(self.qc, "step.qc"))
        _set(self, "attempts", _tuple_of(self.attempts, Attempt, "step.attempts"))
        _set(self, "artifacts", _artifacts(self.artifacts, "step.artifacts"))

    def to_dict(self) -> dict[str, JSONValue]:
        """A JSON-ready dict in the current format (:data:`CURRENT_FORMAT`)."""
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
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidRecordError(f"step record is not valid JSON: {exc}") from None
        return cls.from_dict(data)


_STEP_KEYS = frozenset(StepRecord.__dataclass_fields__)


def _check_utc(value: object) -> None:
    text = _str(value, "step.created_at")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _err("step.created_at", f"must be an ISO-8601 timestamp, got {text!r}") from None
    offset = moment.utcoffset()
    if offset is None or offset.total_seconds() != 0:
        raise _err("step.created_at", f"must be in UTC (end in 'Z' or '+00:00'), got {text!r}")


def _load_usage(data: object) -> Usage | None:
    if data is None:
        return None
    usage_keys = {"input_text_tokens", "input_image_tokens", "output_tokens"}
    with _decoding("usage", data, usage_keys):
        assert isinstance(data, Mapping)  # checked by _decoding
        return Usage(**{k: _int(v, f"usage.{k}", minimum=0) for k, v in data.items()})


@contextmanager
def _decoding(what: str, data: object, keys: Iterable[str]) -> Iterator[None]:
    """Check ``data``'s keys, and turn any error while decoding it into InvalidRecordError."""
    if not isinstance(data, Mapping):
        raise _err(what, f"expected a JSON object, got {type(data).__name__}")
    missing, unknown = set(keys) - set(data), set(data) - set(keys)
    if missing or unknown:
        raise _err(what, f"missing field(s) {sorted(missing)}, unknown field(s) {sorted(unknown)}")
    try:
        yield
    except InvalidRecordError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _err(what, f"{type(exc).__name__}: {exc}") from exc


# --- formats ----------------------------------------------------------------------------------------


class StepFormat:
    """One version of the saved step-record format."""

    version: ClassVar[str]

    def matches(self, data: Mapping[str, Any]) -> bool:
        """Whether saved ``data`` is in this format."""
        return data.get("format") == self.version

    def encode(self, record: StepRecord) -> dict[str, JSONValue]:
        raise NotImplementedError

    def decode(self, data: Mapping[str, Any]) -> StepRecord:
        raise NotImplementedError


class StepFormatV1(StepFormat):
    """``imkerutils.step/1``: every :class:`StepRecord` field, windows as dicts."""

    version = "imkerutils.step/1"

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

    def decode(self, data: Mapping[str, Any]) -> StepRecord:
        with _decoding("step", data, _STEP_KEYS | {"format"}):
            fields = {k: v for k, v in data.items() if k != "format"}
            for name in ("strip_window", "bounds_before", "bounds_after"):
                fields[name] = Window.from_dict(data[name])
            fields["tiles"] = tuple(TileRecord.from_dict(t) for t in _list(data["tiles"], "step.tiles"))
            fields["attempts"] = tuple(Attempt.from_dict(a) for a in _list(data["attempts"], "step.attempts"))
            fields["usage"] = _load_usage(data["usage"])
            return StepRecord(**fields)


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _err(where, f"must be a JSON array, got {value!r}")
    return value


#: Known formats, newest first.
FORMATS: tuple[StepFormat, ...] = (StepFormatV1(),)
#: The format new records are saved in.
CURRENT_FORMAT: StepFormat = FORMATS[0]


def detect_format(data: object) -> StepFormat:
    """The known format that ``data`` matches, or :class:`UnknownRecordFormatError`."""
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
