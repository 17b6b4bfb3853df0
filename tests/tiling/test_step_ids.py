"""A caller may name a step (issue 18: a step has one id, the journal's and its record's)."""

from __future__ import annotations

import numpy as np
import pytest

from imkerutils.errors import InvalidStepIdError
from imkerutils.tiling import Canvas, Window


def _canvas(tmp_path):
    c = Canvas.create(tmp_path / "c.zarr", height=16, width=16, tile=8)
    c.paste(np.full((16, 16, 3), 7, np.uint8), 0, 0)
    return c


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_a_named_step_is_recorded_under_its_name(tmp_path):
    c = _canvas(tmp_path)
    info = c.write([(0, 0, np.full((8, 8, 3), 9, np.uint8))], step_id="20261206-fill-0123456789ab")
    assert info.id == "20261206-fill-0123456789ab"
    assert c.history()[-1].id == info.id
    assert c.state_token == info.id
    assert (c.path / "_journal" / "entries" / info.id / "meta.json").is_file()
    c.undo()
    assert c.undone()[0].id == info.id
    assert c.redo().id == info.id
    assert c.verify().ok


@pytest.mark.parametrize("bad", ["", "a/b", "../x", ".hidden", "-x", "x" * 129, "tab\there", "ä"])
def test_an_unusable_name_is_refused_before_anything_is_written(tmp_path, bad):
    c = _canvas(tmp_path)
    before = _files(c.path)
    with pytest.raises(InvalidStepIdError, match="step id"):
        c.write([(0, 0, np.zeros((8, 8, 3), np.uint8))], step_id=bad)
    assert _files(c.path) == before
    assert np.array_equal(c.read(Window(0, 0, 16, 16)), np.full((16, 16, 3), 7, np.uint8))


@pytest.mark.parametrize("undone", [False, True], ids=["done", "undone"])
def test_a_name_taken_by_a_step_is_refused(tmp_path, undone):
    c = _canvas(tmp_path)
    c.write([(0, 0, np.full((8, 8, 3), 1, np.uint8))], step_id="s1")
    if undone:  # its entry stays until the next commit: a new step under its name would overwrite it
        c.undo()
    before, pixels = _files(c.path), c.read(Window(0, 0, 16, 16))
    with pytest.raises(InvalidStepIdError, match="taken by step 2"):
        c.write([(8, 8, np.full((8, 8, 3), 2, np.uint8))], step_id="s1")
    assert _files(c.path) == before
    assert np.array_equal(c.read(Window(0, 0, 16, 16)), pixels)
    assert c.refresh().redoable == int(undone)
    assert c.verify().ok
