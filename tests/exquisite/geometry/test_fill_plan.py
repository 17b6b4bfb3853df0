"""The fill plan: which pixels each tile writes, what it keeps, and the order tiles run in."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imkerutils.errors import GeometryError, NoContentNearError
from imkerutils.exquisite.geometry import Direction
from imkerutils.exquisite.geometry.fill import dominant_seam, edge_region, plan_fill, subtract
from imkerutils.tiling.window import Window, intersection


def raster(frame: Window, windows: list[Window]) -> np.ndarray:
    """How many of ``windows`` cover each pixel of ``frame`` (an independent count)."""
    out = np.zeros(frame.shape, np.int32)
    for w in windows:
        part = intersection(w, frame)
        if part is not None:
            out[part.slices((frame.row_off, frame.col_off))] += 1
    return out


@st.composite
def fill_cases(draw):
    """Small tiles; content as a few disjoint storage-tile-like blocks; a region near them."""
    tile = draw(st.sampled_from([8, 12, 16]))
    size = draw(st.sampled_from([4, 8]))
    cells = draw(st.sets(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=8))
    content = [Window(i * size, j * size, size, size) for i, j in cells]
    region = Window(
        draw(st.integers(-12, 30)), draw(st.integers(-12, 30)), draw(st.integers(1, 40)), draw(st.integers(1, 40))
    )
    return tile, content, region


@settings(max_examples=60)
@given(fill_cases())
def test_writes_partition_the_empty_pixels_and_every_tile_sees_what_came_before(case) -> None:
    tile, content, region = case
    try:
        plan = plan_fill(region, content, tile=tile)
    except NoContentNearError:
        t = tile - tile // 2  # a tile holding a cell (at most tile // 2 a side) sees this far past it
        near = Window(region.row_off - t, region.col_off - t, region.height + 2 * t, region.width + 2 * t)
        assert not raster(near, content).any()  # refused only when no content is that near
        return
    except GeometryError:
        assert raster(region, content).all()  # refused only when there is nothing to fill
        return
    frame = Window(
        region.row_off - 2 * tile, region.col_off - 2 * tile, region.height + 4 * tile, region.width + 4 * tile
    )
    has_content = raster(frame, content) > 0
    in_region = raster(frame, [region]) > 0
    written = raster(frame, list(plan.written))
    # every empty pixel of the region is written exactly once; nothing else is written
    assert np.array_equal(written, (in_region & ~has_content).astype(np.int32))
    position = {t.key: n for n, t in enumerate(plan.tiles)}
    for n, t in enumerate(plan.tiles):
        assert t.tile_window.shape == (tile, tile)
        for w in t.write_windows:
            assert t.tile_window.contains(w)
        for d in t.depends_on:
            assert position[d] < n  # the listed order respects the DAG
        # the tile keeps exactly the content and the writes of earlier (ring, phase) groups inside it
        earlier = [w for u in plan.tiles[:n] if (u.ring, u.phase) < (t.ring, t.phase) for w in u.write_windows]
        want = (raster(t.tile_window, content) + raster(t.tile_window, earlier)) > 0
        assert np.array_equal(~t.generate_mask(), want)
        assert want.any()  # every tile is conditioned on something
        deps = {
            u.key
            for u in plan.tiles[:n]
            if (u.ring, u.phase) < (t.ring, t.phase)
            and any(intersection(w, t.tile_window) is not None for w in u.write_windows)
        }
        assert set(t.depends_on) == deps
    # levels: each tile after everything it depends on, tiles of one level independent
    seen: set[tuple[int, int]] = set()
    for level in plan.levels():
        assert all(set(t.depends_on) <= seen for t in level)
        seen |= {t.key for t in level}
    assert seen == set(position)


def test_a_strip_right_of_the_content_is_one_ring_of_alternating_tiles() -> None:
    plan = plan_fill(Window(0, 2048, 3000, 512), [Window(0, 0, 3000, 2048)])
    assert [t.ring for t in plan.tiles] == [1] * 6
    # the cell sits at the tile's right: the band is the 512 columns left of the edge
    assert {t.tile_window.col_off for t in plan.tiles} == {1536}
    levels = [[t.key for t in level] for level in plan.levels()]
    assert levels == [[(0, 0), (2, 0), (4, 0)], [(1, 0), (3, 0), (5, 0)]]  # phase A, then phase B
    assert plan.tiles[3].depends_on == ((0, 0), (2, 0))
    assert plan.new_bounds == Window(0, 0, 3000, 2560)


def test_a_region_far_from_any_content_is_refused() -> None:
    with pytest.raises(NoContentNearError, match="no content within 1024 px"):
        plan_fill(Window(5000, 5000, 100, 100), [Window(0, 0, 1000, 1000)])
    with pytest.raises(GeometryError, match="already holds content"):
        plan_fill(Window(10, 10, 100, 100), [Window(0, 0, 1000, 1000)])


def test_a_deep_region_takes_several_rings_each_conditioned_on_the_one_before() -> None:
    plan = plan_fill(Window(0, 1024, 512, 1500), [Window(0, 0, 512, 1024)])
    rings = {t.key: t.ring for t in plan.tiles}
    assert sorted(set(rings.values())) == [1, 2]
    for t in plan.tiles:
        if t.ring == 2:
            assert any(rings[d] == 1 for d in t.depends_on)


@pytest.mark.parametrize("direction", list(Direction))
def test_edge_regions_are_mirror_images(direction: Direction) -> None:
    bounds = Window(0, 0, 1000, 600)
    region, keep = edge_region(bounds, [direction], 300, along=(100, 700))
    assert keep == ()
    expected = {
        Direction.RIGHT: Window(100, 600, 700, 300),
        Direction.LEFT: Window(100, -300, 700, 300),
        Direction.DOWN: Window(1000, 100, 300, 700),
        Direction.UP: Window(-300, 100, 300, 700),
    }[direction]
    assert region == expected
    plan = plan_fill(region, [bounds])
    # one ring of tiles, each with the cell on the side away from the content
    assert all(t.ring == 1 for t in plan.tiles)
    rf = {
        Direction.RIGHT: lambda t: t.tile_window.col_end == t.cell.col_end,
        Direction.LEFT: lambda t: t.tile_window.col_off == t.cell.col_off,
        Direction.DOWN: lambda t: t.tile_window.row_end == t.cell.row_end,
        Direction.UP: lambda t: t.tile_window.row_off == t.cell.row_off,
    }[direction]
    assert all(rf(t) for t in plan.tiles)


def test_growing_several_edges_keeps_the_bounds_and_fills_the_corners() -> None:
    bounds = Window(0, 0, 100, 200)
    region, keep = edge_region(bounds, ["right", "down", "left", "up"], 50)
    plan = plan_fill(region, list(keep))
    assert np.array_equal(raster(region, list(plan.written)) > 0, raster(region, [bounds]) == 0)
    assert plan.new_bounds == region


def test_bad_depths_and_along_are_refused() -> None:
    b = Window(0, 0, 10, 10)
    with pytest.raises(GeometryError, match="at least 1"):
        edge_region(b, ["right"], 0)
    with pytest.raises(GeometryError, match="exactly one direction"):
        edge_region(b, ["right", "up"], 5, along=(0, 5))
    with pytest.raises(GeometryError, match="at least 1 px"):
        edge_region(b, ["right"], 5, along=(0, 0))


def test_subtract_and_dominant_seam() -> None:
    parts = subtract(Window(0, 0, 10, 10), [Window(2, 3, 4, 5), Window(-5, -5, 6, 6)])
    assert np.array_equal(
        raster(Window(0, 0, 10, 10), parts) > 0,
        raster(Window(0, 0, 10, 10), [Window(2, 3, 4, 5), Window(-5, -5, 6, 6)]) == 0,
    )
    assert raster(Window(0, 0, 10, 10), parts).max() == 1
    g = np.ones((16, 16), bool)
    g[:4, :] = False  # kept rows on top: the new pixels grow down
    assert dominant_seam(g) == (Direction.DOWN, 4)
