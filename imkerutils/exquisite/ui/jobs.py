"""One canvas served to browsers: a single writer thread, grow jobs with progress, and a published view.

Every change to the canvas (a grow job, undo, redo, a pyramid refresh after
another program wrote) runs on ONE writer thread, in the order requested, so
two grow requests are serialised and never interleave.  A grow request
becomes a :class:`Job` that waits its turn (FIFO, at most ``max_queued``
waiting or running).  After each committed step the job brings the pyramid
up to date and *publishes* a new :class:`View`: the state every browser tab
polls, the frame the viewer tiles, and a read-only canvas opened on that
state for tile reads (so reading tiles never takes the canvas's write lock).

The business logic stays in :mod:`imkerutils.exquisite.pipeline`; this module
only schedules calls to it and summarises its records for display.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from imkerutils.errors import (
    BusyError,
    CanvasChangedError,
    CanvasLockedError,
    ProposalNotFoundError,
    QueueFullError,
    StepCancelledError,
)
from imkerutils.exquisite.api.base import TileGenerator
from imkerutils.exquisite.api.registry import available_generators, get_generator
from imkerutils.exquisite.geometry.blend import seam_strategy_names
from imkerutils.exquisite.geometry.fill import edge_region
from imkerutils.exquisite.pipeline import (
    Cancel,
    GrowSettings,
    canvas_spent_usd,
    estimate_fill,
    estimate_grow_region,
    grow,
    plan_fill_step,
    plan_step,
)
from imkerutils.exquisite.pipeline.fill import growth_direction
from imkerutils.exquisite.pipeline.staging import (
    Proposal,
    accept,
    candidate_pieces,
    discard,
    list_proposals,
    load_proposal,
    stage_fill,
)
from imkerutils.exquisite.pipeline.step import EXQUISITE_INFO_KEY
from imkerutils.exquisite.state.budget import Budget, format_usd
from imkerutils.exquisite.state.record import StepRecord
from imkerutils.exquisite.ui.availability import refuse_without_key, unavailable_note
from imkerutils.exquisite.ui.deepzoom import Frame, with_alpha
from imkerutils.exquisite.ui.messages import PlainError, explain, redact
from imkerutils.exquisite.ui.requests import AcceptRequest, GenerateRequest, GrowRequest
from imkerutils.tiling.canvas import Canvas, StepInfo
from imkerutils.tiling.frame import level_window
from imkerutils.tiling.imageio import encode_png
from imkerutils.tiling.window import Window, intersection, union

__all__ = ["BusyError", "CanvasSession", "Job", "QueueFullError", "View"]

log = logging.getLogger("imkerutils.ui")

GeneratorFactory = Callable[[], TileGenerator]
THUMB_PX = 160
HISTORY_LIMIT = 100
KEEP_FINISHED_JOBS = 50
# Tiles a server generates at once.  Each tile in flight holds ~20 MiB of images, and the mock generator
# declares 16 parallel calls: uncapped, one step over a 60000-px edge took the server past 1 GiB.
SERVER_TILES_IN_FLIGHT = 4


def tiles_in_flight(generator: TileGenerator) -> int:
    """The generator's useful parallel calls, at most :data:`SERVER_TILES_IN_FLIGHT` (bounds the server's memory)."""
    return max(1, min(SERVER_TILES_IN_FLIGHT, generator.max_concurrency))


JobRequest = GrowRequest | GenerateRequest | AcceptRequest


@dataclass
class Job:
    """One request on the writer thread, with its progress.

    ``kind`` is ``grow`` (an edge button), ``generate`` (stage candidates of a drawn region or an edge
    stretch) or ``accept`` (commit a staged candidate).  ``status`` is queued, running, done, failed
    or cancelled; ``phase`` says what a running job is doing (generating, committing, staging,
    cancelling); ``phases`` lists every phase it went through.  The ETA comes from the measured
    times between finished tiles.
    """

    id: str
    request: JobRequest
    status: str = "queued"
    phase: str = "queued"
    phases: list[str] = field(default_factory=lambda: ["queued"])
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    steps_done: int = 0
    tiles_done: int = 0
    tiles_total: int = 0
    tile_seconds: list[float] = field(default_factory=list)
    last_tile_at: float | None = None
    head_before: int | None = None
    head_after: int | None = None
    proposal: str | None = None
    error: PlainError | None = None
    cancel: Cancel = field(default_factory=Cancel, repr=False)

    @property
    def kind(self) -> str:
        return str(self.request.to_dict().get("kind", "grow"))

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def enter(self, phase: str) -> None:
        """Move to ``phase`` (call with the session's lock held)."""
        if self.phase != phase:
            self.phase = phase
            self.phases.append(phase)

    def tile_finished(self, now: float) -> None:
        """Count one finished tile and measure the time since the last one (lock held)."""
        since = self.last_tile_at if self.last_tile_at is not None else self.started_at
        if since is not None:
            self.tile_seconds.append(max(0.0, now - since))
        self.last_tile_at = now
        self.tiles_done += 1

    def eta_s(self) -> float | None:
        """Seconds left, from the mean measured time per tile (None before the first tile finished)."""
        if self.status != "running" or not self.tile_seconds or not self.tiles_total:
            return None
        steps_left = max(0, self.request.steps - self.steps_done - 1)
        tiles_left = max(0, self.tiles_total - self.tiles_done) + steps_left * self.tiles_total
        return tiles_left * sum(self.tile_seconds) / len(self.tile_seconds)

    def to_dict(self) -> dict[str, Any]:
        steps = self.request.steps
        part = self.tiles_done / self.tiles_total if self.tiles_total else 0.0
        progress = 1.0 if self.status == "done" else min(1.0, (self.steps_done + part) / steps)
        mean = sum(self.tile_seconds) / len(self.tile_seconds) if self.tile_seconds else None
        return {
            "id": self.id,
            "kind": "grow",
            "status": self.status,
            "phase": self.phase,
            "phases": list(self.phases),
            **self.request.to_dict(),
            "steps_done": self.steps_done,
            "tiles_done": self.tiles_done,
            "tiles_total": self.tiles_total,
            "progress": progress,
            "tile_seconds_mean": mean,
            "eta_s": self.eta_s(),
            "head_before": self.head_before,
            "head_after": self.head_after,
            "proposal": self.proposal,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": None if self.error is None else self.error.to_dict(),
        }


@dataclass(frozen=True)
class View:
    """A published state of the canvas: what browsers see and the read-only canvas tiles come from."""

    reader: Canvas
    token: str
    bounds: Window
    levels: int
    head: int
    redoable: int
    frame: Frame
    history: tuple[dict[str, Any], ...]
    regions: Mapping[int, Window]
    spent_usd: float
    #: Which level-0 tiles of the frame some committed step wrote (:meth:`Frame.written_grid`).
    written: np.ndarray | None = None
    #: The undone steps redo would re-apply, next first, summarised as ``history`` entries.
    undone: tuple[dict[str, Any], ...] = ()


def _written_window(step: StepInfo, tile: int) -> Window | None:
    """The smallest window around the level-0 tiles ``step`` wrote, inside its bounds (None: it wrote none)."""
    if not step.written:
        return None
    rows = [i for i, _ in step.written]
    cols = [j for _, j in step.written]
    around = Window.from_bounds(min(rows) * tile, min(cols) * tile, (max(rows) + 1) * tile, (max(cols) + 1) * tile)
    return intersection(around, step.bounds_after)


def _summarise(step: StepInfo, tile: int = 1024) -> tuple[dict[str, Any], Window]:
    """What the history list shows for one step, and the region its thumbnail shows (and the viewer outlines).

    A generation step's region is its strips; any other step's is the tiles it wrote (a paste far from the
    rest shows itself, not the whole canvas), or its bounds when it wrote none.
    """
    records = [StepRecord.from_dict(r) for r in step.info.get(EXQUISITE_INFO_KEY) or []]
    entry: dict[str, Any] = {
        "number": step.number,
        "id": step.id,
        "kind": step.kind,
        "created_at": step.created_at,
        "size": [step.bounds_after.width, step.bounds_after.height],
        "directions": [],
        "prompt": None,
        "generator": None,
        "seam_excess": None,
        "cost_usd": None,
        "cost": None,
        "source": None,
    }
    source = step.info.get("source")
    if isinstance(source, str):
        entry["source"] = os.path.basename(source)  # the file name only: the page needs no paths
    region = _written_window(step, tile) or step.bounds_after
    if records:
        seams = [s for r in records if (s := r.qc.get("seam_excess")) is not None]
        costs = [r.cost_usd for r in records]
        cost = None if None in costs else sum(c or 0.0 for c in costs)
        entry.update(
            directions=[r.direction.value for r in records],
            prompt=records[0].user_prompt,
            generator=records[0].generator_name,
            seam_excess=max(seams) if seams else None,
            cost_usd=cost,
            cost="unknown" if cost is None else format_usd(cost),
        )
        region = records[0].strip_window
        for r in records[1:]:
            region = union(region, r.strip_window)
    entry["region"] = region.to_dict()
    return entry, region


OVERLAY_PX = 2048  # longest side of a candidate's overlay image


def _region_of(req: GenerateRequest, bounds: Window) -> tuple[Window, tuple[Window, ...], str | None]:
    """The region a generate request fills on a canvas with ``bounds``, the windows it keeps, its direction."""
    if req.region is not None:
        return req.region, (), None
    region, keep = edge_region(bounds, req.directions, req.by, req.along)
    d = growth_direction(req.directions)
    return region, keep, None if d is None else d.value


def _bbox(windows: list[Window]) -> Window:
    box = windows[0]
    for w in windows[1:]:
        box = union(box, w)
    return box


def _summarise_proposal(p: Proposal, token: str) -> dict[str, Any]:
    """What the page shows of a staged proposal: its region, the box its candidates write, each candidate."""
    box = _bbox(list(p.plan.written)) if p.plan.written else p.region
    records = p.records()
    out: dict[str, Any] = {
        "id": p.id,
        "created_at": p.created_at,
        "region": {"x": p.region.col_off, "y": p.region.row_off, "width": p.region.width, "height": p.region.height},
        "box": {"x": box.col_off, "y": box.row_off, "width": box.width, "height": box.height},
        "tiles": len(p.plan.tiles),
        "canvas_unchanged": token == p.canvas_token,
        "prompt": records[0].user_prompt if records else "",
        "generator": records[0].generator_name if records else "",
        "candidates": [],
    }
    for c, r in zip(p.candidates, records, strict=True):
        seam = r.qc.get("seam_excess")
        out["candidates"].append(
            {
                "candidate": c["candidate"],
                "seed": c["seed"],
                "seam_excess": seam if isinstance(seam, (int, float)) else None,
                "cost_usd": r.cost_usd,
                "cost": "unknown" if r.cost_usd is None else format_usd(r.cost_usd),
                "image": f"/api/staged/{p.id}/{c['candidate']}.png",
            }
        )
    return out


class CanvasSession:
    """The browser UI's hold on one canvas (see the module docstring).

    Parameters
    ----------
    location
        The canvas (a local folder); the only path the UI ever reads or writes.
    budget_usd
        Refuse any step that could take the canvas's recorded spending past this.
    generators
        Name -> factory of the generators offered; default: every registered one.
    max_queued
        Grow jobs that may wait or run at once; more are refused.
    """

    def __init__(
        self,
        location: str | os.PathLike[str],
        *,
        budget_usd: float | None = None,
        generators: Mapping[str, GeneratorFactory] | None = None,
        max_queued: int = 8,
    ) -> None:
        self.location = os.fspath(location)
        self.budget = Budget(budget_usd)  # validates the limit
        self._factories = dict(generators) if generators is not None else None
        self.max_queued = max_queued
        self._canvas = Canvas.open(self.location)
        self._probe = Canvas.open(self.location, read_only=True)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imkerutils-ui-writer")
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._pending = 0
        self._view: View | None = None
        self._staged: list[dict[str, Any]] = []

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        """Bring the pyramid up to date and publish the first view (blocks until done)."""
        self._submit(self._refresh).result()

    def close(self) -> None:
        """Cancel queued jobs and the running one (its step stops before its next generator call, unwritten)."""
        with self._lock:
            for job in self._jobs.values():
                if job.status == "queued":
                    job.status, job.finished_at = "failed", time.time()
                    job.error = PlainError("stopped", "The server stopped", "this job was cancelled before it ran")
                elif job.status == "running":
                    job.cancel.set()  # stops before its next generator call, with nothing written
        self._writer.shutdown(wait=False, cancel_futures=True)

    @property
    def view(self) -> View:
        if self._view is None:
            raise RuntimeError("CanvasSession.start() has not run")
        return self._view

    # -- the writer thread -------------------------------------------------------
    def _submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        with self._lock:
            self._pending += 1

        def task() -> Any:
            try:
                return fn(*args)
            finally:
                with self._lock:
                    self._pending -= 1

        return self._writer.submit(task)

    def _update_pyramid(self) -> None:
        try:
            self._canvas.update_pyramid()
        except CanvasLockedError:  # another program is writing; its state is picked up on the next sync
            log.warning("canvas %s is locked by another program; the overview may be stale", self.location)

    def _refresh(self) -> None:
        self._canvas.refresh()
        self._update_pyramid()
        self._publish()

    def _publish(self) -> None:
        reader = Canvas.open(self.location, read_only=True)  # fresh: sees resized arrays and new levels
        steps = reader.history()
        summaries = [_summarise(s, reader.tile) for s in steps]
        for entry, _ in summaries:
            entry["thumb"] = f"/api/steps/{entry['number']}/thumb.png?v={entry['id']}"
        undone = [_summarise(s, reader.tile)[0] for s in reader.undone()[:HISTORY_LIMIT]]
        levels = reader.levels
        frame = Frame.of(reader.bounds, levels=levels, tile=reader.tile)
        self._view = View(
            reader=reader,
            token=reader.state_token,
            bounds=reader.bounds,
            levels=levels,
            head=reader.head,
            redoable=reader.redoable,
            frame=frame,
            history=tuple(entry for entry, _ in summaries[-HISTORY_LIMIT:]),
            regions={entry["number"]: region for entry, region in summaries},
            spent_usd=canvas_spent_usd(reader),
            written=frame.written_grid(reader.written_tile_windows(frame.window)),
            undone=tuple(undone),
        )
        self._refresh_staged()  # whether each proposal was made on this very state

    def sync(self) -> None:
        """Notice a change made by another program (e.g. ``imkerutils undo``) and refresh the view."""
        with self._lock:
            if self._pending:
                return
        if self._probe.refresh().state_token != self.view.token:
            self._submit(self._refresh)

    # -- generators ----------------------------------------------------------------
    def generator_names(self) -> list[str]:
        return list(self._factories) if self._factories is not None else list(available_generators())

    def generators(self) -> list[dict[str, Any]]:
        """The generators offered, each with whether it can run here and why not."""
        out = []
        for name in self.generator_names():
            note = unavailable_note(name, self._factories)  # e.g. the key variable its class declares is unset
            out.append({"name": name, "available": not note, "note": note})
        return out

    def default_generator(self) -> str:
        names = self.generator_names()
        return next((n for n in ("local", "mock") if n in names), names[0] if names else "")

    def make_generator(self, name: str) -> TileGenerator:
        """Build generator ``name`` (:class:`AuthenticationGeneratorError` if its declared key variable is unset)."""
        refuse_without_key(name, self._factories)
        if self._factories is not None:
            return self._factories[name]()
        return get_generator(name)

    @staticmethod
    def seams() -> list[str]:
        return list(seam_strategy_names())

    # -- jobs ------------------------------------------------------------------------
    def _queue(self, request: JobRequest) -> Job:
        with self._lock:
            active = sum(1 for j in self._jobs.values() if j.active)
            if active >= self.max_queued:
                raise QueueFullError(
                    f"{active} growth jobs are already waiting or running on this canvas; wait for them to finish"
                )
            job = Job(id=uuid.uuid4().hex, request=request)
            self._jobs[job.id] = job
            finished = [k for k, j in self._jobs.items() if not j.active]
            for k in finished[: max(0, len(finished) - KEEP_FINISHED_JOBS)]:
                del self._jobs[k]
        return job

    def submit_grow(self, request: GrowRequest) -> Job:
        """Queue a grow job (builds the generator first, so a missing key is refused at once)."""
        generator = self.make_generator(request.generator)
        job = self._queue(request)
        self._submit(self._run_job, job, lambda canvas: self._grow(job, canvas, generator))
        return job

    def submit_generate(self, request: GenerateRequest) -> Job:
        """Queue staging ``request.candidates`` candidates of a region (nothing is committed)."""
        generator = self.make_generator(request.generator)
        job = self._queue(request)
        self._submit(self._run_job, job, lambda canvas: self._stage(job, canvas, generator))
        return job

    def submit_accept(self, proposal_id: str, candidate: int) -> Job:
        """Queue committing candidate ``candidate`` of a staged proposal as one undoable step."""
        proposal = load_proposal(self.view.reader, proposal_id)  # unknown id or candidate: refused at once
        if not 0 <= candidate < len(proposal.candidates):
            raise ProposalNotFoundError(
                f"proposal {proposal.id} has candidates 0..{len(proposal.candidates) - 1}, not {candidate}"
            )
        job = self._queue(AcceptRequest(proposal.id, candidate))
        self._submit(self._run_job, job, lambda canvas: self._accept(job, canvas))
        return job

    def job(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.to_dict()

    def cancel(self, job_id: str) -> dict[str, Any] | None:
        """Cancel a job: a queued one never runs; a running one stops before its next generator call or
        its commit, with nothing written by the running step.  Finished jobs are left as they are."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.status == "queued":
                job.status, job.finished_at = "cancelled", time.time()
                job.enter("cancelled")
            elif job.status == "running":
                job.cancel.set()
                job.enter("cancelling")
            return job.to_dict()

    def _run_job(self, job: Job, work: Callable[[Canvas], None]) -> None:
        canvas = self._canvas.refresh()
        with self._lock:
            if job.status != "queued":  # cancelled before it ran, or by close()
                return
            job.status, job.started_at, job.head_before = "running", time.time(), canvas.head
            job.enter("committing" if isinstance(job.request, AcceptRequest) else "generating")
        try:
            work(canvas)
        except StepCancelledError:
            with self._lock:
                job.status = "cancelled"
                job.enter("cancelled")
        except Exception as exc:  # every failure becomes a plain message on the job
            error = explain(exc)
            if error.kind == "internal":
                log.error("%s job %s failed: %s", job.kind, job.id, redact(repr(exc)), exc_info=False)
            else:
                log.warning("%s job %s failed: %s: %s", job.kind, job.id, error.title, error.detail)
            with self._lock:
                job.status, job.error = "failed", error
                job.enter("failed")
        else:
            with self._lock:
                job.status = "done"
                job.enter("done")
        finally:
            with self._lock:
                job.finished_at, job.head_after = time.time(), canvas.head
        if job.status != "done":
            try:
                self._refresh()
            except Exception as exc:  # never let the writer thread die silently
                log.error("could not refresh the view of %s after a failed job: %s", self.location, redact(repr(exc)))

    def _on_tile(self, job: Job, after_last: str) -> Callable[[Any], None]:
        def on_tile(_outcome: Any) -> None:
            with self._lock:
                job.tile_finished(time.time())
                if job.tiles_done >= job.tiles_total and job.phase != "cancelling":
                    job.enter(after_last)

        return on_tile

    def _grow(self, job: Job, canvas: Canvas, generator: TileGenerator) -> None:
        req = job.request
        assert isinstance(req, GrowRequest)
        settings = GrowSettings(
            prompt=req.prompt, seed=req.seed, seam=req.seam, save_artifacts=True, workers=tiles_in_flight(generator)
        )

        def on_step(_records: list[StepRecord]) -> None:
            self._update_pyramid()
            self._publish()
            more = job.steps_done + 1 < req.steps
            total = len(plan_step(canvas, list(req.directions), settings).tiles) if more else 0
            with self._lock:
                job.steps_done += 1
                if more:
                    job.tiles_done, job.tiles_total = 0, total
                    if job.phase != "cancelling":
                        job.enter("generating")

        total = len(plan_step(canvas, list(req.directions), settings).tiles)
        with self._lock:
            job.tiles_total = total
        grow(
            canvas,
            list(req.directions),
            generator,
            settings,
            steps=req.steps,
            budget_usd=self.budget.limit_usd,
            on_tile=self._on_tile(job, "committing"),
            on_step=on_step,
            cancel=job.cancel,
        )

    def _stage(self, job: Job, canvas: Canvas, generator: TileGenerator) -> None:
        req = job.request
        assert isinstance(req, GenerateRequest)
        settings = GrowSettings(
            prompt=req.prompt, seed=req.seed, seam=req.seam, save_artifacts=False, workers=tiles_in_flight(generator)
        )
        region, keep, direction = _region_of(req, canvas.bounds)
        plan = plan_fill_step(canvas, region, settings, keep=keep)
        with self._lock:
            job.tiles_total = len(plan.tiles) * req.candidates
        proposal = stage_fill(
            canvas,
            region,
            generator,
            settings,
            candidates=req.candidates,
            keep=keep,
            direction=direction,
            budget_usd=self.budget.limit_usd,
            cancel=job.cancel,
            on_tile=self._on_tile(job, "staging"),
        )
        with self._lock:
            job.proposal, job.steps_done = proposal.id, 1
        self._refresh_staged()

    def _accept(self, job: Job, canvas: Canvas) -> None:
        req = job.request
        assert isinstance(req, AcceptRequest)
        try:
            accept(canvas, req.proposal, req.candidate)
        except Exception:
            self._refresh_staged()
            raise
        self._update_pyramid()
        self._publish()
        with self._lock:
            job.steps_done = 1

    # -- staged proposals ------------------------------------------------------------------
    def discard(self, proposal_id: str) -> Future[None]:
        """Remove a staged proposal on the writer thread (the canvas is not touched)."""
        load_proposal(self.view.reader, proposal_id)  # unknown id: refused at once

        def work() -> None:
            try:
                discard(self._canvas, proposal_id)
            finally:
                self._refresh_staged()

        return self._submit(work)

    def _refresh_staged(self) -> None:
        token = self._canvas.state_token
        staged = [_summarise_proposal(p, token) for p in list_proposals(self._canvas)]
        with self._lock:
            self._staged = staged

    def candidate_png(self, proposal_id: str, candidate: int) -> bytes:
        """One staged candidate's new pixels as a PNG of their bounding box, transparent where it writes nothing."""
        reader = self.view.reader
        pieces = candidate_pieces(reader, load_proposal(reader, proposal_id), candidate)
        box = _bbox([w for w, _ in pieces])
        out = np.zeros((box.height, box.width, 4), np.uint8)
        for w, a in pieces:
            target = out[w.slices((box.row_off, box.col_off))]
            target[..., : a.shape[2]] = a
            if a.shape[2] == 3:
                target[..., 3] = 255
        image = Image.fromarray(out, "RGBA")
        image.thumbnail((OVERLAY_PX, OVERLAY_PX))
        return encode_png(image)

    # -- plans and the budget --------------------------------------------------------------
    def plan(self, request: GenerateRequest) -> dict[str, Any]:
        """What generating ``request`` would do and cost at worst, from the published state; nothing runs."""
        reader = self.view.reader
        generator = self.make_generator(request.generator)
        settings = GrowSettings(prompt=request.prompt, seed=request.seed, seam=request.seam)
        if request.region is not None:
            estimate = estimate_fill(reader, request.region, generator, settings, candidates=request.candidates)
        else:
            estimate = estimate_grow_region(
                reader,
                request.directions,
                generator,
                settings,
                by=request.by,
                along=request.along,
                candidates=request.candidates,
            )
        out = estimate.to_dict()
        region = estimate.regions[0]
        spent = self.view.spent_usd
        budget = Budget(self.budget.limit_usd, spent)
        out.update(
            region={"x": region.col_off, "y": region.row_off, "width": region.width, "height": region.height},
            tiles_total=estimate.tiles * request.candidates,
            worst_case=None if estimate.worst_case_usd is None else format_usd(estimate.worst_case_usd),
            lines=estimate.lines(),
            budget={
                "budget_usd": self.budget.limit_usd,
                "remaining_usd": budget.remaining_usd,
                "fits": budget.fits(estimate.worst_case_usd),
            },
        )
        return out

    def set_budget(self, limit_usd: float | None) -> None:
        """Refuse, from now on, any job whose worst case could take the canvas's spending past ``limit_usd``."""
        self.budget = Budget(limit_usd)

    # -- undo / redo ------------------------------------------------------------------
    def _check_idle(self, what: str) -> None:
        with self._lock:
            if any(j.active for j in self._jobs.values()):
                raise BusyError(f"a growth job is running on this canvas; {what} when it has finished")

    def undo(self, head: int | None = None) -> Future[StepInfo]:
        """Undo the last step on the writer thread; ``head`` (if given) must still be the step count."""
        self._check_idle("undo")
        return self._submit(self._undo_redo, "undo", head)

    def redo(self, head: int | None = None) -> Future[StepInfo]:
        """Redo the last undone step on the writer thread."""
        self._check_idle("redo")
        return self._submit(self._undo_redo, "redo", head)

    def _undo_redo(self, op: str, head: int | None) -> StepInfo:
        canvas = self._canvas.refresh()
        if head is not None and canvas.head != head:
            self._refresh()
            raise CanvasChangedError(
                f"the canvas changed since this page was drawn (it now has {canvas.head} "
                f"steps, the page saw {head}); nothing was done, look again and retry"
            )
        info = canvas.undo() if op == "undo" else canvas.redo()
        self._update_pyramid()
        self._publish()
        return info

    # -- what the browser reads ---------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything the page shows, as JSON-ready data (never the API key)."""
        self.sync()
        v = self.view
        remaining = (
            Budget(self.budget.limit_usd, v.spent_usd).remaining_usd if self.budget.limit_usd is not None else None
        )
        with self._lock:
            jobs = [j.to_dict() for j in reversed(self._jobs.values())]
            staged = list(self._staged)
        running = next((j for j in jobs if j["status"] == "running"), None)
        return {
            "canvas": {
                "name": os.path.basename(self.location.rstrip("/\\")) or self.location,
                "mode": v.reader.mode,
                "tile": v.reader.tile,
                "bounds": v.bounds.to_dict(),
                "width": v.bounds.width,
                "height": v.bounds.height,
                "levels": v.levels,
            },
            "token": v.token,
            "head": v.head,
            "redoable": v.redoable,
            "viewer": {
                "frame": v.frame.window.to_dict(),
                "tile": v.frame.tile,
                "levels": v.levels,
                "formats": ["png"] if v.reader.mode == "RGBA" else ["jpg", "png"],
            },
            "history": list(v.history),
            "history_total": v.head,
            "redo": list(v.undone),
            "cost": {
                "spent_usd": v.spent_usd,
                "spent": format_usd(v.spent_usd),
                "budget_usd": self.budget.limit_usd,
                "budget": None if self.budget.limit_usd is None else format_usd(self.budget.limit_usd),
                "remaining_usd": remaining,
            },
            "generators": self.generators(),
            "default_generator": self.default_generator(),
            "seams": self.seams(),
            "job": running,
            "queued": sum(1 for j in jobs if j["status"] == "queued"),
            "jobs": jobs[:10],
            "staged": staged,
        }

    def read_tile(self, level: int, col: int, row: int) -> tuple[View, np.ndarray | None]:
        """The view and the pixels of viewer tile ``(col, row)`` of pyramid ``level``.

        None when the tile shows nothing (outside the bounds, or no step ever wrote under it).  Pixels
        over never-written level-0 tiles come back as RGBA with alpha 0 (the rest opaque); a tile that is
        all written comes back as the canvas stores it (RGB or RGBA).
        """
        v = self.view
        window = v.frame.tile_window(level, col, row)
        if intersection(window, v.reader.level_bounds(level)) is None:
            return v, None
        mask = None if v.written is None else v.frame.coverage(v.written, level, col, row)
        if mask is not None and not mask.any():
            return v, None
        pixels = v.reader.read(window, level)
        if mask is None or mask.all():
            return v, pixels
        return v, with_alpha(pixels, mask)

    def thumbnail(self, number: int) -> bytes | None:
        """A small PNG of what committed step ``number`` added (None if there is no such step)."""
        v = self.view
        region = v.regions.get(number)
        if region is None or number > v.head:
            return None
        region = intersection(region, v.bounds)
        if region is None:
            return None
        level = 0
        while level < v.levels - 1 and max(region.height, region.width) >> level > 2 * THUMB_PX:
            level += 1
        image = Image.fromarray(v.reader.read(level_window(region, level), level))
        image.thumbnail((THUMB_PX, THUMB_PX))
        return encode_png(image)
