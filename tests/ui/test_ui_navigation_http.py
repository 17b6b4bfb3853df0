"""Finding your way, at the HTTP level (issue 15 point 5): transparent never-written tiles, history regions,
thumbnails of a step's own region and a redo list that names its steps."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from imkerutils.exquisite.ui.deepzoom import Frame
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from pathlib import Path

TILE = 1024


def decode(data: bytes) -> tuple[str, np.ndarray]:
    with Image.open(io.BytesIO(data)) as im:
        return str(im.format), np.asarray(im)


@pytest.fixture
def far_paste(tmp_path: Path) -> Path:
    """A grey 1024x1024 import at (0, 0) and a white tile pasted far right at (0, 3072): a black gap between.

    The gap (columns 1024..3071) was never written; the first tile holds black content on its right half.
    """
    path = tmp_path / "far.zarr"
    c = Canvas.create(path)
    first = np.full((TILE, TILE, 3), 128, np.uint8)
    first[:, 512:] = 0  # real black pixels: they must stay opaque
    c.paste(first, 0, 0, extend=True, info={"source": "/somewhere/first.png"})
    c.paste(np.full((TILE, TILE, 3), 255, np.uint8), 0, 3 * TILE, extend=True, info={"source": "/x/far.png"})
    return path


def test_never_written_tiles_are_transparent_and_black_content_is_not(serve, far_paste: Path) -> None:
    with serve(far_paste) as page:
        s = page.state()
        assert s["viewer"]["frame"] == {"row_off": 0, "col_off": 0, "height": 4096, "width": 4096}
        assert s["viewer"]["levels"] == 3
        gap = page.get("/api/tiles/0/1/0.png")
        gap_jpg = page.get("/api/tiles/0/2/0.jpg")
        black = page.get("/api/tiles/0/0/0.png")
        black_jpg = page.get("/api/tiles/0/0/0.jpg")
        half = page.get("/api/tiles/1/0/0.jpg")  # level 1: 2048x2048 world px, of which only the first tile written
        top = page.get("/api/tiles/2/0/0.png")  # level 2: the whole 4096x4096 frame in one tile
    # the gap: a transparent 1x1 PNG, whatever format was asked for
    for r in (gap, gap_jpg):
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/png"
        assert decode(r.content)[1].tolist() == [[[0, 0, 0, 0]]]
    # a written tile with black pixels: opaque, exact
    fmt, px = decode(black.content)
    assert fmt == "PNG"
    assert px.shape == (TILE, TILE, 3)
    assert (px[:, :512] == 128).all()
    assert (px[:, 512:] == 0).all()
    assert black_jpg.headers["content-type"] == "image/jpeg"
    # a tile over written and never-written level-0 tiles: RGBA, transparent exactly over the gap
    assert half.headers["content-type"] == "image/png"
    fmt, px = decode(half.content)
    assert fmt == "PNG"
    assert px.shape == (TILE, TILE, 4)
    alpha = np.zeros((TILE, TILE), np.uint8)
    alpha[:512, :512] = 255
    np.testing.assert_array_equal(px[..., 3], alpha)
    assert (px[:512, :256, :3] == 128).all()
    assert (px[:512, 256:512, :3] == 0).all()
    _, px = decode(top.content)
    expected_alpha = np.zeros((TILE, TILE), np.uint8)
    expected_alpha[:256, :256] = 255  # the first tile, a quarter of its size
    expected_alpha[:256, 768:] = 255  # the far paste
    assert px.shape == (TILE, TILE, 4)
    np.testing.assert_array_equal(px[..., 3], expected_alpha)


def test_history_entries_carry_their_region_and_thumbnails_show_it(serve, far_paste: Path) -> None:
    with serve(far_paste) as page:
        s = page.state()
        first, far = s["history"]
        thumb = page.get(far["thumb"])
    assert first["region"] == {"row_off": 0, "col_off": 0, "height": TILE, "width": TILE}
    assert far["region"] == {"row_off": 0, "col_off": 3 * TILE, "height": TILE, "width": TILE}
    assert far["source"] == "far.png"
    _, px = decode(thumb.content)
    assert (px == 255).all()  # the white paste itself, not the whole (mostly black) canvas


def test_grow_step_region_is_its_strip(serve, small_canvas: Path) -> None:
    with serve(small_canvas) as page:
        job = page.grow(["right"])
        assert job["status"] == "done"
        grown = page.state()["history"][-1]
    assert grown["directions"] == ["right"]
    assert grown["region"] == {"row_off": 0, "col_off": 256, "height": 256, "width": 512}


def test_redo_list_names_the_undone_steps(serve, far_paste: Path) -> None:
    with serve(far_paste) as page:
        assert page.state()["redo"] == []
        assert page.post("/api/undo", {"head": 2}).status_code == 200
        s = page.state()
        assert page.post("/api/undo", {"head": 1}).status_code == 200
        both = page.state()
        # the undone far paste is transparent again
        gap = page.get("/api/tiles/0/0/0.png")
    assert s["head"] == 1
    assert s["redoable"] == 1
    (redo,) = s["redo"]
    assert (redo["number"], redo["kind"], redo["source"]) == (2, "paste", "far.png")
    assert redo["region"] == {"row_off": 0, "col_off": 3 * TILE, "height": TILE, "width": TILE}
    assert [r["number"] for r in both["redo"]] == [1, 2]  # the next to redo first
    assert both["history"] == []
    assert gap.content
    assert decode(gap.content)[1].tolist() == [[[0, 0, 0, 0]]]


def test_undone_lists_redoable_steps_in_redo_order(tmp_path: Path) -> None:
    c = Canvas.create(tmp_path / "c.zarr")
    for k in range(3):
        c.paste(np.full((8, 8, 3), k, np.uint8), 0, 8 * k, extend=True)
    c.undo()
    c.undo()
    assert [s.number for s in c.undone()] == [2, 3]
    assert c.undone()[0].written == ((0, 0),)
    assert [s.number for s in c.history()] == [1]
    assert Window(0, 0, 8, 8) == c.bounds


@given(
    levels=st.integers(1, 4),
    tile=st.sampled_from([4, 8, 16]),
    origin=st.tuples(st.integers(-3, 3), st.integers(-3, 3)),
    cells=st.sets(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=20),
)
def test_coverage_marks_exactly_the_level_pixels_over_written_tiles(
    levels: int, tile: int, origin: tuple[int, int], cells: set[tuple[int, int]]
) -> None:
    """Frame.coverage against a per-pixel model: a level pixel is written iff a written tile lies under it."""
    step = tile << (levels - 1)
    frame = Frame(Window(origin[0] * step, origin[1] * step, 2 * step, 2 * step), levels, tile)
    written = [Window(frame.window.row_off + i * tile, frame.window.col_off + j * tile, tile, tile) for i, j in cells]
    grid = frame.written_grid(written)
    world = np.zeros((frame.window.height, frame.window.width), bool)
    for w in written:
        r, c = w.row_off - frame.window.row_off, w.col_off - frame.window.col_off
        world[r : r + tile, c : c + tile] = True
    for level in range(levels):
        rows, cols = frame.tile_counts(level)
        for row in range(rows):
            for col in range(cols):
                size = tile << level
                block = world[row * size : (row + 1) * size, col * size : (col + 1) * size]
                model = block.reshape(tile, 1 << level, tile, 1 << level).any(axis=(1, 3))
                np.testing.assert_array_equal(frame.coverage(grid, level, col, row), model)
