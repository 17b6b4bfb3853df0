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
from typing import TYPE_CHECKING, Any

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
from imkerutils.exquisite.pipeline import Estimate, GrowSettings, grow, plan_fill_step, plan_grow_region
from imkerutils.exquisite.pipeline.staging import accept, discard, list_proposals, load_proposal, stage_fill
from imkerutils.exquisite.pipeline.step import plan_steps
from imkerutils.exquisite.state.budget import Budget
from imkerutils.exquisite.ui.availability import refuse_without_key, unavailable_note
from imkerutils.exquisite.ui.job import Job, JobRequest
from imkerutils.exquisite.ui.messages import PlainError, explain, redact
from imkerutils.exquisite.ui.plans import plan_summary, region_of
from imkerutils.exquisite.ui.proposals import candidate_png, summarise_proposal
from imkerutils.exquisite.ui.requests import AcceptRequest, GenerateRequest, GrowRequest
from imkerutils.exquisite.ui.view import View, publish, read_tile, thumbnail
from imkerutils.tiling.canvas import Canvas, StepInfo

if TYPE_CHECKING:
    import numpy as np

    from imkerutils.exquisite.state.record import StepRecord

__all__ = ["CanvasSession", "Job", "View"]

log = logging.getLogger("imkerutils.ui")

GeneratorFactory = Callable[[], TileGenerator]
KEEP_FINISHED_JOBS = 50
# Tiles a server generates at once.  Each tile in flight holds ~20 MiB of images, and the mock generator
# declares 16 parallel calls: uncapped, one step over a 60000-px edge took the server past 1 GiB.
SERVER_TILES_IN_FLIGHT = 4


def tiles_in_flight(generator: TileGenerator) -> int:
    """Return the generator's useful parallel calls, capped at :data:`SERVER_TILES_IN_FLIGHT` (the server's memory)."""
    return max(1, min(SERVER_TILES_IN_FLIGHT, generator.max_concurrency))


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
        """Return the published view of the canvas (after :meth:`start`)."""
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
        self._view = publish(self.location)
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
        """Return the names of the generators this server offers."""
        return list(self._factories) if self._factories is not None else list(available_generators())

    def generators(self) -> list[dict[str, Any]]:
        """Return the generators offered, each with whether it can run here and why not."""
        out = []
        for name in self.generator_names():
            note = unavailable_note(name, self._factories)  # e.g. the key variable its class declares is unset
            out.append({"name": name, "available": not note, "note": note})
        return out

    def default_generator(self) -> str:
        """Return the generator the page selects first (``local``, else ``mock``, else the first)."""
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
        """Return the names of the seam strategies."""
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
        """Return job ``job_id`` as JSON, or ``None`` if there is none."""
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.to_dict()

    def cancel(self, job_id: str) -> dict[str, Any] | None:
        """Cancel a job, and return it as JSON (``None`` if there is no such job).

        A queued job never runs; a running one stops before its next generator call or its commit, with
        nothing written by the running step.  Finished jobs are left as they are.
        """
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

        plans = plan_steps(canvas.bounds, req.directions, settings, req.steps)  # each step planned once

        def on_step(_records: list[StepRecord]) -> None:
            self._update_pyramid()
            self._publish()
            more = job.steps_done + 1 < req.steps
            total = len(plans[job.steps_done + 1].tiles) if more else 0
            with self._lock:
                job.steps_done += 1
                if more:
                    job.tiles_done, job.tiles_total = 0, total
                    if job.phase != "cancelling":
                        job.enter("generating")

        with self._lock:
            job.tiles_total = len(plans[0].tiles)
        grow(
            canvas,
            req.directions,
            generator,
            settings,
            steps=req.steps,
            budget_usd=self.budget.limit_usd,
            on_tile=self._on_tile(job, "committing"),
            on_step=on_step,
            cancel=job.cancel,
            plans=plans,
        )

    def _stage(self, job: Job, canvas: Canvas, generator: TileGenerator) -> None:
        req = job.request
        assert isinstance(req, GenerateRequest)
        settings = GrowSettings(
            prompt=req.prompt, seed=req.seed, seam=req.seam, save_artifacts=False, workers=tiles_in_flight(generator)
        )
        region, keep, direction = region_of(req, canvas.bounds)
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
            plan=plan,
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
        staged = [summarise_proposal(p, token) for p in list_proposals(self._canvas)]
        with self._lock:
            self._staged = staged

    def candidate_png(self, proposal_id: str, candidate: int) -> bytes:
        """One staged candidate's new pixels as a PNG of their bounding box, transparent where it writes nothing."""
        return candidate_png(self.view.reader, proposal_id, candidate)

    # -- plans and the budget --------------------------------------------------------------
    def plan(self, request: GenerateRequest) -> dict[str, Any]:
        """Return what generating ``request`` would do and cost at worst, from the published state; nothing runs."""
        reader = self.view.reader
        generator = self.make_generator(request.generator)
        settings = GrowSettings(prompt=request.prompt, seed=request.seed, seam=request.seam)
        if request.region is not None:
            plans = [plan_fill_step(reader, request.region, settings)]
        else:
            plans = plan_grow_region(reader, request.directions, settings, by=request.by, along=request.along)
        estimate = Estimate.of(plans, generator, settings, candidates=request.candidates)
        return plan_summary(estimate, request, Budget(self.budget.limit_usd, self.view.spent_usd))

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
        with self._lock:
            jobs = [j.to_dict() for j in reversed(self._jobs.values())]
            staged = list(self._staged)
        running = next((j for j in jobs if j["status"] == "running"), None)
        return {
            **v.describe(self.location, self.budget),
            "generators": self.generators(),
            "default_generator": self.default_generator(),
            "seams": self.seams(),
            "job": running,
            "queued": sum(1 for j in jobs if j["status"] == "queued"),
            "jobs": jobs[:10],
            "staged": staged,
        }

    def read_tile(self, level: int, col: int, row: int) -> tuple[View, np.ndarray | None]:
        """Return the view and the pixels of viewer tile ``(col, row)`` of ``level`` (:func:`.view.read_tile`)."""
        return read_tile(self.view, level, col, row)

    def thumbnail(self, number: int) -> bytes | None:
        """Return a small PNG of what committed step ``number`` added (None if there is no such step)."""
        return thumbnail(self.view, number)
