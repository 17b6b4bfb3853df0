"""Seam invariants of one growth step, for every direction and random canvas sizes and offsets.

The tile is fixed at 1024 px, so every example generates real 1024 x 1024 tiles:
the canvases stay modest and the examples few.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from _generators import PatternGenerator, canvas_sha, make_canvas, noise_image
from hypothesis import example, given, settings
from hypothesis import strategies as st

from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.exquisite.pipeline import GrowSettings, grow_step
from imkerutils.tiling.grid import TileGrid
from imkerutils.tiling.window import Window

ADVANCE = 512
MARGIN = 600  # read this far around the new bounds: it must all be background


def expected_growth(b: Window, d: Direction) -> tuple[Window, Window]:
    """(new bounds, new strip) of growing ``b`` by 512 px towards ``d``, by hand."""
    if d is Direction.RIGHT:
        return Window(b.row_off, b.col_off, b.height, b.width + ADVANCE), Window(
            b.row_off, b.col_end, b.height, ADVANCE
        )
    if d is Direction.LEFT:
        return Window(b.row_off, b.col_off - ADVANCE, b.height, b.width + ADVANCE), Window(
            b.row_off, b.col_off - ADVANCE, b.height, ADVANCE
        )
    if d is Direction.DOWN:
        return Window(b.row_off, b.col_off, b.height + ADVANCE, b.width), Window(b.row_end, b.col_off, ADVANCE, b.width)
    return Window(b.row_off - ADVANCE, b.col_off, b.height + ADVANCE, b.width), Window(
        b.row_off - ADVANCE, b.col_off, ADVANCE, b.width
    )


sides = st.integers(200, 2600)
offsets = st.integers(-1500, 1500)


@pytest.mark.parametrize("direction", list(Direction), ids=[d.value for d in Direction])
@settings(max_examples=2)
@example(height=1300, width=1300, row=-700, col=1100, channels=3, seed=11)  # two tiles, one keeping the other's
@given(
    height=sides, width=sides, row=offsets, col=offsets, channels=st.sampled_from([3, 4]), seed=st.integers(0, 2**32)
)
def test_a_step_keeps_the_band_and_writes_only_the_planned_strip(
    direction: Direction, height: int, width: int, row: int, col: int, channels: int, seed: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        canvas = make_canvas(Path(tmp) / "c.zarr", noise_image(height, width, seed % 997, channels), row=row, col=col)
        before = canvas.bounds
        band_hash = canvas_sha(canvas, before)
        head = canvas.head
        new_bounds, strip = expected_growth(before, direction)

        record = grow_step(canvas, direction, PatternGenerator(), GrowSettings(seed=seed, save_artifacts=False))

        # growth by exactly 512 px towards the direction (negative offsets for left / up)
        assert canvas.bounds == new_bounds == record.bounds_after
        assert record.bounds_before == before
        assert record.strip_window == strip
        assert record.direction is direction
        assert canvas.head == head + 1
        # the band, and all the old content with it, is byte for byte what it was
        assert canvas_sha(canvas, before) == band_hash
        # the strip holds new pixels; everything else around the new bounds is background
        around = Window(
            new_bounds.row_off - MARGIN,
            new_bounds.col_off - MARGIN,
            new_bounds.height + 2 * MARGIN,
            new_bounds.width + 2 * MARGIN,
        )
        pixels = canvas.read(around)
        inside = new_bounds.slices((around.row_off, around.col_off))
        assert pixels[inside][strip.slices((new_bounds.row_off, new_bounds.col_off))].any()
        pixels[inside] = 0
        assert not pixels.any()
        # on disk, the step wrote exactly the chunks the strip touches
        assert canvas.history()[-1].tiles == TileGrid(1024).count(strip)
        assert canvas.verify().ok


def transpose(a: np.ndarray) -> np.ndarray:
    return a.swapaxes(0, 1)


MIRRORS = [
    pytest.param("left", "right", np.fliplr, id="left=fliplr(right)"),
    pytest.param("up", "down", np.flipud, id="up=flipud(down)"),
    pytest.param("up", "left", transpose, id="up=transpose(left)"),
]


@pytest.mark.parametrize(("grow_a", "grow_b", "mirror"), MIRRORS)
@settings(max_examples=1)  # the smallest canvas, plus the explicit example
@example(height=2400, width=1300, seed=1)  # three tiles (one keeping both neighbours), or two
@given(height=st.integers(200, 2000), width=st.integers(200, 2000), seed=st.integers(0, 2**32))
def test_mirror_law(grow_a: str, grow_b: str, mirror, height: int, width: int, seed: int) -> None:
    """Growing A towards one edge equals the mirror of growing mirror(A) towards the mirrored edge.

    The generator reads the whole reference, fill hint included, so the hint must obey the law too.
    """
    image = noise_image(height, width, seed % 997)
    with tempfile.TemporaryDirectory() as tmp:
        a = make_canvas(Path(tmp) / "a.zarr", image)
        b = make_canvas(Path(tmp) / "b.zarr", np.ascontiguousarray(mirror(image)))
        s = GrowSettings(seed=seed, save_artifacts=False)
        grow_step(a, grow_a, PatternGenerator(hint=True), s)
        grow_step(b, grow_b, PatternGenerator(hint=True), s)
        grown = a.read(a.bounds)
        assert grown.shape[0] * grown.shape[1] == (height * width + ADVANCE * (width if "up" in grow_a else height))
        np.testing.assert_array_equal(grown, mirror(b.read(b.bounds)))
