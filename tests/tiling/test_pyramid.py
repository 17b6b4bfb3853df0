"""Pyramid levels equal a fresh 2x reduction of the level below, after any writes, undos and redos."""

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from imkerutils.errors import CanvasReadOnlyError, InvalidWindowError, NothingToRedoError, NothingToUndoError
from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.pyramid import downsample2, level_window, levels_needed, reduce_four


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
            canvas.paste(pixels, row, col, extend=True)
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


# -- the incremental (dirty-tile) path, under random sequences of writes, growth, undo, redo and updates ------

SEQ_TILE = 16


def reduce2(block: np.ndarray) -> np.ndarray:
    """Reference 2x reduction (reshape-sum, rounded half up), written apart from ``downsample2``."""
    h, w, c = block.shape
    sums = block.reshape(h // 2, 2, w // 2, 2, c).astype(np.uint32).sum(axis=(1, 3))
    return ((sums + 2) // 4).astype(np.uint8)


def assert_levels_reduce(canvas: Canvas, margin: int = 2) -> None:
    """Every level L >= 1 over its bounds (and a background margin) is a fresh 2x reduction of level L-1."""
    for level in range(1, canvas.levels):
        lb = canvas.level_bounds(level)
        lw = Window(lb.row_off - margin, lb.col_off - margin, lb.height + 2 * margin, lb.width + 2 * margin)
        below = canvas.read(Window(lw.row_off * 2, lw.col_off * 2, lw.height * 2, lw.width * 2), level - 1)
        np.testing.assert_array_equal(canvas.read(lw, level), reduce2(below), err_msg=f"level {level}")


def tiles_of(w: Window) -> set[tuple[int, int]]:
    """World tile indices (tile SEQ_TILE) that window ``w`` touches."""
    t = SEQ_TILE
    return {
        (i, j)
        for i in range(w.row_off // t, (w.row_end - 1) // t + 1)
        for j in range(w.col_off // t, (w.col_end - 1) // t + 1)
    }


class PyramidModel:
    """Which level-0 tiles are dirty, and how many chunks the next update must recompute.

    The documented contract: an update recomputes the parents of the dirty tiles level by level, and
    builds a level the bounds newly need over all of the bounds.  World tile indices stand in for chunk
    indices: the origin is a multiple of ``2**17`` tiles, so halving commutes with the shift.
    """

    def __init__(self) -> None:
        self.steps: list[set[tuple[int, int]]] = []  # tiles written by each step, oldest first
        self.head = 0
        self.dirty: set[tuple[int, int]] = set()
        self.built = 1

    def commit(self, tiles: set[tuple[int, int]]) -> None:
        self.steps = [*self.steps[: self.head], tiles]
        self.head += 1
        self.dirty |= tiles

    def expected_count(self, bounds: Window) -> int:
        needed = max(levels_needed(bounds, SEQ_TILE), self.built)
        if not self.dirty and needed == self.built:
            return 0
        count, current = 0, set(self.dirty)
        for level in range(1, needed):
            if level >= self.built:
                current = tiles_of(level_window(bounds, level)) if not level_window(bounds, level).is_empty else set()
            else:
                current = {(i // 2, j // 2) for i, j in current}
            count += len(current)
        return count

    def updated(self, bounds: Window) -> None:
        self.built = max(levels_needed(bounds, SEQ_TILE), self.built)
        self.dirty = set()


def _noise(seed: int, h: int, w: int, channels: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, channels), dtype=np.uint8)


@st.composite
def windows_in(draw: st.DrawFn, outer: Window) -> Window:
    r0 = draw(st.integers(outer.row_off, outer.row_end - 1))
    c0 = draw(st.integers(outer.col_off, outer.col_end - 1))
    r1 = draw(st.integers(r0 + 1, outer.row_end))
    c1 = draw(st.integers(c0 + 1, outer.col_end))
    return Window.from_bounds(r0, c0, r1, c1)


ACTIONS = ["paste", "paste", "paste_inside", "grow", "undo", "undo", "redo", "update", "update", "small_paste"]


@settings(max_examples=50)
@given(
    data=st.data(),
    mode=st.sampled_from(["RGB", "RGBA"]),
    height=st.integers(0, 20),
    width=st.integers(0, 20),
    n_actions=st.integers(1, 12),
)
def test_incremental_updates_match_fresh_reduction(tmp_path_factory, tree_digest, data, mode, height, width, n_actions):
    """Updates at random points of a write/grow/undo/redo sequence: each level is a 2x reduction of the one
    below, the update recomputes exactly the dirty tiles' ancestors, and a small paste costs one chunk a level.
    Before the last update, a read-only canvas (which cannot update) already reads every level as it will be."""
    path = tmp_path_factory.mktemp("pyrseq") / "c.zarr"
    canvas = Canvas.create(path, mode=mode, height=height, width=width, tile=SEQ_TILE)
    channels = len(mode)
    model = PyramidModel()

    def update() -> int:
        expected = model.expected_count(canvas.bounds)
        count = canvas.update_pyramid()
        assert count == expected, (count, expected, sorted(model.dirty), model.built, canvas.bounds)
        model.updated(canvas.bounds)
        assert_levels_reduce(canvas)
        assert canvas.update_pyramid() == 0  # up to date now
        return count

    for _ in range(n_actions):
        action = data.draw(st.sampled_from(ACTIONS), label="action")
        if action == "paste":  # anywhere, negative coordinates included: grows the bounds
            row, col = data.draw(st.integers(-60, 60), label="row"), data.draw(st.integers(-60, 60), label="col")
            h, w = data.draw(st.integers(1, 40), label="h"), data.draw(st.integers(1, 40), label="w")
            seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
            canvas.paste(_noise(seed, h, w, channels), row, col, extend=True)
            model.commit(tiles_of(Window(row, col, h, w)))
        elif action == "paste_inside" and not canvas.bounds.is_empty:
            target = data.draw(windows_in(canvas.bounds), label="inside")
            seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
            canvas.paste(_noise(seed, target.height, target.width, channels), target.row_off, target.col_off)
            model.commit(tiles_of(target))
        elif action == "grow":
            window = data.draw(
                st.builds(Window, st.integers(-70, 60), st.integers(-70, 60), st.integers(0, 40), st.integers(0, 40)),
                label="grow",
            )
            canvas.extend(window)
            model.commit(set())
        elif action == "undo":
            if model.head == 0:
                with pytest.raises(NothingToUndoError):
                    canvas.undo()
            else:
                canvas.undo()
                model.head -= 1
                model.dirty |= model.steps[model.head]
        elif action == "redo":
            if model.head == len(model.steps):
                with pytest.raises(NothingToRedoError):
                    canvas.redo()
            else:
                canvas.redo()
                model.dirty |= model.steps[model.head]
                model.head += 1
        elif action == "update":
            update()
        elif action == "small_paste" and not canvas.bounds.is_empty:
            update()  # start from an up-to-date pyramid
            point = data.draw(windows_in(canvas.bounds), label="point")
            i, j = point.row_off // SEQ_TILE, point.col_off // SEQ_TILE
            tile = Window(i * SEQ_TILE, j * SEQ_TILE, SEQ_TILE, SEQ_TILE)
            inside = Window.from_bounds(
                max(tile.row_off, canvas.bounds.row_off),
                max(tile.col_off, canvas.bounds.col_off),
                min(tile.row_end, canvas.bounds.row_end),
                min(tile.col_end, canvas.bounds.col_end),
            )
            target = data.draw(windows_in(inside), label="small")
            seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
            canvas.paste(_noise(seed, target.height, target.width, channels), target.row_off, target.col_off)
            model.commit({(i, j)})
            count = update()
            levels_above = model.built - 1
            assert count == levels_above  # one chunk per coarser level
        note(f"{action}: bounds {canvas.bounds}, head {canvas.head}, dirty {sorted(model.dirty)}")
        assert canvas.head == model.head
        assert canvas.redoable == len(model.steps) - model.head
    before = tree_digest(path)
    stale = Canvas.open(path, read_only=True)
    margin = 9
    seen = {
        level: stale.read(
            Window(lb.row_off - margin, lb.col_off - margin, lb.height + 2 * margin, lb.width + 2 * margin), level
        )
        for level in range(1, stale.levels)
        for lb in [stale.level_bounds(level)]
    }
    assert tree_digest(path) == before, "a read-only read wrote to the store"
    update()
    for level, pixels in seen.items():
        lb = canvas.level_bounds(level)
        lw = Window(lb.row_off - margin, lb.col_off - margin, lb.height + 2 * margin, lb.width + 2 * margin)
        np.testing.assert_array_equal(pixels, canvas.read(lw, level), err_msg=f"read-only level {level}")
    # a fresh, read-only process sees the same levels (it cannot update them: they must be stored)
    ro = Canvas.open(path, read_only=True)
    assert_levels_reduce(ro)
    for level in range(1, ro.levels):
        lb = ro.level_bounds(level)
        np.testing.assert_array_equal(ro.read(lb, level), canvas.read(lb, level))


def test_small_paste_recomputes_one_chunk_per_level(tmp_path):
    canvas = Canvas.create(tmp_path / "c.zarr", height=100, width=130, tile=16)
    canvas.paste(_noise(1, 100, 130, 3), -20, -30, extend=True)
    first = canvas.update_pyramid()
    levels = canvas.levels
    assert levels == 5
    assert first > levels - 1
    canvas.paste(_noise(2, 5, 7, 3), -16 + 3, 16 + 2)  # inside the tile rows -16..0, cols 16..32
    assert canvas.update_pyramid() == levels - 1
    canvas.paste(_noise(3, 2, 2, 3), 15, 31)  # tiles (0, 1), (0, 2), (1, 1), (1, 2)
    assert canvas.update_pyramid() == 2 + 1 + 1 + 1  # level 1: chunks (0, 0) and (0, 1); then one a level
    assert_levels_reduce(canvas)
    canvas.undo()
    assert canvas.update_pyramid() == 2 + 1 + 1 + 1
    assert_levels_reduce(canvas)
    canvas.paste(_noise(4, 2, 2, 3), -1, -1)  # around world (0, 0): tiles -1 and 0 never share a parent
    assert canvas.update_pyramid() == 4 * (levels - 1)
    assert_levels_reduce(canvas)


@given(st.integers(0, 2**32 - 1), st.integers(1, 9), st.sampled_from([1, 3, 4]))
def test_reduce_four_equals_the_reduction_of_the_four_side_by_side(seed, t, channels):
    kids = list(np.random.default_rng(seed).integers(0, 256, (4, t, t, channels), dtype=np.uint8))
    children = np.concatenate([np.concatenate(kids[:2], axis=1), np.concatenate(kids[2:], axis=1)], axis=0)
    np.testing.assert_array_equal(reduce_four(kids), downsample2(children))
