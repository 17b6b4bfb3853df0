"""Typed data through the pipeline, parsed once at its edges, each step planned once (issue 18, point 1).

A direction given as a string is parsed where it enters; seam scores stay :class:`SeamScores` until a
record is written; refused candidates are :class:`Attempt` objects from the start; and a run plans each
step once (the plans made before the first call are the ones followed), counted here by wrapping the planners.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING

import numpy as np
import pytest
from _generators import PatternGenerator, ScriptedQC, make_canvas, noise_image

from imkerutils.cli.main import main
from imkerutils.errors import ImkerError, InvalidDirectionError
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.geometry import batch as batch_module
from imkerutils.exquisite.geometry import fill as fill_module
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.exquisite.geometry.fill import edge_region
from imkerutils.exquisite.geometry.seam import SeamScores
from imkerutils.exquisite.pipeline import (
    GrowSettings,
    fill,
    grow,
    grow_region,
    grow_step,
    plan_fill_step,
    plan_grow_region,
    step_records,
)
from imkerutils.exquisite.pipeline.qc import Verdict
from imkerutils.exquisite.state.record import Attempt, StepRecord
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def canvas(tmp_path: Path) -> Canvas:
    """300 x 400 px: growing one edge takes one 1024-px tile a step."""
    return make_canvas(tmp_path / "c.zarr", noise_image(300, 400, seed=7))


class Counter:
    """Wraps ``module.name`` and counts its calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
        self.calls = 0
        original = getattr(module, name)

        def counted(*args: object, **kwargs: object) -> object:
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


@pytest.fixture
def edge_plans(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counts whole-edge plans: every batch plan plans each of its edges with ``plan_edge``, once."""
    return Counter(monkeypatch, batch_module, "plan_edge")


@pytest.fixture
def fill_plans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    """Counts fill plans: ``plan_fill`` cuts the region once per axis (``_cuts`` is called twice a plan)."""
    counter = Counter(monkeypatch, fill_module, "_cuts")
    return counter


def cli(*args: object) -> int:
    return main([str(a) for a in args])


def test_cli_grow_plans_each_step_once(canvas: Canvas, edge_plans: Counter, capsys: pytest.CaptureFixture) -> None:
    """The dry-run estimate's plans are the steps' plans: no step is planned again (it was 3 times a step)."""
    assert cli("grow", canvas.path, "-d", "right", "-g", "mock", "--steps", "3", "--quiet") == 0
    assert Canvas.open(canvas.path).bounds == Window(0, 0, 300, 400 + 3 * 512)
    assert edge_plans.calls == 3


def test_cli_grow_with_a_budget_still_plans_each_step_once(canvas: Canvas, edge_plans: Counter) -> None:
    assert cli("grow", canvas.path, "-d", "down", "-g", "mock", "--steps", "2", "--budget-usd", "1", "--quiet") == 0
    assert edge_plans.calls == 2


def test_cli_grow_by_plans_each_step_once(canvas: Canvas, fill_plans: Counter) -> None:
    """``grow --by`` follows the estimate's fill plans (it planned each step twice, and once more to estimate)."""
    assert cli("grow", canvas.path, "-d", "right", "--by", "256", "-g", "mock", "--steps", "2", "--quiet") == 0
    assert Canvas.open(canvas.path).bounds == Window(0, 0, 300, 400 + 2 * 256)
    assert fill_plans.calls == 2 * 2


def test_cli_fill_and_stage_plan_once(canvas: Canvas, fill_plans: Counter, capsys: pytest.CaptureFixture) -> None:
    assert cli("fill", canvas.path, "--region", 400, 0, 128, 300, "-g", "mock", "--tile", 128, "--quiet") == 0
    assert fill_plans.calls == 2
    fill_plans.calls = 0
    staged = ["--stage", "--candidates", 2, "--budget-usd", 1]
    assert cli("fill", canvas.path, "--region", 528, 0, 64, 300, "-g", "mock", "--tile", 128, *staged) == 0
    assert fill_plans.calls == 2  # one plan for both candidates and the budget


def test_a_runs_fill_plans_made_ahead_are_the_plans_of_the_steps_as_they_run(canvas: Canvas) -> None:
    """What grow_region follows is what it would plan itself on the canvas each step starts from."""
    settings = GrowSettings(tile=256, save_artifacts=False)
    plans = plan_grow_region(canvas, [Direction.RIGHT, Direction.DOWN], settings, by=96, steps=3)
    for plan in plans:
        region, keep = edge_region(canvas.bounds, [Direction.RIGHT, Direction.DOWN], 96)
        assert plan == plan_fill_step(canvas, region, settings, keep=keep)
        grow_region(canvas, ["right", "down"], MockGenerator(), settings, by=96)


def test_a_direction_string_is_parsed_once_where_it_enters(
    canvas: Canvas, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    parsed: list[object] = []
    original = Direction.parse.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Direction], value: object) -> Direction:
        if not isinstance(value, Direction):
            parsed.append(value)
        return original(cls, value)  # type: ignore[no-any-return]

    monkeypatch.setattr(Direction, "parse", classmethod(spy))
    assert cli("grow", canvas.path, "-d", "right", "-g", "mock", "--steps", "2", "--quiet") == 0
    assert parsed == ["right"]  # by the CLI; every layer below gets a Direction
    parsed.clear()
    grow(Canvas.open(canvas.path), ["Down"], MockGenerator(), GrowSettings(save_artifacts=False), steps=2)
    assert parsed == ["Down"]  # by the public function it was given to


@pytest.mark.parametrize(
    "call",
    [
        lambda c: grow(c, ["right", "sideways"], MockGenerator()),
        lambda c: grow_step(c, "sideways", MockGenerator()),
        lambda c: grow_region(c, ["sideways"], MockGenerator(), by=64),
        lambda c: fill(c, Window(0, 400, 300, 64), MockGenerator(), GrowSettings(tile=128), direction="sideways"),
    ],
)
def test_a_bad_direction_is_one_clear_error_naming_it(canvas: Canvas, call) -> None:
    head, bounds = canvas.head, canvas.bounds
    with pytest.raises(InvalidDirectionError, match="sideways") as info:
        call(canvas)
    assert isinstance(info.value, ImkerError)
    assert isinstance(info.value, ValueError)
    assert "right, left, up, down" in str(info.value)
    assert (canvas.head, canvas.bounds) == (head, bounds)


def test_seam_scores_stay_typed_until_the_record_is_written(canvas: Canvas) -> None:
    hook = ScriptedQC(Verdict.ACCEPT)
    outcomes: list = []
    record = grow_step(canvas, "right", PatternGenerator(), GrowSettings(seed=3, qc=hook), on_tile=outcomes.append)
    (shown,) = hook.seen
    (outcome,) = outcomes
    assert isinstance(shown.seam, SeamScores)
    assert isinstance(outcome.scores, SeamScores)
    assert shown.scores == shown.seam.to_dict()  # hooks that read the dict it used to be still work
    (tile,) = record.tiles
    assert tile.seam_scores == {k: float(v) for k, v in outcome.scores.to_dict().items() if v is not None}
    # a record's qc round-trips through the typed SeamScores, and through the record's JSON
    names = [f.name for f in fields(SeamScores)]
    again = SeamScores.from_dict({k: record.qc[k] for k in names})
    assert again.seam_excess == outcome.scores.seam_excess == record.seam_excess
    assert {k: float(v) for k, v in again.to_dict().items() if v is not None} == tile.seam_scores
    (stored,) = step_records(canvas)
    assert StepRecord.from_json(record.to_json()) == record
    assert stored.qc == record.qc


def test_refused_candidates_are_attempts_from_the_start(canvas: Canvas) -> None:
    outcomes: list = []
    hook = ScriptedQC(Verdict.RETRY, Verdict.ACCEPT)
    settings = GrowSettings(seed=2, qc=hook, candidates=2, max_retries=1)
    record = grow_step(canvas, "right", PatternGenerator(), settings, on_tile=outcomes.append)
    (outcome,) = outcomes
    assert all(isinstance(a, Attempt) for a in outcome.rejected)
    assert len(outcome.rejected) == 3
    assert all(a is b for a, b in zip(record.attempts, outcome.rejected, strict=True))  # not rebuilt from dicts
    assert [a.reason for a in record.attempts] == ["tile 0: best-of-n", "tile 0: retry", "tile 0: best-of-n"]
    assert all(a.scores["seam_excess"] is not None for a in record.attempts)


def test_settings_are_shared_not_copied() -> None:
    """GrowSettings extends TileSettings: what every tile shares is declared once."""
    from imkerutils.exquisite.pipeline.tile import TileSettings

    s = GrowSettings(prompt="moss", seed=9, seam="feather", candidates=2)
    assert isinstance(s, TileSettings)
    shared = {f.name for f in fields(TileSettings)}
    assert shared <= {f.name for f in fields(GrowSettings)}
    assert {n: getattr(s, n) for n in shared} == {
        "prompt": "moss",
        "seed": 9,
        "seam": "feather",
        "seam_width": 64,
        "fill": "edge",
        "candidates": 2,
        "max_retries": 2,
        "qc": None,
    }


def test_the_planned_tile_carries_its_prompt(canvas: Canvas) -> None:
    """Each generator call gets the prompt rendered for its tile's direction (two edges, two prompts)."""
    generator = PatternGenerator()
    grow(canvas, ["right", "down"], generator, GrowSettings(prompt="moss", save_artifacts=False))
    by_direction = {c.request.direction: c.request.prompt for c in generator.calls}
    assert set(by_direction) == {Direction.RIGHT, Direction.DOWN}
    assert "moss" in by_direction[Direction.RIGHT]
    assert by_direction[Direction.RIGHT] != by_direction[Direction.DOWN]
    records = step_records(canvas)
    assert {r.direction: r.prompt_text for r in records} == by_direction
    assert np.all([isinstance(c.request.direction, Direction) for c in generator.calls])


def test_a_ui_grow_job_plans_each_step_once(canvas: Canvas, edge_plans: Counter) -> None:
    """The UI plans a job's steps once, for its progress and for the steps themselves (it was 3 a step)."""
    import time

    from imkerutils.exquisite.ui.jobs import CanvasSession
    from imkerutils.exquisite.ui.requests import GrowRequest

    session = CanvasSession(canvas.path, generators={"mock": MockGenerator})
    session.start()
    try:
        job = session.submit_grow(GrowRequest((Direction.RIGHT,), 2, "", "mock", 0, "exact"))
        deadline = time.monotonic() + 120
        while (state := session.job(job.id)) is not None and state["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        assert state is not None
        assert state["status"] == "done", state
        assert state["tiles_total"] == 1
        assert state["steps_done"] == 2
    finally:
        session.close()
    assert Canvas.open(canvas.path).bounds == Window(0, 0, 300, 400 + 2 * 512)
    assert edge_plans.calls == 2


def test_a_tile_request_parses_its_direction_where_it_is_made() -> None:
    """Generators take ``request.direction`` as a Direction; a request made with a name is parsed once, here."""
    from imkerutils.exquisite.api.base import TileRequest

    ref, gen = np.zeros((8, 8, 3), np.uint8), np.ones((8, 8), bool)
    assert TileRequest(ref, gen, "", 0, "Left", size=8).direction is Direction.LEFT  # type: ignore[arg-type]
    with pytest.raises(InvalidDirectionError, match="sideways"):
        TileRequest(ref, gen, "", 0, "sideways", size=8)  # type: ignore[arg-type]
