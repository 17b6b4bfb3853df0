"""Quality control (retry, reject, best-of-N) and seam strategies in a growth step."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
import pytest
from _generators import PatternGenerator, ScriptedQC, canvas_sha, make_canvas, noise_image

from imkerutils.errors import InvalidGrowSettingsError, StepRejectedError, UnknownSeamStrategyError
from imkerutils.exquisite.geometry.blend import apply_seam
from imkerutils.exquisite.geometry.glue import compose
from imkerutils.exquisite.geometry.plan import plan_edge
from imkerutils.exquisite.geometry.seam import seam_scores
from imkerutils.exquisite.pipeline import Candidate, GrowSettings, Verdict, grow_step, seam_threshold, step_records
from imkerutils.exquisite.pipeline.qc import candidate_score
from imkerutils.tiling.canvas import Canvas

if TYPE_CHECKING:
    from pathlib import Path

    from imkerutils.tiling.window import Window

ACCEPT, RETRY, REJECT = Verdict.ACCEPT, Verdict.RETRY, Verdict.REJECT


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def one_tile(tmp_path: Path) -> Canvas:
    """600 rows: growing right takes one tile."""
    return make_canvas(tmp_path / "one.zarr", noise_image(600, 700, seed=3))


@pytest.fixture
def two_tiles(tmp_path: Path) -> Canvas:
    """1100 x 1100: growing any edge takes two tiles, the second keeping the first one's pixels."""
    return make_canvas(tmp_path / "two.zarr", noise_image(1100, 1100, seed=5))


def written_by(generator: PatternGenerator, seed: int, tile: Window, write: Window) -> np.ndarray:
    """What the generator returned for ``seed``, over the tile's write window."""
    return generator.call_for_seed(seed).image[write.slices((tile.row_off, tile.col_off))]


def test_retry_twice_then_accept_draws_three_seeds_and_keeps_the_third(one_tile: Canvas) -> None:
    hook, generator = ScriptedQC(RETRY, RETRY, ACCEPT), PatternGenerator()
    record = grow_step(one_tile, "right", generator, GrowSettings(seed=2, qc=hook, max_retries=2))
    seeds = generator.seeds
    assert len(seeds) == 3
    assert len(set(seeds)) == 3
    assert [c.seed for c in hook.seen] == seeds
    assert [c.attempt for c in hook.seen] == [0, 1, 2]
    (tile,) = record.tiles
    assert tile.seed == seeds[2]
    # the two refused candidates are recorded, with their seeds, scores and why
    assert [(a.seed, a.reason) for a in record.attempts] == [(seeds[0], "tile 0: retry"), (seeds[1], "tile 0: retry")]
    assert all(a.scores["seam_excess"] is not None for a in record.attempts)
    assert step_records(one_tile)[-1].attempts == record.attempts
    np.testing.assert_array_equal(
        one_tile.read(tile.write_window), written_by(generator, seeds[2], tile.tile_window, tile.write_window)
    )
    # what QC was shown is what was written
    shown = hook.seen[2].image[tile.write_window.slices((tile.tile_window.row_off, tile.tile_window.col_off))]
    np.testing.assert_array_equal(one_tile.read(tile.write_window), shown)


@pytest.mark.parametrize(
    ("verdicts", "calls"),
    [((RETRY,), 3), ((REJECT,), 1), ((RETRY, REJECT), 2)],
    ids=["retries-exhausted", "reject", "retry-then-reject"],
)
def test_a_rejected_tile_leaves_the_canvas_untouched(
    one_tile: Canvas, verdicts: tuple[Verdict, ...], calls: int
) -> None:
    files, token = tree(one_tile.path), one_tile.state_token
    generator = PatternGenerator()
    with pytest.raises(StepRejectedError, match="unchanged"):
        grow_step(one_tile, "right", generator, GrowSettings(qc=ScriptedQC(*verdicts), max_retries=2))
    assert len(generator.calls) == calls
    assert tree(one_tile.path) == files
    assert Canvas.open(one_tile.path).state_token == token


def test_rejecting_the_second_tile_discards_the_first(two_tiles: Canvas) -> None:
    files, bounds = tree(two_tiles.path), two_tiles.bounds
    hook, generator = ScriptedQC(ACCEPT, REJECT), PatternGenerator()
    with pytest.raises(StepRejectedError):
        grow_step(two_tiles, "right", generator, GrowSettings(qc=hook))
    assert len(generator.calls) == 2
    assert [c.tile_index for c in hook.seen] == [0, 1]
    assert tree(two_tiles.path) == files
    assert two_tiles.bounds == bounds


def test_best_of_three_keeps_the_candidate_with_the_lowest_score(one_tile: Canvas) -> None:
    plan = plan_edge(one_tile.bounds, "right").tiles[0]
    pixels = one_tile.read(plan.tile_window)
    generate = plan.generate_mask()
    hook, generator = ScriptedQC(ACCEPT), PatternGenerator(amplitude=60)
    record = grow_step(one_tile, "right", generator, GrowSettings(seed=4, candidates=3, qc=hook))
    assert len(generator.calls) == 3

    def score(call) -> float:  # recomputed here, from what the generator returned
        final = apply_seam("exact", compose(pixels, call.image, generate), generate, "right")
        scores = seam_scores(final, "right", generate=generate, raw=call.image)
        return candidate_score(Candidate(0, call.request.seed, 0, final, scores, None))

    by_seed = {c.request.seed: score(c) for c in generator.calls}
    assert len(set(by_seed.values())) == 3  # the choice is not a tie
    best = min(by_seed, key=by_seed.__getitem__)
    assert best != generator.seeds[0]  # so keeping the first candidate drawn would fail this test
    (tile,) = record.tiles
    assert tile.seed == best
    assert [c.seed for c in hook.seen] == [best]
    assert sorted(a.seed for a in record.attempts) == sorted(set(by_seed) - {best})
    assert {a.reason for a in record.attempts} == {"tile 0: best-of-n"}
    np.testing.assert_array_equal(
        one_tile.read(tile.write_window), written_by(generator, best, tile.tile_window, tile.write_window)
    )


def test_seam_threshold_retries_a_seam_above_the_limit(one_tile: Canvas) -> None:
    generator = PatternGenerator()
    with pytest.raises(StepRejectedError):
        grow_step(one_tile, "right", generator, GrowSettings(qc=seam_threshold(0.0), max_retries=1))
    assert len(generator.calls) == 2
    record = grow_step(one_tile, "right", generator, GrowSettings(qc=seam_threshold(1e9), max_retries=1))
    assert len(generator.calls) == 3
    assert record.qc["seam_excess"] > 0.0


@pytest.mark.parametrize("direction", ["down", "left"])
def test_exact_writes_the_generated_pixels_unchanged(two_tiles: Canvas, direction: str) -> None:
    generator = PatternGenerator()
    record = grow_step(two_tiles, direction, generator, GrowSettings(seed=6, seam="exact", save_artifacts=False))
    assert len(record.tiles) == 2
    for t in record.tiles:
        np.testing.assert_array_equal(
            two_tiles.read(t.write_window), written_by(generator, t.seed, t.tile_window, t.write_window)
        )


@pytest.mark.parametrize("direction", ["left", "up"])
def test_feather_changes_only_new_pixels_within_its_width(two_tiles: Canvas, direction: str) -> None:
    width = 40
    band = two_tiles.bounds
    before = canvas_sha(two_tiles, band)
    generator = PatternGenerator()
    record = grow_step(
        two_tiles, direction, generator, GrowSettings(seed=6, seam="feather", seam_width=width, save_artifacts=False)
    )
    assert record.seam_strategy == "feather"
    assert record.seam_params["width"] == width
    assert canvas_sha(two_tiles, band) == before
    changed_somewhere = False
    for t in record.tiles:
        w = t.write_window
        changed = (two_tiles.read(w) != written_by(generator, t.seed, t.tile_window, w)).any(axis=2)
        # distance of each written pixel from the old edge, in pixels (0 = touching the band)
        if direction == "left":
            distance = np.broadcast_to(band.col_off - 1 - np.arange(w.col_off, w.col_end), changed.shape)
        else:
            distance = np.broadcast_to((band.row_off - 1 - np.arange(w.row_off, w.row_end))[:, None], changed.shape)
        assert not changed[distance >= width].any()
        changed_somewhere |= bool(changed[distance < width].any())
    assert changed_somewhere


def test_an_unknown_seam_strategy_is_refused_before_anything_is_generated(one_tile: Canvas) -> None:
    files, generator = tree(one_tile.path), PatternGenerator()
    with pytest.raises(UnknownSeamStrategyError, match="unknown seam strategy 'bogus'; choose one of exact, feather"):
        grow_step(one_tile, "right", generator, GrowSettings(seam="bogus"))
    assert generator.calls == []
    assert tree(one_tile.path) == files


@pytest.mark.parametrize(
    "bad",
    [dict(candidates=0), dict(max_retries=-1), dict(seam_width=-1), dict(workers=0), dict(candidates=1.5)],
    ids=str,
)
def test_out_of_range_settings_are_our_error(bad: dict) -> None:
    with pytest.raises(InvalidGrowSettingsError, match=f"{next(iter(bad))} must be an integer >="):
        GrowSettings(**bad)
