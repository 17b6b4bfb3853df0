"""One growth step: plan an edge, generate its tiles, commit the new strip atomically.

The step reads the band from the canvas, generates every tile of the edge plan
(tiles of one DAG level in parallel, each seeing the new pixels of the tiles it
depends on), and commits all new pixels with ONE :meth:`Canvas.write`.  Only
the new strip is written, so the band's bytes never change; nothing touches
the canvas before the commit, so a failed or rejected step leaves it as it was,
and a kill during the commit is rolled back by the journal.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from imkerutils.exquisite.api.base import TileGenerator
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.exquisite.geometry.mask import mask_to_openai_rgba
from imkerutils.exquisite.geometry.plan import EdgePlan, plan_edge
from imkerutils.exquisite.pipeline.qc import QCHook
from imkerutils.exquisite.pipeline.tile import TileOutcome, TileSettings, add_usage, assemble_tile, run_tile
from imkerutils.exquisite.prompt.templates import get_template, render
from imkerutils.exquisite.state.artifacts import ArtifactLayout, ensure_dir, write_png
from imkerutils.exquisite.state.record import StepRecord, TileRecord, format_utc
from imkerutils.tiling.canvas import Canvas

__all__ = ["EXQUISITE_INFO_KEY", "GrowSettings", "grow_step", "plan_step", "step_records"]

EXQUISITE_INFO_KEY = "exquisite"


@dataclass(frozen=True)
class GrowSettings:
    """Everything a step needs besides the canvas, the direction and the generator."""

    prompt: str = ""
    seed: int = 0
    template: str = "extend"
    template_version: int | None = None
    seam: str = "exact"
    seam_width: int = 64
    fill: str = "edge"
    candidates: int = 1
    max_retries: int = 2
    qc: QCHook | None = None
    overlap: int = 256
    save_artifacts: bool = True
    workers: int | None = None  # tiles of one DAG level run at once (default: the generator's max_concurrency)


def plan_step(canvas: Canvas, direction: Direction | str, settings: GrowSettings) -> EdgePlan:
    """The edge plan the next step would follow."""
    return plan_edge(canvas.bounds, Direction.parse(direction), overlap=settings.overlap)


def _sha_of(arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def _save_artifacts(layout: ArtifactLayout, step_id: str, outcome: TileOutcome) -> dict[str, str]:
    i = outcome.plan.index
    ensure_dir(layout.step_dir(step_id))
    paths = {
        "reference": write_png(layout.tile_artifact(step_id, i, "reference"), outcome.reference),
        "mask": write_png(layout.tile_artifact(step_id, i, "mask"), mask_to_openai_rgba(outcome.generate)),
        "raw": write_png(layout.tile_artifact(step_id, i, "raw"), outcome.raw),
        "final": write_png(layout.tile_artifact(step_id, i, "final"), outcome.final),
    }
    return {role: layout.relative(p) for role, p in paths.items()}


def grow_step(
    canvas: Canvas,
    direction: Direction | str,
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    on_tile: Callable[[TileOutcome], None] | None = None,
) -> StepRecord:
    """Grow ``canvas`` by one strip (512 px) towards ``direction``; returns the committed record."""
    settings = settings or GrowSettings()
    d = Direction.parse(direction)
    started = time.perf_counter()
    created = format_utc(datetime.now(UTC))
    plan = plan_step(canvas, d, settings)
    template = get_template(settings.template, settings.template_version)
    prompt = render(template, settings.prompt, d)
    tile_settings = TileSettings(prompt=prompt.text, seed=settings.seed, seam=settings.seam,
                                 seam_width=settings.seam_width, fill=settings.fill, candidates=settings.candidates,
                                 max_retries=settings.max_retries, qc=settings.qc)
    done: dict[int, TileOutcome] = {}
    workers = max(1, settings.workers or getattr(generator, "max_concurrency", 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for level in plan.levels():
            inputs = [(t, assemble_tile(t, canvas.read(t.tile_window), done)) for t in level]
            for outcome in pool.map(lambda tp: run_tile(tp[0], tp[1], generator, tile_settings), inputs):
                done[outcome.plan.index] = outcome
                if on_tile is not None:
                    on_tile(outcome)
    generated = time.perf_counter()
    outcomes = [done[t.index] for t in plan.tiles]

    step_id = f"{created[:10].replace('-', '')}-{d.value}-{uuid.uuid4().hex[:12]}"
    layout = ArtifactLayout(canvas.path)
    tile_records = []
    for o in outcomes:
        artifacts = _save_artifacts(layout, step_id, o) if settings.save_artifacts else {}
        tile_records.append(TileRecord(
            index=o.plan.index, tile_window=o.plan.tile_window, write_window=o.plan.write_window, seed=o.seed,
            band_drift=o.band_drift, seam_scores=_numeric(o.scores), usage=o.usage, cost_usd=o.cost_usd,
            request_id=o.request_id, artifacts=artifacts))
    usage = None
    cost: float | None = 0.0
    for o in outcomes:
        usage = add_usage(usage, o.usage)
        cost = None if cost is None or o.cost_usd is None else cost + o.cost_usd
    band_pixels = [canvas.read(t.band_window) for t in plan.tiles]
    record_args: dict[str, Any] = dict(
        step_id=step_id, direction=d, created_at=created, strip_window=plan.strip,
        bounds_before=plan.bounds, bounds_after=plan.new_bounds,
        band_sha256=_sha_of(band_pixels), result_sha256=_sha_of([o.new_pixels for o in outcomes]),
        prompt_text=prompt.text, user_prompt=settings.prompt, template_name=prompt.template_name,
        template_version=prompt.template_version, prompt_sha256=prompt.sha256,
        generator_name=generator.name, generator_version=generator.version, generator_params=generator.params(),
        seed=settings.seed, seam_strategy=settings.seam, seam_params={"width": settings.seam_width},
        tiles=tuple(tile_records), usage=usage, cost_usd=cost,
        qc=_worst_scores(outcomes),
    )
    pieces = [(o.plan.write_window.row_off, o.plan.write_window.col_off, o.new_pixels) for o in outcomes]
    timings = {"generate": generated - started}
    record = StepRecord(**record_args, timings=timings)  # validates before anything is written
    commit_start = time.perf_counter()
    canvas.write(pieces, grow=True, kind=f"grow-{d.value}", info={EXQUISITE_INFO_KEY: record.to_dict()})
    timings["commit"] = time.perf_counter() - commit_start
    timings["total"] = time.perf_counter() - started
    return StepRecord(**record_args, timings=timings)


def _numeric(scores: dict[str, Any]) -> dict[str, float | None]:
    return {k: (None if v is None else float(v)) for k, v in scores.items() if v is None or np.isscalar(v)}


def _worst_scores(outcomes: list[TileOutcome]) -> dict[str, float | None]:
    """Per metric, the worst tile's value (max seam excess, max drift, ...)."""
    out: dict[str, float | None] = {}
    for o in outcomes:
        for k, v in _numeric(o.scores).items():
            if v is not None:
                out[k] = v if out.get(k) is None else max(out[k] or 0.0, v)
        if o.band_drift is not None:
            out["band_drift"] = max(out.get("band_drift") or 0.0, o.band_drift)
    return out


def step_records(canvas: Canvas) -> list[StepRecord]:
    """The records of the committed growth steps, oldest first."""
    out = []
    for info in canvas.history():
        data = info.info.get(EXQUISITE_INFO_KEY)
        if data is not None:
            out.append(StepRecord.from_dict(data))
    return out
