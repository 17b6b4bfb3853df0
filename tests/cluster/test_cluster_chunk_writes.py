"""No two tasks of one write ever touch one chunk: the plan says so, and a race that would break it finds nothing."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from _cluster_helpers import make_canvas, photo_like
from hypothesis import given, settings
from hypothesis import strategies as st

from imkerutils.exquisite.pipeline import plan_step
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window, intersection


def chunk_tasks(delayed: object) -> dict[str, tuple[tuple[int, int], list[tuple[Window, np.ndarray]]]]:
    """``{task key: (tile ij, parts)}`` for every chunk task of a ``Canvas.write(..., compute=False)`` graph."""
    graph = dict(delayed.__dask_graph__())  # type: ignore[attr-defined]
    out = {}
    for key, task in graph.items():
        if "-chunk-" in str(key):
            _begun, ij, parts = task.args
            out[str(key)] = (tuple(ij), list(parts))
    return out


def test_a_batch_commit_has_one_task_per_chunk(tmp_path: Path) -> None:
    """The pieces of a right+down batch on 3 x 3 tiles: every chunk they touch gets exactly one task."""
    canvas = make_canvas(tmp_path / "c.zarr", photo_like(3072, 3072, seed=1))
    batch = plan_step(canvas, ["right", "down"])
    windows = [t.plan.write_window for t in batch.tiles]
    # the tiles' write windows partition the batch's new pixels: no pixel is written by two tiles
    for n, a in enumerate(windows):
        for b in windows[n + 1 :]:
            assert intersection(a, b) is None, (a, b)
    assert sum(w.size for w in windows) == batch.new_bounds.size - batch.bounds.size
    pieces = [(w.row_off, w.col_off, np.full((w.height, w.width, 3), n, np.uint8)) for n, w in enumerate(windows)]

    tasks = chunk_tasks(canvas.write(pieces, extend=True, compute=False))

    chunks = Counter(ij for ij, _parts in tasks.values())
    assert max(chunks.values()) == 1, [ij for ij, k in chunks.items() if k > 1]
    touched = {ij for w in windows for ij, _ in canvas.grid.split(w)}
    assert set(chunks) == touched
    assert len(tasks) == len(touched)
    assert max(len(parts) for _ij, parts in tasks.values()) > 1  # tiles sharing a chunk are merged in one task
    for ij, parts in tasks.values():
        tile = canvas.grid.tile_window(*ij)
        for piece, block in parts:
            assert tile.contains(piece)
            assert block.shape[:2] == (piece.height, piece.width)
        expected = sum(1 for w in windows if intersection(w, tile) is not None)
        assert len(parts) == expected
    assert canvas.head == 1
    assert canvas.bounds == batch.bounds


piece = st.tuples(
    st.integers(-16, 40), st.integers(-16, 40), st.integers(1, 24), st.integers(1, 24), st.integers(0, 2**32 - 1)
)
SPAN = 80  # pieces stay inside world rows and columns -16..64: up to 10 x 10 chunks of 8 px


@settings(max_examples=25)
@given(pieces=st.lists(piece, min_size=2, max_size=30))
def test_many_overlapping_pieces_in_one_write_match_a_numpy_model(pieces: list[tuple[int, int, int, int, int]]) -> None:
    """Tiles of 8 px, dozens of overlapping pieces, the threaded scheduler: later pieces win, byte for byte.

    Each chunk task reads its chunk, merges its pieces and writes it back; if
    two tasks ever shared a chunk, one would overwrite the other's pixels.
    """
    origin = (-16, -16)
    model = np.zeros((SPAN, SPAN, 3), np.uint8)
    data = []
    for row, col, h, w, seed in pieces:
        block = np.random.default_rng(seed).integers(1, 256, (h, w, 3), dtype=np.uint8)
        data.append((row, col, block))
        model[row - origin[0] : row - origin[0] + h, col - origin[1] : col - origin[1] + w] = block
    with tempfile.TemporaryDirectory() as tmp:
        canvas = Canvas.create(Path(tmp) / "c.zarr", tile=8)
        canvas.write(data, extend=True)
        bounds = canvas.bounds
        got = canvas.read(Window(origin[0], origin[1], SPAN, SPAN))
        assert canvas.verify().ok
        reopened = Canvas.open(Path(tmp) / "c.zarr", read_only=True).read(Window(origin[0], origin[1], SPAN, SPAN))
    rows = [r for r, _, h, _, _ in pieces] + [r + h for r, _, h, _, _ in pieces]
    cols = [c for _, c, _, _, _ in pieces] + [c + w for _, c, _, w, _ in pieces]
    assert bounds == Window.from_bounds(min(rows), min(cols), max(rows), max(cols))
    np.testing.assert_array_equal(got, model)
    np.testing.assert_array_equal(reopened, model)
