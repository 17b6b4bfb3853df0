"""An edge longer than a tile: tiles run in DAG order, see their neighbours' pixels, and bytes are deterministic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pytest
from _generators import PatternGenerator, make_canvas, noise_image

from imkerutils.exquisite.geometry.plan import EdgePlan, plan_edge
from imkerutils.exquisite.pipeline import GrowSettings, grow_step

if TYPE_CHECKING:
    from imkerutils.exquisite.state.record import StepRecord
    from imkerutils.tiling.canvas import Canvas

# 2400 rows grow right as three tiles: 0 and 2 first (in parallel), then 1 between them, keeping both.
HEIGHT, WIDTH = 2400, 700


@dataclass
class Run:
    canvas: Canvas
    plan: EdgePlan
    record: StepRecord
    generator: PatternGenerator


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    image = noise_image(HEIGHT, WIDTH, seed=4)
    out = {}
    for name, seed, workers in [("w1", 7, 1), ("w4", 7, 4), ("other", 8, 4)]:
        canvas = make_canvas(tmp_path_factory.mktemp(name) / "c.zarr", image)
        settings = GrowSettings(seed=seed, workers=workers, save_artifacts=False)
        plan = plan_edge(canvas.bounds, "right")
        generator = PatternGenerator()
        record = grow_step(canvas, "right", generator, settings)
        out[name] = Run(canvas, plan, record, generator)
    return out


def test_the_plan_has_a_dependent_tile(runs: dict[str, Run]) -> None:
    plan = runs["w4"].plan
    assert [t.depends_on for t in plan.tiles] == [(), (0, 2), ()]
    assert len(runs["w4"].record.tiles) == 3
    assert len(runs["w4"].generator.calls) == 3


def test_same_seed_gives_the_same_bytes_with_one_or_four_workers(runs: dict[str, Run]) -> None:
    a, b = runs["w1"], runs["w4"]
    assert a.canvas.bounds == b.canvas.bounds
    np.testing.assert_array_equal(a.canvas.read(a.canvas.bounds), b.canvas.read(b.canvas.bounds))
    assert a.record.result_sha256 == b.record.result_sha256
    assert [t.seed for t in a.record.tiles] == [t.seed for t in b.record.tiles]
    assert sorted(a.generator.seeds) == sorted(b.generator.seeds)


def test_another_seed_gives_other_bytes_and_keeps_the_band(runs: dict[str, Run]) -> None:
    a, b = runs["w4"], runs["other"]
    strip = a.record.strip_window
    assert a.record.band_sha256 == b.record.band_sha256
    assert a.record.result_sha256 != b.record.result_sha256
    new_a, new_b = a.canvas.read(strip), b.canvas.read(strip)
    assert (new_a != new_b).any(axis=2).mean() > 0.5  # not a few pixels: a different pattern
    assert set(a.generator.seeds).isdisjoint(b.generator.seeds)


def test_tiles_run_in_dependency_order(runs: dict[str, Run]) -> None:
    run = runs["w4"]
    call = {t.index: run.generator.call_for_seed(t.seed) for t in run.record.tiles}
    for tile in run.plan.tiles:
        for dep in tile.depends_on:
            assert call[tile.index].started > call[dep].ended, f"tile {tile.index} started before tile {dep} ended"


def test_each_request_keeps_the_band_and_the_neighbours_new_pixels(runs: dict[str, Run]) -> None:
    """A dependent tile's reference holds, unmasked, exactly the pixels its neighbours wrote."""
    run = runs["w4"]
    seeds = {t.index: t.seed for t in run.record.tiles}
    for tile in run.plan.tiles:
        request = run.generator.call_for_seed(seeds[tile.index]).request
        np.testing.assert_array_equal(request.generate, tile.generate_mask())
        assert request.direction is tile.direction
        assert request.reference.shape == (1024, 1024, 3)
        after = run.canvas.read(tile.tile_window)  # band (unchanged) and every tile's new pixels
        keep = ~request.generate
        np.testing.assert_array_equal(request.reference[keep], after[keep])
        for dep, context in zip(tile.depends_on, tile.context_windows, strict=True):
            assert context.intersection(run.plan.tiles[dep].write_window) == context
            inside = context.slices((tile.tile_window.row_off, tile.tile_window.col_off))
            assert not request.generate[inside].any()
            np.testing.assert_array_equal(request.reference[inside], run.canvas.read(context))
