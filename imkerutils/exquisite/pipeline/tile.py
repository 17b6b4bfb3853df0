"""One tile of a growth step: reference, generation, checks, seam strategy, QC."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from imkerutils.errors import (
    GeneratorOutputError,
    GeometryError,
    InvalidTileError,
    StepCancelledError,
    StepRejectedError,
)
from imkerutils.exquisite.api.base import TileGenerator, TileRequest, TileResult, Usage
from imkerutils.exquisite.geometry.band import build_reference
from imkerutils.exquisite.geometry.blend import apply_seam
from imkerutils.exquisite.geometry.direction import Direction, contiguous, from_right, right_facing
from imkerutils.exquisite.geometry.glue import compose, new_pixels
from imkerutils.exquisite.geometry.seam import SeamScores, seam_scores
from imkerutils.exquisite.pipeline.qc import Candidate, QCHook, Verdict, candidate_score
from imkerutils.exquisite.state.record import Attempt
from imkerutils.tiling.window import Window, intersection

if TYPE_CHECKING:
    from collections.abc import Callable

    from imkerutils.exquisite.geometry.batch import BatchTile, TileKey
    from imkerutils.exquisite.geometry.plan import TilePlan
    from imkerutils.exquisite.prompt.templates import RenderedPrompt

_NO_IMAGE = np.empty((0, 0), dtype=np.uint8)  # what TileOutcome.without_images leaves in place of each image
_NO_IMAGE.flags.writeable = False

__all__ = [
    "Drawn",
    "DrawnOutcome",
    "PlannedTile",
    "TileOutcome",
    "TileSettings",
    "add_usage",
    "assemble_tile",
    "derive_seed",
    "draw_tile",
    "run_tile",
    "scores_dict",
]


def derive_seed(*parts: object) -> int:
    """Return a 63-bit seed that depends only on ``parts`` (same inputs, same seed, any machine)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class TileSettings:
    """What every tile of a step shares (:class:`~.step.GrowSettings` adds what the step itself needs).

    ``prompt`` is the user's text; each :class:`PlannedTile` carries the prompt rendered for its direction.
    """

    prompt: str = ""
    seed: int = 0
    seam: str = "exact"
    seam_width: int = 64
    fill: str = "edge"
    candidates: int = 1
    max_retries: int = 2
    qc: QCHook | None = None


@dataclass(frozen=True)
class PlannedTile:
    """A tile of a growth step as planned once: its place in the batch and the prompt it is drawn with."""

    tile: BatchTile
    prompt: RenderedPrompt

    @property
    def key(self) -> TileKey:
        """Return the tile's key in its batch."""
        return self.tile.key

    @property
    def plan(self) -> TilePlan:
        """Return the tile's edge-plan tile."""
        return self.tile.plan

    @property
    def depends_on(self) -> tuple[TileKey, ...]:
        """Return the keys of the tiles whose new pixels this one keeps."""
        return self.tile.depends_on


def scores_dict(scores: SeamScores | None) -> dict[str, float | None]:
    """``scores`` as a record stores them: numbers as floats, ``{}`` when the seam could not be measured."""
    if scores is None:
        return {}
    return {k: None if v is None else float(v) for k, v in scores.to_dict().items()}


@dataclass(kw_only=True)
class DrawnOutcome:
    """The accepted result of one drawn tile, grow's (:class:`TileOutcome`) or fill's: what a step record keeps."""

    seed: int
    reference: np.ndarray
    generate: np.ndarray
    raw: np.ndarray
    final: np.ndarray
    scores: SeamScores | None
    band_drift: float | None
    usage: Usage | None
    cost_usd: float | None
    request_id: str | None
    seconds: float
    rejected: list[Attempt] = field(default_factory=list)

    @classmethod
    def of(cls, drawn: Drawn, reference: np.ndarray, generate: np.ndarray, started: float, **own: Any) -> Self:
        """Return the outcome of ``drawn`` (begun at ``perf_counter()`` ``started``); ``own``: the subclass's fields."""
        b = drawn.best
        return cls(
            seed=b.seed,
            reference=reference,
            generate=generate,
            raw=drawn.raw,
            final=b.image,
            scores=b.seam,
            band_drift=b.band_drift,
            usage=drawn.usage,
            cost_usd=drawn.cost_usd,
            request_id=drawn.request_id,
            seconds=time.perf_counter() - started,
            rejected=drawn.rejected,
            **own,
        )


@dataclass
class TileOutcome(DrawnOutcome):
    """The accepted result of one tile of a growth step."""

    plan: TilePlan
    new_pixels: np.ndarray  # the pixels of plan.write_window

    def without_images(self) -> TileOutcome:
        """Return this outcome without its tile-sized images (reference, mask, raw, final), once they are spooled.

        What a commit and the tiles depending on this one need stays: the plan, ``new_pixels`` and the scores.
        """
        return replace(self, reference=_NO_IMAGE, generate=_NO_IMAGE, raw=_NO_IMAGE, final=_NO_IMAGE)


def add_usage(a: Usage | None, b: Usage | None) -> Usage | None:
    """Sum two token counts (``None`` = nothing reported)."""
    if a is None or b is None:
        return a if b is None else b
    return Usage(
        a.input_text_tokens + b.input_text_tokens,
        a.input_image_tokens + b.input_image_tokens,
        a.output_tokens + b.output_tokens,
    )


def _window_in(tile: Window, w: Window) -> tuple[slice, slice]:
    return w.slices((tile.row_off, tile.col_off))


def overlay(window: Window, canvas_pixels: np.ndarray, deps: list[TileOutcome]) -> np.ndarray:
    """Return the pixels of ``window``: ``canvas_pixels`` with the new pixels of the tiles it depends on laid over."""
    pixels = canvas_pixels.copy()
    for dep in deps:
        part = intersection(window, dep.plan.write_window)
        if part is not None:
            pixels[_window_in(window, part)] = dep.new_pixels[_window_in(dep.plan.write_window, part)]
    return pixels


def assemble_tile(plan: TilePlan, canvas_pixels: np.ndarray, deps: list[TileOutcome]) -> np.ndarray:
    """Return the tile's pixels: the canvas over ``tile_window`` plus the new pixels of the tiles it depends on."""
    return overlay(plan.tile_window, canvas_pixels, deps)


def _check_result(result: TileResult, request: TileRequest, generator: TileGenerator) -> np.ndarray:
    image = np.asarray(result.image)
    want = (request.size, request.size, request.reference.shape[2])
    if image.shape != want or image.dtype != np.uint8:
        raise GeneratorOutputError(
            f"generator {generator.name!r} returned an image of shape {image.shape} {image.dtype}, "
            f"expected {want} uint8"
        )
    return image


def run_tile(
    tile: PlannedTile,
    pixels: np.ndarray,
    generator: TileGenerator,
    settings: TileSettings,
    *,
    cancelled: Callable[[], bool] | None = None,
) -> TileOutcome:
    """Generate one tile from its assembled ``pixels`` (see :func:`assemble_tile`), with QC.

    Seeds depend on the tile's edge position in its batch and its index, never
    on the direction, so mirrored growth draws the same seeds.
    """
    start = time.perf_counter()
    plan, edge = tile.plan, tile.key[0]
    generate = plan.generate_mask()
    # filled in the RIGHT-facing view: the fill breaks distance ties in scan order, which must not
    # depend on the direction (mirrored growth gets the mirrored reference)
    d = plan.direction
    reference = contiguous(from_right(build_reference(*right_facing(pixels, generate, d), fill=settings.fill), d))
    drawn = draw_tile(
        plan.index,
        (settings.seed, edge, plan.index),
        d,
        pixels,
        generate,
        reference,
        generator,
        settings,
        prompt=tile.prompt.text,
        cancelled=cancelled,
    )
    new = new_pixels(plan, drawn.best.image).copy()
    return TileOutcome.of(drawn, reference, generate, start, plan=plan, new_pixels=new)


@dataclass
class Drawn:
    """The candidate quality control accepted for one tile, and what drawing it cost."""

    best: Candidate
    raw: np.ndarray
    request_id: str | None
    usage: Usage | None
    cost_usd: float | None
    rejected: list[Attempt]


def draw_tile(
    index: int,
    seed_parts: tuple[object, ...],
    direction: Direction,
    pixels: np.ndarray,
    generate: np.ndarray,
    reference: np.ndarray,
    generator: TileGenerator,
    settings: TileSettings,
    *,
    prompt: str,
    seam_col: int | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Drawn:
    """Draw ``candidates`` per attempt (seeds from ``seed_parts``, attempt and candidate), keep the best, run QC.

    ``prompt`` is the rendered text every generator call gets.  ``direction`` and ``seam_col`` name
    the straight seam the seam strategy and metrics look at (default: half the tile).  ``cancelled``
    is asked before every generator call.  Refused candidates come back as the record's
    :class:`~imkerutils.exquisite.state.record.Attempt` entries.
    """
    rejected: list[Attempt] = []
    usage_total: Usage | None = None
    cost_total: float | None = 0.0
    col = reference.shape[1] // 2 if seam_col is None else seam_col
    for attempt in range(settings.max_retries + 1):
        drawn = []
        for k in range(settings.candidates):
            if cancelled is not None and cancelled():
                raise StepCancelledError("cancelled; nothing was written")
            seed = derive_seed(*seed_parts, attempt, k)
            request = TileRequest(
                reference=reference,
                generate=generate,
                prompt=prompt,
                seed=seed,
                direction=direction,
                size=reference.shape[0],
            )
            result = generator.generate(request)
            raw = _check_result(result, request, generator)
            usage_total = add_usage(usage_total, result.usage)
            cost_total = None if cost_total is None or result.cost_usd is None else cost_total + result.cost_usd
            final = compose(pixels, raw, generate)  # kept pixels restored byte for byte
            if seam_col is None:
                final = apply_seam(settings.seam, final, generate, direction, width=settings.seam_width)
                scores: SeamScores | None = seam_scores(final, direction, generate=generate, raw=raw)
            else:
                final, scores = _seam_at(final, raw, generate, direction, col, settings)
            drift = None if scores is None else scores.band_drift_mean
            drawn.append((Candidate(index, seed, attempt, final, scores, drift), raw, result))
        drawn.sort(key=lambda c: candidate_score(c[0]))
        best, raw, result = drawn[0]
        for other, _, _ in drawn[1:]:
            rejected.append(_refused(index, other, "best-of-n"))
        verdict = Verdict(settings.qc(best)) if settings.qc is not None else Verdict.ACCEPT
        if verdict is Verdict.ACCEPT:
            return Drawn(best, raw, result.request_id, usage_total, cost_total, rejected)
        rejected.append(_refused(index, best, verdict.value))
        if verdict is Verdict.REJECT:
            break
    raise StepRejectedError(
        f"quality control rejected tile {index} after {len(rejected)} candidate(s); the canvas is unchanged"
    )


def _refused(index: int, candidate: Candidate, reason: str) -> Attempt:
    """Return a refused candidate as the step record keeps it."""
    return Attempt(seed=candidate.seed, scores=scores_dict(candidate.seam), reason=f"tile {index}: {reason}")


def _seam_at(
    final: np.ndarray, raw: np.ndarray, generate: np.ndarray, direction: Direction, col: int, settings: TileSettings
) -> tuple[np.ndarray, SeamScores | None]:
    """Seam strategy and scores at an arbitrary seam column (a fill tile's longest seam), where they apply."""
    if 0 < col < final.shape[1]:
        final = apply_seam(settings.seam, final, generate, direction, width=settings.seam_width, seam_col=col)
    try:
        scores: SeamScores | None = seam_scores(final, direction, generate=generate, raw=raw, seam_col=col)
    except (GeometryError, InvalidTileError):  # a seam too near the tile's edge to measure
        scores = None
    return final, scores
