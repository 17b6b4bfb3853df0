"""Staged fills: candidates stored beside the canvas, accepted as one step, refused when stale, discarded."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
import pytest
from _generators import PatternGenerator, noise_image

from imkerutils.errors import BudgetExceededError, ProposalNotFoundError, ProposalStaleError, StepCancelledError
from imkerutils.exquisite.pipeline import Cancel, GrowSettings, fill, plan_fill_step, step_records
from imkerutils.exquisite.pipeline.staging import (
    accept,
    candidate_pieces,
    contact_sheet,
    discard,
    list_proposals,
    load_proposal,
    stage_fill,
)
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from pathlib import Path

S = GrowSettings(tile=128, seed=5, save_artifacts=False)
REGION = Window(0, 200, 150, 120)  # right of the content


def tree(root: Path, skip: str = "_staged") -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.relative_to(root).as_posix().startswith(skip)
    }


def make(path: Path) -> Canvas:
    c = Canvas.create(path, tile=64)
    c.paste(noise_image(150, 200, seed=7), 0, 0, extend=True)
    return c


def test_stage_list_preview_accept_is_one_step_equal_to_a_direct_run(tmp_path: Path) -> None:
    canvas, twin = make(tmp_path / "a.zarr"), make(tmp_path / "b.zarr")
    files = tree(canvas.path)
    gen = PatternGenerator(cost_usd=0.01)
    proposal = stage_fill(canvas, REGION, gen, S, candidates=3)
    assert tree(canvas.path) == files
    assert canvas.head == 1
    assert [p.id for p in list_proposals(canvas)] == [proposal.id]
    summary = load_proposal(canvas, proposal.id).summary(canvas.state_token)
    assert summary["canvas_state"] == canvas.state_token
    assert summary["canvas_unchanged"]
    assert [c["seed"] for c in summary["candidates"]] == [5, 6, 7]
    assert all(c["cost_usd"] == pytest.approx(0.01 * len(proposal.plan.tiles)) for c in summary["candidates"])
    assert all("seam_excess" in c["seam_scores"] for c in summary["candidates"])
    small = contact_sheet(canvas, proposal.id, margin=32, panel=100)
    assert small.shape == (100 + 8, 3 * 86 + 16, 3)  # 214 x 184 px panels scaled to 100 px high
    sheet = contact_sheet(canvas, proposal.id, margin=32, panel=1000)  # full size: exact pixels
    view = Window(REGION.row_off - 32, REGION.col_off - 32, REGION.height + 64, REGION.width + 64)
    h, w = view.shape
    panels = [sheet[4 : 4 + h, 4 + k * (w + 4) : 4 + k * (w + 4) + w] for k in range(3)]
    for k, panel in enumerate(panels):
        expected = canvas.read(view)
        for win, pixels in candidate_pieces(canvas, proposal, k):
            expected[win.slices((view.row_off, view.col_off))] = pixels
        assert np.array_equal(panel, expected)
    assert not np.array_equal(panels[0], panels[1])
    record = accept(canvas, proposal.id, 1)
    assert canvas.head == 2
    assert list_proposals(canvas) == []
    assert not (canvas.path / "_staged" / proposal.id).exists()
    direct = fill(twin, REGION, PatternGenerator(), GrowSettings(tile=128, seed=6, save_artifacts=False))
    frame = Window(-64, -64, 300, 450)
    assert np.array_equal(canvas.read(frame), twin.read(frame))
    assert record.result_sha256 == direct.result_sha256
    assert record.seed == direct.seed
    assert step_records(canvas)[-1].step_id == record.step_id
    canvas.undo()  # one undo reverts the accepted candidate
    assert canvas.bounds == Window(0, 0, 150, 200)
    assert np.array_equal(canvas.read(frame), make(tmp_path / "c.zarr").read(frame))


def test_accepting_after_a_change_in_what_the_proposal_depends_on_is_refused(tmp_path: Path) -> None:
    canvas = make(tmp_path / "a.zarr")
    proposal = stage_fill(canvas, REGION, PatternGenerator(), S, candidates=2)
    canvas.paste(noise_image(20, 20, seed=1), 100, 180)  # inside the band the region is conditioned on
    files = tree(canvas.path, skip="")
    with pytest.raises(ProposalStaleError, match="changed since proposal"):
        accept(canvas, proposal.id, 0)
    assert tree(canvas.path, skip="") == files  # nothing changed, the proposal is still there
    discard(canvas, proposal.id)
    assert list_proposals(canvas) == []
    with pytest.raises(ProposalNotFoundError):
        accept(canvas, proposal.id)


def test_a_change_elsewhere_does_not_block_accepting(tmp_path: Path) -> None:
    canvas = make(tmp_path / "a.zarr")
    canvas.paste(noise_image(64, 64, seed=3), 3000, 0, extend=True)  # far away, its own tiles
    proposal = stage_fill(canvas, REGION, PatternGenerator(), S, candidates=1)
    canvas.paste(noise_image(10, 10, seed=4), 3000, 0)  # a change far from the region
    accept(canvas, proposal.id)
    assert canvas.head == 4


def test_unknown_ids_and_candidates_are_clear_errors(tmp_path: Path) -> None:
    canvas = make(tmp_path / "a.zarr")
    proposal = stage_fill(canvas, REGION, PatternGenerator(), S, candidates=1)
    with pytest.raises(ProposalNotFoundError, match=r"candidates 0\.\.0"):
        accept(canvas, proposal.id, 3)
    with pytest.raises(ProposalNotFoundError):
        load_proposal(canvas, "../../etc")
    assert canvas.head == 1


def test_staging_checks_the_budget_first_and_a_cancelled_stage_stores_nothing(tmp_path: Path) -> None:
    canvas = make(tmp_path / "a.zarr")
    files = tree(canvas.path, skip="")
    gen = PatternGenerator(cost_usd=0.5)
    with pytest.raises(BudgetExceededError):  # 3 candidates x tiles x 3 attempts x $0.5 > $2
        stage_fill(canvas, REGION, gen, S, candidates=3, budget_usd=2.0)
    assert gen.calls == []
    cancel = Cancel()
    with pytest.raises(StepCancelledError):
        stage_fill(canvas, REGION, gen, S, candidates=3, cancel=cancel, on_tile=lambda _o: cancel.set())
    tiles = len(plan_fill_step(canvas, REGION, S).tiles)
    assert 1 <= len(gen.calls) < 3 * tiles  # stopped within the first level of the first candidate
    assert tree(canvas.path, skip="") == files
    assert list_proposals(canvas) == []
