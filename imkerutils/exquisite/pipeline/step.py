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

import hashlib
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from imkerutils.errors import InvalidGrowSettingsError, UnknownSeamStrategyError
from imkerutils.exquisite.geometry.batch import BatchPlan, BatchTile, TileKey, plan_batch
from imkerutils.exquisite.geometry.blend import SEAM_STRATEGIES, seam_strategy_names
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.exquisite.pipeline.artifacts import ArtifactSpool
from imkerutils.exquisite.pipeline.executor import run_batch_tiles
from imkerutils.exquisite.pipeline.tile import (
    DrawnOutcome,
    PlannedTile,
    TileOutcome,
    TileSettings,
    add_usage,
    overlay,
    scores_dict,
)
from imkerutils.exquisite.prompt.templates import get_template, render
from imkerutils.exquisite.state.record import StepRecord, TileRecord, format_utc

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from distributed import Client

    from imkerutils.exquisite.api.base import TileGenerator, Usage
    from imkerutils.exquisite.pipeline.cancel import Cancel
    from imkerutils.exquisite.prompt.templates import RenderedPrompt
    from imkerutils.tiling.canvas import Canvas
    from imkerutils.tiling.window import Window

__all__ = [
    "EXQUISITE_INFO_KEY",
    "GrowSettings",
    "fits",
    "grow_batch",
    "grow_step",
    "parse_directions",
    "plan_batch_of",
    "plan_step",
    "plan_steps",
    "run_step",
    "step_records",
    "worst_scores",
]

EXQUISITE_INFO_KEY = "exquisite"


@dataclass(frozen=True)
class GrowSettings(TileSettings):
    """Everything a step needs besides the canvas, the directions and the generator.

    The fields every tile shares (prompt, seed, seam, fill, candidates, retries, QC) are
    :class:`~.tile.TileSettings`'; a step hands these settings to its tiles as they are.
    """

    template: str = "extend"
    template_version: int | None = None
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


def parse_directions(direction: Direction | str | Sequence[Direction | str]) -> list[Direction]:
    """Return the directions a caller named (one, or a sequence), parsed once where they enter the pipeline."""
    if isinstance(direction, (str, Direction)):
        return [Direction.parse(direction)]
    return [Direction.parse(d) for d in direction]


def plan_step(
    canvas: Canvas, direction: Direction | str | Sequence[Direction | str], settings: GrowSettings | None = None
) -> BatchPlan:
    """Return the batch plan the next step would follow."""
    return plan_batch_of(canvas.bounds, parse_directions(direction), settings or GrowSettings())


def plan_batch_of(bounds: Window, directions: Sequence[Direction], settings: GrowSettings) -> BatchPlan:
    """Return the batch plan of growing ``bounds`` towards ``directions`` (the one place a step is planned)."""
    return plan_batch(bounds, directions, overlap=settings.overlap)


def plan_steps(bounds: Window, directions: Sequence[Direction], settings: GrowSettings, steps: int) -> list[BatchPlan]:
    """Return the plans of ``steps`` steps growing ``bounds`` (each step's bounds are the last one's new bounds)."""
    plans = []
    for _ in range(steps):
        plans.append(plan_batch_of(bounds, directions, settings))
        bounds = plans[-1].new_bounds
    return plans


def fits(plan: BatchPlan, canvas: Canvas, directions: Sequence[Direction], settings: GrowSettings) -> bool:
    """Whether ``plan`` (made ahead, e.g. by :func:`plan_steps`) is the plan of the next step on ``canvas`` now."""
    return (
        plan.bounds == canvas.bounds
        and plan.directions == tuple(directions)
        and all(e.overlap == settings.overlap for e in plan.edges)
    )


def sha_of(arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


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
    batch = plan_batch_of(canvas.bounds, parse_directions(directions), settings)
    return run_step(canvas, batch, generator, settings, on_tile=on_tile, client=client, cancel=cancel)


def run_step(
    canvas: Canvas,
    batch: BatchPlan,
    generator: TileGenerator,
    settings: GrowSettings,
    *,
    on_tile: Callable[[TileOutcome], None] | None = None,
    client: Client | None = None,
    cancel: Cancel | None = None,
) -> list[StepRecord]:
    """Generate and commit the step ``batch`` plans (made on the canvas as it is now) as ONE atomic step."""
    started = time.perf_counter()
    created = format_utc(datetime.now(UTC))
    token = canvas.state_token
    template = get_template(settings.template, settings.template_version)
    prompts = {e.direction: render(template, settings.prompt, e.direction) for e in batch.edges}
    tiles = {t.key: PlannedTile(t, prompts[t.plan.direction]) for t in batch.tiles}
    workers = max(1, settings.workers or generator.max_concurrency)
    step_id = f"{created[:10].replace('-', '')}-{'-'.join(d.value for d in batch.directions)}-{uuid.uuid4().hex[:12]}"
    with ArtifactSpool(step_id) as spool:
        saved: dict[TileKey, dict[str, str]] = {}

        def keep(key: TileKey, outcome: TileOutcome) -> TileOutcome:
            """Spool a finished tile's artifacts and keep only what the commit needs (not its 1024² images)."""
            if settings.save_artifacts:
                saved[key] = spool.add(*key, outcome)
            return outcome.without_images()

        with canvas.caching_tiles():  # the tile, its band and its merge decode each stored chunk once
            outcomes = run_batch_tiles(
                canvas,
                [[tiles[t.key] for t in level] for level in batch.levels()],
                generator,
                settings,
                client=client,
                workers=workers,
                on_tile=on_tile,
                keep=keep,
                cancel=cancel,
                worker_timeout=settings.worker_timeout,
            )
            generated = time.perf_counter()
            drafts = _draft_records(
                canvas,
                batch,
                tiles,
                outcomes,
                saved,
                step_id=step_id,
                created=created,
                generator=generator,
                settings=settings,
            )
            timings = {"generate": generated - started, "prepare": time.perf_counter() - generated}
            records = [replace(r, timings=timings) for r in drafts]
            pieces = [
                (o.plan.write_window.row_off, o.plan.write_window.col_off, o.new_pixels) for o in outcomes.values()
            ]
            if cancel is not None:
                cancel.check()
            commit_start = time.perf_counter()
            canvas.write(
                pieces,
                extend=True,
                kind="grow-" + "-".join(d.value for d in batch.directions),
                info={EXQUISITE_INFO_KEY: [r.to_dict() for r in records]},
                expect_token=token,
                step_id=step_id,  # the journal's entry; its records are step_id, or step_id.k for edge k
            )
        timings["commit"] = time.perf_counter() - commit_start
        spool.store(canvas)  # after the commit: a refused step leaves no artifacts behind
    timings["total"] = time.perf_counter() - started
    return [replace(r, timings=timings) for r in drafts]


def _draft_records(
    canvas: Canvas,
    batch: BatchPlan,
    planned: Mapping[TileKey, PlannedTile],
    outcomes: Mapping[TileKey, TileOutcome],
    saved: Mapping[TileKey, dict[str, str]],
    *,
    step_id: str,
    created: str,
    generator: TileGenerator,
    settings: GrowSettings,
) -> list[StepRecord]:
    """One record per edge, validated before anything is written (timings are added by the caller)."""
    tiles = {t.key: t for t in batch.tiles}
    drafts: list[StepRecord] = []
    for k, edge in enumerate(batch.edges):
        edge_outcomes = [outcomes[(k, t.index)] for t in edge.tiles]
        tile_records: list[TileRecord] = []
        for o in edge_outcomes:
            artifacts = saved.get((k, o.plan.index), {})
            tile_records.append(tile_record(o, o.plan.index, o.plan.tile_window, o.plan.write_window, artifacts))
        band = [_band_pixels(canvas, tiles[(k, t.index)], outcomes) for t in edge.tiles]
        prompt = planned[(k, edge.tiles[0].index)].prompt  # every tile of an edge has the edge's prompt
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
                seam_params={"width": settings.seam_width},
                tiles=tuple(tile_records),
                **drawn_fields(edge_outcomes, prompt, settings, generator),
            )
        )
    return drafts


def _band_pixels(canvas: Canvas, tile: BatchTile, outcomes: Mapping[TileKey, TileOutcome]) -> np.ndarray:
    """Return the real pixels ``tile`` kept as its band: the canvas's, with the new pixels of the tiles it depended on.

    Read again rather than kept from the tile's output (known pixels are put back byte-identical), so a
    step holds no tile-sized images until its commit.
    """
    band = tile.plan.band_window
    return overlay(band, canvas.read(band), [outcomes[d] for d in tile.depends_on])


def drawn_fields(
    outcomes: Sequence[DrawnOutcome], prompt: RenderedPrompt, settings: GrowSettings, generator: TileGenerator
) -> dict[str, Any]:
    """Return the fields of a :class:`StepRecord` that follow from how its tiles were drawn.

    How the pixels were asked for (prompt, generator, seed, seam), the summed usage and cost, the worst
    QC scores (:func:`worst_scores`) and the candidates QC refused; a grow step and a fill record them alike.
    """
    usage, cost = total_cost(outcomes)
    return {
        "prompt_text": prompt.text,
        "user_prompt": settings.prompt,
        "template_name": prompt.template_name,
        "template_version": prompt.template_version,
        "prompt_sha256": prompt.sha256,
        "generator_name": generator.name,
        "generator_version": generator.version,
        "generator_params": generator.params(),
        "seed": settings.seed,
        "seam_strategy": settings.seam,
        "usage": usage,
        "cost_usd": cost,
        "qc": worst_scores(outcomes),
        "attempts": tuple(a for o in outcomes for a in o.rejected),
    }


def tile_record(
    o: DrawnOutcome, index: int, tile_window: Window, write_window: Window, artifacts: dict[str, str]
) -> TileRecord:
    """Return the record of one tile whose outcome is ``o``."""
    return TileRecord(
        index=index,
        tile_window=tile_window,
        write_window=write_window,
        seed=o.seed,
        band_drift=o.band_drift,
        seam_scores=scores_dict(o.scores),
        usage=o.usage,
        cost_usd=o.cost_usd,
        request_id=o.request_id,
        artifacts=artifacts,
    )


def total_cost(outcomes: Sequence[DrawnOutcome]) -> tuple[Usage | None, float | None]:
    """Return the summed token usage and cost of ``outcomes`` (cost ``None`` when any tile's is unknown)."""
    usage: Usage | None = None
    cost: float | None = 0.0
    for o in outcomes:
        usage = add_usage(usage, o.usage)
        cost = None if cost is None or o.cost_usd is None else cost + o.cost_usd
    return usage, cost


def worst_scores(outcomes: Sequence[DrawnOutcome]) -> dict[str, float | None]:
    """Per metric, the worst tile's value (max seam excess, max drift, ...), as a step record's ``qc``."""
    out: dict[str, float | None] = {}
    for o in outcomes:
        for k, v in scores_dict(o.scores).items():
            if v is not None:
                out[k] = v if out.get(k) is None else max(out[k] or 0.0, v)
        if o.band_drift is not None:
            out["band_drift"] = max(out.get("band_drift") or 0.0, o.band_drift)
    return out


def step_records(canvas: Canvas) -> list[StepRecord]:
    """Return the records of the committed growth steps (one per edge), oldest first."""
    return [StepRecord.from_dict(data) for info in canvas.history() for data in info.info.get(EXQUISITE_INFO_KEY) or []]
