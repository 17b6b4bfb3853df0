"""What a growth step records (step records, artifacts, costs), undo / redo / reopen, and the budget."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pytest
from _generators import PatternGenerator, canvas_sha, make_canvas, noise_image
from PIL import Image

from imkerutils.errors import BudgetExceededError
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.exquisite.geometry.plan import plan_edge
from imkerutils.exquisite.pipeline import GrowSettings, canvas_spent_usd, grow, grow_batch, step_records
from imkerutils.exquisite.prompt.templates import prompt_sha256
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from pathlib import Path

    from imkerutils.exquisite.state.record import StepRecord

PROMPT = "a red barn at dusk"
DIRECTIONS = ("right", "down", "left")
# covers every bounds the canvas has (700 x 900 at (0, 0), grown right, down, left) with background around
AROUND = Window(-700, -1200, 2500, 3200)


def sha(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def without_timings(record: StepRecord) -> dict:
    return {k: v for k, v in record.to_dict().items() if k != "timings"}


@dataclass
class Grown:
    canvas: Canvas
    generator: PatternGenerator
    records: list[StepRecord]
    hashes: list[str]  # sha of AROUND before the steps, then after each step
    head0: int


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Grown:
    """A 700 x 900 canvas grown right, down and left: 1 + 2 + 2 tiles, three steps."""
    canvas = make_canvas(tmp_path_factory.mktemp("history") / "c.zarr", noise_image(700, 900, seed=9))
    generator = PatternGenerator()
    head0, hashes, records = canvas.head, [canvas_sha(canvas, AROUND)], []
    for d in DIRECTIONS:
        records += grow(canvas, [d], generator, GrowSettings(prompt=PROMPT, seed=3))
        hashes.append(canvas_sha(canvas, AROUND))
    return Grown(canvas, generator, records, hashes, head0)


def test_three_steps_leave_three_records_in_order(grown: Grown) -> None:
    saved = step_records(grown.canvas)
    assert len(saved) == 3 == len(grown.records)
    assert [without_timings(r) for r in saved] == [without_timings(r) for r in grown.records]
    assert [r.direction for r in saved] == [Direction(d) for d in DIRECTIONS]
    assert [s.number for s in grown.canvas.history()] == list(range(1, grown.head0 + 4))
    assert [s.kind for s in grown.canvas.history()[-3:]] == ["grow-right", "grow-down", "grow-left"]
    bounds = Window(0, 0, 700, 900)
    for r, expected in zip(
        saved, [Window(0, 0, 700, 1412), Window(0, 0, 1212, 1412), Window(0, -512, 1212, 1924)], strict=True
    ):
        assert r.bounds_before == bounds
        assert r.bounds_after == expected
        assert r.strip_window == plan_edge(bounds, r.direction).strip
        bounds = expected
    assert grown.canvas.bounds == bounds


def test_records_hold_the_prompt_the_generator_and_the_seeds(grown: Grown) -> None:
    saved = step_records(grown.canvas)
    for r in saved:
        assert PROMPT in r.prompt_text
        assert r.user_prompt == PROMPT
        assert r.prompt_sha256 == prompt_sha256(r.template_name, r.template_version, r.prompt_text)
        assert (r.generator_name, r.generator_version) == ("pattern", "1")
        assert r.generator_params == grown.generator.params()
        assert r.seam_strategy == "exact"
    assert [len(r.tiles) for r in saved] == [1, 2, 2]
    assert len({r.seed for r in saved}) == 3
    tile_seeds = [t.seed for r in saved for t in r.tiles]
    assert len(set(tile_seeds)) == 5
    assert sorted(tile_seeds) == sorted(grown.generator.seeds)  # the seeds the generator was given
    for r in saved:  # the prompt the generator was given is the recorded one
        assert {grown.generator.call_for_seed(t.seed).request.prompt for t in r.tiles} == {r.prompt_text}


def test_band_and_result_hashes_match_the_pixels_read_independently(grown: Grown) -> None:
    c = grown.canvas
    for r in step_records(c):
        plan = plan_edge(r.bounds_before, r.direction)
        assert [t.write_window for t in r.tiles] == [t.write_window for t in plan.tiles]
        assert r.band_sha256 == sha(*(c.read(t.band_window) for t in plan.tiles))
        assert r.result_sha256 == sha(*(c.read(t.write_window) for t in r.tiles))


def test_artifacts_are_pngs_of_the_reference_mask_raw_and_final_tiles(grown: Grown) -> None:
    c = grown.canvas
    for r in step_records(c):
        plan = plan_edge(r.bounds_before, r.direction)
        for t, p in zip(r.tiles, plan.tiles, strict=True):
            assert set(t.artifacts) == {"reference", "mask", "raw", "final"}
            files = {}
            for role, rel in t.artifacts.items():
                assert rel.startswith("_generated/steps/")
                path = c.path / rel
                with Image.open(path) as im:
                    assert im.format == "PNG"
                    assert im.size == (1024, 1024)
                    files[role] = np.asarray(im)
            call = grown.generator.call_for_seed(t.seed)
            origin = (t.tile_window.row_off, t.tile_window.col_off)
            final = files["final"]
            np.testing.assert_array_equal(final[t.write_window.slices(origin)], c.read(t.write_window))
            keep = ~p.generate_mask()
            np.testing.assert_array_equal(final[keep], c.read(t.tile_window)[keep])
            np.testing.assert_array_equal(files["raw"], call.image)
            np.testing.assert_array_equal(files["reference"], call.request.reference)
            np.testing.assert_array_equal(files["mask"][..., 3] == 0, call.request.generate)


def test_undo_and_redo_restore_the_bytes_of_each_step(grown: Grown, tmp_path: Path) -> None:
    shutil.copytree(grown.canvas.path, tmp_path / "copy.zarr")
    c = Canvas.open(tmp_path / "copy.zarr")
    assert canvas_sha(c, AROUND) == grown.hashes[3]
    undone = c.undo()
    assert undone.kind == "grow-left"
    assert len(step_records(c)) == 2
    assert c.bounds == grown.records[2].bounds_before
    assert canvas_sha(c, AROUND) == grown.hashes[2]
    c.undo()
    assert len(step_records(c)) == 1
    assert canvas_sha(c, AROUND) == grown.hashes[1]
    c.redo()
    c.redo()
    assert canvas_sha(c, AROUND) == grown.hashes[3]
    assert c.bounds == grown.canvas.bounds
    assert [without_timings(r) for r in step_records(c)] == [without_timings(r) for r in grown.records]
    assert c.verify().ok


def test_growing_in_several_runs_gives_the_bytes_of_one_run(tmp_path: Path) -> None:
    """Step seeds come from the run seed and the step number: reopening continues where it was."""
    image = noise_image(300, 400, seed=1)
    one = make_canvas(tmp_path / "one.zarr", image)
    grow(one, ["right"], PatternGenerator(), GrowSettings(seed=5, save_artifacts=False), steps=3)
    several = make_canvas(tmp_path / "several.zarr", image)
    grow(several, ["right"], PatternGenerator(), GrowSettings(seed=5, save_artifacts=False), steps=2)
    reopened = Canvas.open(several.path)
    assert reopened.bounds == several.bounds
    assert reopened.head == several.head
    assert [r.to_dict() for r in step_records(reopened)] == [r.to_dict() for r in step_records(several)]
    grow(reopened, ["right"], PatternGenerator(), GrowSettings(seed=5, save_artifacts=False))
    assert reopened.bounds == one.bounds == Window(0, 0, 300, 400 + 3 * 512)
    np.testing.assert_array_equal(reopened.read(reopened.bounds), one.read(one.bounds))
    assert [r.seed for r in step_records(reopened)] == [r.seed for r in step_records(one)]


@pytest.fixture
def paid(tmp_path: Path) -> tuple[Canvas, PatternGenerator]:
    """A one-tile canvas and a generator that charges (and declares at most) $0.25 per tile."""
    return make_canvas(tmp_path / "paid.zarr", noise_image(300, 400, seed=2)), PatternGenerator(cost_usd=0.25)


def test_the_budget_refuses_the_step_that_could_exceed_it_before_generating(
    paid: tuple[Canvas, PatternGenerator],
) -> None:
    canvas, generator = paid
    once = GrowSettings(max_retries=0, save_artifacts=False)  # worst case: 1 tile x 1 draw x $0.25
    head = canvas.head
    with pytest.raises(BudgetExceededError, match=r"\$0.25"):
        grow(canvas, ["right"], generator, once, steps=3, budget_usd=0.50)
    assert canvas.head == head + 2
    assert len(generator.calls) == 2
    records = step_records(canvas)
    assert [r.cost_usd for r in records] == [0.25, 0.25]
    assert [t.cost_usd for r in records for t in r.tiles] == [0.25, 0.25]
    assert canvas_spent_usd(canvas) == pytest.approx(0.50)

    token, bounds = canvas.state_token, canvas.bounds
    with pytest.raises(BudgetExceededError):
        grow(canvas, ["right"], generator, once, budget_usd=0.74)  # $0.24 left
    assert len(generator.calls) == 2
    assert canvas.state_token == token
    assert canvas.bounds == bounds

    # the worst case counts every allowed retry and candidate: 3 attempts x 2 candidates x $0.25
    with pytest.raises(BudgetExceededError, match=r"\$1.50"):
        grow(canvas, ["right"], generator, GrowSettings(max_retries=2, candidates=2), budget_usd=1.99)
    assert len(generator.calls) == 2
    assert canvas.state_token == token

    grow(canvas, ["right"], generator, once, budget_usd=0.75)  # an exact fit is allowed
    assert len(generator.calls) == 3
    assert canvas_spent_usd(canvas) == pytest.approx(0.75)


def test_a_free_generator_runs_on_a_zero_budget(tmp_path: Path) -> None:
    canvas = make_canvas(tmp_path / "free.zarr", noise_image(300, 400, seed=2))
    (record,) = grow(canvas, ["up"], PatternGenerator(), GrowSettings(save_artifacts=False), budget_usd=0.0)
    assert record.cost_usd == 0.0
    assert canvas.bounds == Window(-512, 0, 812, 400)


def test_a_step_has_one_id_in_the_history_and_in_its_records(grown: Grown, tmp_path: Path) -> None:
    """The journal's step is named by its record's id (an edge of a batch: the id and ``.k``)."""
    c = grown.canvas
    assert [s.id for s in c.history()[-3:]] == [r.step_id for r in step_records(c)]
    batch = make_canvas(tmp_path / "batch.zarr", noise_image(300, 400, seed=2))
    records = grow_batch(batch, ["right", "down"], PatternGenerator(), GrowSettings(seed=3, save_artifacts=False))
    step = batch.history()[-1]
    assert [r.step_id for r in records] == [f"{step.id}.0", f"{step.id}.1"]
