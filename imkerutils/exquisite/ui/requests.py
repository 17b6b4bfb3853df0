"""The JSON bodies the browser UI accepts, checked strictly before anything runs.

A body is a JSON object with known keys only, of the right types (``true`` is
not a number) and within limits; anything else raises
:class:`BadRequestError` with a message naming the field.

>>> parse_grow({"directions": ["right"], "prompt": "a harbour"}, generators={"mock"}, seams={"exact"})
GrowRequest(directions=(<Direction.RIGHT: 'right'>,), steps=1, prompt='a harbour', generator='mock', seed=0,
            seam='exact')
>>> parse_grow({"directions": []}, generators={"mock"}, seams={"exact"})
Traceback (most recent call last):
...
imkerutils.errors.BadRequestError: directions must be a non-empty list of right, left, up, down
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imkerutils.errors import BadRequestError
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

__all__ = [
    "DIRECTIONS",
    "MAX_BODY_BYTES",
    "MAX_CANDIDATES",
    "MAX_PROMPT_CHARS",
    "MAX_REGION_PX",
    "MAX_SEED",
    "MAX_STEPS",
    "SNAP_PX",
    "AcceptRequest",
    "GenerateRequest",
    "GrowRequest",
    "decode_json",
    "parse_accept",
    "parse_budget",
    "parse_generate",
    "parse_grow",
    "parse_undo",
    "snap_region",
]

DIRECTIONS = tuple(d.value for d in Direction)  # right, left, up, down
MAX_STEPS = 32
MAX_PROMPT_CHARS = 4000
MAX_SEED = 2**32 - 1
MAX_BODY_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class GrowRequest:
    """A validated ``POST /api/grow`` body."""

    directions: tuple[Direction, ...]
    steps: int
    prompt: str
    generator: str
    seed: int
    seam: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (:meth:`from_dict` reads it back)."""
        return {
            "directions": [d.value for d in self.directions],
            "steps": self.steps,
            "prompt": self.prompt,
            "generator": self.generator,
            "seed": self.seed,
            "seam": self.seam,
        }


def decode_json(body: bytes) -> dict[str, Any]:
    """Return the JSON object in ``body`` (UTF-8)."""
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


def _directions(data: Mapping[str, Any]) -> tuple[Direction, ...]:
    """Return the body's directions, parsed here once (the pipeline takes :class:`Direction`)."""
    directions = data.get("directions")
    if (
        not isinstance(directions, list)
        or not directions
        or not all(isinstance(d, str) and d in DIRECTIONS for d in directions)
    ):
        raise BadRequestError("directions must be a non-empty list of right, left, up, down")
    if len(set(directions)) != len(directions):
        raise BadRequestError(f"directions must not repeat, got {directions!r}")
    return tuple(Direction(d) for d in directions)


def _prompt(data: Mapping[str, Any]) -> str:
    prompt = data.get("prompt", "")
    if not isinstance(prompt, str):
        raise BadRequestError(f"prompt must be a string, got {type(prompt).__name__}")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise BadRequestError(f"prompt is {len(prompt)} characters long; at most {MAX_PROMPT_CHARS} are allowed")
    if "\x00" in prompt:
        raise BadRequestError("prompt must not contain NUL characters")
    return prompt


def parse_grow(
    data: Mapping[str, Any], *, generators: Collection[str], seams: Collection[str], default_generator: str = "mock"
) -> GrowRequest:
    """Check a grow body: ``directions`` (required), ``steps``, ``prompt``, ``generator``, ``seed``, ``seam``."""
    _check_keys(data, ("directions", "steps", "prompt", "generator", "seed", "seam"))
    return GrowRequest(
        directions=_directions(data),
        steps=_int(data, "steps", 1, 1, MAX_STEPS),
        prompt=_prompt(data),
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


# -- drawn regions, staged candidates, cancel and budget (issue 15) -------------------------------------------
SNAP_PX = 64  # a drawn box's edges snap to this grid of world pixels, or to the canvas's own edges
MAX_REGION_PX = 4096  # longest side of a drawn region, or of an --along stretch, in px
MAX_CANDIDATES = 8
MAX_BUDGET_USD = 1e6


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """A validated ``POST /api/plan`` or ``POST /api/generate`` body.

    Either ``region`` (a box drawn on the viewer, already snapped) or ``directions`` with ``by`` px and
    optionally ``along = (start, length)`` (the CLI's ``grow --by --along`` stretch of one edge).
    """

    region: Window | None
    directions: tuple[Direction, ...]
    by: int
    along: tuple[int, int] | None
    candidates: int
    prompt: str
    generator: str
    seed: int
    seam: str
    steps: int = 1  # staged generation is always one step (one proposal)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (:meth:`from_dict` reads it back)."""
        return {
            "kind": "generate",
            "region": None if self.region is None else _xywh(self.region),
            "directions": [d.value for d in self.directions],
            "by": self.by,
            "along": None if self.along is None else list(self.along),
            "candidates": self.candidates,
            "steps": self.steps,
            "prompt": self.prompt,
            "generator": self.generator,
            "seed": self.seed,
            "seam": self.seam,
        }


@dataclass(frozen=True, slots=True)
class AcceptRequest:
    """A staged candidate to commit (``POST /api/staged/{id}/accept``), shown as a job while it commits."""

    proposal: str
    candidate: int
    steps: int = 1

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (:meth:`from_dict` reads it back)."""
        return {
            "kind": "accept",
            "proposal": self.proposal,
            "candidate": self.candidate,
            "directions": [],
            "steps": self.steps,
            "prompt": "",
            "generator": "",
        }


def _xywh(w: Window) -> dict[str, int]:
    return {"x": w.col_off, "y": w.row_off, "width": w.width, "height": w.height}


def _snap(value: int, edges: Collection[int]) -> int:
    """``value`` moved to the nearest multiple of :data:`SNAP_PX` or of ``edges`` (ties: the lower)."""
    grid = (value // SNAP_PX) * SNAP_PX
    options = [grid, grid + SNAP_PX, *edges]
    return min(options, key=lambda e: (abs(e - value), e))


def snap_region(region: Window, bounds: Window) -> Window:
    """Return a drawn box snapped to what the generator plans with: edges on the 64-px grid or on the canvas's edges.

    >>> snap_region(Window(10, 1000, 300, 200), Window(0, 0, 1000, 1000))
    Window(row_off=0, col_off=1000, height=320, width=216)
    """
    cols = (bounds.col_off, bounds.col_end) if not bounds.is_empty else ()
    rows = (bounds.row_off, bounds.row_end) if not bounds.is_empty else ()
    left, right = _snap(region.col_off, cols), _snap(region.col_end, cols)
    top, bottom = _snap(region.row_off, rows), _snap(region.row_end, rows)
    if right <= left:
        right = _next(left, cols)
    if bottom <= top:
        bottom = _next(top, rows)
    return Window(top, left, bottom - top, right - left)


def _next(value: int, edges: Collection[int]) -> int:
    """Return the first grid line or edge after ``value`` (a box drawn too thin to snap keeps one cell)."""
    return min(e for e in ((value // SNAP_PX + 1) * SNAP_PX, *edges) if e > value)


def _box(data: Mapping[str, Any]) -> Window:
    box = data.get("region")
    if not isinstance(box, dict) or set(box) != {"x", "y", "width", "height"}:
        raise BadRequestError("region must be an object with x, y, width and height (world pixels)")
    x, y = (_int(box, k, 0, -(2**40), 2**40) for k in ("x", "y"))
    w, h = (_int(box, k, 1, 1, MAX_REGION_PX) for k in ("width", "height"))
    return Window(y, x, h, w)


def parse_generate(
    data: Mapping[str, Any],
    *,
    bounds: Window,
    generators: Collection[str],
    seams: Collection[str],
    default_generator: str = "mock",
) -> GenerateRequest:
    """Check a plan / generate body and return it parsed.

    The body holds ``region`` {x, y, width, height}, or ``directions`` [one or more] with ``by`` and (one
    direction) ``along`` [start, length]; and ``candidates``, ``prompt``, ``generator``, ``seed``, ``seam``.
    A region is snapped with :func:`snap_region` against ``bounds`` unless ``snap`` is
    false (trying more candidates of a staged region keeps that region exactly).
    """
    _check_keys(
        data, ("region", "snap", "directions", "by", "along", "candidates", "prompt", "generator", "seed", "seam")
    )
    snap = data.get("snap", True)
    if not isinstance(snap, bool):
        raise BadRequestError(f"snap must be true or false, got {snap!r}")
    if ("region" in data) == ("directions" in data):
        raise BadRequestError("give either region (a drawn box) or directions (an edge to grow), not both")
    region: Window | None = None
    directions: tuple[Direction, ...] = ()
    along: tuple[int, int] | None = None
    if "region" in data:
        if "by" in data or "along" in data:
            raise BadRequestError("by and along go with directions, not with a region")
        region = snap_region(_box(data), bounds) if snap else _box(data)
        if max(region.width, region.height) > MAX_REGION_PX:
            raise BadRequestError(f"a region may be at most {MAX_REGION_PX} px on a side")
    else:
        directions = _directions(data)
        raw = data.get("along")
        if raw is not None:
            if (
                not isinstance(raw, list)
                or len(raw) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) for v in raw)
            ):
                raise BadRequestError(f"along must be [start, length] (whole numbers), got {raw!r}")
            if len(directions) != 1:
                raise BadRequestError("along grows a stretch of ONE edge: name exactly one direction")
            if not 1 <= raw[1] <= MAX_REGION_PX or abs(raw[0]) > 2**40:
                raise BadRequestError(f"along's length must be from 1 to {MAX_REGION_PX} px, got {raw[1]!r}")
            along = (raw[0], raw[1])
    return GenerateRequest(
        region=region,
        directions=directions,
        by=_int(data, "by", 512, 1, MAX_REGION_PX),
        along=along,
        candidates=_int(data, "candidates", 3, 1, MAX_CANDIDATES),
        prompt=_prompt(data),
        generator=_choice(data, "generator", default_generator, generators),
        seed=_int(data, "seed", 0, 0, MAX_SEED),
        seam=_choice(data, "seam", "exact", seams),
    )


def parse_accept(data: Mapping[str, Any]) -> int:
    """Check an accept body: ``candidate``, the number of the staged candidate to commit."""
    _check_keys(data, ("candidate",))
    return _int(data, "candidate", 0, 0, MAX_CANDIDATES - 1)


def parse_budget(data: Mapping[str, Any]) -> float | None:
    """Check a budget body: ``budget_usd``, a non-negative number of dollars, or null for no limit."""
    _check_keys(data, ("budget_usd",))
    if "budget_usd" not in data:
        raise BadRequestError("budget_usd is required (a number of dollars, or null for no limit)")
    value = data["budget_usd"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_BUDGET_USD:
        raise BadRequestError(f"budget_usd must be a number of dollars from 0 to {MAX_BUDGET_USD:g}, got {value!r}")
    return float(value)
