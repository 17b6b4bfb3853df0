"""A read-only canvas never hands out stale pyramid chunks (the random sequences are in test_pyramid.py)."""

import numpy as np

from imkerutils.tiling import Canvas
from imkerutils.tiling.export import export_region


def test_read_only_export_of_a_stale_level_is_current(tmp_path):
    import tifffile

    canvas = Canvas.create(tmp_path / "c.zarr", height=64, width=64, tile=16)
    canvas.paste(np.full((64, 64, 3), 100, np.uint8), 0, 0)
    canvas.update_pyramid()
    canvas.paste(np.full((16, 16, 3), 9, np.uint8), 16, 16)  # leaves dirty tiles behind
    ro = Canvas.open(tmp_path / "c.zarr", read_only=True)
    assert ro.level_array(1) is None  # no caller may copy its stale chunks
    export_region(ro, tmp_path / "l1.tif", level=1, progress=False)
    got = tifffile.imread(tmp_path / "l1.tif")
    assert got[8:16, 8:16].tolist() == np.full((8, 8, 3), 9).tolist()
    assert got[0, 0].tolist() == [100, 100, 100]
    np.testing.assert_array_equal(got, canvas.read(canvas.level_bounds(1), 1))
