"""One growth step: plan a batch of edges, generate its tiles, commit the new pixels atomically.

A step grows one or several edges by 512 px.  It reads the bands from the
canvas, generates every tile of the batch plan (independent tiles in
parallel, each seeing the new pixels of the tiles it depends on), and commits
all new pixels with ONE :meth:`Canvas.write`, so undo reverts the whole batch.
Only new pixels are written, so band bytes never change; nothing touches the
canvas before the commit, so a failed or rejected step leaves it as it was,
and a kill during the commit is rolled back by the journal.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from imkerutils.errors import InvalidGrowSettingsError, UnknownSeamStrategyError
from imkerutils.exquisite.api.base import TileGenerator, Usage
from imkerutils.exquisite.geometry.batch import BatchPlan, plan_batch
from imkerutils.exquisite.geometry.blend import SEAM_STRATEGIES, seam_strategy_names
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.exquisite.geometry.mask import mask_to_openai_rgba
from imkerutils.exquisite.pipeline.cancel import Cancel
from imkerutils.exquisite.pipeline.executor import run_batch_tiles
from imkerutils.exquisite.pipeline.qc import QCHook
from imkerutils.exquisite.pipeline.tile import TileOutcome, TileSettings, add_usage
from imkerutils.exquisite.prompt.templates import get_template, render
from imkerutils.exquisite.state.artifacts import TILE_ROLES, step_artifact_key
from imkerutils.exquisite.state.record import Attempt, StepRecord, TileRecord, format_utc
from imkerutils.tiling.canvas import Canvas

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["EXQUISITE_INFO_KEY", "GrowSettings", "grow_batch", "grow_step", "plan_step", "step_records"]

EXQUISITE_INFO_KEY = "exquisite"


@dataclass(frozen=True)
class GrowSettings:
    """Everything a step needs besides the canvas, the directions and the generator."""

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
    workers: int | None = None  # local tiles at once (default: the generator's max_concurrency)
    worker_timeout: float = 300.0  # on a cluster: seconds without any worker before the batch is given up
    tile: int = 1024  # reference tile of a fill (grow's edge plans use 1024)

    def __post_init__(self) -> None:
        # checked here, before a step is planned, so a bad setting never costs a generator call
        if self.seam not in SEAM_STRATEGIES:
            raise UnknownSeamStrategyError(
                f"unknown seam strategy {self.seam!r}; choose one of {', '.join(seam_strategy_names())}"
            )
        for name, least in (("candidates", 1), ("max_retries", 0), ("seam_width", 0), ("workers", 1), ("tile", 2)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
                raise InvalidGrowSettingsError(f"{name} must be an integer >= {least}, got {value!r}")


def _directions(direction: Direction | str | Sequence[Direction | str]) -> list[Direction]:
    if isinstance(direction, (str, Direction)):
        return [Direction.parse(direction)]
    return [Direction.parse(d) for d in direction]


def plan_step(
    canvas: Canvas, direction: Direction | str | Sequence[Direction | str], settings: GrowSettings | None = None
) -> BatchPlan:
    """The batch plan the next step would follow."""
    settings = settings or GrowSettings()
    return plan_batch(canvas.bounds, _directions(direction), overlap=settings.overlap)


def sha_of(arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def artifact_jobs(
    step_id: str, outcomes: Sequence[tuple[int, int, Any]]
) -> tuple[list[tuple[str, Callable[[], np.ndarray]]], dict[tuple[int, int], dict[str, str]]]:
    """Each tile's reference, mask, raw output and final tile: their keys in ``_generated/`` and their images.

    ``outcomes`` are ``(edge, tile index, outcome)``; an outcome (grow's or fill's) has ``reference``,
    ``generate``, ``raw`` and ``final``.  Returns the jobs ``(key, image maker)`` and
    ``{(edge, tile index): {role: key}}``.  The mask is made only when its job runs (on the artifact pool).
    """
    jobs: list[tuple[str, Callable[[], np.ndarray]]] = []
    paths: dict[tuple[int, int], dict[str, str]] = {}
    for edge, index, o in outcomes:
        for role in TILE_ROLES:
            image = (
                functools.partial(mask_to_openai_rgba, o.generate)
                if role == "mask"
                else functools.partial(getattr, o, role)
            )
            key = step_artifact_key(step_id, edge, index, role)
            jobs.append((key, image))
            paths.setdefault((edge, index), {})[role] = key
    return jobs, paths


def store_artifacts(canvas: Canvas, jobs: Sequence[tuple[str, Callable[[], np.ndarray]]]) -> None:
    """Encode and store artifact PNGs (about 80 ms each) on a thread per core.

    Called only after the step committed, so a step that is refused, rejected or cancelled leaves no
    ``_generated/`` files behind.  zlib releases the GIL, and on an object store the PUTs overlap.
    """
    if not jobs:
        return
    with ThreadPoolExecutor(max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        list(pool.map(lambda job: canvas.put_artifact(job[0], _png(job[1]())), jobs))


def grow_step(
    canvas: Canvas,
    direction: Direction | str,
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    on_tile: Callable[[TileOutcome], None] | None = None,
    client: Client | None = None,
) -> StepRecord:
    """Grow ``canvas`` by one strip (512 px) towards ``direction``; returns the committed record."""
    return grow_batch(canvas, [direction], generator, settings, on_tile=on_tile, client=client)[0]


def grow_batch(
    canvas: Canvas,
    directions: Sequence[Direction | str],
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    on_tile: Callable[[TileOutcome], None] | None = None,
    client: Client | None = None,
    cancel: Cancel | None = None,
) -> list[StepRecord]:
    """Grow every edge in ``directions`` by 512 px as ONE atomic step; one record per edge.

    A set ``cancel`` stops the step before its next generator call or its commit, with nothing written.
    """
    settings = settings or GrowSettings()
    started = time.perf_counter()
    created = format_utc(datetime.now(UTC))
    batch = plan_step(canvas, directions, settings)
    token = canvas.state_token
    template = get_template(settings.template, settings.template_version)
    prompts = {e.direction: render(template, settings.prompt, e.direction) for e in batch.edges}
    tile_settings = {
        d: TileSettings(
            prompt=p.text,
            seed=settings.seed,
            seam=settings.seam,
            seam_width=settings.seam_width,
            fill=settings.fill,
            candidates=settings.candidates,
            max_retries=settings.max_retries,
            qc=settings.qc,
        )
        for d, p in prompts.items()
    }
    workers = max(1, settings.workers or getattr(generator, "max_concurrency", 1))
    outcomes = run_batch_tiles(
        canvas,
        batch,
        generator,
        tile_settings,
        client=client,
        workers=workers,
        on_tile=on_tile,
        cancel=cancel,
        worker_timeout=settings.worker_timeout,
    )
    generated = time.perf_counter()

    step_id = f"{created[:10].replace('-', '')}-{'-'.join(d.value for d in batch.directions)}-{uuid.uuid4().hex[:12]}"
    jobs, saved = (
        artifact_jobs(
            step_id, [(k, t.index, outcomes[(k, t.index)]) for k, edge in enumerate(batch.edges) for t in edge.tiles]
        )
        if settings.save_artifacts
        else ([], {})
    )
    drafts: list[StepRecord] = []  # validated here, before anything is written; timings come last
    for k, edge in enumerate(batch.edges):
        edge_outcomes = [outcomes[(k, t.index)] for t in edge.tiles]
        tile_records: list[TileRecord] = []
        for o in edge_outcomes:
            artifacts = saved.get((k, o.plan.index), {})
            tile_records.append(
                TileRecord(
                    index=o.plan.index,
                    tile_window=o.plan.tile_window,
                    write_window=o.plan.write_window,
                    seed=o.seed,
                    band_drift=o.band_drift,
                    seam_scores=_numeric(o.scores),
                    usage=o.usage,
                    cost_usd=o.cost_usd,
                    request_id=o.request_id,
                    artifacts=artifacts,
                )
            )
        usage: Usage | None = None
        cost: float | None = 0.0
        for o in edge_outcomes:
            usage = add_usage(usage, o.usage)
            cost = None if cost is None or o.cost_usd is None else cost + o.cost_usd
        band = [_band_pixels(o) for o in edge_outcomes]
        prompt = prompts[edge.direction]
        drafts.append(
            StepRecord(
                step_id=f"{step_id}.{k}" if len(batch.edges) > 1 else step_id,
                direction=edge.direction,
                created_at=created,
                strip_window=edge.strip,
                bounds_before=edge.bounds,
                bounds_after=edge.new_bounds,
                band_sha256=sha_of(band),
                result_sha256=sha_of([o.new_pixels for o in edge_outcomes]),
                prompt_text=prompt.text,
                user_prompt=settings.prompt,
                template_name=prompt.template_name,
                template_version=prompt.template_version,
                prompt_sha256=prompt.sha256,
                generator_name=generator.name,
                generator_version=generator.version,
                generator_params=generator.params(),
                seed=settings.seed,
                seam_strategy=settings.seam,
                seam_params={"width": settings.seam_width},
                tiles=tuple(tile_records),
                usage=usage,
                cost_usd=cost,
                qc=_worst_scores(edge_outcomes),
                attempts=tuple(
                    Attempt(seed=r["seed"], scores=_numeric(r["scores"]), reason=f"tile {o.plan.index}: {r['reason']}")
                    for o in edge_outcomes
                    for r in o.rejected
                ),
            )
        )
    timings = {"generate": generated - started, "prepare": time.perf_counter() - generated}
    records = [replace(r, timings=timings) for r in drafts]
    pieces = [(o.plan.write_window.row_off, o.plan.write_window.col_off, o.new_pixels) for o in outcomes.values()]
    if cancel is not None:
        cancel.check()
    commit_start = time.perf_counter()
    canvas.write(
        pieces,
        grow=True,
        kind="grow-" + "-".join(d.value for d in batch.directions),
        info={EXQUISITE_INFO_KEY: [r.to_dict() for r in records]},
        expect_token=token,
    )
    timings = {**timings, "commit": time.perf_counter() - commit_start}
    store_artifacts(canvas, jobs)  # after the commit: a refused step leaves no artifacts behind
    timings["total"] = time.perf_counter() - started
    return [replace(r, timings=timings) for r in drafts]


def _band_pixels(outcome: TileOutcome) -> np.ndarray:
    """The real pixels a tile kept as its band (from the canvas, or new pixels of earlier edges)."""
    t = outcome.plan.tile_window
    return outcome.final[outcome.plan.band_window.slices((t.row_off, t.col_off))]


def _is_scalar(value: object) -> bool:
    """``np.isscalar``, as a plain bool (its TypeGuard would narrow to types ``float()`` rejects)."""
    return bool(np.isscalar(value))


def _numeric(scores: dict[str, Any]) -> dict[str, float | None]:
    return {k: (None if v is None else float(v)) for k, v in scores.items() if v is None or _is_scalar(v)}


def _worst_scores(outcomes: Sequence[Any]) -> dict[str, float | None]:
    """Per metric, the worst tile's value (max seam excess, max drift, ...); outcomes of grow or fill."""
    out: dict[str, float | None] = {}
    for o in outcomes:
        for k, v in _numeric(o.scores).items():
            if v is not None:
                out[k] = v if out.get(k) is None else max(out[k] or 0.0, v)
        if o.band_drift is not None:
            out["band_drift"] = max(out.get("band_drift") or 0.0, o.band_drift)
    return out


def step_records(canvas: Canvas) -> list[StepRecord]:
    """The records of the committed growth steps (one per edge), oldest first."""
    out = []
    for info in canvas.history():
        for data in info.info.get(EXQUISITE_INFO_KEY) or []:
            out.append(StepRecord.from_dict(data))
    return out
