"""Lazy reads (to_dask / to_xarray), lazy pastes (compute=False, dask sources) and pixel identity by hashes."""

from __future__ import annotations

import hashlib

import dask
import dask.array as da
import numpy as np
import pytest
from dask.delayed import Delayed
from hypothesis import given, settings
from hypothesis import strategies as st

from imkerutils.errors import OutOfBoundsError
from imkerutils.testing.strategies import pixel_arrays, windows, windows_inside
from imkerutils.tiling import Canvas, StepInfo, Window, union

TILE = 16
CONTENT = Window(-20, -30, 70, 80)  # negative offsets; crosses tile lines on every side


@pytest.fixture(scope="module")
def canvas(tmp_path_factory: pytest.TempPathFactory) -> Canvas:
    """An RGBA canvas (tile 16) holding noise over CONTENT, shared by the read-only tests of this module."""
    c = Canvas.create(tmp_path_factory.mktemp("lazy") / "c", mode="RGBA", tile=TILE)
    pixels = np.random.default_rng(1).integers(0, 256, (*CONTENT.shape, 4), dtype=np.uint8)
    c.paste(pixels, CONTENT.row_off, CONTENT.col_off, extend=True)
    assert c.bounds == CONTENT
    return c


def chunk_tasks(arr: da.Array) -> int:
    """Tasks of ``arr``'s graph that produce one of its chunks."""
    return sum(1 for k in dict(arr.__dask_graph__()) if isinstance(k, tuple) and k[0] == arr.name)


def paste_chunk_tasks(d: Delayed) -> int:
    return sum(1 for k in dict(d.__dask_graph__()) if isinstance(k, str) and k.startswith("paste-chunk-"))


def masked_sha256(pixels: np.ndarray, hole: Window, origin: Window) -> str:
    """SHA-256 of ``pixels`` (covering ``origin``) with ``hole`` zeroed."""
    out = pixels.copy()
    out[hole.slices((origin.row_off, origin.col_off))] = 0
    return hashlib.sha256(out.tobytes()).hexdigest()


# -- to_dask / to_xarray -----------------------------------------------------------
@settings(max_examples=25)
@given(windows(min_offset=-60, max_offset=60, min_size=1, max_size=60))
def test_to_dask_equals_read_with_one_task_per_touched_tile(canvas, window):
    arr = canvas.to_dask(window)
    assert arr.shape == (window.height, window.width, 4)
    assert arr.npartitions == canvas.grid.count(window)
    assert chunk_tasks(arr) == canvas.grid.count(window)
    np.testing.assert_array_equal(arr.compute(), canvas.read(window))


def test_to_dask_default_is_the_bounds(canvas):
    np.testing.assert_array_equal(canvas.to_dask().compute(), canvas.read(CONTENT))


def test_to_dask_graph_stays_local_on_a_huge_array(tmp_path):
    c = Canvas.create(tmp_path / "huge", tile=64)
    far = (-8_000_000, 5_000_000)  # millions of pixels left/up and right of world (0, 0)
    block = np.random.default_rng(2).integers(0, 256, (70, 90, 3), dtype=np.uint8)
    c.paste(block, *far, extend=True)
    c.paste(block, 0, 0, extend=True)
    assert c._storage.z.nchunks > 10**10  # the array's chunk grid is astronomically larger than the content
    for w in (Window(far[0] - 5, far[1] - 7, 80, 100), Window(-3, -3, 200, 10)):
        arr = c.to_dask(w)
        assert arr.npartitions == chunk_tasks(arr) == c.grid.count(w)
        assert len(dict(arr.__dask_graph__())) <= c.grid.count(w) + 1  # the chunks and the source, nothing else
        np.testing.assert_array_equal(arr.compute(), c.read(w))
    got = c.read(Window(*far, 70, 90))
    np.testing.assert_array_equal(got, block)
    assert c.verify().ok


def test_to_xarray_has_world_coordinates(canvas):
    w = Window(-25, -33, 10, 6)
    x = canvas.to_xarray(w)
    assert x.dims == ("y", "x", "c")
    assert x.coords["y"].values.tolist() == list(range(-25, -15))
    assert x.coords["x"].values.tolist() == list(range(-33, -27))
    assert x.coords["c"].values.tolist() == ["R", "G", "B", "A"]
    np.testing.assert_array_equal(x.values, canvas.read(w))
    # label-based selection speaks world coordinates
    np.testing.assert_array_equal(x.sel(y=-20, x=-30, c="G").values, canvas.read(Window(-20, -30, 1, 1))[0, 0, 1])
    whole = canvas.to_xarray()
    assert (int(whole.y[0]), int(whole.x[0]), whole.sizes["y"], whole.sizes["x"]) == (-20, -30, 70, 80)


def test_to_xarray_channels_of_an_rgb_canvas(tmp_path):
    c = Canvas.create(tmp_path / "rgb", height=3, width=2, tile=TILE)
    assert c.to_xarray().coords["c"].values.tolist() == ["R", "G", "B"]


# -- lazy pastes ----------------------------------------------------------------------
def test_paste_compute_false_is_lazy_then_commits(tmp_path, tree_digest):
    c = Canvas.create(tmp_path / "c", tile=TILE, height=20, width=20)
    c.paste(np.full((20, 20, 3), 5, np.uint8), 0, 0)
    data = np.random.default_rng(3).integers(0, 256, (30, 21, 3), dtype=np.uint8)
    target = Window(-7, 9, 30, 21)
    before = tree_digest(c.path)
    view = Window(-10, -10, 50, 50)
    pixels_before = c.read(view)

    lazy = c.paste(data, target.row_off, target.col_off, extend=True, compute=False)

    assert isinstance(lazy, Delayed)
    assert paste_chunk_tasks(lazy) == c.grid.count(target) == 6
    assert tree_digest(c.path) == before  # nothing written yet
    assert (c.head, c.bounds) == (1, Window(0, 0, 20, 20))
    np.testing.assert_array_equal(c.read(view), pixels_before)

    step = lazy.compute()

    assert isinstance(step, StepInfo)
    assert step.number == 2
    assert step.tiles == 6
    assert c.head == 2
    assert c.bounds == union(Window(0, 0, 20, 20), target)
    np.testing.assert_array_equal(c.read(target), data)
    assert Canvas.open(c.path).head == 2  # committed on disk, not only in memory
    assert c.verify().ok
    c.undo()
    np.testing.assert_array_equal(c.read(view), pixels_before)


@pytest.mark.parametrize("compute", [True, False])
def test_paste_from_a_dask_array(tmp_path, compute):
    c = Canvas.create(tmp_path / "c", mode="RGBA", tile=TILE)
    data = np.random.default_rng(4).integers(0, 256, (37, 29, 4), dtype=np.uint8)
    src = da.from_array(data, chunks=(7, 11, 4))  # blocks that match no tile line
    target = Window(-13, -21, 37, 29)
    result = c.paste(src, target.row_off, target.col_off, extend=True, compute=compute)
    if not compute:
        assert paste_chunk_tasks(result) == c.grid.count(target)
        assert c.head == 0
        result = dask.compute(result)[0]
    assert result.number == 1 == c.head
    np.testing.assert_array_equal(c.read(target), data)
    assert c.verify().ok


@pytest.mark.parametrize("compute", [True, False])
def test_a_failing_dask_source_leaves_the_canvas_untouched(tmp_path, tree_digest, compute):
    c = Canvas.create(tmp_path / "c", tile=TILE, height=32, width=32)
    c.paste(np.full((32, 32, 3), 9, np.uint8), 0, 0)
    before = tree_digest(c.path)

    def boom() -> np.ndarray:
        raise RuntimeError("source failed")

    good = da.from_array(np.ones((16, 16, 3), np.uint8), chunks=16)
    bad = da.from_delayed(dask.delayed(boom)(), shape=(16, 16, 3), dtype=np.uint8)
    src = da.concatenate([good, bad], axis=1)  # the good tile may well be written before the bad one fails

    def paste_then_compute() -> None:
        result = c.paste(src, 0, 0, compute=compute)
        if not compute:
            result.compute()

    with pytest.raises(RuntimeError, match="source failed"):
        paste_then_compute()

    assert tree_digest(c.path) == before  # rolled back, nothing left pending
    assert c.head == 1
    assert Canvas.open(c.path).head == 1
    c.paste(np.zeros((2, 2, 3), np.uint8), 0, 0)  # and the write lock was released
    assert c.head == 2


# -- pixel identity outside the pasted window -------------------------------------------
@settings(max_examples=20)
@given(st.data())
def test_paste_changes_nothing_outside_its_window(canvas, data):
    extend = data.draw(st.booleans(), label="extend")
    target = data.draw(
        windows(min_offset=-40, max_offset=40, min_size=1, max_size=40) if extend else windows_inside(CONTENT),
        label="target",
    )
    pixels = data.draw(pixel_arrays("RGBA", height=target.height, width=target.width), label="pixels")
    area = union(CONTENT, target)
    before = canvas.read(area)
    head = canvas.head

    canvas.paste(pixels, target.row_off, target.col_off, extend=extend)
    try:
        after = canvas.read(area)
        assert masked_sha256(after, target, area) == masked_sha256(before, target, area)
        np.testing.assert_array_equal(after[target.slices((area.row_off, area.col_off))], pixels)
    finally:
        canvas.undo()  # keep the shared canvas as it was
    assert canvas.head == head
    assert canvas.bounds == CONTENT
    assert hashlib.sha256(canvas.read(area).tobytes()).digest() == hashlib.sha256(before.tobytes()).digest()


# -- the array extent ----------------------------------------------------------------------
def test_growing_resizes_the_arrays_and_past_the_largest_extent_is_refused(tmp_path, tree_digest):
    c = Canvas.create(tmp_path / "c", tile=TILE)
    extent = c._storage.z.shape[1]
    far = 40 * TILE  # beyond the array's end, right and down
    block = np.arange(20 * 20 * 3, dtype=np.uint32).reshape(20, 20, 3).astype(np.uint8)
    c.paste(block, far, far, extend=True)
    assert c._storage.z.shape[1] > extent
    assert c._storage.z.shape[1:] == c.frame.shape(0, c.bounds)
    np.testing.assert_array_equal(Canvas.open(c.path).read(Window(far, far, 20, 20)), block)
    assert c.verify().ok

    before = tree_digest(c.path)
    with pytest.raises(OutOfBoundsError, match="larger than"):
        c.paste(block, -(2**30), 0, extend=True)
    assert tree_digest(c.path) == before
    assert c.head == 1
