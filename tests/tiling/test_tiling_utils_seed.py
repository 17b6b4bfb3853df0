"""The seed's ``imkerutils.tiling_utils.core`` API, called exactly as the seed's users call it.

The seed (github.com/TYLERSFOSTER/imkerutils, ``imkerutils/tiling_utils/core.py``) defines
``TILE = 1024``, ``rect_from_corner(x, y, corner, tile=TILE)``,
``top_left_from_corner(x, y, corner, tile=TILE)``,
``extract_tile(input_path, output_path, *, x, y, corner="tl", tile=TILE)`` and
``paste_tile(base_path, tile_path, output_path, *, x, y, corner="tl", tile=TILE)``, and raises
``ValueError`` for a bad corner, a box outside the image and a tile of the wrong size.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import imkerutils.tiling_utils
from imkerutils.errors import OutOfBoundsError, TileOutOfBoundsError
from imkerutils.tiling import Canvas, Window
from imkerutils.tiling import extract_tile as library_extract_tile
from imkerutils.tiling_utils.core import TILE, extract_tile, paste_tile, rect_from_corner, top_left_from_corner

if TYPE_CHECKING:
    from pathlib import Path

CORNERS = ["tl", "tr", "bl", "br"]

# The seed's parameters: (name, kind, default), written out from its source.
P, K, E = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.empty
CORNER_MATHS = [("x", P, E), ("y", P, E), ("corner", P, E), ("tile", P, 1024)]
PLACEMENT = [("x", K, E), ("y", K, E), ("corner", K, "tl"), ("tile", K, 1024)]  # the scripts' keyword-only tail
SEED_SIGNATURES = {
    rect_from_corner: CORNER_MATHS,
    top_left_from_corner: CORNER_MATHS,
    extract_tile: [("input_path", P, E), ("output_path", P, E), *PLACEMENT],
    paste_tile: [("base_path", P, E), ("tile_path", P, E), ("output_path", P, None), *PLACEMENT],
}


def seed_rect(x: int, y: int, corner: str, tile: int = 1024) -> tuple[int, int, int, int]:
    """The seed's rect_from_corner, copied from its source as the oracle."""
    corner = corner.lower()
    if corner == "tl":
        left, top = x, y
    elif corner == "tr":
        left, top = x - (tile - 1), y
    elif corner == "bl":
        left, top = x, y - (tile - 1)
    else:
        left, top = x - (tile - 1), y - (tile - 1)
    return left, top, left + tile, top + tile


def noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def load(path: Path | str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im).copy()


def test_the_seed_names_import_from_the_seed_modules():
    assert TILE == 1024
    assert set(imkerutils.tiling_utils.__all__) >= {
        "extract_tile",
        "paste_tile",
        "rect_from_corner",
        "top_left_from_corner",
    }
    assert inspect.signature(imkerutils.tiling_utils.paste_tile) == inspect.signature(paste_tile)


def test_the_package_names_stay_callable_once_the_same_named_modules_are_imported(tmp_path):
    """``import imkerutils.tiling_utils.extract_tile`` rebinds the package's ``extract_tile`` to the module."""
    import imkerutils.tiling_utils.extract_tile
    import imkerutils.tiling_utils.paste_tile  # noqa: F401
    from imkerutils.tiling_utils import extract_tile as rebound_extract
    from imkerutils.tiling_utils import paste_tile as rebound_paste

    pixels = noise(20, 20)
    Image.fromarray(pixels).save(tmp_path / "img.png")
    Image.fromarray(noise(8, 8, seed=1)).save(tmp_path / "t.png")
    assert rebound_extract(tmp_path / "img.png", tmp_path / "o.png", x=2, y=3, tile=8) == (2, 3, 10, 11)
    np.testing.assert_array_equal(load(tmp_path / "o.png"), pixels[3:11, 2:10])
    assert rebound_paste(tmp_path / "img.png", tmp_path / "t.png", tmp_path / "p.png", x=0, y=0, tile=8) == (0, 0)
    with pytest.raises(ValueError, match="does not fit inside image"):
        rebound_extract(tmp_path / "img.png", tmp_path / "o.png", x=15, y=0, tile=8)


@pytest.mark.parametrize("func", list(SEED_SIGNATURES), ids=lambda f: f.__name__)
def test_signatures_keep_the_seed_parameters_and_defaults(func):
    params = list(inspect.signature(func).parameters.values())
    seed = SEED_SIGNATURES[func]
    assert [(p.name, p.kind, p.default) for p in params[: len(seed)]] == seed
    assert all(p.kind == K and p.default is not E for p in params[len(seed) :])  # additions: optional keywords


@given(
    st.integers(-5000, 5000), st.integers(-5000, 5000), st.sampled_from(CORNERS + ["TL", "Br"]), st.integers(1, 2048)
)
def test_rects_equal_the_seed_formula(x, y, corner, tile):
    assert rect_from_corner(x, y, corner, tile) == seed_rect(x, y, corner, tile)
    assert rect_from_corner(x, y, corner) == seed_rect(x, y, corner)
    assert top_left_from_corner(x, y, corner, tile=tile) == seed_rect(x, y, corner, tile)[:2]


def test_a_bad_corner_is_a_value_error():
    for bad in ("middle", "", "t"):
        with pytest.raises(ValueError, match="corner"):
            rect_from_corner(0, 0, bad)
        with pytest.raises(ValueError, match="corner"):
            top_left_from_corner(0, 0, bad)


@pytest.fixture
def image(tmp_path):
    pixels = noise(40, 50)
    Image.fromarray(pixels).save(tmp_path / "img.png")
    return tmp_path / "img.png", pixels


@pytest.mark.parametrize("corner", CORNERS)
def test_extract_and_paste_as_the_seed_did(tmp_path, image, corner):
    path, pixels = image
    rect = extract_tile(path, tmp_path / "t.png", x=20, y=15, corner=corner, tile=8)
    left, top, right, bottom = seed_rect(20, 15, corner, 8)
    assert rect == (left, top, right, bottom)
    np.testing.assert_array_equal(load(tmp_path / "t.png"), pixels[top:bottom, left:right])

    tile = noise(8, 8, seed=1)
    Image.fromarray(tile).save(tmp_path / "patch.png")
    assert paste_tile(path, tmp_path / "patch.png", tmp_path / "out.png", x=20, y=15, corner=corner, tile=8) == (
        left,
        top,
    )
    expected = pixels.copy()
    expected[top:bottom, left:right] = tile
    np.testing.assert_array_equal(load(tmp_path / "out.png"), expected)


@pytest.mark.parametrize(
    ("corner", "x", "y"), [("tl", 43, 0), ("tl", -1, 0), ("tr", 6, 0), ("bl", 0, 6), ("br", 50, 39), ("tl", 0, 33)]
)
def test_boxes_out_of_range_are_value_errors_and_write_nothing(tmp_path, image, corner, x, y):
    path, _ = image
    Image.fromarray(noise(8, 8)).save(tmp_path / "patch.png")
    with pytest.raises(ValueError, match="does not fit") as caught:
        extract_tile(path, tmp_path / "t.png", x=x, y=y, corner=corner, tile=8)
    assert isinstance(caught.value, IndexError)
    assert isinstance(caught.value, OutOfBoundsError)
    with pytest.raises(ValueError, match="does not fit"):
        paste_tile(path, tmp_path / "patch.png", tmp_path / "out.png", x=x, y=y, corner=corner, tile=8)
    with pytest.raises(ValueError, match="does not fit"):  # the library function too, not only the seed's names
        library_extract_tile(path, tmp_path / "t.png", x=x, y=y, corner=corner, tile=8)
    assert not (tmp_path / "t.png").exists()
    assert not (tmp_path / "out.png").exists()


def test_a_tile_of_the_wrong_size_is_a_value_error(tmp_path, image):
    path, _ = image
    Image.fromarray(noise(8, 9)).save(tmp_path / "wrong.png")
    with pytest.raises(ValueError, match="exactly 8x8"):
        paste_tile(path, tmp_path / "wrong.png", tmp_path / "out.png", x=0, y=0, tile=8)
    with pytest.raises(
        ValueError, match="does not fit inside image"
    ):  # the seed's default tile size (a 1024 box does not fit this base either)
        paste_tile(path, tmp_path / "wrong.png", tmp_path / "out.png", x=0, y=0)
    assert not (tmp_path / "out.png").exists()


def test_canvas_refusals_are_value_errors_too(tmp_path):
    c = Canvas.create(tmp_path / "c.zarr", tile=16)
    c.paste(noise(30, 40), -10, -20, extend=True)
    Image.fromarray(noise(8, 8)).save(tmp_path / "patch.png")
    Image.fromarray(noise(9, 8)).save(tmp_path / "wrong.png")
    with pytest.raises(ValueError, match="does not fit inside canvas"):
        extract_tile(c.path, tmp_path / "t.png", x=19, y=19, corner="tl", tile=8)
    with pytest.raises(ValueError, match="does not fit inside canvas"):
        paste_tile(c.path, tmp_path / "patch.png", x=19, y=19, tile=8)
    with pytest.raises(ValueError, match="must be exactly 8x8"):
        paste_tile(c.path, tmp_path / "wrong.png", x=0, y=0, tile=8)
    assert Canvas.open(c.path).head == 1
    assert extract_tile(c.path, tmp_path / "t.png", x=-20, y=-10, tile=8) == (-20, -10, -12, -2)
    np.testing.assert_array_equal(load(tmp_path / "t.png"), c.read(Window(-10, -20, 8, 8)))


def test_the_new_error_is_both_builtins():
    assert issubclass(TileOutOfBoundsError, ValueError)
    assert issubclass(TileOutOfBoundsError, IndexError)
