"""A canvas opened read-only while a step is pending shows the last committed state, and writes nothing.

(The kill tests in ``test_crash.py`` check this at every kill point; these
check a reader that outlives the pending step: a writer then rolls it back or
commits it.)
"""

from __future__ import annotations

import numpy as np
import pytest

import imkerutils.tiling.step as step_module
from imkerutils.tiling import Canvas, Window

TILE = 16
REGION = Window(-32, -32, 96, 112)


def noise(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def pending(tmp_path, monkeypatch):
    """A canvas with one committed step and a second step written but never committed (its writer died)."""
    c = Canvas.create(tmp_path / "c", tile=TILE, height=40, width=50)
    c.paste(noise(40, 50, 1), 0, 0)
    committed = c.read(REGION)
    with monkeypatch.context() as m:  # the writer "dies" after its chunk writes, before the commit
        m.setattr(step_module.Step, "commit", lambda self, writes: self._release())
        c.paste(noise(30, 60, 2), -10, 20, extend=True)  # grows up and right, partly new chunks
    assert c._journal.read_state().pending is not None
    return tmp_path / "c", committed


def test_a_read_only_open_shows_the_committed_state_and_writes_nothing(pending, tree_digest):
    path, committed = pending
    tree = tree_digest(path)
    reader = Canvas.open(path, read_only=True)
    assert reader.bounds == Window(0, 0, 40, 50)
    assert reader.head == 1
    np.testing.assert_array_equal(reader.read(REGION), committed)
    np.testing.assert_array_equal(reader.to_dask(REGION).compute(), committed)
    assert reader.verify().ok
    assert reader.written_tiles() == 3 * 4  # 40x50 px in 16 px tiles; the pending step's new tiles are hidden
    assert tree_digest(path) == tree


def test_a_reader_keeps_the_committed_state_while_a_writer_rolls_back(pending):
    path, committed = pending
    reader = Canvas.open(path, read_only=True)
    writer = Canvas.open(path)  # rolls the pending step back and deletes its journal entry
    assert writer._journal.read_state().pending is None
    np.testing.assert_array_equal(reader.read(REGION), committed)  # read from the restored keys now
    assert reader.verify().ok
    np.testing.assert_array_equal(reader.refresh().read(REGION), committed)
    writer.paste(noise(8, 8, 3), 0, 0)
    after = writer.read(REGION)
    np.testing.assert_array_equal(reader.refresh().read(REGION), after)


def test_refresh_after_the_pending_step_is_committed_by_another_writer(tmp_path, monkeypatch):
    c = Canvas.create(tmp_path / "c", tile=TILE, height=40, width=50)
    c.paste(noise(40, 50, 1), 0, 0)
    committed = c.read(REGION)
    steps = []
    real_commit = step_module.Step.commit

    def stall(self, writes):  # the reader opens here: every chunk written, nothing committed
        steps.append(Canvas.open(tmp_path / "c", read_only=True))
        return real_commit(self, writes)

    monkeypatch.setattr(step_module.Step, "commit", stall)
    c.paste(noise(20, 20, 4), 30, 40, extend=True)
    reader = steps[0]
    np.testing.assert_array_equal(reader.read(REGION), committed)  # its state: step 1
    reader.refresh()
    assert reader.head == 2
    assert reader.bounds == Window(0, 0, 50, 60)
    np.testing.assert_array_equal(reader.read(REGION), c.read(REGION))
    assert reader.verify().ok


@pytest.mark.parametrize("write", ["set_if_not_exists", "delete_dir", "clear"])
def test_the_read_only_views_refuse_every_write(write):
    import asyncio

    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import MemoryStore

    from imkerutils.tiling.committed import CommittedView
    from imkerutils.tiling.readonly import ReadOnlyWrapper

    for view_of in (CommittedView, ReadOnlyWrapper):  # LegacyView is a ReadOnlyWrapper too
        inner = MemoryStore()
        asyncio.run(inner.set("a/b", default_buffer_prototype().buffer.from_bytes(b"x")))
        view = view_of(inner)
        call = {
            "set_if_not_exists": lambda v=view: v.set_if_not_exists(
                "a/c", default_buffer_prototype().buffer.from_bytes(b"y")
            ),
            "delete_dir": lambda v=view: v.delete_dir("a"),
            "clear": lambda v=view: v.clear(),
        }[write]
        with pytest.raises(PermissionError):
            asyncio.run(call())
        assert sorted(inner._store_dict) == ["a/b"]
