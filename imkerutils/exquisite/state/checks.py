"""Checks for the fields of step records, and the decoding helpers their ``from_dict`` methods share.

Each ``check_*`` takes a value and where it sits in the record (``"tile.seed"``), and returns the value,
normalised (NumPy integers become ``int``, tuples of JSON values become lists), or raises
:class:`~imkerutils.errors.InvalidRecordError` naming the field.  :func:`decoding` checks a saved object's
keys and turns any error while decoding it into the same error.  :mod:`.record` holds the records themselves.
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from imkerutils.errors import InvalidRecordError, InvalidStepIdError
from imkerutils.exquisite.api.base import Usage
from imkerutils.tiling.journal import check_step_id as journal_step_id
from imkerutils.tiling.window import Window

__all__ = [
    "MAX_SEED",
    "JSONValue",
    "check_artifacts",
    "check_float",
    "check_int",
    "check_json",
    "check_list",
    "check_mapping",
    "check_opt_float",
    "check_opt_str",
    "check_scores",
    "check_sha",
    "check_step_id",
    "check_str",
    "check_timings",
    "check_tuple_of",
    "check_usage",
    "check_utc",
    "check_window",
    "decoding",
    "error",
    "format_utc",
    "load_usage",
]

JSONValue = Any  # None | bool | int | float | str | list[JSONValue] | dict[str, JSONValue]

_SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_SEED = 2**63  # seeds are below this (they fit a signed 64-bit integer)


def check_step_id(step_id: object) -> str:
    """Return ``step_id`` if it is a safe directory name (letters, digits, ``.``, ``_``, ``-``).

    >>> check_step_id("000042-right")
    '000042-right'
    """
    try:
        return journal_step_id(step_id)  # the journal names its entries by the same rule: one id per step
    except InvalidStepIdError as exc:
        raise InvalidRecordError(str(exc)) from None


def format_utc(moment: datetime) -> str:
    """``moment`` (timezone-aware) as an ISO-8601 UTC string with microseconds and a ``Z``.

    >>> from datetime import datetime, timezone, timedelta
    >>> format_utc(datetime(2025, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1))))
    '2025-01-02T03:04:05.000000Z'
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidRecordError("format_utc needs a timezone-aware datetime")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def error(where: str, problem: str) -> InvalidRecordError:
    """Return the error for field ``where``: ``"<where>: <problem>"``."""
    return InvalidRecordError(f"{where}: {problem}")


def check_str(value: object, where: str) -> str:
    """Check that ``value`` is a string."""
    if not isinstance(value, str):
        raise error(where, f"must be a string, got {value!r}")
    return value


def check_opt_str(value: object, where: str) -> str | None:
    """Check that ``value`` is a string or ``None``."""
    return None if value is None else check_str(value, where)


def check_int(value: object, where: str, *, minimum: int | None = None, below: int | None = None) -> int:
    """Check that ``value`` is an integer (not a bool) in ``[minimum, below)``, as a plain ``int``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise error(where, f"must be an integer, got {value!r}")
    n = operator.index(value)
    if (minimum is not None and n < minimum) or (below is not None and n >= below):
        raise error(where, f"must be in [{minimum}, {below}), got {n}")
    return n


def check_float(value: object, where: str, *, nonnegative: bool = False) -> float:
    """Check that ``value`` is a finite real number (not a bool), as a ``float``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(where, f"must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise error(where, f"must be finite (record an undefined value as None), got {x}")
    if nonnegative and x < 0:
        raise error(where, f"must not be negative, got {x}")
    return x


def check_opt_float(value: object, where: str, *, nonnegative: bool = False) -> float | None:
    """Check that ``value`` is a finite real number or ``None``."""
    return None if value is None else check_float(value, where, nonnegative=nonnegative)


def check_sha(value: object, where: str) -> str:
    """Check that ``value`` is a SHA-256 as 64 lowercase hex digits."""
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise error(where, f"must be 64 lowercase hex digits, got {value!r}")
    return value


def check_window(value: object, where: str) -> Window:
    """Check that ``value`` is a :class:`~imkerutils.tiling.window.Window`."""
    if not isinstance(value, Window):
        raise error(where, f"must be a Window, got {value!r}")
    return value


def check_usage(value: object, where: str) -> Usage | None:
    """Check that ``value`` is a :class:`~imkerutils.exquisite.api.base.Usage` or ``None``."""
    if value is not None and not isinstance(value, Usage):
        raise error(where, f"must be a Usage or None, got {value!r}")
    return value


def check_mapping(value: object, where: str) -> Mapping[str, Any]:
    """Check that ``value`` is a mapping with string keys."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise error(where, f"must be a mapping with string keys, got {value!r}")
    return value


def check_scores(value: object, where: str) -> dict[str, float | None]:
    """Scores by name: finite numbers or ``None``."""
    return {k: check_opt_float(v, f"{where}[{k!r}]") for k, v in check_mapping(value, where).items()}


def check_timings(value: object, where: str) -> dict[str, float]:
    """Seconds by phase: finite, not negative."""
    return {k: check_float(v, f"{where}[{k!r}]", nonnegative=True) for k, v in check_mapping(value, where).items()}


def check_artifacts(value: object, where: str) -> dict[str, str]:
    """Artifact paths by role: relative POSIX paths that stay inside the artifact root."""
    out = {}
    for role, path in check_mapping(value, where).items():
        p = check_str(path, f"{where}[{role!r}]")
        parts = PurePosixPath(p).parts
        if not p or p.startswith("/") or "\\" in p or ":" in p or ".." in parts:
            raise error(f"{where}[{role!r}]", f"must be a relative POSIX path inside the root, got {p!r}")
        out[role] = p
    return out


def check_json(value: object, where: str) -> JSONValue:
    """Check that ``value`` is JSON-safe and return a copy: tuples become lists, NumPy scalars plain numbers."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return check_float(value, where)
    if isinstance(value, Mapping):
        return {k: check_json(v, f"{where}[{k!r}]") for k, v in check_mapping(value, where).items()}
    if isinstance(value, list | tuple):
        return [check_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise error(where, f"{type(value).__name__} is not JSON-serialisable")


def check_tuple_of(value: object, kind: type, where: str) -> tuple[Any, ...]:
    """Check that ``value`` is a list or tuple of ``kind`` instances, as a tuple."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, kind) for v in value):
        raise error(where, f"must be a sequence of {kind.__name__}, got {value!r}")
    return tuple(value)


def check_utc(value: object) -> None:
    """Check a step's ``created_at``: an ISO-8601 timestamp in UTC."""
    text = check_str(value, "step.created_at")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise error("step.created_at", f"must be an ISO-8601 timestamp, got {text!r}") from None
    offset = moment.utcoffset()
    if offset is None or offset.total_seconds() != 0:
        raise error("step.created_at", f"must be in UTC (end in 'Z' or '+00:00'), got {text!r}")


def load_usage(data: object) -> Usage | None:
    """Return a saved :class:`~imkerutils.exquisite.api.base.Usage` (or ``None``), decoded and checked."""
    if data is None:
        return None
    usage_keys = {"input_text_tokens", "input_image_tokens", "output_tokens"}
    with decoding("usage", data, usage_keys):
        assert isinstance(data, Mapping)  # checked by decoding
        return Usage(**{k: check_int(v, f"usage.{k}", minimum=0) for k, v in data.items()})


@contextmanager
def decoding(what: str, data: object, keys: Iterable[str]) -> Iterator[None]:
    """Check ``data``'s keys, and turn any error while decoding it into InvalidRecordError."""
    if not isinstance(data, Mapping):
        raise error(what, f"expected a JSON object, got {type(data).__name__}")
    missing, unknown = set(keys) - set(data), set(data) - set(keys)
    if missing or unknown:
        raise error(what, f"missing field(s) {sorted(missing)}, unknown field(s) {sorted(unknown)}")
    try:
        yield
    except InvalidRecordError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise error(what, f"{type(exc).__name__}: {exc}") from exc


def check_list(value: object, where: str) -> list[Any]:
    """Check that ``value`` is a JSON array."""
    if not isinstance(value, list):
        raise error(where, f"must be a JSON array, got {value!r}")
    return value
