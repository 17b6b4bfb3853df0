"""A read-only canvas reads coarser levels as an up-to-date pyramid would hold them, writing nothing."""

import hashlib
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.export import export_region


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def margin(w: Window, m: int) -> Window:
    return Window(w.row_off - m, w.col_off - m, w.height + 2 * m, w.width + 2 * m)


ops = st.lists(
    st.tuples(
        st.sampled_from(["paste", "paste", "grow", "undo", "update"]),
        st.integers(-70, 70),
        st.integers(-70, 70),
        st.integers(1, 40),
        st.integers(1, 40),
        st.integers(0, 2**32 - 1),
    ),
    min_size=1,
    max_size=7,
)


@settings(max_examples=15)
@given(ops=ops, mode=st.sampled_from(["RGB", "RGBA"]))
def test_read_only_levels_equal_updated_levels(tmp_path_factory, ops, mode):
    path = tmp_path_factory.mktemp("pyr-ro") / "c.zarr"
    canvas = Canvas.create(path, mode=mode, height=20, width=20, tile=8)
    for op, row, col, h, w, seed in ops:
        if op == "paste":
            pixels = np.random.default_rng(seed).integers(0, 256, (h, w, len(mode)), dtype=np.uint8)
            canvas.paste(pixels, row, col, grow=True)
        elif op == "grow":
            canvas.grow(Window(row, col, h, w))
        elif op == "undo" and canvas.head > 0:
            canvas.undo()
        elif op == "update":
            canvas.update_pyramid()
    before = tree_digest(path)
    ro = Canvas.open(path, read_only=True)
    seen = {level: ro.read(margin(ro.level_bounds(level), 9), level) for level in range(1, ro.levels)}
    assert tree_digest(path) == before, "a read-only read wrote to the store"
    for level, pixels in seen.items():
        expected = canvas.read(margin(canvas.level_bounds(level), 9), level)  # updates the pyramid first
        np.testing.assert_array_equal(pixels, expected, err_msg=f"level {level}")


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
