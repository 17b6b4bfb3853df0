"""Seam quality control: hooks that accept, retry or reject a generated tile.

A hook is any callable ``hook(candidate) -> Verdict``.  The pipeline draws
``candidates`` tiles per attempt (best-of-N by :func:`candidate_score`), shows
the best to the hook, and on ``RETRY`` draws again with new seeds, up to
``max_retries`` times; ``REJECT`` (or running out of retries) abandons the
step and leaves the canvas untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Candidate", "QCHook", "Verdict", "accept_all", "candidate_score", "seam_threshold"]


class Verdict(StrEnum):
    """What a QC hook decides about a tile: keep it, generate it again, or refuse the step."""

    ACCEPT = "accept"
    RETRY = "retry"
    REJECT = "reject"


@dataclass(frozen=True, eq=False)
class Candidate:
    """One finished tile offered to quality control."""

    tile_index: int
    seed: int
    attempt: int
    image: np.ndarray  # the finished tile (kept pixels restored, seam strategy applied)
    scores: dict[str, Any]
    band_drift: float | None


QCHook = Callable[[Candidate], Verdict]


def accept_all(_candidate: Candidate) -> Verdict:
    """Return the default hook: every tile is accepted."""
    return Verdict.ACCEPT


def candidate_score(candidate: Candidate) -> float:
    """Lower is better: the local seam excess (natural images score about 1)."""
    value = candidate.scores.get("seam_excess")  # key of SeamScores.to_dict()
    return float("inf") if value is None else abs(float(value) - 1.0)


def seam_threshold(max_excess: float = 2.0) -> QCHook:
    """Return a hook that retries tiles whose local seam excess exceeds ``max_excess``."""

    def hook(candidate: Candidate) -> Verdict:
        value = candidate.scores.get("seam_excess")  # key of SeamScores.to_dict()
        return Verdict.ACCEPT if value is None or value <= max_excess else Verdict.RETRY

    return hook
