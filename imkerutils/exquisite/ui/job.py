"""A request on the UI's writer thread, with its progress (phases, tiles, ETA)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imkerutils.exquisite.pipeline import Cancel
from imkerutils.exquisite.ui.requests import AcceptRequest, GenerateRequest, GrowRequest

if TYPE_CHECKING:
    from imkerutils.exquisite.ui.messages import PlainError

__all__ = ["Job", "JobRequest"]

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
        """Return the request's kind (``grow``, ``fill``, ``stage``, ...)."""
        return str(self.request.to_dict().get("kind", "grow"))

    @property
    def active(self) -> bool:
        """Return whether the job is queued or running."""
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
        """Return the job as the page shows it (JSON)."""
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
