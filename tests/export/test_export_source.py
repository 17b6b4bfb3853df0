"""Exports read a ``CanvasSource``, declared, not probed (issue 18 point 2).

The source here is :class:`imkerutils.testing.source.ArraySource`, one NumPy array and no Zarr at
all; every file is read back by an independent reader (tifffile, Pillow, zarr) and compared pixel
for pixel with references computed here from the array (box means for coarser levels).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr
from PIL import Image

import imkerutils.tiling.export
from imkerutils.errors import InvalidTileError
from imkerutils.testing.source import ArraySource
from imkerutils.tiling import Window
from imkerutils.tiling.export import export_region

TILE = 64
ORIGIN = (-70, -130)  # the array's top-left in world coordinates
SHAPE = (300, 400)
REGION = Window(-90, -140, 260, 300)  # crosses the bounds' top-left corner


def pixels(channels: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*SHAPE, channels), dtype=np.uint8)


def world(array: np.ndarray, w: Window) -> np.ndarray:
    """World window ``w`` of ``array`` placed at ``ORIGIN``, background 0 outside: a padded slice."""
    pad = 2048
    big = np.pad(array, ((pad, pad), (pad, pad), (0, 0)))
    r, c = w.row_off - ORIGIN[0] + pad, w.col_off - ORIGIN[1] + pad
    return big[r : r + w.height, c : c + w.width]


def box_mean(array: np.ndarray, row: int, col: int, height: int, width: int, f: int) -> np.ndarray:
    """``height x width`` output pixels, each the mean (halves up) of the ``f x f`` world block from ``(row, col)``."""
    block = world(array, Window(row, col, height * f, width * f)).astype(np.uint64)
    sums = block.reshape(height, f, width, f, array.shape[2]).sum(axis=(1, 3))
    return ((sums + f * f // 2) // (f * f)).astype(np.uint8)


@pytest.mark.parametrize("channels", [3, 4], ids=["RGB", "RGBA"])
def test_tiff_pyramid_from_an_array_source(tmp_path: Path, channels: int) -> None:
    array = pixels(channels)
    source = ArraySource(array, *ORIGIN, tile=TILE)
    out = export_region(source, tmp_path / "s.tif", region=REGION, pyramid=True, compression="zstd", progress=False)
    with tifffile.TiffFile(out) as tif:
        pages = [(json.loads(p.description)["imkerutils"], p.asarray(), (p.tilelength, p.tilewidth)) for p in tif.pages]
    assert [meta["level"] for meta, _, _ in pages] == [0, 1, 2, 3]
    assert all(tiles == (TILE, TILE) for _, _, tiles in pages)
    for meta, back, _ in pages:
        f = 2 ** meta["level"]
        h, w = -(-REGION.height // f), -(-REGION.width // f)  # each level halves the first exactly (TIFF)
        np.testing.assert_array_equal(back, box_mean(array, REGION.row_off, REGION.col_off, h, w, f))


def test_png_from_an_array_source_at_levels_0_and_1(tmp_path: Path) -> None:
    array = pixels(4, seed=1)
    source = ArraySource(array, *ORIGIN, tile=TILE)
    full = export_region(source, tmp_path / "s.png", region=REGION, progress=False)
    half = export_region(source, tmp_path / "h.png", region=REGION, level=1, progress=False)
    with Image.open(full) as im:
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im), world(array, REGION))
    with Image.open(half) as im:  # level 1 on the world grid: pixel (i, j) is world block (2i, 2j)
        lw = Window.from_bounds(-45, -70, (REGION.row_end + 1) // 2, (REGION.col_end + 1) // 2)
        np.testing.assert_array_equal(np.asarray(im), box_mean(array, -90, -140, lw.height, lw.width, 2))


def test_ome_zarr_and_webp_from_an_array_source(tmp_path: Path) -> None:
    array = pixels(3, seed=2)
    source = ArraySource(array, *ORIGIN, tile=TILE, name="meadow")
    out = export_region(source, tmp_path / "s.ome.zarr", pyramid=True, progress=False)  # default: the bounds
    group = zarr.open_group(out, mode="r")
    assert group.attrs["ome"]["multiscales"][0]["name"] == "meadow"  # named after the source's location
    b = source.bounds
    for k in range(3):
        f = 2**k
        top, left = b.row_off // f, b.col_off // f
        h, w = -(-b.row_end // f) - top, -(-b.col_end // f) - left
        back = np.moveaxis(np.asarray(group[str(k)][:]), 0, 2)
        np.testing.assert_array_equal(back, box_mean(array, top * f, left * f, h, w, f))
    webp = export_region(source, tmp_path / "s.webp", region=REGION, progress=False)
    with Image.open(webp) as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), world(array, REGION))


class Counting(ArraySource):
    """An array source that counts the pyramid updates it is asked for."""

    def __init__(self, array: np.ndarray, *, read_only: bool) -> None:
        super().__init__(array, *ORIGIN, tile=TILE)
        self.read_only = read_only
        self.updates = 0

    def update_pyramid(self) -> int:
        self.updates += 1
        return 0


def test_the_pyramid_is_updated_only_on_a_writable_source_and_only_for_coarser_levels(tmp_path: Path) -> None:
    writable, read_only = Counting(pixels(3), read_only=False), Counting(pixels(3), read_only=True)
    export_region(writable, tmp_path / "l0.png", progress=False)
    assert writable.updates == 0  # level 0 only: nothing to update
    export_region(writable, tmp_path / "w.tif", pyramid=True, progress=False)
    export_region(read_only, tmp_path / "r.tif", pyramid=True, progress=False)
    assert (writable.updates, read_only.updates) == (1, 0)


def test_array_source_refuses_what_no_canvas_holds() -> None:
    with pytest.raises(InvalidTileError):
        ArraySource(np.zeros((4, 4), np.uint8))
    with pytest.raises(InvalidTileError):
        ArraySource(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(InvalidTileError):
        ArraySource(np.zeros((4, 4, 3), np.float32))


def test_no_export_module_probes_its_canvas() -> None:
    """No ``getattr`` / ``hasattr`` on the canvas and no ``canvas: Any`` anywhere in the export package."""
    package = Path(imkerutils.tiling.export.__file__).parent
    found = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            probe = (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == "canvas"
            )
            untyped = (
                isinstance(node, ast.arg)
                and node.arg == "canvas"
                and ast.unparse(node.annotation or node) in ("Any", "canvas")
            )
            if probe or untyped:
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert found == []


def test_an_abandoned_prefetch_closes_without_waiting_for_its_reads() -> None:
    """Closing it (as the garbage collector does, on any thread) must not wait for reads still running.

    A CI run hung when a failed export's prefetch was collected on zarr's event-loop thread: its pool
    waited for reads that needed that very loop.  Here a read blocks until the close has returned.
    """
    import threading

    from imkerutils.tiling.export._source import prefetched

    release = threading.Event()

    def read(w: Window) -> int:
        if w.row_off > 0:
            release.wait(30)
        return w.row_off

    windows = [Window(r, 0, 1, 1) for r in range(4)]
    gen = prefetched(read, windows, ahead=2)
    assert next(gen) == (windows[0], 0)  # the read of window 1 is now blocked
    closer = threading.Thread(target=gen.close)
    closer.start()
    closer.join(10)
    closed = not closer.is_alive()
    release.set()
    closer.join()
    assert closed, "closing the prefetch waited for a read still running"
