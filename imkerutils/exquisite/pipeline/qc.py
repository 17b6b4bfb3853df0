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

    from imkerutils.exquisite.geometry.seam import SeamScores


__all__ = ["Candidate", "QCHook", "Verdict", "accept_all", "candidate_score", "seam_threshold"]


class Verdict(StrEnum):
    """What a QC hook decides about a tile: keep it, generate it again, or refuse the step."""

    ACCEPT = "accept"
    RETRY = "retry"
    REJECT = "reject"


# A frozen record of a few numbers like api.pricing.ModelPrice: alike in shape only.
@dataclass(frozen=True, eq=False)
class Candidate:
    """One finished tile offered to quality control."""

    tile_index: int
    seed: int
    attempt: int
    image: np.ndarray  # the finished tile (kept pixels restored, seam strategy applied)
    seam: SeamScores | None  # None: the seam lies too near the tile's edge to measure
    band_drift: float | None

    @property
    def scores(self) -> dict[str, Any]:
        """:attr:`seam` as a dict (``{}`` when unmeasured), for hooks written against the dict it used to be."""
        return {} if self.seam is None else self.seam.to_dict()


QCHook = Callable[[Candidate], Verdict]


def accept_all(_candidate: Candidate) -> Verdict:
    """Return the default hook: every tile is accepted."""
    return Verdict.ACCEPT


def candidate_score(candidate: Candidate) -> float:
    """Lower is better: the local seam excess (natural images score about 1)."""
    if candidate.seam is None:
        return float("inf")
    return abs(float(candidate.seam.seam_excess) - 1.0)


def seam_threshold(max_excess: float = 2.0) -> QCHook:
    """Return a hook that retries tiles whose local seam excess exceeds ``max_excess``."""

    def hook(candidate: Candidate) -> Verdict:
        seam = candidate.seam
        return Verdict.ACCEPT if seam is None or seam.seam_excess <= max_excess else Verdict.RETRY

    return hook
