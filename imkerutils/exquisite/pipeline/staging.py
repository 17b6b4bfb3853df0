"""Staged fills: generate N candidates for a region, keep them beside the canvas, commit the one chosen.

A proposal lives under ``_staged/<id>/`` in the canvas's own store (so it works
on object storage too): ``proposal.json`` (the plan, the state it was made on,
a fingerprint of the pixels it depends on, each candidate's record) and one
``candidate-<k>.npz`` per candidate (its new pixels, one array per write
window).  Candidate ``k`` is exactly what :func:`~.fill.fill` writes with run seed
``seed + k`` on the canvas as it was, so :func:`accept` commits those bytes as
one undoable step.  Accepting after the canvas changed in the pixels the
proposal depends on (every reference tile, and what holds content around the
region) is refused with :class:`~imkerutils.errors.ProposalStaleError`; accept
and discard remove the proposal.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from imkerutils.errors import CanvasReadOnlyError, InvalidGrowSettingsError, ProposalNotFoundError, ProposalStaleError
from imkerutils.exquisite.geometry.fill import FillPlan
from imkerutils.exquisite.pipeline.fill import FillOutcome, commit_pieces, generate_fill
from imkerutils.exquisite.pipeline.grow import canvas_spent_usd, step_worst_case_usd
from imkerutils.exquisite.pipeline.planning import content_windows, plan_fill_step
from imkerutils.exquisite.pipeline.step import GrowSettings
from imkerutils.exquisite.state.budget import Budget
from imkerutils.exquisite.state.record import StepRecord, format_utc
from imkerutils.jsonform import fields_form
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from imkerutils.exquisite.api.base import TileGenerator
    from imkerutils.exquisite.geometry.direction import Direction
    from imkerutils.exquisite.pipeline.cancel import Cancel
    from imkerutils.tiling.canvas import Canvas

__all__ = [
    "PROPOSAL_FORMAT",
    "STAGED",
    "Proposal",
    "accept",
    "candidate_pieces",
    "contact_sheet",
    "discard",
    "fingerprint",
    "list_proposals",
    "load_proposal",
    "stage_fill",
]

STAGED = "_staged"
PROPOSAL_FORMAT = "imkerutils.proposal/1"


@dataclass(frozen=True)
class Proposal:
    """A staged fill: its plan, the canvas state it was made on, and its candidates' records."""

    id: str
    created_at: str
    region: Window
    keep: tuple[Window, ...]
    canvas_token: str
    fingerprint: str
    plan: FillPlan
    candidates: tuple[dict[str, Any], ...]  # {"candidate", "seed", "record"}

    def records(self) -> list[StepRecord]:
        """Return each candidate's step record, in candidate order."""
        return [StepRecord.from_dict(c["record"]) for c in self.candidates]

    def summary(self, current_token: str | None = None) -> dict[str, Any]:
        """Return what ``imkerutils staged`` lists."""
        out: dict[str, Any] = {
            "id": self.id,
            "created_at": self.created_at,
            "region": self.region.to_dict(),
            "canvas_state": self.canvas_token,
            "tiles": len(self.plan.tiles),
            "candidates": [],
        }
        if current_token is not None:
            out["canvas_unchanged"] = current_token == self.canvas_token
        for c, r in zip(self.candidates, self.records(), strict=True):
            out["candidates"].append(
                {"candidate": c["candidate"], "seed": c["seed"], "seam_scores": dict(r.qc), "cost_usd": r.cost_usd}
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (:meth:`from_dict` reads it back)."""
        return fields_form(self, format=PROPOSAL_FORMAT)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Proposal:
        """Rebuild from the output of :meth:`to_dict`."""
        if data.get("format") != PROPOSAL_FORMAT:
            raise ProposalNotFoundError(f"not a staged proposal (format {data.get('format')!r})")
        return cls(
            id=data["id"],
            created_at=data["created_at"],
            region=Window.from_dict(data["region"]),
            keep=tuple(Window.from_dict(w) for w in data["keep"]),
            canvas_token=data["canvas_token"],
            fingerprint=data["fingerprint"],
            plan=FillPlan.from_dict(data["plan"]),
            candidates=tuple(data["candidates"]),
        )


# -- the store: the canvas's own artifact keys (hashed with them, so `verify` checks staged data too) ----------
def _get(canvas: Canvas, key: str) -> bytes:
    data = canvas.get_artifact(key)
    if data is None:
        raise ProposalNotFoundError(f"canvas {canvas.location} has no staged {key!r}")
    return data


def _check_id(proposal_id: str) -> str:
    if not isinstance(proposal_id, str) or not proposal_id.isalnum():
        raise ProposalNotFoundError(f"no staged proposal {proposal_id!r} (ids are letters and digits)")
    return proposal_id


def fingerprint(canvas: Canvas, plan: FillPlan) -> str:
    """SHA-256 of what a fill plan depends on: the pixels of every reference tile, and the content windows."""
    h = hashlib.sha256()
    for t in plan.tiles:
        h.update(np.ascontiguousarray(canvas.read(t.tile_window)).data)
    r, size = plan.region, plan.tile
    around = Window(r.row_off - size, r.col_off - size, r.height + 2 * size, r.width + 2 * size)
    h.update(
        json.dumps(sorted((w.row_off, w.col_off, w.height, w.width) for w in content_windows(canvas, around))).encode()
    )
    return h.hexdigest()


def _npz(outcomes: list[FillOutcome]) -> bytes:
    arrays = {f"p{n}": a for n, (_, a) in enumerate(p for o in outcomes for p in o.pieces())}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def stage_fill(
    canvas: Canvas,
    region: Window,
    generator: TileGenerator,
    settings: GrowSettings | None = None,
    *,
    candidates: int = 3,
    keep: tuple[Window, ...] = (),
    direction: Direction | str | None = None,
    budget_usd: float | None = None,
    cancel: Cancel | None = None,
    on_tile: Any = None,
    plan: FillPlan | None = None,
) -> Proposal:
    """Generate ``candidates`` fills of ``region`` (run seeds ``seed``, ``seed + 1``, ...) and stage them.

    Nothing is committed: the canvas's pixels and history are unchanged.  Candidates are stored only
    when all of them were generated (a cancelled or failed run stores nothing).  ``plan``: the fill's
    plan on the canvas as it is now, when the caller made it already (it is not planned again).
    """
    settings = settings or GrowSettings()
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
        raise InvalidGrowSettingsError(f"candidates must be an integer >= 1, got {candidates!r}")
    token = canvas.state_token
    if plan is None:
        plan = plan_fill_step(canvas, region, settings, keep=keep)
    if budget_usd is not None:  # every candidate's worst case, as Estimate.of counts it
        worst = step_worst_case_usd(len(plan.tiles) * candidates, generator, settings)
        Budget(budget_usd, canvas_spent_usd(canvas)).check(worst)
    results = []
    for k in range(candidates):
        s = replace(settings, seed=settings.seed + k, save_artifacts=False)
        results.append(
            (
                s.seed,
                generate_fill(
                    canvas, region, generator, s, plan=plan, direction=direction, cancel=cancel, on_tile=on_tile
                ),
            )
        )
    if cancel is not None:
        cancel.check()
    pid = uuid.uuid4().hex[:12]
    proposal = Proposal(
        id=pid,
        created_at=format_utc(datetime.now(UTC)),
        region=region,
        keep=tuple(keep),
        canvas_token=token,
        fingerprint=fingerprint(canvas, plan),
        plan=plan,
        candidates=tuple(
            {"candidate": k, "seed": seed, "record": r.record.to_dict()} for k, (seed, r) in enumerate(results)
        ),
    )
    for k, (_, r) in enumerate(results):
        canvas.put_artifact(f"{STAGED}/{pid}/candidate-{k}.npz", _npz(r.outcomes))
    canvas.put_artifact(f"{STAGED}/{pid}/proposal.json", json.dumps(proposal.to_dict()).encode())
    return proposal


def list_proposals(canvas: Canvas) -> list[Proposal]:
    """Return the staged proposals of ``canvas``, oldest first."""
    names = sorted({k.split("/")[1] for k in canvas.list_artifacts(f"{STAGED}/") if k.count("/") >= 2})
    out = []
    for name in names:
        try:
            out.append(load_proposal(canvas, name))
        except ProposalNotFoundError:  # a proposal being written or removed
            continue
    return sorted(out, key=lambda p: (p.created_at, p.id))


def load_proposal(canvas: Canvas, proposal_id: str) -> Proposal:
    """Return proposal ``proposal_id`` of ``canvas`` (:class:`ProposalNotFoundError` if there is none)."""
    pid = _check_id(proposal_id)
    try:
        data = json.loads(_get(canvas, f"{STAGED}/{pid}/proposal.json"))
    except ProposalNotFoundError:
        raise ProposalNotFoundError(f"canvas {canvas.location} has no staged proposal {pid!r}") from None
    return Proposal.from_dict(data)


def _candidate(proposal: Proposal, candidate: int) -> int:
    n = len(proposal.candidates)
    if isinstance(candidate, bool) or not isinstance(candidate, int) or not 0 <= candidate < n:
        raise ProposalNotFoundError(f"proposal {proposal.id} has candidates 0..{n - 1}, not {candidate!r}")
    return candidate


def candidate_pieces(canvas: Canvas, proposal: Proposal, candidate: int) -> list[tuple[Window, np.ndarray]]:
    """Return the new pixels of one candidate, as ``(window, pixels)`` in the plan's order."""
    k = _candidate(proposal, candidate)
    data = np.load(io.BytesIO(_get(canvas, f"{STAGED}/{proposal.id}/candidate-{k}.npz")), allow_pickle=False)
    windows = proposal.plan.written
    return [(w, data[f"p{n}"]) for n, w in enumerate(windows)]


def _remove(canvas: Canvas, proposal_id: str) -> None:
    canvas.delete_artifacts(f"{STAGED}/{proposal_id}/")


def accept(canvas: Canvas, proposal_id: str, candidate: int = 0) -> StepRecord:
    """Commit candidate ``candidate`` of a proposal as ONE undoable step, then remove the proposal.

    Raises
    ------
    ProposalStaleError
        The canvas changed since the proposal was made in pixels it depends on (nothing is written).
    """
    proposal = load_proposal(canvas, proposal_id)
    k = _candidate(proposal, candidate)
    token = canvas.refresh().state_token
    if token != proposal.canvas_token and fingerprint(canvas, proposal.plan) != proposal.fingerprint:
        raise ProposalStaleError(
            f"the canvas changed since proposal {proposal.id} was staged, in pixels it depends on; nothing was "
            f"written (discard it and stage again)"
        )
    record = StepRecord.from_dict(proposal.candidates[k]["record"])
    committed = commit_pieces(canvas, record, candidate_pieces(canvas, proposal, k), expect_token=token)
    _remove(canvas, proposal.id)
    return committed


def discard(canvas: Canvas, proposal_id: str) -> None:
    """Remove a staged proposal (the canvas itself is not touched)."""
    proposal = load_proposal(canvas, proposal_id)
    if canvas.read_only:
        raise CanvasReadOnlyError(f"canvas {canvas.location} is open read-only")
    _remove(canvas, proposal.id)


def contact_sheet(canvas: Canvas, proposal_id: str, *, margin: int = 256, panel: int = 512) -> np.ndarray:
    """Return the candidates side by side, each in its context (the region plus ``margin`` px around), as RGB(A).

    Each panel is scaled to fit ``panel`` px and framed; a 4-px dark gap separates panels, in order
    0, 1, ...
    """
    from PIL import Image

    proposal = load_proposal(canvas, proposal_id)
    r = proposal.region
    view = Window(r.row_off - margin, r.col_off - margin, r.height + 2 * margin, r.width + 2 * margin)
    base = canvas.read(view)
    panels = []
    for k in range(len(proposal.candidates)):
        img = base.copy()
        for w, a in candidate_pieces(canvas, proposal, k):
            img[w.slices((view.row_off, view.col_off))] = a
        scale = min(1.0, panel / max(img.shape[:2]))
        size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
        pil = Image.fromarray(img).resize(size, Image.Resampling.LANCZOS) if scale < 1 else Image.fromarray(img)
        panels.append(np.asarray(pil))
    gap = 4
    h = max(p.shape[0] for p in panels)
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) + 1)
    sheet = np.full((h + 2 * gap, width, base.shape[2]), 32, np.uint8)
    if base.shape[2] == 4:
        sheet[..., 3] = 255
    x = gap
    for p in panels:
        sheet[gap : gap + p.shape[0], x : x + p.shape[1]] = p
        x += p.shape[1] + gap
    return sheet
