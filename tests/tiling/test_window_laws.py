"""Laws of the Window / TileGrid algebra, checked against a pixel oracle (boolean masks)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imkerutils.errors import InvalidWindowError
from imkerutils.testing.strategies import grids, windows
from imkerutils.tiling import TileGrid, Window, intersection, subdivide, translate, union

# Every window the strategies draw fits in this frame, negative offsets included.
FRAME = Window(-160, -160, 400, 400)


def mask(w: Window | None) -> np.ndarray:
    """The pixels of ``w`` painted on the frame."""
    m = np.zeros(FRAME.shape, dtype=bool)
    if w is not None:
        m[w.slices((FRAME.row_off, FRAME.col_off))] = True
    return m


def bbox(m: np.ndarray) -> Window | None:
    """The bounding box of the painted pixels, or None."""
    rows, cols = np.nonzero(m)
    if rows.size == 0:
        return None
    return Window.from_bounds(
        rows.min() + FRAME.row_off,
        cols.min() + FRAME.col_off,
        rows.max() + 1 + FRAME.row_off,
        cols.max() + 1 + FRAME.col_off,
    )


def coverage(pieces: list[Window]) -> np.ndarray:
    """How many pieces cover each pixel of the frame."""
    count = np.zeros(FRAME.shape, dtype=np.int32)
    for p in pieces:
        count[p.slices((FRAME.row_off, FRAME.col_off))] += 1
    return count


# -- intersection ------------------------------------------------------------
@given(windows(), windows())
def test_intersection_is_the_shared_pixels_or_none(a, b):
    shared = mask(a) & mask(b)
    got = intersection(a, b)
    if not shared.any():
        assert got is None
    else:
        assert got is not None
        assert not got.is_empty
        assert np.array_equal(mask(got), shared)
    assert a.intersection(b) == got


@given(windows(), windows())
def test_intersection_commutes(a, b):
    assert intersection(a, b) == intersection(b, a)


@given(windows(), windows(), windows())
def test_intersection_associates(a, b, c):
    def meet(x: Window | None, y: Window | None) -> Window | None:
        return None if x is None or y is None else intersection(x, y)

    assert meet(meet(a, b), c) == meet(a, meet(b, c))


def test_disjoint_and_touching_windows_share_nothing():
    a = Window(-10, -10, 10, 10)
    assert intersection(a, Window(0, -10, 5, 5)) is None  # touches the bottom edge
    assert intersection(a, Window(-10, 0, 5, 5)) is None  # touches the right edge
    assert intersection(a, Window(-100, -100, 3, 3)) is None
    assert intersection(a, Window(-5, -5, 0, 0)) is None  # empty inside
    assert intersection(a, Window(-1, -1, 5, 5)) == Window(-1, -1, 1, 1)


# -- union ---------------------------------------------------------------------
@given(windows(), windows())
def test_union_is_the_bounding_box(a, b):
    got = union(a, b)
    box = bbox(mask(a) | mask(b))
    if box is None:  # both empty: the union is empty too
        assert got.is_empty
    else:
        assert got == box
        assert got.contains(a)
        assert got.contains(b)
    assert a.union(b) == got


@given(windows(), windows())
def test_union_commutes(a, b):
    if a.is_empty and b.is_empty:
        # Two empty windows at different places: either result covers no pixel.
        assert union(a, b).is_empty
        assert union(b, a).is_empty
    else:
        assert union(a, b) == union(b, a)


@given(windows(min_size=1), windows(min_size=1), windows(min_size=1))
def test_union_associates(a, b, c):
    assert union(union(a, b), c) == union(a, union(b, c))


@given(windows(), windows())
def test_contains_is_pixel_inclusion(a, b):
    assert a.contains(b) == bool(not (mask(b) & ~mask(a)).any())


# -- translate -------------------------------------------------------------------
@given(windows(), st.integers(-50, 50), st.integers(-50, 50))
def test_translate_round_trips_and_moves_every_pixel(w, dr, dc):
    moved = translate(w, dr, dc)
    assert moved.shape == w.shape
    assert translate(moved, -dr, -dc) == w
    assert w.translate(dr, dc) == moved
    assert np.array_equal(mask(moved), np.roll(mask(w), (dr, dc), axis=(0, 1)))


# -- snapping to the grid ------------------------------------------------------------
@given(grids(), windows())
def test_snap_is_idempotent_aligned_minimal_and_contains(grid, w):
    s = grid.snap(w)
    assert grid.snap(s) == s
    assert s.contains(w)
    if w.is_empty:
        assert s == w
        return
    assert grid.is_aligned(s)
    size = grid.size
    assert s.row_off % size == 0
    assert s.col_off % size == 0
    assert s.height % size == 0
    assert s.width % size == 0
    # minimal: no edge can move inwards by a whole tile
    assert 0 <= w.row_off - s.row_off < size
    assert 0 <= w.col_off - s.col_off < size
    assert 0 <= s.row_end - w.row_end < size
    assert 0 <= s.col_end - w.col_end < size


def test_snap_with_negative_offsets():
    g = TileGrid(16)
    assert g.snap(Window(-1, -17, 1, 2)) == Window(-16, -32, 16, 32)
    assert g.tile_of(-1, -16) == (-1, -1)
    assert g.tile_of(-17, 15) == (-2, 0)
    assert list(g.tiles(Window(-1, -1, 2, 2))) == [(-1, -1), (-1, 0), (0, -1), (0, 0)]


# -- partitions ------------------------------------------------------------------------
@given(windows(), st.integers(1, 20), st.integers(1, 20))
def test_subdivide_partitions_exactly(w, h, wd):
    pieces = list(subdivide(w, h, wd))
    assert np.array_equal(coverage(pieces), mask(w).astype(np.int32))  # every pixel once, nothing outside
    assert all(not p.is_empty and p.height <= h and p.width <= wd for p in pieces)
    assert all(w.contains(p) for p in pieces)


@given(grids(), windows())
def test_grid_split_partitions_exactly_along_tile_lines(grid, w):
    split = list(grid.split(w))
    pieces = [p for _, p in split]
    assert np.array_equal(coverage(pieces), mask(w).astype(np.int32))
    assert [ij for ij, _ in split] == list(grid.tiles(w))
    assert len(split) == grid.count(w)
    for (i, j), p in split:
        assert not p.is_empty
        assert grid.tile_window(i, j).contains(p)
        assert grid.tile_of(p.row_off, p.col_off) == (i, j)
        assert grid.tile_of(p.row_end - 1, p.col_end - 1) == (i, j)


@given(grids(), windows(min_size=1))
def test_tile_windows_of_the_snap_partition_it(grid, w):
    tiles = [grid.tile_window(i, j) for i, j in grid.tiles(w)]
    assert np.array_equal(coverage(tiles), mask(grid.snap(w)).astype(np.int32))


# -- validation --------------------------------------------------------------------------
@pytest.mark.parametrize("args", [(0, 0, -1, 5), (0, 0, 5, -1), (-3, -3, -1, -1)])
def test_window_rejects_negative_sizes(args):
    with pytest.raises(InvalidWindowError, match="negative"):
        Window(*args)


@pytest.mark.parametrize("bad", [1.0, 1.5, "1", None, Fraction(1, 2), np.float64(2.0)])
@pytest.mark.parametrize("field", range(4))
def test_window_rejects_non_integers(bad, field):
    args: list[object] = [0, 0, 1, 1]
    args[field] = bad
    with pytest.raises(InvalidWindowError, match="integer"):
        Window(*args)  # type: ignore[arg-type]


def test_window_errors_are_value_errors_and_numpy_ints_become_ints():
    assert issubclass(InvalidWindowError, ValueError)
    w = Window(np.int64(-3), np.int32(2), np.uint8(4), 5)
    assert w == Window(-3, 2, 4, 5)
    assert all(type(v) is int for v in (w.row_off, w.col_off, w.height, w.width))


@given(windows())
def test_window_dict_round_trip(w):
    assert Window.from_dict(w.to_dict()) == w


@pytest.mark.parametrize(("h", "w"), [(0, 1), (1, 0), (-1, 4)])
def test_subdivide_rejects_non_positive_piece_sizes(h, w):
    with pytest.raises(InvalidWindowError):
        list(subdivide(Window(0, 0, 4, 4), h, w))


@pytest.mark.parametrize("size", [0, -16, 1.5, "16"])
def test_tile_grid_rejects_bad_sizes(size):
    with pytest.raises(InvalidWindowError):
        TileGrid(size)  # type: ignore[arg-type]
