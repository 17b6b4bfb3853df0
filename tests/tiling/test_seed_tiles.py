"""The seed's tiling API: extract_tile / paste_tile on image files and canvases, all four corners."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
import pytest
import tifffile
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from imkerutils.errors import InvalidTileError, InvalidWindowError, OutOfBoundsError
from imkerutils.tiling import Canvas, Window, corner_window, extract_tile, paste_tile

if TYPE_CHECKING:
    from pathlib import Path

T = 8  # tile size used throughout
CORNERS = ["tl", "tr", "bl", "br"]


def load(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im).copy()


def sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def masked(a: np.ndarray, box: Window, origin: tuple[int, int] = (0, 0)) -> str:
    """SHA-256 of ``a`` with ``box`` blanked out."""
    out = a.copy()
    out[box.slices(origin)] = 0
    return sha(out)


def box_for(x: int, y: int, corner: str) -> Window:
    """The expected box, written out independently of corner_window."""
    left = x - (T - 1) if corner in ("tr", "br") else x
    top = y - (T - 1) if corner in ("bl", "br") else y
    return Window(top, left, T, T)


@given(st.integers(-5000, 5000), st.integers(-5000, 5000), st.sampled_from(CORNERS), st.integers(1, 64))
def test_corner_pixel_sits_at_the_named_corner(x, y, corner, tile):
    w = corner_window(x, y, corner, tile)
    assert w.shape == (tile, tile)
    row = w.row_off if corner[0] == "t" else w.row_end - 1
    col = w.col_off if corner[1] == "l" else w.col_end - 1
    assert (row, col) == (y, x)  # inclusive corner pixel, as in the seed


def test_corner_window_rejects_bad_arguments():
    with pytest.raises(InvalidWindowError, match="corner"):
        corner_window(0, 0, "middle")
    with pytest.raises(InvalidWindowError):
        corner_window(0, 0, "tl", tile=0)


# -- image files -------------------------------------------------------------------
@pytest.mark.parametrize("corner", CORNERS)
def test_extract_tile_from_png(tmp_path, png, corner):
    path, pixels = png("img.png", 40, 50)
    x, y = 20, 10
    box = box_for(x, y, corner)
    got = extract_tile(path, tmp_path / "out.png", x=x, y=y, corner=corner, tile=T)
    assert got == (box.col_off, box.row_off, box.col_end, box.row_end)
    np.testing.assert_array_equal(load(tmp_path / "out.png"), pixels[box.slices()])


@pytest.mark.parametrize(
    ("corner", "x", "y"),
    [
        ("tl", 43, 0),
        ("tl", 0, 33),
        ("tl", -1, 0),
        ("tr", 6, 0),
        ("tr", 50, 0),
        ("bl", 0, 6),
        ("br", 7, 6),
        ("br", 50, 39),
        ("br", 49, 40),
    ],
)
def test_extract_tile_out_of_range(tmp_path, png, corner, x, y):
    path, _ = png("img.png", 40, 50)
    with pytest.raises(OutOfBoundsError, match="does not fit"):
        extract_tile(path, tmp_path / "out.png", x=x, y=y, corner=corner, tile=T)
    assert not (tmp_path / "out.png").exists()


def test_extract_tile_at_the_extreme_corners(tmp_path, png):
    path, pixels = png("img.png", 40, 50)
    for corner, x, y in [("tl", 0, 0), ("tr", 49, 0), ("bl", 0, 39), ("br", 49, 39), ("tl", 42, 32)]:
        extract_tile(path, tmp_path / "out.png", x=x, y=y, corner=corner, tile=T)
        np.testing.assert_array_equal(load(tmp_path / "out.png"), pixels[box_for(x, y, corner).slices()])


def test_extract_tile_from_tiff(tmp_path, noise):
    pixels = noise(40, 50)
    tifffile.imwrite(tmp_path / "img.tif", pixels, tile=(16, 16), photometric="rgb")
    extract_tile(tmp_path / "img.tif", tmp_path / "out.png", x=17, y=9, tile=T)
    np.testing.assert_array_equal(load(tmp_path / "out.png"), pixels[9:17, 17:25])


@pytest.mark.parametrize("corner", CORNERS)
def test_paste_tile_into_png_changes_only_the_box(tmp_path, png, corner):
    base_path, base = png("base.png", 40, 50)
    tile_path, tile = png("tile.png", T, T, seed=1)
    base_file = hashlib.sha256(base_path.read_bytes()).hexdigest()
    x, y = 21, 12
    box = box_for(x, y, corner)

    assert paste_tile(base_path, tile_path, tmp_path / "out.png", x=x, y=y, corner=corner, tile=T) == (
        box.col_off,
        box.row_off,
    )

    out = load(tmp_path / "out.png")
    assert out.shape == base.shape
    assert masked(out, box) == masked(base, box)  # every pixel outside the box is identical
    np.testing.assert_array_equal(out[box.slices()], tile)
    assert hashlib.sha256(base_path.read_bytes()).hexdigest() == base_file  # input untouched


def test_paste_tile_default_output_and_mode_conversion(tmp_path, png, monkeypatch):
    base_path, base = png("base.png", 20, 20, c=4)
    tile_path, tile = png("tile.png", T, T, c=3, seed=2)
    monkeypatch.chdir(tmp_path)
    paste_tile(base_path, tile_path, x=3, y=4, tile=T)
    out = load(tmp_path / "outputs" / "base_pasted_x3_y4.png")
    box = Window(4, 3, T, T)
    assert out.shape == (20, 20, 4)
    assert masked(out, box) == masked(base, box)
    np.testing.assert_array_equal(out[box.slices()][..., :3], tile)
    assert (out[box.slices()][..., 3] == 255).all()  # an RGB tile is opaque in an RGBA image


def test_paste_tile_refusals_write_nothing(tmp_path, png):
    base_path, _ = png("base.png", 40, 50)
    small, _ = png("small.png", T - 1, T, seed=3)
    tile_path, _ = png("tile.png", T, T, seed=4)
    with pytest.raises(InvalidTileError, match="exactly 8x8"):
        paste_tile(base_path, small, tmp_path / "out.png", x=0, y=0, tile=T)
    with pytest.raises(OutOfBoundsError):
        paste_tile(base_path, tile_path, tmp_path / "out.png", x=45, y=0, tile=T)
    with pytest.raises(OutOfBoundsError):
        paste_tile(base_path, tile_path, tmp_path / "out.png", x=3, y=3, corner="br", tile=T)
    assert not (tmp_path / "out.png").exists()


# -- canvases (world coordinates, negative too) -------------------------------------------------------
@pytest.fixture
def canvas(tmp_path, noise):
    """A canvas whose bounds start left of and above world (0, 0)."""
    c = Canvas.create(tmp_path / "canvas", tile=16)
    c.paste(noise(30, 40, seed=5), -10, -20, extend=True)
    assert c.bounds == Window(-10, -20, 30, 40)
    return c


@pytest.mark.parametrize("corner", CORNERS)
def test_extract_tile_from_canvas(tmp_path, canvas, corner):
    x, y = -5, 0
    box = box_for(x, y, corner)
    extract_tile(canvas.path, tmp_path / "out.png", x=x, y=y, corner=corner, tile=T)
    np.testing.assert_array_equal(load(tmp_path / "out.png"), canvas.read(box))


def test_extract_tile_from_canvas_out_of_bounds(tmp_path, canvas):
    extract_tile(canvas.path, tmp_path / "ok.png", x=19, y=19, corner="br", tile=T)  # the very last pixel
    for corner, x, y in [("br", 20, 19), ("tl", -21, -10), ("tl", -20, -11), ("tr", 0, 13)]:
        with pytest.raises(OutOfBoundsError):
            extract_tile(canvas.path, tmp_path / "out.png", x=x, y=y, corner=corner, tile=T)
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("corner", CORNERS)
def test_paste_tile_into_canvas_is_an_undoable_step(canvas, png, corner):
    tile_path, tile = png("tile.png", T, T, seed=6)
    x, y = -13, 2
    box = box_for(x, y, corner)
    before = canvas.read(canvas.bounds)
    origin = (canvas.bounds.row_off, canvas.bounds.col_off)

    assert paste_tile(canvas.path, tile_path, x=x, y=y, corner=corner, tile=T) == (box.col_off, box.row_off)

    c = Canvas.open(canvas.path)
    assert c.head == 2
    assert c.bounds == canvas.bounds
    after = c.read(c.bounds)
    assert masked(after, box, origin) == masked(before, box, origin)
    np.testing.assert_array_equal(c.read(box), tile)
    assert c.verify().ok
    c.undo()
    assert sha(c.read(c.bounds)) == sha(before)


def test_paste_tile_into_canvas_refusals(tmp_path, canvas, png, tree_digest):
    tile_path, _ = png("tile.png", T, T)
    wrong, _ = png("wrong.png", T, T + 1)
    before = tree_digest(canvas.path)
    with pytest.raises(OutOfBoundsError):
        paste_tile(canvas.path, tile_path, x=15, y=15, tile=T)  # no growing through the seed API
    with pytest.raises(InvalidTileError):
        paste_tile(canvas.path, wrong, x=0, y=0, tile=T)
    with pytest.raises(InvalidWindowError, match="in place"):
        paste_tile(canvas.path, tile_path, tmp_path / "elsewhere.png", x=0, y=0, tile=T)
    assert tree_digest(canvas.path) == before
    assert not (tmp_path / "elsewhere.png").exists()
