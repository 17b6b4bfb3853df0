"""Canvases of format 1 (made by imkerutils before the OME-Zarr layout) keep working (issue 13, point 4).

``tests/data/legacy-v1.zarr`` was written by the format-1 code (commit ffa9da6): tile 32, four pastes in
several directions, a pyramid built after the second and stale after the fourth, the last step undone (so
one redo waits).  ``legacy-v1-expected.npz`` holds what that code read from it: a region around the
content, every coarser level, and the region after a redo.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from _crash_writer import Zygote

from imkerutils.cli.main import main
from imkerutils.testing.layout import check_canvas_layout
from imkerutils.tiling import Canvas, Window

if TYPE_CHECKING:
    from collections.abc import Iterator

DATA = Path(__file__).parents[1] / "data"
REGION = Window(-64, -64, 200, 220)
EXHAUSTIVE = os.environ.get("HYPOTHESIS_PROFILE") == "nightly"
KINDS = ["paste", "paste", "paste"]


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    with np.load(DATA / "legacy-v1-expected.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DATA / "legacy-v1.zarr", tmp_path / "legacy.zarr"))


def assert_same_canvas(canvas: Canvas, expected: dict[str, np.ndarray]) -> None:
    """Pixels at every level, bounds, history and the waiting redo are format 1's."""
    assert canvas.bounds == Window(-60, -33, 110, 163)
    assert (canvas.head, canvas.redoable) == (3, 1)
    assert [s.kind for s in canvas.history()] == KINDS
    assert canvas.history()[0].info == {"note": "first"}
    np.testing.assert_array_equal(canvas.read(REGION), expected["level0"])
    for level in (1, 2, 3):
        np.testing.assert_array_equal(canvas.read(canvas.level_bounds(level), level=level), expected[f"level{level}"])
    report = canvas.verify()
    assert report.ok, report.problems
    assert report.tiles_checked == 14, report.problems


def test_a_format_1_canvas_opens_read_only_as_before_and_writes_nothing(legacy, expected, tree_digest):
    before = tree_digest(legacy)
    assert_same_canvas(Canvas.open(legacy, read_only=True), expected)
    assert tree_digest(legacy) == before


def test_upgrade_keeps_every_pixel_step_and_undo_entry(legacy, expected, tree_digest):
    assert main(["upgrade", str(legacy)]) == 0
    canvas = Canvas.open(legacy)
    check_canvas_layout(legacy, canvas)  # format 1's arrays, manifest, entries and markers are gone:
    assert {p.name for p in legacy.iterdir()} == {
        "zarr.json",
        "_journal",
        "_manifest",
        "_pyramid",
        *(canvas.frame.path(level) for level in range(3)),
    }
    assert_same_canvas(canvas, expected)
    canvas.redo()
    np.testing.assert_array_equal(canvas.read(REGION), expected["redone"])
    for _ in range(4):
        canvas.undo()
    assert canvas.head == 0
    assert canvas.bounds == Window(0, 0, 0, 0)
    assert not canvas.read(REGION).any()
    for _ in range(4):
        canvas.redo()
    np.testing.assert_array_equal(canvas.read(REGION), expected["redone"])
    assert canvas.verify().ok
    before = tree_digest(legacy)
    assert main(["upgrade", str(legacy)]) == 0  # already upgraded: nothing changes
    assert tree_digest(legacy) == before


def test_the_first_writable_open_upgrades_with_a_one_line_notice(legacy, expected, caplog):
    with caplog.at_level(logging.WARNING, logger="imkerutils"):
        canvas = Canvas.open(legacy)
    notices = [r.getMessage() for r in caplog.records if r.name == "imkerutils"]
    assert len(notices) == 1
    assert "format 1" in notices[0]
    assert "\n" not in notices[0]
    assert json.loads((legacy / "zarr.json").read_text())["attributes"]["imkerutils"]["format"] == "imkerutils.canvas/2"
    assert_same_canvas(canvas, expected)


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    z = Zygote()
    yield z
    z.close()


@pytest.mark.slow
def test_kill_during_an_upgrade_leaves_format_1_or_format_2_never_torn(zygote, tmp_path, expected):
    """SIGKILL before every file-system mutation of the upgrade (done by the first writable open)."""
    work = tmp_path / "canvas"

    def fresh() -> Path:
        shutil.rmtree(work, ignore_errors=True)
        return Path(shutil.copytree(DATA / "legacy-v1.zarr", work))

    done = zygote.run(fresh(), [])
    assert done["exit"] == 0, done["error"]
    total = done["marks"][0]
    assert total > 20, total
    formats = []
    for n in range(1, total + 1, 1 if EXHAUSTIVE else 3):  # every third point in CI; all in nightly runs
        done = zygote.run(fresh(), [], kill_at=n)
        assert done["signal"] == signal.SIGKILL, done
        assert_same_canvas(Canvas.open(work, read_only=True), expected)  # readable as it is, before recovery
        formats.append(json.loads((work / "_journal" / "state.json").read_text())["format"])
        canvas = Canvas.open(work)  # finishes or redoes the upgrade
        assert_same_canvas(canvas, expected)
        check_canvas_layout(work, canvas)
        canvas.redo()
        np.testing.assert_array_equal(canvas.read(REGION), expected["redone"])
    assert formats[0] == "imkerutils.journal/2"
    assert formats[-1] == "imkerutils.journal/3"
    assert formats == sorted(formats)  # once committed, every later kill leaves format 2
