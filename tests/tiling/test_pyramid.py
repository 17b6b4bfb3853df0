"""Pyramid levels equal a fresh 2x reduction of the level below, after any writes, undos and redos."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imkerutils.errors import CanvasReadOnlyError, InvalidWindowError
from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.pyramid import downsample2, level_window, levels_needed


def assert_pyramid_consistent(canvas: Canvas) -> None:
    for level in range(1, canvas.levels):
        lb = canvas.level_bounds(level)
        below = Window(lb.row_off * 2, lb.col_off * 2, lb.height * 2, lb.width * 2)
        expected = downsample2(canvas.read(below, level - 1))
        np.testing.assert_array_equal(canvas.read(lb, level), expected, err_msg=f"level {level}")


def test_downsample_rounds_half_up_per_channel():
    block = np.array([[[0, 255], [1, 255]], [[1, 0], [0, 0]]], np.uint8)  # 2x2 pixels, 2 channels
    assert downsample2(block).tolist() == [[[1, 128]]]


def test_levels_needed_stops_at_one_tile():
    assert levels_needed(Window(0, 0, 16, 16), 16) == 1
    assert levels_needed(Window(0, 0, 17, 16), 16) == 2
    assert levels_needed(Window(-5, 0, 20000, 20000), 1024) == 6
    assert level_window(Window(-3, -1, 5, 4), 1) == Window(-2, -1, 3, 3)


ops = st.lists(
    st.tuples(
        st.sampled_from(["paste", "undo", "redo"]),
        st.integers(-60, 60),
        st.integers(-60, 60),
        st.integers(1, 40),
        st.integers(1, 40),
        st.integers(0, 2**32 - 1),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=25)
@given(ops=ops, mode=st.sampled_from(["RGB", "RGBA"]))
def test_pyramid_matches_fresh_reduction(tmp_path_factory, ops, mode):
    path = tmp_path_factory.mktemp("pyr") / "c.zarr"
    canvas = Canvas.create(path, mode=mode, height=20, width=20, tile=8)
    channels = len(mode)
    for op, row, col, h, w, seed in ops:
        if op == "paste":
            pixels = np.random.default_rng(seed).integers(0, 256, (h, w, channels), dtype=np.uint8)
            canvas.paste(pixels, row, col, grow=True)
        elif op == "undo" and canvas.head > 0:
            canvas.undo()
        elif op == "redo" and canvas.refresh().summary()["redoable"] > 0:
            canvas.redo()
    assert_pyramid_consistent(canvas)
    assert canvas.update_pyramid() == 0  # up to date: nothing left to recompute
    # a fresh process sees the same levels
    assert_pyramid_consistent(Canvas.open(path))


def test_overview_is_one_tile_and_read_only_canvas_reads_levels(tmp_path):
    canvas = Canvas.create(tmp_path / "c.zarr", height=64, width=64, tile=16)
    canvas.paste(np.full((64, 64, 3), 200, np.uint8), 0, 0)
    top = canvas.levels - 1
    assert canvas.level_bounds(top).height <= 16
    canvas.update_pyramid()
    ro = Canvas.open(tmp_path / "c.zarr", read_only=True)
    assert (ro.read(ro.level_bounds(top), top) == 200).all()
    with pytest.raises(CanvasReadOnlyError):
        ro.update_pyramid()
    with pytest.raises(InvalidWindowError):
        ro.read(Window(0, 0, 1, 1), level=top + 1)
