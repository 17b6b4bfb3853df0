"""Bad input and damaged canvases: our own errors, and the canvas files untouched by a failing operation."""

from __future__ import annotations

import fcntl
import json
import os
import shutil

import dask.array as da
import numpy as np
import pytest
import zarr

from imkerutils.errors import (
    CanvasCorruptError,
    CanvasExistsError,
    CanvasLockedError,
    CanvasNotFoundError,
    CanvasReadOnlyError,
    InvalidTileError,
    InvalidWindowError,
    NothingToRedoError,
    NothingToUndoError,
    OutOfBoundsError,
)
from imkerutils.tiling import Canvas, Window

TILE = 16


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """An RGB canvas with two committed steps (so there is a journal, a lock file and an undo history)."""
    c = Canvas.create(tmp_path_factory.mktemp("template") / "c", tile=TILE, height=20, width=30)
    c.paste(np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8), 0, 0)
    c.paste(np.full((5, 5, 3), 7, np.uint8), -3, -3, extend=True)
    return c.path


@pytest.fixture
def canvas(template, tmp_path):
    """A private copy of the template canvas."""
    return Canvas.open(shutil.copytree(template, tmp_path / "c"))


# -- bad pixels ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        np.zeros((4, 4), np.uint8),  # no channel axis
        np.zeros((1, 4, 4, 3), np.uint8),  # one axis too many
        np.zeros((4, 4, 4), np.uint8),  # RGBA pixels on an RGB canvas
        np.zeros((4, 4, 1), np.uint8),
        np.zeros((4, 4, 3), np.float32),
        np.zeros((4, 4, 3), np.uint16),
        np.zeros((4, 4, 3), bool),
        [[[0, 0, 0]]],  # not an array
        da.zeros((4, 4, 3), dtype=np.float64),
    ],
    ids=["2d", "4d", "rgba-on-rgb", "1-channel", "float32", "uint16", "bool", "list", "dask-float"],
)
def test_bad_tiles_are_refused_before_anything_changes(canvas, tree_digest, data):
    before = tree_digest(canvas.path)
    with pytest.raises(InvalidTileError):
        canvas.paste(data, 0, 0)
    with pytest.raises(InvalidTileError):
        canvas.write([(0, 0, np.zeros((2, 2, 3), np.uint8)), (5, 5, data)])
    assert tree_digest(canvas.path) == before
    assert issubclass(InvalidTileError, ValueError)


def test_rgba_canvas_refuses_rgb_pixels(tmp_path):
    c = Canvas.create(tmp_path / "c", mode="RGBA", tile=TILE, height=4, width=4)
    with pytest.raises(InvalidTileError, match=r"\(height, width, 4\)"):
        c.paste(np.zeros((4, 4, 3), np.uint8), 0, 0)


def test_empty_pastes_and_windows(canvas, tree_digest):
    before = tree_digest(canvas.path)
    with pytest.raises(InvalidWindowError):
        canvas.paste(np.zeros((0, 5, 3), np.uint8), 0, 0)
    with pytest.raises(InvalidWindowError):
        canvas.write([])
    with pytest.raises(InvalidWindowError):
        canvas.read(Window(0, 0, -1, 3))
    assert tree_digest(canvas.path) == before


def test_create_errors(tmp_path):
    with pytest.raises(InvalidTileError, match="mode"):
        Canvas.create(tmp_path / "c", mode="CMYK")
    Canvas.create(tmp_path / "c", height=2, width=2)
    with pytest.raises(CanvasExistsError):
        Canvas.create(tmp_path / "c")
    assert Canvas.create(tmp_path / "c", overwrite=True, height=5, width=1).bounds == Window(0, 0, 5, 1)


def test_open_missing_canvas(tmp_path):
    with pytest.raises(CanvasNotFoundError):
        Canvas.open(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CanvasNotFoundError):
        Canvas.open(tmp_path / "empty")
    assert issubclass(CanvasNotFoundError, FileNotFoundError)


# -- steps that cannot happen ---------------------------------------------------------------
def test_refused_steps_leave_the_files_untouched(canvas, tree_digest):
    before = tree_digest(canvas.path)
    with pytest.raises(OutOfBoundsError, match="extend=True"):
        canvas.paste(np.zeros((3, 3, 3), np.uint8), 18, 28)  # crosses the bottom-right corner
    with pytest.raises(OutOfBoundsError):
        canvas.write([(0, 0, np.zeros((2, 2, 3), np.uint8)), (-10, 0, np.zeros((2, 2, 3), np.uint8))])
    with pytest.raises(NothingToRedoError):
        canvas.redo()
    assert tree_digest(canvas.path) == before
    canvas.undo()
    canvas.undo()
    after_undo = tree_digest(canvas.path)
    with pytest.raises(NothingToUndoError):
        canvas.undo()
    assert tree_digest(canvas.path) == after_undo
    assert issubclass(NothingToUndoError, LookupError)
    assert issubclass(OutOfBoundsError, IndexError)


def test_read_only_canvas_refuses_writes(canvas, tree_digest):
    before = tree_digest(canvas.path)
    ro = Canvas.open(canvas.path, read_only=True)
    for write in (
        lambda: ro.paste(np.zeros((2, 2, 3), np.uint8), 0, 0),
        lambda: ro.extend(Window(0, 0, 100, 100)),
        ro.undo,
        ro.redo,
    ):
        with pytest.raises(CanvasReadOnlyError):
            write()
    np.testing.assert_array_equal(ro.read(ro.bounds), canvas.read(canvas.bounds))
    assert tree_digest(canvas.path) == before


def test_a_held_lock_refuses_a_second_writer(canvas, tree_digest):
    before = tree_digest(canvas.path)
    fd = os.open(canvas.path / "_journal" / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another writer would
        with pytest.raises(CanvasLockedError, match="another process"):
            canvas.paste(np.zeros((2, 2, 3), np.uint8), 0, 0)
        with pytest.raises(CanvasLockedError):
            canvas.undo()
    finally:
        os.close(fd)
    assert tree_digest(canvas.path) == before
    canvas.paste(np.zeros((2, 2, 3), np.uint8), 0, 0)  # free again


# -- damaged metadata ----------------------------------------------------------------------------------
GROUP = {"zarr_format": 3, "node_type": "group"}
BAD_ZARR_JSON = {
    "garbage": b"\x00\xff\xfe not json at all",
    "empty": b"",
    "truncated": b'{"zarr_format": 3, "node_type": "gro',
    "list": b"[1, 2]",
    "array-node": json.dumps({"zarr_format": 3, "node_type": "array"}).encode(),
    "plain-group": json.dumps(GROUP).encode(),
    "other-format": json.dumps({**GROUP, "attributes": {"imkerutils": {"format": "someone.else/9"}}}).encode(),
    "incomplete": json.dumps({**GROUP, "attributes": {"imkerutils": {"format": "imkerutils.canvas/1"}}}).encode(),
    "zarr-v2": json.dumps(
        {
            **GROUP,
            "zarr_format": 2,
            "attributes": {
                "imkerutils": {"format": "imkerutils.canvas/1", "mode": "RGB", "tile": 16, "origin": [0, 0]}
            },
        }
    ).encode(),
    "bad-mode": json.dumps(
        {
            **GROUP,
            "attributes": {
                "imkerutils": {"format": "imkerutils.canvas/1", "mode": "CMYK", "tile": 16, "origin": [0, 0]}
            },
        }
    ).encode(),
}


@pytest.mark.parametrize("read_only", [True, False], ids=["read-only", "writable"])
@pytest.mark.parametrize("content", BAD_ZARR_JSON.values(), ids=BAD_ZARR_JSON.keys())
def test_corrupt_zarr_json(canvas, tree_digest, content, read_only):
    (canvas.path / "zarr.json").write_bytes(content)
    before = tree_digest(canvas.path)
    with pytest.raises(CanvasCorruptError):
        Canvas.open(canvas.path, read_only=read_only)
    assert tree_digest(canvas.path) == before


def test_unreadable_zarr_json_is_not_reported_as_corruption(canvas, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError("permission denied: zarr.json")

    monkeypatch.setattr(zarr, "open_group", denied)
    with pytest.raises(PermissionError, match="denied"):
        Canvas.open(canvas.path)


def _state(**changes):
    base = {
        "format": "imkerutils.journal/3",
        "head": 0,
        "top": 0,
        "token": "empty",
        "bounds": {"row_off": 0, "col_off": 0, "height": 1, "width": 1},
        "pending": None,
        "frame": {"tile": TILE, "origin": [4, 4], "generation": 0},
    }
    return json.dumps({**base, **changes}).encode()


BAD_STATE = {
    "garbage": b"\x00\x01\x02garbage",
    "empty": b"",
    "list": b"[]",
    "null": b"null",
    "number": b"42",
    "empty-object": b"{}",
    "other-format": _state(format="imkerutils.journal/99"),
    "negative-bounds": _state(bounds={"row_off": 0, "col_off": 0, "height": -5, "width": 1}),
    "no-bounds": _state(bounds=None),
    "float-head": _state(head="one"),
    "pending-string": _state(pending="apply"),
    "pending-without-step": _state(pending={"op": "apply"}),
    "pending-step-not-int": _state(pending={"op": "apply", "step": "x"}),
    "head-past-top": _state(head=7, top=1, steps=["a"]),
    "negative-head": _state(head=-3),
    "no-frame": _state(frame=None),
    "rebase-without-frame": _state(pending={"op": "rebase"}),
}


@pytest.mark.parametrize("read_only", [True, False], ids=["read-only", "writable"])
@pytest.mark.parametrize("content", BAD_STATE.values(), ids=BAD_STATE.keys())
def test_corrupt_journal_state(canvas, tree_digest, content, read_only):
    (canvas.path / "_journal" / "state.json").write_bytes(content)
    before = tree_digest(canvas.path)
    with pytest.raises(CanvasCorruptError, match="journal"):
        Canvas.open(canvas.path, read_only=read_only)
    assert tree_digest(canvas.path) == before


@pytest.mark.parametrize(
    "pending",
    [{"op": "explode", "step": 3, "id": "0" * 32}, {"op": "apply", "step": 7, "id": "f" * 32}],
    ids=["unknown-op", "missing-step"],
)
def test_unrecoverable_pending_step(canvas, tree_digest, pending):
    state = json.loads((canvas.path / "_journal" / "state.json").read_bytes())
    state["pending"] = pending
    (canvas.path / "_journal" / "state.json").write_text(json.dumps(state))
    before = tree_digest(canvas.path)
    with pytest.raises(CanvasCorruptError):
        Canvas.open(canvas.path)  # a writer must finish or roll back the step, and cannot
    assert tree_digest(canvas.path) == before


def test_missing_journal_state(canvas, tree_digest):
    (canvas.path / "_journal" / "state.json").unlink()
    before = tree_digest(canvas.path)
    with pytest.raises(CanvasCorruptError, match="missing"):
        Canvas.open(canvas.path)
    assert tree_digest(canvas.path) == before


def test_corrupt_step_entry_blocks_undo_without_damage(canvas, tree_digest):
    metas = [
        p for p in (canvas.path / "_journal").rglob("meta.json") if json.loads(p.read_bytes())["number"] == canvas.head
    ]
    assert len(metas) == 1
    metas[0].write_bytes(b"\xff")
    before = tree_digest(canvas.path)
    with pytest.raises(CanvasCorruptError, match="step 2"):
        canvas.undo()
    assert tree_digest(canvas.path) == before


def test_verify_reports_a_chunk_it_cannot_decode(canvas):
    """A damaged chunk file is a verify problem naming its tile, not a codec traceback."""
    chunk = sorted((canvas.path / "0" / "c").rglob("*"))
    chunk = next(p for p in chunk if p.is_file())
    chunk.write_bytes(b"xx")
    report = canvas.verify()
    assert not report.ok
    broken = [p for p in report.problems if "cannot be decoded" in p]
    assert len(broken) == 1
    assert broken[0].startswith("tile (")
    assert all("cannot be decoded" not in p for p in report.problems if p is not broken[0])


def test_zarr_v2_metadata_is_named_as_such(canvas, tree_digest):
    meta = json.loads((canvas.path / "zarr.json").read_text())
    (canvas.path / "zarr.json").write_text(json.dumps({**meta, "zarr_format": 2}))
    before = tree_digest(canvas.path)
    with pytest.raises(CanvasCorruptError, match="declares zarr_format 2; a canvas is Zarr v3"):
        Canvas.open(canvas.path)
    assert tree_digest(canvas.path) == before
