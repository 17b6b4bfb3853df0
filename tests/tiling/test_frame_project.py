"""``frame.project``: the one iterator from a window to (tile, chunk selection, window selection, is_complete).

Checked against NumPy: scattering a window's pixels into tiles through the projections and gathering them
back gives the window, every pixel is moved exactly once, and a projection is complete iff it is the tile.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from imkerutils.tiling import Window
from imkerutils.tiling.frame import project

windows = st.builds(Window, st.integers(-70, 70), st.integers(-70, 70), st.integers(0, 60), st.integers(0, 60))


@given(w=windows, tile=st.sampled_from([1, 7, 16, 32]))
def test_projections_partition_the_window_and_move_pixels_both_ways(w: Window, tile: int) -> None:
    pixels = np.arange(w.size, dtype=np.int64).reshape(w.shape)
    tiles: dict[tuple[int, int], np.ndarray] = {}
    seen = np.zeros(w.shape, dtype=np.int64)
    steps = list(project(w, tile))
    assert [p.tile for p in steps] == sorted(p.tile for p in steps)  # row-major
    for p in steps:
        i, j = p.tile
        tw = Window(i * tile, j * tile, tile, tile)
        assert p.piece == w.intersection(tw)
        assert p.is_complete == (p.piece == tw)
        chunk = tiles.setdefault(p.tile, np.full((tile, tile), -1, dtype=np.int64))
        chunk[p.in_chunk] = pixels[p.in_window]
        seen[p.in_window] += 1
    assert (seen == 1).all()
    back = np.full(w.shape, -1, dtype=np.int64)
    for p in steps:
        back[p.in_window] = tiles[p.tile][p.in_chunk]
    assert np.array_equal(back, pixels)
    for (i, j), chunk in tiles.items():  # each tile holds the world pixels at its place
        rows, cols = np.mgrid[i * tile : (i + 1) * tile, j * tile : (j + 1) * tile]
        inside = (rows >= w.row_off) & (rows < w.row_end) & (cols >= w.col_off) & (cols < w.col_end)
        expect = np.where(inside, (rows - w.row_off) * w.width + (cols - w.col_off), -1)
        assert np.array_equal(chunk, expect)
