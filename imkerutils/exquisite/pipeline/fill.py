"""Fill any region of a canvas: generate every pixel of it that holds no content, as one atomic step.

A pixel holds content when it lies inside the canvas bounds and in a storage
tile some step wrote (the canvas manifest says which).  :func:`fill` plans the
region with :func:`~imkerutils.exquisite.geometry.fill.plan_fill` (a DAG of
tiles conditioned on the content around them and on the tiles before them),
generates the tiles level by level, and commits the new pixels with ONE
:meth:`Canvas.write`; pixels that held content are never written.  Nothing
touches the canvas before the commit: a failure, a refusal or a cancellation
leaves it as it was, and the step's artifacts are stored only after the commit.

:func:`estimate_fill` is the same plan without generating anything (``--dry-run``).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from imkerutils.errors import InvalidGrowSettingsError
from imkerutils.exquisite.api.base import TileGenerator, Usage
from imkerutils.exquisite.geometry.band import build_reference
from imkerutils.exquisite.geometry.batch import plan_batch
from imkerutils.exquisite.geometry.direction import Direction, from_right, to_right
from imkerutils.exquisite.geometry.fill import FillPlan, FillTile, dominant_seam, edge_region, plan_fill, subtract
from imkerutils.exquisite.limits import DEFAULT_BY, MAX_BY
from imkerutils.exquisite.pipeline.artifacts import artifact_jobs, store_artifacts
from imkerutils.exquisite.pipeline.cancel import Cancel
from imkerutils.exquisite.pipeline.grow import canvas_spent_usd, tile_worst_case_usd
from imkerutils.exquisite.pipeline.step import (
    EXQUISITE_INFO_KEY,
    GrowSettings,
    _numeric,
    _worst_scores,
    sha_of,
)
from imkerutils.exquisite.pipeline.tile import TileSettings, add_usage, derive_seed, draw_tile
from imkerutils.exquisite.prompt.templates import get_template, render
from imkerutils.exquisite.state.artifacts import step_artifact_key
from imkerutils.exquisite.state.budget import Budget
from imkerutils.exquisite.state.record import Attempt, StepRecord, TileRecord, format_utc
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window, intersection, union

__all__ = [
    "Cancel",
    "DEFAULT_BY",
    "Estimate",
    "FillOutcome",
    "FillResult",
    "commit_fill",
    "commit_pieces",
    "content_windows",
    "estimate_fill",
    "estimate_grow",
    "estimate_grow_region",
    "fill",
    "generate_fill",
    "grow_region",
    "growth_direction",
    "plan_fill_step",
    "step_seed",
]


def step_seed(run_seed: int, step: int) -> int:
    """The seed of the ``step``-th step of a run (the rule :func:`~imkerutils.exquisite.pipeline.grow` follows)."""
    return derive_seed(run_seed, "step", step)


def content_windows(canvas: Canvas, around: Window) -> list[Window]:
    """The windows near ``around`` that hold content: the bounds inside each storage tile some step wrote."""
    out = []
    for w in canvas.written_tile_windows(around):
        part = intersection(w, canvas.bounds)
        if part is not None:
            out.append(part)
    return out


def plan_fill_step(
    canvas: Canvas,
    region: Window,
    settings: GrowSettings | None = None,
    *,
    cell: int | tuple[int, int] | None = None,
    keep: Sequence[Window] = (),
) -> FillPlan:
    """The plan :func:`fill` would follow on ``canvas`` now (``keep``: more windows never written)."""
    settings = settings or GrowSettings()
    t = settings.tile
    around = Window(region.row_off - t, region.col_off - t, region.height + 2 * t, region.width + 2 * t)
    return plan_fill(
        region, _merge_keep(content_windows(canvas, around), keep), tile=t, cell=cell, bounds=canvas.bounds
    )


def _merge_keep(content: list[Window], keep: Sequence[Window]) -> list[Window]:
    """``content`` plus the parts of ``keep`` outside it (the plan wants disjoint windows)."""
    out = list(content)
    for k in keep:
        out.extend(subtract(k, out))
    return out


@dataclass(frozen=True)
class Estimate:
    """What a run would do and cost at worst, before anything is generated (``--dry-run``)."""

    steps: int
    tiles: int
    candidates: int
    attempts: int
    calls: int
    worst_case_usd: float | None
    generator: str
    model: str | None
    bounds_before: Window
    bounds_after: Window
    regions: tuple[Window, ...] = ()
    plans: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "tiles": self.tiles,
            "candidates": self.candidates,
            "attempts": self.attempts,
            "generator_calls": self.calls,
            "worst_case_usd": self.worst_case_usd,
            "generator": self.generator,
            "model": self.model,
            "bounds_before": self.bounds_before.to_dict(),
            "bounds_after": self.bounds_after.to_dict(),
            "regions": [r.to_dict() for r in self.regions],
        }

    def lines(self) -> list[str]:
        """The plan in plain words (what ``--dry-run`` prints)."""
        a = self.bounds_after
        usd = "unknown" if self.worst_case_usd is None else f"${self.worst_case_usd:.4f}"
        model = f", model {self.model}" if self.model else ""
        out = [f"region: x {r.col_off} y {r.row_off} {r.width}x{r.height}" for r in self.regions]
        out += [
            f"steps: {self.steps}",
            f"tiles: {self.tiles}",
            f"generator calls (worst case): {self.calls} = {self.tiles} tile(s) x {self.candidates} candidate(s) "
            f"x {self.attempts} attempt(s)",
            f"worst-case cost: {usd} (generator {self.generator}{model})",
            f"new bounds: x {a.col_off} y {a.row_off} {a.width}x{a.height}",
        ]
        return out


def _estimate(
    plans: list[Any],
    tiles: int,
    before: Window,
    after: Window,
    generator: TileGenerator,
    settings: GrowSettings,
    candidates: int,
    regions: tuple[Window, ...],
) -> Estimate:
    per_tile = settings.candidates * candidates
    attempts = settings.max_retries + 1
    calls = tiles * per_tile * attempts
    unit = tile_worst_case_usd(generator)
    params = generator.params()
    model = params.get("model") if isinstance(params, dict) else None
    return Estimate(
        steps=len(plans),
        tiles=tiles,
        candidates=per_tile,
        attempts=attempts,
        calls=calls,
        worst_case_usd=None if unit is None else calls * unit,
        generator=generator.name,
        model=None if model is None else str(model),
        bounds_before=before,
        bounds_after=after,
        regions=regions,
        plans=tuple(plans),
    )


def estimate_fill(
    canvas: Canvas,
    region: Window,
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    cell: int | tuple[int, int] | None = None,
    keep: Sequence[Window] = (),
    candidates: int = 1,
) -> Estimate:
    """The plan of one fill and its worst case (tiles x candidates x attempts calls); nothing is generated.

    ``candidates`` is the number of whole-region candidates of a staged fill (1 for a direct one).
    """
    settings = settings or GrowSettings()
    plan = plan_fill_step(canvas, region, settings, cell=cell, keep=keep)
    return _estimate([plan], len(plan.tiles), plan.bounds, plan.new_bounds, generator, settings, candidates, (region,))


def estimate_grow_region(
    canvas: Canvas,
    directions: Sequence[Direction | str],
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    by: int = DEFAULT_BY,
    along: tuple[int, int] | None = None,
    steps: int = 1,
    candidates: int = 1,
) -> Estimate:
    """The plans of :func:`grow_region`'s steps (each step's content follows from the last), without generating."""
    settings = settings or GrowSettings()
    t, size = settings.tile, canvas.tile
    bounds = before = canvas.bounds
    reach = steps * by + 2 * t
    around = Window(bounds.row_off - reach, bounds.col_off - reach, bounds.height + 2 * reach, bounds.width + 2 * reach)
    written = {(w.row_off // size, w.col_off // size) for w in canvas.written_tile_windows(around)}
    plans, regions = [], []
    for _ in range(steps):
        region, keep = edge_region(bounds, directions, by, along)
        content = [
            p for i, j in written if (p := intersection(Window(i * size, j * size, size, size), bounds)) is not None
        ]
        plan = plan_fill(region, _merge_keep(content, keep), tile=t, bounds=bounds)
        for w in plan.written:
            written.update(canvas.grid.tiles(w))
        plans.append(plan)
        regions.append(region)
        bounds = plan.new_bounds
    return _estimate(
        plans, sum(len(p.tiles) for p in plans), before, bounds, generator, settings, candidates, tuple(regions)
    )


def estimate_grow(
    canvas: Canvas,
    directions: Sequence[Direction | str],
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    steps: int = 1,
) -> Estimate:
    """The plans of :func:`~imkerutils.exquisite.pipeline.grow` (whole edges, 512 px a step), without generating."""
    settings = settings or GrowSettings()
    bounds = canvas.bounds
    plans = []
    for _ in range(steps):
        batch = plan_batch(bounds, [Direction.parse(d) for d in directions], overlap=settings.overlap)
        plans.append(batch)
        bounds = batch.new_bounds
    return _estimate(plans, sum(len(b.tiles) for b in plans), canvas.bounds, bounds, generator, settings, 1, ())


@dataclass
class FillOutcome:
    """The accepted result of one fill tile."""

    tile: FillTile
    index: int
    seed: int
    direction: Direction
    reference: np.ndarray
    generate: np.ndarray
    raw: np.ndarray
    final: np.ndarray
    scores: dict[str, Any]
    band_drift: float | None
    usage: Usage | None
    cost_usd: float | None
    request_id: str | None
    seconds: float
    rejected: list[dict[str, Any]]

    def pieces(self) -> list[tuple[Window, np.ndarray]]:
        """The new pixels, one array per write window."""
        return [(w, self.final[w.slices(self.tile.origin)]) for w in self.tile.write_windows]


@dataclass
class FillResult:
    """A generated, not yet committed fill: its plan, tiles and the record it would commit."""

    plan: FillPlan
    token: str
    outcomes: list[FillOutcome]
    record: StepRecord

    def pieces(self) -> list[tuple[Window, np.ndarray]]:
        return [p for o in self.outcomes for p in o.pieces()]


def _assemble(tile: FillTile, canvas_pixels: np.ndarray, done: dict[tuple[int, int], FillOutcome]) -> np.ndarray:
    pixels = canvas_pixels.copy()
    for key in tile.depends_on:
        dep = done[key]
        for w in dep.tile.write_windows:
            part = intersection(w, tile.tile_window)
            if part is not None:
                pixels[part.slices(tile.origin)] = dep.final[part.slices(dep.tile.origin)]
    return pixels


def _run_tile(
    tile: FillTile,
    index: int,
    region: Window,
    prefer: Direction | None,
    pixels: np.ndarray,
    generator: TileGenerator,
    settings: dict[Direction, TileSettings],
    cancel: Cancel | None,
) -> FillOutcome:
    start = time.perf_counter()
    generate = tile.generate_mask()
    d, col = dominant_seam(generate, prefer)
    s = settings[d]
    reference = np.ascontiguousarray(
        from_right(build_reference(to_right(pixels, d), to_right(generate, d), fill=s.fill), d)
    )
    # Seeds depend on the step seed and the cell's offset in the region, as an unordered pair: never on
    # the worker, the order or the direction, so growing a strip left / up is the mirror / transpose of
    # growing it right (the edge plan's rule).
    offset = sorted((tile.cell.row_off - region.row_off, tile.cell.col_off - region.col_off))
    drawn = draw_tile(
        index,
        (s.seed, "fill", *offset),
        d,
        pixels,
        generate,
        reference,
        generator,
        s,
        seam_col=col,
        cancelled=None if cancel is None else cancel.is_set,
    )
    b = drawn.best
    return FillOutcome(
        tile,
        index,
        b.seed,
        d,
        reference,
        generate,
        drawn.raw,
        b.image,
        b.scores,
        b.band_drift,
        drawn.usage,
        drawn.cost_usd,
        drawn.request_id,
        time.perf_counter() - start,
        drawn.rejected,
    )


def generate_fill(
    canvas: Canvas,
    region: Window,
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    cell: int | tuple[int, int] | None = None,
    keep: Sequence[Window] = (),
    direction: Direction | str | None = None,
    budget_usd: float | None = None,
    cancel: Cancel | None = None,
    on_tile: Callable[[FillOutcome], None] | None = None,
    plan: FillPlan | None = None,
) -> FillResult:
    """Generate every tile of a fill without committing anything (see :func:`fill`)."""
    settings = settings or GrowSettings()
    prefer = None if direction is None else Direction.parse(direction)
    started = time.perf_counter()
    created = format_utc(datetime.now(UTC))
    token = canvas.state_token
    settings = replace(settings, seed=step_seed(settings.seed, canvas.head + 1))
    if plan is None:
        plan = plan_fill_step(canvas, region, settings, cell=cell, keep=keep)
    if budget_usd is not None:
        unit = tile_worst_case_usd(generator)
        worst = None if unit is None else len(plan.tiles) * settings.candidates * (settings.max_retries + 1) * unit
        Budget(budget_usd, canvas_spent_usd(canvas)).check(worst)
    template = get_template(settings.template, settings.template_version)
    prompts = {d: render(template, settings.prompt, d) for d in Direction}
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
    index = {t.key: n for n, t in enumerate(plan.tiles)}
    done: dict[tuple[int, int], FillOutcome] = {}
    workers = max(1, settings.workers or generator.max_concurrency)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for level in plan.levels():
            if cancel is not None:
                cancel.check()
            inputs = [(t, _assemble(t, canvas.read(t.tile_window), done)) for t in level]
            futures = [
                pool.submit(_run_tile, t, index[t.key], plan.region, prefer, px, generator, tile_settings, cancel)
                for t, px in inputs
            ]
            try:
                for tile, future in zip(level, futures, strict=True):
                    done[tile.key] = future.result()
                    if on_tile is not None:
                        on_tile(done[tile.key])
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    outcomes = [done[t.key] for t in plan.tiles]
    timings = {"generate": time.perf_counter() - started}
    record = _record(plan, outcomes, prompts, generator, settings, created, timings)
    return FillResult(plan=plan, token=token, outcomes=outcomes, record=record)


def _record(
    plan: FillPlan,
    outcomes: list[FillOutcome],
    prompts: dict[Direction, Any],
    generator: TileGenerator,
    settings: GrowSettings,
    created: str,
    timings: dict[str, float],
) -> StepRecord:
    step_id = f"{created[:10].replace('-', '')}-fill-{uuid.uuid4().hex[:12]}"
    counts = Counter(o.direction for o in outcomes)
    direction = max(Direction, key=lambda d: (counts[d], -list(Direction).index(d)))
    prompt = prompts[direction]
    usage: Usage | None = None
    cost: float | None = 0.0
    tiles = []
    for o in outcomes:
        usage = add_usage(usage, o.usage)
        cost = None if cost is None or o.cost_usd is None else cost + o.cost_usd
        written = o.tile.write_windows[0]
        for w in o.tile.write_windows[1:]:
            written = union(written, w)
        artifacts = (
            {role: step_artifact_key(step_id, 0, o.index, role) for role in ("reference", "mask", "raw", "final")}
            if settings.save_artifacts
            else {}
        )
        tiles.append(
            TileRecord(
                index=o.index,
                tile_window=o.tile.tile_window,
                write_window=written,
                seed=o.seed,
                band_drift=o.band_drift,
                seam_scores=_numeric(o.scores),
                usage=o.usage,
                cost_usd=o.cost_usd,
                request_id=o.request_id,
                artifacts=artifacts,
            )
        )
    worst = _worst_scores(outcomes)  # band drift included, as grow's records have it
    return StepRecord(
        step_id=step_id,
        direction=direction,
        created_at=created,
        strip_window=plan.region,
        bounds_before=plan.bounds,
        bounds_after=plan.new_bounds,
        band_sha256=sha_of([o.final[~o.generate] for o in outcomes]),
        result_sha256=sha_of([a for o in outcomes for _, a in o.pieces()]),
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
        seam_params={"width": settings.seam_width, "fill_cell": list(plan.cell), "tile": plan.tile},
        tiles=tuple(tiles),
        usage=usage,
        cost_usd=cost,
        timings=timings,
        qc=worst,
        attempts=tuple(
            Attempt(seed=r["seed"], scores=_numeric(r["scores"]), reason=f"tile {o.index}: {r['reason']}")
            for o in outcomes
            for r in o.rejected
        ),
    )


def commit_fill(
    canvas: Canvas,
    result: FillResult,
    *,
    cancel: Cancel | None = None,
    save_artifacts: bool = True,
    expect_token: str | None = None,
) -> StepRecord:
    """Commit a generated fill as ONE undoable step, then store its artifacts.

    The step is refused (nothing written) unless the canvas is still at ``expect_token`` (default: the
    state the fill was generated on).  Artifacts are stored only once the step is committed, so a refused
    or cancelled step leaves no ``_generated/`` files.
    """
    if cancel is not None:
        cancel.check()
    record = commit_pieces(
        canvas, result.record, result.pieces(), expect_token=result.token if expect_token is None else expect_token
    )
    if save_artifacts and any(t.artifacts for t in record.tiles):
        _store_artifacts(canvas, record.step_id, result.outcomes)
    return record


def commit_pieces(
    canvas: Canvas, record: StepRecord, pieces: list[tuple[Window, np.ndarray]], *, expect_token: str
) -> StepRecord:
    """Write ``pieces`` as ONE undoable step recorded by ``record`` (bounds taken from the canvas now)."""
    bounds_before = canvas.bounds
    after = bounds_before
    for w, _ in pieces:
        after = w if after.is_empty else union(after, w)
    record = replace(record, bounds_before=bounds_before, bounds_after=after)
    start = time.perf_counter()
    canvas.write(
        [(w.row_off, w.col_off, a) for w, a in pieces],
        grow=True,
        kind="fill",
        info={EXQUISITE_INFO_KEY: [record.to_dict()]},
        expect_token=expect_token,
    )
    return replace(record, timings={**record.timings, "commit": time.perf_counter() - start})


def _store_artifacts(canvas: Canvas, step_id: str, outcomes: list[FillOutcome]) -> None:
    store_artifacts(canvas, artifact_jobs(step_id, [(0, o.index, o) for o in outcomes])[0])


def fill(
    canvas: Canvas,
    region: Window,
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    cell: int | tuple[int, int] | None = None,
    keep: Sequence[Window] = (),
    direction: Direction | str | None = None,
    budget_usd: float | None = None,
    cancel: Cancel | None = None,
    on_tile: Callable[[FillOutcome], None] | None = None,
) -> StepRecord:
    """Generate every pixel of ``region`` that holds no content, and commit them as ONE undoable step.

    Parameters
    ----------
    canvas : Canvas
        A writable canvas.
    region : Window
        World window to fill; pixels in it that hold content are kept byte for byte.
    generator : TileGenerator
    settings : GrowSettings, optional
        Prompt, run seed, seam strategy, candidates, retries, QC, tile size.  The step's seed is
        derived from the run seed and the step's number on the canvas, as :func:`grow` does, so the
        same run seed on the same canvas gives the same bytes with a deterministic generator.
    cell, keep
        The largest cell of the plan, and windows never written besides those holding content
        (see :func:`~imkerutils.exquisite.geometry.fill.plan_fill`).
    direction : Direction or str, optional
        The direction every tile faces (the generator's request, the seam metrics) where it has a
        seam that way; default: each tile's longest seam.  :func:`grow_region` passes the edge's.
    budget_usd : float, optional
        Refuse (before the first call) a fill whose worst case takes the canvas's recorded spending past it.
    cancel : Cancel, optional
        Set it to stop: nothing is committed and :class:`~imkerutils.errors.StepCancelledError` is raised.
    on_tile : callable, optional
        Called with each finished tile.

    Raises
    ------
    NoContentNearError
        The region has no content next to it.
    """
    result = generate_fill(
        canvas,
        region,
        generator,
        settings,
        cell=cell,
        keep=keep,
        direction=direction,
        budget_usd=budget_usd,
        cancel=cancel,
        on_tile=on_tile,
    )
    return commit_fill(canvas, result, cancel=cancel, save_artifacts=(settings or GrowSettings()).save_artifacts)


def growth_direction(directions: Sequence[Direction | str]) -> Direction | None:
    """The direction the tiles of a growth step face: the edge's, when one edge grows."""
    ds = {Direction.parse(d) for d in directions}
    return ds.pop() if len(ds) == 1 else None


def grow_region(
    canvas: Canvas,
    directions: Sequence[Direction | str],
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    by: int = DEFAULT_BY,
    along: tuple[int, int] | None = None,
    steps: int = 1,
    budget_usd: float | None = None,
    cancel: Cancel | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
    on_tile: Callable[[FillOutcome], None] | None = None,
) -> list[StepRecord]:
    """Grow edges by ``by`` px a step (``along``: only that stretch of one edge), each step ONE :func:`fill`.

    Sugar over :func:`fill`: a step fills
    :func:`~imkerutils.exquisite.geometry.fill.edge_region` of the current bounds (tiles facing the
    edge's direction when one edge grows), so its seeds, record and bytes are those of ``fill`` on
    that region with the same settings and direction.
    """
    if not 1 <= by <= MAX_BY:
        raise InvalidGrowSettingsError(f"--by must be between 1 and {MAX_BY} px, got {by}")
    records = []
    for _ in range(steps):
        region, keep = edge_region(canvas.bounds, directions, by, along)
        record = fill(
            canvas,
            region,
            generator,
            settings,
            keep=keep,
            direction=growth_direction(directions),
            budget_usd=budget_usd,
            cancel=cancel,
            on_tile=on_tile,
        )
        records.append(record)
        if on_step is not None:
            on_step(record)
    return records
