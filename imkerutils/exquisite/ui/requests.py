"""The JSON bodies the browser UI accepts, checked strictly before anything runs.

A body is a JSON object with known keys only, of the right types (``true`` is
not a number) and within limits; anything else raises
:class:`BadRequestError` with a message naming the field.

>>> parse_grow({"directions": ["right"], "prompt": "a harbour"}, generators={"mock"}, seams={"exact"})
GrowRequest(directions=('right',), steps=1, prompt='a harbour', generator='mock', seed=0, seam='exact')
>>> parse_grow({"directions": []}, generators={"mock"}, seams={"exact"})
Traceback (most recent call last):
...
imkerutils.exquisite.ui.requests.BadRequestError: directions must be a non-empty list of right, left, up, down
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from imkerutils.errors import BadRequestError

__all__ = [
    "DIRECTIONS",
    "MAX_BODY_BYTES",
    "MAX_PROMPT_CHARS",
    "MAX_SEED",
    "MAX_STEPS",
    "BadRequestError",
    "GrowRequest",
    "decode_json",
    "parse_grow",
    "parse_undo",
]

DIRECTIONS = ("right", "left", "up", "down")
MAX_STEPS = 32
MAX_PROMPT_CHARS = 4000
MAX_SEED = 2**32 - 1
MAX_BODY_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class GrowRequest:
    """A validated ``POST /api/grow`` body."""

    directions: tuple[str, ...]
    steps: int
    prompt: str
    generator: str
    seed: int
    seam: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "directions": list(self.directions),
            "steps": self.steps,
            "prompt": self.prompt,
            "generator": self.generator,
            "seed": self.seed,
            "seam": self.seam,
        }


def decode_json(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body`` (UTF-8)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequestError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequestError(f"the request body must be a JSON object, got {type(data).__name__}")
    return data


def _check_keys(data: Mapping[str, Any], allowed: Collection[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise BadRequestError(f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")


def _int(data: Mapping[str, Any], name: str, default: int, least: int, most: int) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise BadRequestError(f"{name} must be a whole number from {least} to {most}, got {value!r}")
    return value


def _choice(data: Mapping[str, Any], name: str, default: str, choices: Collection[str]) -> str:
    value = data.get(name, default)
    if not isinstance(value, str) or value not in choices:
        raise BadRequestError(f"{name} must be one of {', '.join(sorted(choices))}; got {value!r}")
    return value


def parse_grow(
    data: Mapping[str, Any], *, generators: Collection[str], seams: Collection[str], default_generator: str = "mock"
) -> GrowRequest:
    """Check a grow body: ``directions`` (required), ``steps``, ``prompt``, ``generator``, ``seed``, ``seam``."""
    _check_keys(data, ("directions", "steps", "prompt", "generator", "seed", "seam"))
    directions = data.get("directions")
    if (
        not isinstance(directions, list)
        or not directions
        or not all(isinstance(d, str) and d in DIRECTIONS for d in directions)
    ):
        raise BadRequestError("directions must be a non-empty list of right, left, up, down")
    if len(set(directions)) != len(directions):
        raise BadRequestError(f"directions must not repeat, got {directions!r}")
    prompt = data.get("prompt", "")
    if not isinstance(prompt, str):
        raise BadRequestError(f"prompt must be a string, got {type(prompt).__name__}")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise BadRequestError(f"prompt is {len(prompt)} characters long; at most {MAX_PROMPT_CHARS} are allowed")
    if "\x00" in prompt:
        raise BadRequestError("prompt must not contain NUL characters")
    return GrowRequest(
        directions=tuple(directions),
        steps=_int(data, "steps", 1, 1, MAX_STEPS),
        prompt=prompt,
        generator=_choice(data, "generator", default_generator, generators),
        seed=_int(data, "seed", 0, 0, MAX_SEED),
        seam=_choice(data, "seam", "exact", seams),
    )


def parse_undo(data: Mapping[str, Any]) -> int | None:
    """Check an undo/redo body: optional ``head``, the step count the page saw (refused if stale)."""
    _check_keys(data, ("head",))
    if "head" not in data:
        return None
    return _int(data, "head", 0, 0, 2**53)
