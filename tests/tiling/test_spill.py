"""A spilled strip: written in bands of rows, read back a column block at a time, then its file is gone."""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest

from imkerutils.testing.files import open_files_under
from imkerutils.tiling.spill import SpillFile
from imkerutils.tiling.strips import Cut


@pytest.fixture
def spill_dir(tmp_path, monkeypatch):
    import tempfile

    d = tmp_path / "spill"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return str(d)


def test_bands_written_row_by_row_read_back_as_column_blocks(spill_dir):
    h, w, c = 23, 70, 3
    strip = np.random.default_rng(1).integers(0, 256, (h, w, c), dtype=np.uint8)
    cut = Cut(w, c, 32)  # blocks of 32, 32 and 6 columns
    f = SpillFile(cut, h)
    for r in range(0, h, 5):  # bands of 5 rows (the last one 3), each block's rows written apart
        for k, (x, bw) in enumerate(cut.spans):
            f.write(k, r, np.ascontiguousarray(strip[r : r + 5, x : x + bw]))
    blocks = f.blocks()
    assert [b.shape for b in blocks] == [(h, 32, c), (h, 32, c), (h, 6, c)]
    assert len(open_files_under(spill_dir)) == 1
    for b, (x, bw) in zip(reversed(blocks), reversed(cut.spans), strict=True):  # any order
        np.testing.assert_array_equal(b.read(), strip[:, x : x + bw])
    assert f.closed  # every block read: the file is closed, and being unnamed, gone
    assert open_files_under(spill_dir) == []
    assert os.listdir(spill_dir) == []


def test_a_block_is_read_once_and_a_dropped_strip_closes_its_file(spill_dir):
    f = SpillFile(Cut(8, 3, 4), 2)
    for k in range(2):
        f.write(k, 0, np.zeros((2, 4, 3), np.uint8))
    first, _ = f.blocks()
    first.read()
    with pytest.raises(ValueError, match="already read"):
        first.read()
    assert not f.closed
    del f, first, _
    gc.collect()
    assert open_files_under(spill_dir) == []
