"""Fill any region of a canvas: generate every pixel of it that holds no content, as one atomic step.

A pixel holds content when it lies inside the canvas bounds and in a storage
tile some step wrote (the canvas manifest says which).  :func:`fill` plans the
region with :func:`~imkerutils.exquisite.geometry.fill.plan_fill` (a DAG of
tiles conditioned on the content around them and on the tiles before them),
generates the tiles level by level, and commits the new pixels with ONE
:meth:`Canvas.write`; pixels that held content are never written.  Nothing
touches the canvas before the commit: a failure, a refusal or a cancellation
leaves it as it was, and the step's artifacts are stored only after the commit.

:func:`~.planning.plan_fill_step` makes the plan, :meth:`~.estimate.Estimate.of` its worst case without
generating anything (``--dry-run``), and :func:`~.region.grow_region` grows edges by fills.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypedDict, Unpack

from imkerutils.exquisite.geometry.band import build_reference
from imkerutils.exquisite.geometry.direction import Direction, contiguous, from_right, right_facing
from imkerutils.exquisite.geometry.fill import FillPlan, FillTile, dominant_seam
from imkerutils.exquisite.pipeline.artifacts import artifact_jobs, store_artifacts
from imkerutils.exquisite.pipeline.cancel import Cancel
from imkerutils.exquisite.pipeline.grow import canvas_spent_usd, step_worst_case_usd
from imkerutils.exquisite.pipeline.planning import content_windows, plan_fill_step, step_seed
from imkerutils.exquisite.pipeline.step import (
    EXQUISITE_INFO_KEY,
    GrowSettings,
    drawn_fields,
    sha_of,
    tile_record,
)
from imkerutils.exquisite.pipeline.tile import DrawnOutcome, draw_tile
from imkerutils.exquisite.prompt.templates import PromptTemplate, RenderedPrompt, get_template, render
from imkerutils.exquisite.state.artifacts import step_artifact_key
from imkerutils.exquisite.state.budget import Budget
from imkerutils.exquisite.state.record import StepRecord, format_utc
from imkerutils.tiling.window import Window, intersection, union

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np

    from imkerutils.exquisite.api.base import TileGenerator
    from imkerutils.tiling.canvas import Canvas

__all__ = [
    "Cancel",
    "FillOptions",
    "FillOutcome",
    "FillResult",
    "commit_fill",
    "commit_pieces",
    "content_windows",
    "fill",
    "generate_fill",
    "plan_fill_step",
]


@dataclass
class FillOutcome(DrawnOutcome):
    """The accepted result of one fill tile."""

    tile: FillTile
    index: int
    direction: Direction
    prompt: RenderedPrompt  # the prompt rendered for ``direction``, which the generator calls got

    def pieces(self) -> list[tuple[Window, np.ndarray]]:
        """Return the new pixels, one array per write window."""
        return [(w, self.final[w.slices(self.tile.origin)]) for w in self.tile.write_windows]


@dataclass
class FillResult:
    """A generated, not yet committed fill: its plan, tiles and the record it would commit."""

    plan: FillPlan
    token: str
    outcomes: list[FillOutcome]
    record: StepRecord

    def pieces(self) -> list[tuple[Window, np.ndarray]]:
        """Return the ``(world window, pixels)`` pieces every tile writes, in tile order."""
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
    settings: GrowSettings,
    template: PromptTemplate,
    cancel: Cancel | None,
) -> FillOutcome:
    start = time.perf_counter()
    generate = tile.generate_mask()
    d, col = dominant_seam(generate, prefer)  # the tile's direction is known once its mask is
    prompt = render(template, settings.prompt, d)
    reference = contiguous(from_right(build_reference(*right_facing(pixels, generate, d), fill=settings.fill), d))
    # Seeds depend on the step seed and the cell's offset in the region, as an unordered pair: never on
    # the worker, the order or the direction, so growing a strip left / up is the mirror / transpose of
    # growing it right (the edge plan's rule).
    offset = sorted((tile.cell.row_off - region.row_off, tile.cell.col_off - region.col_off))
    drawn = draw_tile(
        index,
        (settings.seed, "fill", *offset),
        d,
        pixels,
        generate,
        reference,
        generator,
        settings,
        prompt=prompt.text,
        seam_col=col,
        cancelled=None if cancel is None else cancel.is_set,
    )
    return FillOutcome.of(drawn, reference, generate, start, tile=tile, index=index, direction=d, prompt=prompt)


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
    """Generate every tile of a fill without committing anything (see :func:`fill`).

    ``plan``: the fill's plan on the canvas as it is now, when the caller made it already.
    """
    settings = settings or GrowSettings()
    prefer = None if direction is None else Direction.parse(direction)
    started = time.perf_counter()
    created = format_utc(datetime.now(UTC))
    token = canvas.state_token
    settings = replace(settings, seed=step_seed(settings.seed, canvas.head + 1))
    if plan is None:
        plan = plan_fill_step(canvas, region, settings, cell=cell, keep=keep)
    if budget_usd is not None:
        worst = step_worst_case_usd(len(plan.tiles), generator, settings)
        Budget(budget_usd, canvas_spent_usd(canvas)).check(worst)
    template = get_template(settings.template, settings.template_version)
    index = {t.key: n for n, t in enumerate(plan.tiles)}
    done: dict[tuple[int, int], FillOutcome] = {}
    workers = max(1, settings.workers or generator.max_concurrency)
    # neighbouring tiles share chunks: each is decoded once
    with canvas.caching_tiles(), ThreadPoolExecutor(max_workers=workers) as pool:
        for level in plan.levels():
            if cancel is not None:
                cancel.check()
            inputs = [(t, _assemble(t, canvas.read(t.tile_window), done)) for t in level]
            futures = [
                pool.submit(_run_tile, t, index[t.key], plan.region, prefer, px, generator, settings, template, cancel)
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
    record = _record(plan, outcomes, generator, settings, created, timings)
    return FillResult(plan=plan, token=token, outcomes=outcomes, record=record)


def _record(
    plan: FillPlan,
    outcomes: list[FillOutcome],
    generator: TileGenerator,
    settings: GrowSettings,
    created: str,
    timings: dict[str, float],
) -> StepRecord:
    step_id = f"{created[:10].replace('-', '')}-fill-{uuid.uuid4().hex[:12]}"
    counts = Counter(o.direction for o in outcomes)
    direction = max(Direction, key=lambda d: (counts[d], -list(Direction).index(d)))
    prompt = next(o.prompt for o in outcomes if o.direction is direction)
    tiles = []
    for o in outcomes:
        written = o.tile.write_windows[0]
        for w in o.tile.write_windows[1:]:
            written = union(written, w)
        artifacts = (
            {role: step_artifact_key(step_id, 0, o.index, role) for role in ("reference", "mask", "raw", "final")}
            if settings.save_artifacts
            else {}
        )
        tiles.append(tile_record(o, o.index, o.tile.tile_window, written, artifacts))
    # By keyword, as step.tile_record builds a TileRecord: alike in shape only.
    return StepRecord(
        step_id=step_id,
        direction=direction,
        created_at=created,
        strip_window=plan.region,
        bounds_before=plan.bounds,
        bounds_after=plan.new_bounds,
        band_sha256=sha_of([o.final[~o.generate] for o in outcomes]),
        result_sha256=sha_of([a for o in outcomes for _, a in o.pieces()]),
        seam_params={"width": settings.seam_width, "fill_cell": list(plan.cell), "tile": plan.tile},
        tiles=tuple(tiles),
        timings=timings,
        **drawn_fields(outcomes, prompt, settings, generator),  # qc with band drift, as a grow step's
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
        extend=True,
        kind="fill",
        info={EXQUISITE_INFO_KEY: [record.to_dict()]},
        expect_token=expect_token,
        step_id=record.step_id,  # the journal's entry and the record: one id
    )
    return replace(record, timings={**record.timings, "commit": time.perf_counter() - start})


def _store_artifacts(canvas: Canvas, step_id: str, outcomes: list[FillOutcome]) -> None:
    store_artifacts(canvas, artifact_jobs(step_id, [(0, o.index, o) for o in outcomes])[0])


class FillOptions(TypedDict, total=False):
    """The keywords of :func:`fill`: :func:`generate_fill`'s, passed on to it (see :func:`fill` for each)."""

    cell: int | tuple[int, int] | None
    keep: Sequence[Window]
    direction: Direction | str | None
    budget_usd: float | None
    cancel: Cancel | None
    on_tile: Callable[[FillOutcome], None] | None
    plan: FillPlan | None


# fill is generate_fill + commit_fill: its keywords are generate_fill's, typed once (FillOptions) and passed on.
def fill(
    canvas: Canvas,
    region: Window,
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    **options: Unpack[FillOptions],
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
    **options
        The keywords below (:class:`FillOptions`), each passed on to :func:`generate_fill`.
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
    plan : FillPlan, optional
        The fill's plan on the canvas as it is now (:func:`~.planning.plan_fill_step`'s), so it is not planned
        again.

    Raises
    ------
    NoContentNearError
        The region has no content next to it.
    """
    result = generate_fill(canvas, region, generator, settings, **options)
    save = (settings or GrowSettings()).save_artifacts
    return commit_fill(canvas, result, cancel=options.get("cancel"), save_artifacts=save)
