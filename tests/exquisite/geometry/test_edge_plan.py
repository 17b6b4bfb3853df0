"""Edge plans: partition, containment, masks, the DAG, and the mirror / transpose laws."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from geometry_strategies import (
    expected_new_bounds,
    expected_strip,
    mirror,
    plan_inputs,
    transpose,
)
from hypothesis import given

from imkerutils.errors import GeometryError, ImkerError
from imkerutils.exquisite.geometry import Direction, EdgePlan, TilePlan, grow_bounds, plan_edge
from imkerutils.tiling.window import Window, intersection


def _plan(inputs) -> EdgePlan:
    bounds, d, params = inputs
    return plan_edge(bounds, d, **params)


def _map_plan(plan: EdgePlan, f) -> list[tuple]:
    """A plan's tiles with every window mapped through ``f`` (direction left out)."""
    return [
        (
            t.index,
            t.phase,
            f(t.tile_window),
            f(t.band_window),
            f(t.write_window),
            tuple(f(w) for w in t.context_windows),
            t.depends_on,
        )
        for t in plan.tiles
    ]


def _coords(w: Window) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.meshgrid(np.arange(w.row_off, w.row_end), np.arange(w.col_off, w.col_end), indexing="ij")
    return rows, cols


def _inside(w: Window, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return (rows >= w.row_off) & (rows < w.row_end) & (cols >= w.col_off) & (cols < w.col_end)


# --- windows -----------------------------------------------------------------------------------


@given(plan_inputs())
def test_write_windows_partition_the_new_strip(inputs):
    plan = _plan(inputs)
    bounds, d, params = inputs
    assert plan.strip == expected_strip(bounds, d, params["tile"] - params["band"])
    writes = [t.write_window for t in plan.tiles]
    assert all(not w.is_empty and plan.strip.contains(w) for w in writes)
    for a, b in itertools.combinations(writes, 2):
        assert intersection(a, b) is None
    assert sum(w.size for w in writes) == plan.strip.size


@given(plan_inputs())
def test_new_bounds_grow_by_the_advance(inputs):
    bounds, d, params = inputs
    plan = _plan(inputs)
    advance = params["tile"] - params["band"]
    assert plan.new_bounds == expected_new_bounds(bounds, d, advance)
    assert grow_bounds(bounds, d, advance) == plan.new_bounds


@given(plan_inputs())
def test_tile_band_and_write_windows_fit_together(inputs):
    bounds, d, params = inputs
    plan = _plan(inputs)
    t_size, band = params["tile"], params["band"]
    across = bounds.width if d in (Direction.LEFT, Direction.RIGHT) else bounds.height
    for t in plan.tiles:
        assert t.tile_window.shape == (t_size, t_size)
        assert t.direction is d
        # The only canvas content a tile sees is its band, clipped to the bounds.
        assert intersection(t.tile_window, bounds) == t.band_window
        assert bounds.contains(t.band_window)
        assert t.tile_window.contains(t.band_window)
        assert t.tile_window.contains(t.write_window)
        assert all(t.tile_window.contains(w) for w in t.context_windows)
        # The band sits on the growing edge, is `band` thick (or the whole canvas) and touches the strip.
        bw = t.band_window
        thickness, edge_ok = {
            Direction.RIGHT: (bw.width, bw.col_end == bounds.col_end == plan.strip.col_off),
            Direction.LEFT: (bw.width, bw.col_off == bounds.col_off == plan.strip.col_end),
            Direction.DOWN: (bw.height, bw.row_end == bounds.row_end == plan.strip.row_off),
            Direction.UP: (bw.height, bw.row_off == bounds.row_off == plan.strip.row_end),
        }[d]
        assert edge_ok
        assert thickness == min(band, across)
        # The tile's other half is new strip (clipped to the edge).
        assert intersection(t.tile_window, plan.strip).contains(t.write_window)


@given(plan_inputs())
def test_tiles_are_ordered_along_the_edge_first_at_start_last_at_end(inputs):
    bounds, d, params = inputs
    plan = _plan(inputs)
    along = (
        (lambda w: (w.row_off, w.row_end))
        if d in (Direction.LEFT, Direction.RIGHT)
        else (lambda w: (w.col_off, w.col_end))
    )
    starts = [along(t.tile_window)[0] for t in plan.tiles]
    assert [t.index for t in plan.tiles] == list(range(len(plan.tiles)))
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)
    assert starts[0] == along(bounds)[0]
    if len(plan.tiles) > 1:
        assert along(plan.tiles[-1].tile_window)[1] == along(bounds)[1]
        for a, b in itertools.pairwise(plan.tiles):  # neighbours overlap by at least `overlap`
            assert along(a.tile_window)[1] - along(b.tile_window)[0] >= params["overlap"]


# --- masks -------------------------------------------------------------------------------------


@given(plan_inputs(small=True))
def test_generate_mask_is_false_exactly_on_band_and_dependency_pixels(inputs):
    bounds, _d, _params = inputs
    plan = _plan(inputs)
    by_index = {t.index: t for t in plan.tiles}
    for t in plan.tiles:
        rows, cols = _coords(t.tile_window)
        kept = _inside(bounds, rows, cols)
        for j in t.depends_on:
            kept |= _inside(by_index[j].write_window, rows, cols)
        mask = t.generate_mask()
        assert mask.dtype == np.bool_
        assert mask.shape == t.tile_window.shape
        np.testing.assert_array_equal(mask, ~kept)
        # Inside the new strip, the tile paints exactly what it writes.
        in_strip = _inside(plan.strip, rows, cols)
        np.testing.assert_array_equal(mask & in_strip, _inside(t.write_window, rows, cols))


def test_short_edge_paints_past_the_edge_but_never_writes_there():
    bounds = Window(0, 0, 300, 2000)
    plan = plan_edge(bounds, "right")
    (t,) = plan.tiles
    assert t.tile_window == Window(0, 1488, 1024, 1024)
    assert t.band_window == Window(0, 1488, 300, 512)
    assert t.write_window == Window(0, 2000, 300, 512)
    mask = t.generate_mask()
    assert not mask[:300, :512].any()
    assert mask[:300, 512:].all()
    assert mask[300:].all()


def test_canvas_narrower_than_band_paints_outside_it():
    plan = plan_edge(Window(5, 10, 1024, 100), "right")
    (t,) = plan.tiles
    assert t.tile_window == Window(5, -402, 1024, 1024)
    assert t.band_window == Window(5, 10, 1024, 100)
    mask = t.generate_mask()
    assert mask[:, :412].all()
    assert not mask[:, 412:512].any()
    assert mask[:, 512:].all()


def test_default_long_edge_layout_phase_a_then_b():
    plan = plan_edge(Window(0, 0, 2560, 700), "right")
    assert [t.tile_window.row_off for t in plan.tiles] == [0, 768, 1536]
    assert [t.phase for t in plan.tiles] == [0, 1, 0]
    assert [(t.write_window.row_off, t.write_window.row_end) for t in plan.tiles] == [
        (0, 1024),
        (1024, 1536),
        (1536, 2560),
    ]
    b = plan.tiles[1]
    assert b.depends_on == (0, 2)
    assert b.context_windows == (Window(768, 700, 256, 512), Window(1536, 700, 256, 512))
    mask = b.generate_mask()
    # Phase B keeps 256 new rows of each phase-A neighbour and paints the 512-row gap between them.
    assert not mask[:, :512].any()
    assert not mask[:256, 512:].any()
    assert mask[256:768, 512:].all()
    assert not mask[768:, 512:].any()
    assert [[t.index for t in level] for level in plan.levels()] == [[0, 2], [1]]


def test_last_tile_aligned_to_the_end_runs_last_when_the_gap_is_small():
    plan = plan_edge(Window(0, 0, 700, 2100), "down")  # edge along columns, 2100 long
    assert [t.tile_window.col_off for t in plan.tiles] == [0, 768, 1076]
    assert [t.phase for t in plan.tiles] == [0, 1, 2]
    assert [t.depends_on for t in plan.tiles] == [(), (0,), (1,)]
    assert [(t.write_window.col_off, t.write_window.col_end) for t in plan.tiles] == [
        (0, 1024),
        (1024, 1792),
        (1792, 2100),
    ]
    assert plan.strip == Window(700, 0, 512, 2100)


# --- the DAG -----------------------------------------------------------------------------------


@given(plan_inputs())
def test_dag_is_acyclic_and_dependencies_overlap(inputs):
    plan = _plan(inputs)
    by_index = {t.index: t for t in plan.tiles}
    levels = plan.levels()
    order = [t.index for level in levels for t in level]
    assert sorted(order) == list(range(len(plan.tiles)))
    position = {i: n for n, i in enumerate(order)}
    level_of = {t.index: n for n, level in enumerate(levels) for t in level}
    for t in plan.tiles:
        assert len(t.context_windows) == len(t.depends_on)
        for j, ctx in zip(t.depends_on, t.context_windows, strict=True):
            dep = by_index[j]
            assert position[j] < position[t.index]
            assert level_of[j] < level_of[t.index]
            assert intersection(dep.tile_window, t.tile_window) is not None
            assert ctx == intersection(dep.write_window, t.tile_window)
        if t.phase == 0:
            assert t.depends_on == ()
    phase_a = [t for t in plan.tiles if t.phase == 0]
    for a, b in itertools.combinations(phase_a, 2):
        assert intersection(a.tile_window, b.tile_window) is None
    for level in levels:  # tiles of one level never write into each other's tiles
        for a, b in itertools.combinations(level, 2):
            assert intersection(a.write_window, b.tile_window) is None


def test_cyclic_plan_is_rejected():
    plan = plan_edge(Window(0, 0, 2560, 700), "right")
    t0, t1, t2 = plan.tiles
    bad = EdgePlan(
        plan.direction,
        plan.bounds,
        plan.strip,
        plan.new_bounds,
        (TilePlan(0, t0.direction, 0, t0.tile_window, t0.band_window, t0.write_window, (), (1,)), t1, t2),
    )
    with pytest.raises(GeometryError, match="cycle"):
        bad.levels()


# --- mirror and transpose laws -------------------------------------------------------------------


@given(plan_inputs())
def test_left_is_the_mirror_of_right(inputs):
    bounds, _, params = inputs
    left = plan_edge(bounds, Direction.LEFT, **params)
    right = plan_edge(mirror(bounds), Direction.RIGHT, **params)
    assert _map_plan(left, lambda w: w) == _map_plan(right, mirror)
    assert left.strip == mirror(right.strip)
    assert left.new_bounds == mirror(right.new_bounds)


@given(plan_inputs())
def test_up_and_down_are_transposes_of_left_and_right(inputs):
    bounds, _, params = inputs
    for vertical, horizontal in ((Direction.UP, Direction.LEFT), (Direction.DOWN, Direction.RIGHT)):
        v = plan_edge(bounds, vertical, **params)
        h = plan_edge(transpose(bounds), horizontal, **params)
        assert _map_plan(v, lambda w: w) == _map_plan(h, transpose)
        assert v.strip == transpose(h.strip)
        assert v.new_bounds == transpose(h.new_bounds)


@given(plan_inputs(small=True))
def test_masks_obey_the_mirror_and_transpose_laws(inputs):
    bounds, _, params = inputs
    left = plan_edge(bounds, "left", **params)
    right = plan_edge(mirror(bounds), "right", **params)
    up = plan_edge(transpose(bounds), "up", **params)
    for lt, rt, ut in zip(left.tiles, right.tiles, up.tiles, strict=True):
        np.testing.assert_array_equal(lt.generate_mask(), rt.generate_mask()[:, ::-1])
        np.testing.assert_array_equal(ut.generate_mask(), lt.generate_mask().T)


# --- serialisation and errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tile": 1024, "band": 1024}, "band < tile"),
        ({"band": 0}, "band < tile"),
        ({"overlap": 512}, "overlap"),
        ({"overlap": -1}, "overlap"),
        ({"tile": 1024.0}, "integers"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(GeometryError, match=match) as info:
        plan_edge(Window(0, 0, 10, 10), "right", **kwargs)
    assert isinstance(info.value, ImkerError)
    assert isinstance(info.value, ValueError)


def test_empty_bounds_and_bad_direction_raise():
    with pytest.raises(GeometryError, match="empty"):
        plan_edge(Window(0, 0, 0, 10), "right")
    with pytest.raises(ValueError, match="direction"):
        plan_edge(Window(0, 0, 10, 10), "sideways")
