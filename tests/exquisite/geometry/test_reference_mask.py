"""Reference tiles (fill hints) and the OpenAI RGBA mask convention."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from imkerutils.errors import GeometryError, ImkerError, InvalidTileError
from imkerutils.exquisite.geometry import build_reference, mask_to_openai_rgba, openai_rgba_to_mask, plan_edge
from imkerutils.tiling.window import Window

masks = hnp.arrays(np.bool_, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12))


def _random_tile(shape, channels=3, seed=0, low=0):
    return np.random.default_rng(seed).integers(low, 256, size=(*shape, channels), dtype=np.uint8)


# --- build_reference ----------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [3, 4])
def test_edge_fill_replicates_the_bands_last_column_into_the_new_half(channels):
    tile = _random_tile((64, 64), channels)
    generate = np.zeros((64, 64), bool)
    generate[:, 32:] = True
    ref = build_reference(tile, generate)
    assert ref.dtype == np.uint8
    assert ref.shape == tile.shape
    np.testing.assert_array_equal(ref[:, :32], tile[:, :32])
    np.testing.assert_array_equal(ref[:, 32:], np.repeat(tile[:, 31:32], 32, axis=1))


def test_edge_fill_follows_the_growth_direction_up():
    # Growing up: the band is the bottom half of the world tile; the hint continues its top row upwards.
    tile = _random_tile((40, 40), seed=1)
    generate = np.zeros((40, 40), bool)
    generate[:20] = True
    ref = build_reference(tile, generate)
    np.testing.assert_array_equal(ref[:20], np.repeat(tile[20:21], 20, axis=0))
    np.testing.assert_array_equal(ref[20:], tile[20:])


def test_short_edge_overhang_continues_the_last_real_row():
    plan = plan_edge(Window(0, 0, 20, 40), "right", tile=32, band=16, overlap=4)
    (t,) = plan.tiles
    generate = t.generate_mask()
    tile = _random_tile((32, 32), seed=2)
    ref = build_reference(tile, generate)
    np.testing.assert_array_equal(ref[:20, :16], tile[:20, :16])
    np.testing.assert_array_equal(ref[20:, :16], np.repeat(tile[19:20, :16], 12, axis=0))
    np.testing.assert_array_equal(ref[:20, 16:], np.repeat(tile[:20, 15:16], 16, axis=1))


@given(masks, st.integers(0, 2**32 - 1))
def test_edge_fill_copies_a_nearest_kept_pixel(generate, seed):
    tile = _random_tile(generate.shape, seed=seed)
    ref = build_reference(tile, generate)
    np.testing.assert_array_equal(ref[~generate], tile[~generate])
    kept = np.argwhere(~generate)
    if kept.size == 0:
        assert (ref == 128).all()
        return
    for r, c in np.argwhere(generate):
        dist = ((kept - (r, c)) ** 2).sum(axis=1)
        nearest = kept[dist == dist.min()]
        assert any((ref[r, c] == tile[kr, kc]).all() for kr, kc in nearest)


def _vertical_detail(a: np.ndarray) -> float:
    return float(np.abs(np.diff(a.astype(int), axis=0)).mean())


@pytest.mark.parametrize("fill", ["edge", "blur"])
def test_fills_are_hints_not_black(fill):
    tile = _random_tile((48, 48), seed=3, low=60)
    tile[:, 24:] = 0  # what an unwritten canvas holds
    generate = np.zeros((48, 48), bool)
    generate[:, 24:] = True
    ref = build_reference(tile, generate, fill=fill)
    np.testing.assert_array_equal(ref[:, :24], tile[:, :24])
    assert ref[:, 24:].min() >= 60


def test_blur_fill_is_smooth_and_exact_on_a_flat_band():
    tile = np.zeros((32, 32, 3), np.uint8)
    tile[:, :16] = (37, 80, 200)
    generate = np.zeros((32, 32), bool)
    generate[:, 16:] = True
    flat = build_reference(tile, generate, fill="blur", blur_sigma=4)
    assert (flat[:, 16:] == (37, 80, 200)).all()
    noisy = _random_tile((32, 32), seed=4)
    edge = build_reference(noisy, generate, fill="edge")
    blur = build_reference(noisy, generate, fill="blur", blur_sigma=4)
    np.testing.assert_array_equal(blur[:, :16], noisy[:, :16])
    assert _vertical_detail(blur[:, 16:]) < 0.5 * _vertical_detail(edge[:, 16:])


def test_all_hidden_is_grey_and_nothing_hidden_is_a_copy():
    tile = _random_tile((8, 8), seed=5)
    assert (build_reference(tile, np.ones((8, 8), bool)) == 128).all()
    out = build_reference(tile, np.zeros((8, 8), bool))
    np.testing.assert_array_equal(out, tile)
    assert out is not tile


@pytest.mark.parametrize(
    ("tile", "generate", "kwargs", "error"),
    [
        (np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4), bool), {}, InvalidTileError),
        (np.zeros((4, 4), np.uint8), np.zeros((4, 4), bool), {}, InvalidTileError),
        (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5), bool), {}, InvalidTileError),
        (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8), {}, InvalidTileError),
        (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), bool), {"fill": "black"}, GeometryError),
    ],
)
def test_build_reference_rejects_bad_input(tile, generate, kwargs, error):
    with pytest.raises(error) as info:
        build_reference(tile, generate, **kwargs)
    assert isinstance(info.value, ImkerError)
    assert isinstance(info.value, ValueError)


# --- OpenAI RGBA masks --------------------------------------------------------------------------


@given(masks)
def test_rgba_mask_round_trips(generate):
    rgba = mask_to_openai_rgba(generate)
    assert rgba.dtype == np.uint8
    assert rgba.shape == (*generate.shape, 4)
    assert (rgba[..., :3] == 0).all()
    np.testing.assert_array_equal(rgba[..., 3], np.where(generate, 0, 255))
    np.testing.assert_array_equal(openai_rgba_to_mask(rgba), generate)


def test_only_fully_transparent_pixels_may_be_painted():
    rgba = np.zeros((1, 4, 4), np.uint8)
    rgba[0, :, 3] = [0, 1, 128, 255]
    assert openai_rgba_to_mask(rgba).tolist() == [[True, False, False, False]]


def test_plan_mask_as_rgba_keeps_the_band():
    (t,) = plan_edge(Window(0, 0, 1024, 600), "left").tiles
    alpha = mask_to_openai_rgba(t.generate_mask())[..., 3]
    # Growing left, the band is the right half of the world-oriented tile.
    assert (alpha[:, 512:] == 255).all()
    assert (alpha[:, :512] == 0).all()


def test_rgba_conversion_rejects_bad_shapes():
    with pytest.raises(InvalidTileError):
        mask_to_openai_rgba(np.zeros((4, 4), np.uint8))
    with pytest.raises(InvalidTileError):
        openai_rgba_to_mask(np.zeros((4, 4, 3), np.uint8))
