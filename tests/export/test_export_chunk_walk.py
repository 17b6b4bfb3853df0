"""The TIFF export's walk over stored chunks is the frame's one iterator (issue 13 point 5).

``LevelChunks.walk`` projects an export band onto world tiles with :func:`imkerutils.tiling.frame.project`
and names a chunk only where the whole chunk is the export tile.  Checked against an independent model of
the grid (tile boundaries at multiples of the tile, keys as the files on disk), and across a rebase, where
only the frame changes and the export still copies the stored bytes.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import numpy as np
import tifffile
from hypothesis import given
from hypothesis import strategies as st

from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.export import _chunks, export_region
from imkerutils.tiling.export._plan import LevelRegion
from imkerutils.tiling.frame import project

if TYPE_CHECKING:
    from pathlib import Path

TILE = 64
BOUNDS = Window(-100, -150, 300, 420)  # content off the tile grid on every side


def _pixels(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 3 + y) // 4, (y * 5) // 7, (x + y) // 3], axis=-1)
    return ((base + rng.integers(0, 4, base.shape)) % 256).astype(np.uint8)


def _canvas(tmp_path: Path) -> Canvas:
    canvas = Canvas.create(tmp_path / f"{uuid.uuid4().hex}.zarr", tile=TILE)
    canvas.paste(_pixels(BOUNDS.height, BOUNDS.width, 1), BOUNDS.row_off, BOUNDS.col_off, extend=True)
    return canvas


_CANVAS: dict[str, Canvas] = {}


@given(
    ti=st.integers(-4, 5),
    tj=st.integers(-5, 6),
    rows=st.integers(1, TILE),
    tiles=st.integers(1, 9),
    extra=st.integers(0, TILE - 1),
)
def test_the_walk_is_project_with_keys_of_whole_chunks_inside_the_bounds(
    tmp_path_factory, ti: int, tj: int, rows: int, tiles: int, extra: int
) -> None:
    if "c" not in _CANVAS:
        _CANVAS["c"] = _canvas(tmp_path_factory.mktemp("walk"))
    canvas = _CANVAS["c"]
    region = Window(ti * TILE, tj * TILE, TILE, tiles * TILE + extra)
    chunks = _chunks.LevelChunks.find(canvas, LevelRegion(0, region), TILE)
    if region.intersection(canvas.bounds) is None:
        assert chunks is None
        return
    assert chunks is not None
    band = Window(region.row_off, region.col_off, rows, region.width)
    steps = chunks.walk(band)
    assert [s.projection for s in steps] == list(project(band, TILE))
    # independent model: tiles at multiples of TILE; a key where the tile is full-size and inside the bounds
    expect_tiles = [(ti, j) for j in range(tj, tj + tiles + (1 if extra else 0))]
    assert [s.projection.tile for s in steps] == expect_tiles
    for s, (i, j) in zip(steps, expect_tiles, strict=True):
        tw = Window(i * TILE, j * TILE, TILE, TILE)
        whole = rows == TILE and region.contains(tw) and canvas.bounds.contains(tw)
        assert (s.key is not None) == whole
        if s.key is not None:
            assert (canvas.path / s.key).is_file()  # a written tile: its chunk file is there
            assert chunks.get_many([s.key]) == [(canvas.path / s.key).read_bytes()]


def test_after_a_rebase_the_walk_names_the_new_arrays_and_the_export_copies_their_chunks(tmp_path: Path) -> None:
    canvas = _canvas(tmp_path)
    gen0 = canvas.frame.generation
    canvas.paste(_pixels(TILE, 64 * TILE, 2), 0, BOUNDS.col_off - 64 * TILE, extend=True)  # far left: a rebase
    assert canvas.frame.generation > gen0
    region = Window(0, -40 * TILE, TILE, 4 * TILE)
    chunks = _chunks.LevelChunks.find(canvas, LevelRegion(0, region), TILE)
    assert chunks is not None
    steps = chunks.walk(region)
    assert [s.key for s in steps] == [canvas.frame.chunk_key(0, 0, j) for j in range(-40, -36)]
    assert all(s.key is not None and s.key.startswith(canvas.frame.path(0) + "/") for s in steps)
    out = export_region(canvas, tmp_path / "r.tif", region=region, compression="zstd", progress=False)
    with tifffile.TiffFile(out) as tif:
        page = tif.pages[0]
        assert np.array_equal(page.asarray(), canvas.read(region))
        fh = tif.filehandle
        stored = []
        for offset, count in zip(page.dataoffsets, page.databytecounts, strict=True):
            fh.seek(offset)
            stored.append(fh.read(count))
    assert stored == [(canvas.path / s.key).read_bytes() for s in steps if s.key is not None]
