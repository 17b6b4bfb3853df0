"""The old names of "extend" keep working, with a DeprecationWarning (issue 18, point 5).

"Grow" means generating new content (``pipeline.grow``, ``imkerutils grow``); making the bounds larger without
generating is "extend": ``Canvas.extend(window)``, ``paste(..., extend=True)``, ``imkerutils paste --extend``.
"""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import imkerutils_cmd, ok, run
from PIL import Image

from imkerutils.errors import OutOfBoundsError
from imkerutils.tiling import Canvas
from imkerutils.tiling.window import Window

TILE = 16


@pytest.fixture
def canvas(tmp_path):
    c = Canvas.create(tmp_path / "c.zarr", tile=TILE)
    c.paste(np.full((8, 8, 3), 7, np.uint8), 0, 0, extend=True)
    return c


def test_extend_makes_a_background_step_of_kind_extend(canvas):
    info = canvas.extend(Window(-20, -4, 4, 4))
    assert canvas.bounds == Window(-20, -4, 28, 12)
    assert info.kind == "extend"
    assert canvas.head == 2
    np.testing.assert_array_equal(canvas.read(Window(-20, -4, 4, 4)), np.zeros((4, 4, 3), np.uint8))


def test_canvas_grow_is_extend_with_a_warning(canvas, tmp_path):
    other = Canvas.create(tmp_path / "d.zarr", tile=TILE)
    other.paste(np.full((8, 8, 3), 7, np.uint8), 0, 0, extend=True)
    with pytest.warns(DeprecationWarning, match=r"Canvas\.extend"):
        canvas.grow(Window(0, 0, 40, 40))
    other.extend(Window(0, 0, 40, 40))
    assert canvas.bounds == other.bounds == Window(0, 0, 40, 40)
    np.testing.assert_array_equal(canvas.read(canvas.bounds), other.read(other.bounds))


@pytest.mark.parametrize("method", ["paste", "write"])
def test_grow_keyword_is_extend_with_a_warning(canvas, method):
    pixels = np.full((4, 4, 3), 200, np.uint8)
    call = (
        (lambda **kw: canvas.paste(pixels, 30, 30, **kw))
        if method == "paste"
        else (lambda **kw: canvas.write([(30, 30, pixels)], **kw))
    )
    with pytest.raises(OutOfBoundsError, match="extend=True"):
        call()
    with pytest.warns(DeprecationWarning, match="use extend="), pytest.raises(OutOfBoundsError):
        call(grow=False)
    with pytest.warns(DeprecationWarning, match="use extend="):
        call(grow=True)
    assert canvas.bounds == Window(0, 0, 34, 34)
    np.testing.assert_array_equal(canvas.read(Window(30, 30, 4, 4)), pixels)


def test_the_warning_points_at_the_caller(canvas):
    with pytest.warns(DeprecationWarning, match="use extend=") as seen:
        canvas.paste(np.zeros((2, 2, 3), np.uint8), 0, 0, grow=True)
    assert [w.filename for w in seen] == [__file__]


def test_paste_command_takes_extend_and_still_grow(canvas, tmp_path):
    Image.fromarray(np.full((4, 4, 3), 90, np.uint8)).save(tmp_path / "t.png")
    help_text = ok(run(imkerutils_cmd("paste", "--help"))).stdout
    assert "--extend" in help_text
    ok(run(imkerutils_cmd("paste", canvas.path, tmp_path / "t.png", "--x", 20, "--y", 0, "--extend")))
    ok(run(imkerutils_cmd("paste", canvas.path, tmp_path / "t.png", "--x", 0, "--y", 20, "--grow")))
    c = Canvas.open(canvas.path, read_only=True)
    assert c.bounds == Window(0, 0, 24, 24)
    np.testing.assert_array_equal(c.read(Window(0, 20, 4, 4)), np.full((4, 4, 3), 90, np.uint8))
    np.testing.assert_array_equal(c.read(Window(20, 0, 4, 4)), np.full((4, 4, 3), 90, np.uint8))
