"""A right+down batch on a LocalCluster gives the serial run's bytes, in any task order; CLI, failures, budgets."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import numpy as np
import pytest
from _cluster_helpers import JitterGenerator, PricedGenerator, Reference, canvas_sha, child_env, make_canvas, photo_like

from imkerutils.errors import BudgetExceededError, PermanentGeneratorError
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.geometry.batch import plan_batch
from imkerutils.exquisite.pipeline import (
    GrowSettings,
    canvas_spent_usd,
    grow,
    plan_step,
    step_records,
    step_worst_case_usd,
)
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from pathlib import Path

    from distributed import Client

CLI = [sys.executable, "-m", "imkerutils.cli.main"]
SMALL = photo_like(1024, 1024, seed=8)  # one tile: a right+down batch on it is 3 tiles


@pytest.fixture
def canvas(tmp_path: Path, reference: Reference) -> Canvas:
    return make_canvas(tmp_path / "c.zarr", reference.image)


@pytest.fixture
def small(tmp_path: Path) -> Canvas:
    """One tile of photo-like pixels: a right+down batch is 3 tiles."""
    return make_canvas(tmp_path / "small.zarr", SMALL)


def settings(reference: Reference, **kw: object) -> GrowSettings:
    return GrowSettings(seed=reference.seed, save_artifacts=False, **kw)  # type: ignore[arg-type]


def unchanged(canvas: Canvas, image: np.ndarray) -> bool:
    """Whether ``canvas`` still holds just ``image`` (imported as step 1) and verifies."""
    h, w = image.shape[:2]
    return (
        canvas.refresh().head == 1
        and canvas.bounds == Window(0, 0, h, w)
        and np.array_equal(canvas.read(canvas.bounds), image)
        and canvas.verify().ok
    )


def test_the_batch_on_two_workers_gives_the_serial_bytes(client: Client, reference: Reference, canvas: Canvas) -> None:
    from distributed import get_task_stream

    generator = PricedGenerator(cost_usd=0.01)
    with get_task_stream(client) as stream:
        records = grow(canvas, reference.directions, generator, settings(reference), client=client)

    assert canvas.bounds == reference.bounds
    assert canvas_sha(canvas) == reference.sha
    assert canvas.head == 2  # the import, then ONE step for both edges and their corner
    assert canvas.verify().ok
    assert [r.direction.value for r in records] == list(reference.directions)
    assert sum(len(r.tiles) for r in records) == reference.tiles == 9
    tile_tasks = [t for t in stream.data if str(t["key"]).startswith("exquisite-tile-")]
    assert len(tile_tasks) == 9
    assert generator.calls == 0
    # what the workers charged comes back into the records: per edge, per batch, per canvas
    assert [r.cost_usd for r in records] == pytest.approx([0.01 * len(r.tiles) for r in records])
    assert canvas_spent_usd(canvas) == pytest.approx(0.09)


def test_two_local_threads_give_the_serial_bytes(reference: Reference, canvas: Canvas) -> None:
    grow(canvas, reference.directions, MockGenerator(), settings(reference, workers=2))
    assert canvas_sha(canvas) == reference.sha
    assert canvas.verify().ok


def test_tasks_finishing_in_another_order_give_the_same_bytes(
    client: Client, reference: Reference, canvas: Canvas
) -> None:
    """Seed-dependent sleeps (up to 0.3 s) reorder the tasks; the bytes stay the serial run's."""
    generator = JitterGenerator(salt=1)
    finished: list[tuple[str, int]] = []
    records = grow(
        canvas,
        reference.directions,
        generator,
        settings(reference),
        client=client,
        on_tile=lambda o: finished.append((o.plan.direction.value, o.plan.index)),
    )
    assert canvas_sha(canvas) == reference.sha
    assert canvas.verify().ok
    assert sorted(finished) == sorted((r.direction.value, t.index) for r in records for t in r.tiles)
    # the sleeps do reorder: sorting the batch's tiles by sleep differs from sorting them by plan order
    sleeps = [generator.sleep_for(t.seed) for r in records for t in r.tiles]
    assert sorted(sleeps) != sleeps


def test_a_failed_batch_leaves_the_canvas_unchanged_and_can_be_run_again_on_the_same_client(
    client: Client, reference: Reference, canvas: Canvas
) -> None:
    with pytest.raises(PermanentGeneratorError):
        grow(
            canvas,
            reference.directions,
            MockGenerator(fail_times=1, failure="permanent"),
            settings(reference),
            client=client,
        )
    assert unchanged(canvas, reference.image)
    grow(canvas, reference.directions, MockGenerator(), settings(reference), client=client)
    assert canvas_sha(canvas) == reference.sha


def test_cli_runs_the_tiles_on_a_scheduler_and_prints_its_dashboard(
    client: Client, small: Canvas, tmp_path: Path
) -> None:
    address = client.scheduler.address
    proc = subprocess.run(
        [
            *CLI,
            "grow",
            str(small.path),
            "-d",
            "right",
            "-d",
            "down",
            "-g",
            "mock",
            "--seed",
            "5",
            "--no-artifacts",
            "--scheduler",
            address,
        ],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"running tile tasks on {address}; dashboard: http" in proc.stderr
    assert "step 2 right+down: 3 tile(s)" in proc.stdout
    local = make_canvas(tmp_path / "local.zarr", SMALL)
    grow(local, ["right", "down"], MockGenerator(), GrowSettings(seed=5, workers=1, save_artifacts=False))
    reopened = Canvas.open(small.path, read_only=True)
    assert reopened.head == 2
    assert reopened.verify().ok
    assert canvas_sha(reopened) == canvas_sha(local)


def test_a_canvas_opened_by_a_relative_path_grows_on_the_cluster(
    client: Client, small: Canvas, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(small.path.parent)  # the workers stay where they started
    canvas = Canvas.open(small.path.name)
    grow(canvas, ["right"], MockGenerator(), GrowSettings(save_artifacts=False), client=client)
    assert canvas.head == 2
    assert canvas.verify().ok


# -- budgets ---------------------------------------------------------------------------------------------


def test_a_batch_over_budget_is_refused_before_anything_is_generated(small: Canvas) -> None:
    generator = PricedGenerator(cost_usd=0.01)
    s = GrowSettings(max_retries=0, save_artifacts=False)
    worst = step_worst_case_usd(len(plan_step(small, ["right", "down"]).tiles), generator, s)
    assert worst == pytest.approx(0.03)  # 3 tiles, one draw each, no retry
    with pytest.raises(BudgetExceededError, match="budget"):
        grow(small, ["right", "down"], generator, s, budget_usd=worst - 0.001)
    assert generator.calls == 0
    assert unchanged(small, SMALL)


def test_budget_counts_what_each_batch_and_the_canvas_spent(small: Canvas) -> None:
    """Batch 1 fits; batch 2 would pass the limit by half a cent and is refused before generating."""
    generator = PricedGenerator(cost_usd=0.01)
    s = GrowSettings(max_retries=0, save_artifacts=False)
    first = len(plan_step(small, ["right", "down"]).tiles)
    second = len(plan_batch(plan_step(small, ["right", "down"]).new_bounds, ["right", "down"]).tiles)
    assert (first, second) == (3, 5)
    with pytest.raises(BudgetExceededError):
        grow(small, ["right", "down"], generator, s, steps=2, budget_usd=0.01 * (first + second) - 0.005)
    assert generator.calls == first  # batch 2 generated nothing
    assert small.head == 2  # batch 1 is committed
    records = step_records(small)
    assert [len(r.tiles) for r in records] == [1, 2]
    assert [r.cost_usd for r in records] == pytest.approx([0.01, 0.02])
    assert canvas_spent_usd(small) == pytest.approx(0.03)
    # a new run counts what the canvas already spent
    with pytest.raises(BudgetExceededError):
        grow(small, ["right", "down"], generator, s, budget_usd=0.01 * second + 0.001)
    assert generator.calls == first
    grow(small, ["right", "down"], generator, s, budget_usd=0.01 * (first + second))  # an exact fit runs
    assert generator.calls == first + second
    assert canvas_spent_usd(small) == pytest.approx(0.08)


def test_cli_refuses_a_batch_over_budget(tmp_path: Path) -> None:
    """`--budget-usd` with the openai generator: refused before any request (the API URL is a closed port)."""
    canvas = make_canvas(tmp_path / "c.zarr", SMALL)
    env = child_env({"OPENAI_API_KEY": "sk-test-not-a-key", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    proc = subprocess.run(
        [
            *CLI,
            "grow",
            str(canvas.path),
            "-d",
            "right",
            "-d",
            "down",
            "-g",
            "openai",
            "--budget-usd",
            "0.05",
            "--no-artifacts",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "budget" in proc.stderr
    assert "Traceback" not in proc.stderr
    after = Canvas.open(canvas.path, read_only=True)
    assert after.head == 1
    assert len(after.history()) == 1
    assert len(os.listdir(canvas.path / "_journal" / "entries")) == 1  # the refused step left no journal entry
