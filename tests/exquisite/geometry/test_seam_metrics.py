"""Seam metrics on synthetic images: ~1 for a seamless continuation, high for visible seams."""

from __future__ import annotations

import json

import numpy as np
import pytest
from geometry_strategies import pink_noise
from scipy import ndimage

from imkerutils.errors import GeometryError, InvalidTileError
from imkerutils.exquisite.geometry import (
    Direction,
    SeamScores,
    band_drift,
    colour_step,
    detail_ratio,
    from_right,
    local_seam_excess,
    seam_rows,
    seam_scores,
)


def _ramp(h: int = 64, w: int = 128) -> np.ndarray:
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.stack([0.3 * cols + 0.2 * rows, 100 + 0.5 * cols, 200 - 0.25 * cols], axis=-1)


def _half_mask(h: int, w: int, seam: int) -> np.ndarray:
    g = np.zeros((h, w), bool)
    g[:, seam:] = True
    return g


def test_smooth_gradient_continued_scores_one():
    tile = _ramp()
    assert local_seam_excess(tile, 64) == pytest.approx(1.0, abs=1e-12)
    assert colour_step(tile, 64) == pytest.approx(1.0, abs=1e-12)
    assert detail_ratio(tile, 64) == pytest.approx(1.0, abs=1e-12)


def test_hard_step_at_the_seam_scores_high():
    tile = _ramp()
    tile[:, 64:] += 40
    assert local_seam_excess(tile, 64) > 20
    assert colour_step(tile, 64) > 5
    assert detail_ratio(tile, 64) == pytest.approx(1.0, abs=1e-12)  # a step is not detail


def test_constant_image_scores_exactly_one_without_dividing_by_zero():
    tile = np.full((32, 64, 3), 77, np.uint8)
    assert local_seam_excess(tile, 32) == 1.0
    assert detail_ratio(tile, 32) == 1.0
    assert colour_step(tile, 32) == 1.0


def test_natural_texture_scores_near_one_and_seams_score_high():
    a = pink_noise(512, 512, seed=1)
    b = pink_noise(512, 512, seed=2)
    assert 0.9 <= local_seam_excess(a, 256) <= 1.2
    assert 0.8 <= colour_step(a, 256) <= 1.25
    assert 0.8 <= detail_ratio(a, 256) <= 1.25
    stitched = a.copy()
    stitched[:, 256:] = b[:, 256:]
    assert local_seam_excess(stitched, 256) > 1.8
    shifted = a.astype(int)
    shifted[:, 256:] += 30
    assert local_seam_excess(np.clip(shifted, 0, 255).astype(np.uint8), 256) > 2.5


def test_blurry_new_half_has_low_detail_ratio():
    rng = np.random.default_rng(0)
    tile = rng.integers(0, 256, (64, 128, 3)).astype(np.float64)
    tile[:, 64:] = ndimage.gaussian_filter(tile[:, 64:], sigma=(3, 3, 0))
    assert detail_ratio(tile, 64) < 0.05
    tile[:, :64] = ndimage.gaussian_filter(tile[:, :64], sigma=(3, 3, 0))
    tile[:, 64:] = rng.integers(0, 256, (64, 64, 3))
    assert detail_ratio(tile, 64) > 20


def test_alpha_and_grey_tiles_are_accepted():
    rgba = np.concatenate([_ramp(), np.zeros((64, 128, 1))], axis=-1)
    rgba[:, :64, 3] = 255  # an alpha step must not count as a seam
    assert local_seam_excess(rgba, 64) == pytest.approx(1.0, abs=1e-12)
    assert local_seam_excess(_ramp()[..., 0], 64) == pytest.approx(1.0, abs=1e-12)


def test_band_drift_mean_and_max():
    original = np.zeros((4, 4, 3), np.uint8)
    generated = np.full((4, 4, 3), 3, np.uint8)
    generated[0, 0, 0] = 51
    drift = band_drift(original, generated)
    assert drift.mean == pytest.approx((47 * 3 + 51) / 48)
    assert drift.max == 51.0
    where = np.ones((4, 4), bool)
    where[0, 0] = False
    assert band_drift(original, generated, where=where).to_dict() == {"mean": 3.0, "max": 3.0}
    assert band_drift(original, generated, where=np.zeros((4, 4), bool)).max == 0.0
    with pytest.raises(InvalidTileError):
        band_drift(original, generated[:3])


@pytest.mark.parametrize("d", list(Direction))
def test_seam_scores_are_the_same_in_every_direction(d):
    rf = pink_noise(96, 128, seed=3).astype(int)
    rf[:, 64:] += 20
    rf = np.clip(rf, 0, 255).astype(np.uint8)
    generate = _half_mask(96, 128, 64)
    generate[80:] = True  # rows past the edge: no real band, excluded from the metrics
    rf[80:, :64] = 0
    raw = rf.copy()
    raw[:, :64] = np.clip(raw[:, :64].astype(int) + 5, 0, 255)
    expected = seam_scores(rf, Direction.RIGHT, generate=generate, raw=raw, seam_col=64)
    got = seam_scores(from_right(rf, d), d, generate=from_right(generate, d), raw=from_right(raw, d), seam_col=64)
    assert got == expected
    assert expected.rows == 80
    assert expected.seam_excess == local_seam_excess(rf[:80], 64)
    assert expected.band_drift_max == 5.0
    assert expected.band_drift_mean == 5.0
    assert local_seam_excess(from_right(rf, d), 64, direction=d) == local_seam_excess(rf, 64)


def test_seam_rows_skip_neighbours_pixels_and_rows_past_the_edge():
    generate = _half_mask(10, 8, 4)
    generate[:3, 4:] = False  # a neighbour's pixels, kept
    generate[8:, :] = True  # past the edge
    assert seam_rows(generate, 4).tolist() == [False] * 3 + [True] * 5 + [False] * 2


def test_seam_scores_round_trip_and_defaults():
    tile = _ramp().astype(np.uint8)
    scores = seam_scores(tile, "right", seam_col=64)
    assert scores.rows == 64
    assert scores.band_drift_mean is None
    assert SeamScores.from_dict(json.loads(json.dumps(scores.to_dict()))) == scores


def test_metric_errors():
    with pytest.raises(InvalidTileError, match="columns"):
        local_seam_excess(np.zeros((4, 8, 3)), 2)
    with pytest.raises(InvalidTileError, match="columns"):
        colour_step(np.zeros((4, 40, 3)), 10)
    with pytest.raises(GeometryError, match="no rows"):
        seam_scores(np.zeros((8, 64, 3)), generate=np.ones((8, 64), bool), seam_col=32)
    with pytest.raises(InvalidTileError):
        local_seam_excess(np.zeros((4, 64, 3)), 32, rows=np.ones(5, bool))
