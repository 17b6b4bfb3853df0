"""Seam strategies: band untouched, changes confined to `width` columns, exact is the identity."""

from __future__ import annotations

import numpy as np
import pytest
from geometry_strategies import directions, pink_noise
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from imkerutils.errors import GeometryError, ImkerError, InvalidTileError, UnknownSeamStrategyError
from imkerutils.exquisite.geometry import (
    Direction,
    apply_seam,
    from_right,
    local_seam_excess,
    seam_strategy_names,
    to_right,
)


@st.composite
def rf_cases(draw):
    """A right-facing tile, a generate mask, a seam column and a strategy setup."""
    h = draw(st.integers(1, 24))
    w = draw(st.integers(2, 40))
    c = draw(st.sampled_from([3, 4]))
    seam = draw(st.integers(1, w - 1))
    tile = draw(hnp.arrays(np.uint8, (h, w, c), elements=st.integers(0, 255)))
    if draw(st.booleans()):  # plan-like mask: band kept, new half painted, some kept neighbour rows
        generate = np.zeros((h, w), bool)
        generate[:, seam:] = True
        lo, hi = sorted(draw(st.lists(st.integers(0, h), min_size=2, max_size=2)))
        generate[lo:hi, seam:] = draw(st.booleans())
        generate[draw(st.integers(0, h)) :, :] = True  # rows past the edge
    else:
        generate = draw(hnp.arrays(np.bool_, (h, w)))
    options = {
        "width": draw(st.integers(0, 24)),
        "smooth": draw(st.sampled_from([0.0, 1.5, 16.0])),
        "profile": draw(st.sampled_from(["cosine", "linear"])),
    }
    return tile, generate, seam, options


@given(rf_cases(), directions, st.sampled_from(["exact", "feather"]))
def test_strategies_touch_only_generated_pixels_near_the_seam(case, d, name):
    tile, generate, seam, options = case
    opts = options if name == "feather" else {"width": options["width"]}
    world = from_right(tile, d)
    out = apply_seam(name, world, from_right(generate, d), d, seam_col=seam, **opts)
    assert out.dtype == tile.dtype
    assert out.shape == world.shape
    rf = to_right(out, d)
    np.testing.assert_array_equal(rf[:, :seam], tile[:, :seam])  # the band, byte for byte
    np.testing.assert_array_equal(rf[~generate], tile[~generate])  # every kept pixel
    np.testing.assert_array_equal(rf[:, seam + options["width"] :], tile[:, seam + options["width"] :])
    if tile.shape[2] == 4:
        np.testing.assert_array_equal(rf[..., 3], tile[..., 3])  # alpha left as generated
    if name == "exact":
        np.testing.assert_array_equal(out, world)


@given(rf_cases(), directions)
def test_feather_obeys_the_mirror_law(case, d):
    tile, generate, seam, options = case
    right = apply_seam("feather", tile, generate, "right", seam_col=seam, **options)
    other = apply_seam("feather", from_right(tile, d), from_right(generate, d), d, seam_col=seam, **options)
    np.testing.assert_array_equal(other, from_right(right, d))


def test_feather_without_smoothing_matches_the_band_at_the_seam():
    tile = pink_noise(64, 128, seed=5, channels=4)
    tile[..., 3] = 200
    generate = np.zeros((64, 128), bool)
    generate[:, 64:] = True
    generate[:10, 64:] = False  # a neighbour's pixels
    out = apply_seam("feather", tile, generate, seam_col=64, width=16, smooth=0, profile="linear")
    np.testing.assert_array_equal(out[10:, 64, :3], tile[10:, 63, :3])
    np.testing.assert_array_equal(out[:10], tile[:10])
    # Linear decay: half the offset 8 columns in, rounded.
    offset = tile[10:, 63, :3].astype(float) - tile[10:, 64, :3]
    expected = np.clip(np.rint(tile[10:, 72, :3] + 0.5 * offset), 0, 255)
    np.testing.assert_array_equal(out[10:, 72, :3], expected)
    np.testing.assert_array_equal(out[..., 3], tile[..., 3])


def test_feather_hides_a_colour_shift():
    tile = pink_noise(256, 256, seed=6).astype(int)
    tile[:, 128:] += 30
    tile = np.clip(tile, 0, 255).astype(np.uint8)
    generate = np.zeros((256, 256), bool)
    generate[:, 128:] = True
    before = local_seam_excess(tile, 128)
    after = local_seam_excess(apply_seam("feather", tile, generate, seam_col=128), 128)
    assert before > 2
    assert after < 1.3


def test_exact_is_the_identity_and_returns_a_new_array():
    tile = pink_noise(32, 32, seed=7)
    generate = np.ones((32, 32), bool)
    out = apply_seam("exact", tile, generate, Direction.UP, seam_col=16)
    np.testing.assert_array_equal(out, tile)
    assert out is not tile


def test_unknown_strategy_is_a_clear_error():
    with pytest.raises(UnknownSeamStrategyError, match=r"poisson.*exact, feather") as info:
        apply_seam("poisson", np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), bool), seam_col=2)
    assert isinstance(info.value, ImkerError)
    assert isinstance(info.value, ValueError)
    assert seam_strategy_names() == ("exact", "feather")


def test_bad_arguments():
    tile, generate = np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), bool)
    with pytest.raises(InvalidTileError):
        apply_seam("exact", tile[..., :2], generate, seam_col=2)
    with pytest.raises(InvalidTileError):
        apply_seam("exact", tile, generate[:3], seam_col=2)
    with pytest.raises(InvalidTileError, match="seam column"):
        apply_seam("exact", tile, generate, seam_col=4)
    with pytest.raises(GeometryError, match="negative"):
        apply_seam("feather", tile, generate, seam_col=2, width=-1)
    with pytest.raises(GeometryError, match="profile"):
        apply_seam("feather", tile, generate, seam_col=2, profile="gauss")
