"""Window mapping into the right-facing frame agrees with the pixel mapping of direction.to_right."""

from __future__ import annotations

import numpy as np
from geometry_strategies import directions
from hypothesis import given
from hypothesis import strategies as st

from imkerutils.exquisite.geometry import Direction, from_right, to_right, window_from_right, window_to_right
from imkerutils.exquisite.geometry.direction import contiguous
from imkerutils.tiling.window import Window

WORLD = Window(-30, -40, 60, 70)


def _world_pixels() -> np.ndarray:
    """Each pixel holds its own world (row, col)."""
    rows, cols = np.meshgrid(
        np.arange(WORLD.row_off, WORLD.row_end), np.arange(WORLD.col_off, WORLD.col_end), indexing="ij"
    )
    return np.stack([rows, cols], axis=-1)


def _world_of_right(row: np.ndarray, col: np.ndarray, d: Direction) -> tuple[np.ndarray, np.ndarray]:
    """Right-facing (row, col) -> world (row, col), from the table in frame.py's docstring."""
    return {
        Direction.RIGHT: (row, col),
        Direction.LEFT: (row, -col - 1),
        Direction.DOWN: (col, row),
        Direction.UP: (-col - 1, row),
    }[d]


@st.composite
def sub_windows(draw) -> Window:
    top = draw(st.integers(WORLD.row_off, WORLD.row_end - 1))
    left = draw(st.integers(WORLD.col_off, WORLD.col_end - 1))
    return Window(top, left, draw(st.integers(1, WORLD.row_end - top)), draw(st.integers(1, WORLD.col_end - left)))


@given(sub_windows(), directions)
def test_to_right_view_of_a_window_holds_the_right_facing_window(w, d):
    world = _world_pixels()
    view = to_right(world[w.slices((WORLD.row_off, WORLD.col_off))], d)
    rf = window_to_right(w, d)
    assert view.shape[:2] == rf.shape
    rows, cols = np.meshgrid(np.arange(rf.row_off, rf.row_end), np.arange(rf.col_off, rf.col_end), indexing="ij")
    exp_rows, exp_cols = _world_of_right(rows, cols, d)
    np.testing.assert_array_equal(view[..., 0], exp_rows)
    np.testing.assert_array_equal(view[..., 1], exp_cols)


@given(
    st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6), st.integers(0, 5000), st.integers(0, 5000), directions
)
def test_window_maps_round_trip(r, c, h, w, d):
    win = Window(r, c, h, w)
    assert window_from_right(window_to_right(win, d), d) == win
    assert window_to_right(window_from_right(win, d), d) == win
    assert window_to_right(win, d).size == win.size


def test_directions_accept_names():
    w = Window(1, 2, 3, 4)
    assert window_to_right(w, "down") == Window(2, 1, 4, 3)
    assert window_from_right(w, "LEFT") == Window(1, -6, 3, 4)


@given(
    st.sampled_from([np.uint8, np.uint16, np.float32, np.bool_]),
    st.integers(1, 5),
    st.integers(1, 17),
    st.integers(1, 17),
    directions,
    st.booleans(),
)
def test_contiguous_copies_a_turned_image_exactly(dtype, channels, h, w, d, inverse):
    image = np.arange(h * w * channels).reshape(h, w, channels).astype(dtype)
    view = (from_right if inverse else to_right)(image, d)
    copy = contiguous(view)
    assert copy.flags.c_contiguous
    assert copy.dtype == view.dtype
    assert copy.shape == view.shape
    np.testing.assert_array_equal(copy, view)
