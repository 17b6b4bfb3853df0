"""Split / glue, and a whole edge grown on an in-memory canvas with a fake generator."""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import pytest
from geometry_strategies import plan_inputs
from hypothesis import given
from hypothesis import strategies as st

from imkerutils.errors import InvalidTileError
from imkerutils.exquisite.geometry import (
    EdgePlan,
    TilePlan,
    apply_seam,
    build_reference,
    compose,
    new_pixels,
    plan_edge,
)
from imkerutils.tiling.window import Window, union


def test_new_pixels_cuts_the_write_window_out_of_the_tile():
    plan = plan_edge(Window(0, 0, 700, 2560), "up")
    tile = plan.tiles[1]  # phase B: writes columns 1024..1536 of the strip above the canvas
    rows, cols = np.mgrid[0:1024, 0:1024]
    result = np.stack([rows, cols, np.zeros_like(rows)], axis=-1).astype(np.int32)
    px = new_pixels(tile, result)
    assert tile.write_window == Window(-512, 1024, 512, 512)
    assert px.shape == (512, 512, 3)
    assert px[0, 0, :2].tolist() == [0, 1024 - 768]
    assert px[-1, -1, :2].tolist() == [511, 1535 - 768]
    with pytest.raises(InvalidTileError):
        new_pixels(tile, result[:1000])


def test_compose_keeps_real_pixels():
    ref = np.full((4, 4, 3), 9, np.uint8)
    out = np.full((4, 4, 3), 200, np.uint8)
    generate = np.zeros((4, 4), bool)
    generate[:, 2:] = True
    finished = compose(ref, out, generate)
    assert finished[:, :2].tolist() == ref[:, :2].tolist()
    assert (finished[:, 2:] == 200).all()
    with pytest.raises(InvalidTileError):
        compose(ref, out.astype(np.int16), generate)
    with pytest.raises(InvalidTileError):
        compose(ref, out, generate[:3])


@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    channels=st.sampled_from([None, 1, 2, 3, 4]),
    dtype=st.sampled_from([np.uint8, np.uint16, np.float32]),
    mirrored=st.booleans(),
)
def test_compose_equals_where_for_any_layout(seed, shape, channels, dtype, mirrored):
    rng = np.random.default_rng(seed)
    full = shape if channels is None else (*shape, channels)
    ref = rng.integers(0, 250, full).astype(dtype)
    out = rng.integers(0, 250, full).astype(dtype)
    generate = rng.random(shape) < 0.5
    if mirrored:  # turned views, as a LEFT tile's arrays may be
        ref, out, generate = ref[:, ::-1], out[:, ::-1], generate[:, ::-1]
    expected = np.where(generate if channels is None else generate[..., None], out, ref)
    finished = compose(ref, out, generate)
    assert finished.dtype == expected.dtype
    np.testing.assert_array_equal(finished, expected)
    assert not np.shares_memory(finished, ref)


class _Canvas:
    """A world-addressed numpy canvas that counts writes."""

    def __init__(self, extent: Window, bounds: Window, channels: int, seed: int) -> None:
        self.extent = extent
        self.origin = (extent.row_off, extent.col_off)
        self.pixels = np.zeros((*extent.shape, channels), np.uint8)
        self.writes = np.zeros(extent.shape, np.int32)
        rng = np.random.default_rng(seed)
        self.pixels[bounds.slices(self.origin)] = rng.integers(0, 256, (*bounds.shape, channels), dtype=np.uint8)

    def read(self, w: Window) -> np.ndarray:
        return self.pixels[w.slices(self.origin)].copy()

    def write(self, w: Window, px: np.ndarray) -> None:
        self.pixels[w.slices(self.origin)] = px
        self.writes[w.slices(self.origin)] += 1


def _fake_generate(reference: np.ndarray, generate: np.ndarray) -> np.ndarray:
    """Deterministic 'model': noise seeded by everything it was given; it also redraws the band a bit."""
    seed = hashlib.sha256(reference.tobytes() + generate.tobytes()).digest()
    out = np.random.default_rng(list(seed)).integers(0, 256, reference.shape, dtype=np.uint8)
    drifted = np.clip(reference.astype(int) + 3, 0, 255).astype(np.uint8)
    return np.where(generate[..., None], out, drifted)


def _step(canvas: _Canvas, tile: TilePlan, band: int) -> tuple[Window, np.ndarray]:
    """Run one tile against the canvas as it is now; return what it writes."""
    generate = tile.generate_mask()
    read = canvas.read(tile.tile_window)
    # The DAG gives each tile exactly its context: kept pixels exist, pixels it paints do not.
    written = canvas.writes[tile.tile_window.slices(canvas.origin)]
    strip_kept = ~generate & (written > 0)
    assert (written[tile.write_window.slices(tile.origin)] == 0).all()
    assert strip_kept.sum() == sum(w.size for w in tile.context_windows)
    reference = build_reference(read, generate)
    finished = compose(reference, _fake_generate(reference, generate), generate)
    finished = apply_seam("feather", finished, generate, tile.direction, seam_col=band, width=8)
    np.testing.assert_array_equal(finished[~generate], read[~generate])
    return tile.write_window, new_pixels(tile, finished)


def _grow(plan: EdgePlan, seed: int, reverse_levels: bool) -> _Canvas:
    extent = functools.reduce(union, [t.tile_window for t in plan.tiles], plan.new_bounds)
    extent = Window(extent.row_off - 2, extent.col_off - 2, extent.height + 4, extent.width + 4)
    canvas = _Canvas(extent, plan.bounds, 3, seed)
    for level in plan.levels():
        tiles = level[::-1] if reverse_levels else level
        results = [_step(canvas, t, plan.band) for t in tiles]  # all of a level read before any writes: parallel
        for w, px in results:
            canvas.write(w, px)
    return canvas


@given(plan_inputs(small=True))
def test_growing_an_edge_writes_each_new_pixel_once_and_never_the_band(inputs):
    bounds, d, params = inputs
    plan = plan_edge(bounds, d, **params)
    a = _grow(plan, seed=1, reverse_levels=False)
    b = _grow(plan, seed=1, reverse_levels=True)
    np.testing.assert_array_equal(a.pixels, b.pixels)  # same bytes whatever the order within a level
    fresh = _Canvas(a.extent, bounds, 3, seed=1)
    np.testing.assert_array_equal(a.pixels[bounds.slices(a.origin)], fresh.pixels[bounds.slices(a.origin)])
    expected_writes = np.zeros(a.extent.shape, np.int32)
    expected_writes[plan.strip.slices(a.origin)] = 1
    np.testing.assert_array_equal(a.writes, expected_writes)


def test_growing_a_default_size_edge():
    plan = plan_edge(Window(-100, 40, 2600, 300), "left")
    canvas = _grow(plan, seed=2, reverse_levels=False)
    assert canvas.writes.max() == 1
    assert canvas.writes.sum() == plan.strip.size == 2600 * 512
