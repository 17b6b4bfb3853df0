"""chunkio writes and reads a tile's chunk itself: the very bytes zarr writes, the very pixels zarr reads.

A growth step, the import and the pyramid all write through :func:`chunkio.write_tile`, so comparing two of
them shows nothing about zarr; these tests compare with zarr's own write and read paths.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.chunkio import read_tile, write_tile

TILE = 16


@pytest.fixture(scope="module", params=["RGB", "RGBA"])
def canvas(request, tmp_path_factory: pytest.TempPathFactory) -> Canvas:
    c = Canvas.create(tmp_path_factory.mktemp("chunkio") / "c", mode=request.param, tile=TILE)
    c.extend(Window(-2 * TILE, -TILE, 4 * TILE, 3 * TILE))  # tiles on both sides of world (0, 0)
    return c


def stored(canvas: Canvas, i: int, j: int) -> bytes | None:
    path = canvas.path / canvas.frame.chunk_key(0, i, j)
    return path.read_bytes() if path.is_file() else None


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ij=st.tuples(st.integers(-2, 1), st.integers(-1, 1)),
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(["noise", "flat", "zero", "one pixel"]),
)
def test_a_written_tile_is_the_chunk_zarr_writes_and_reads_back_as_zarr_reads(canvas, ij, seed, kind):
    c = canvas.channels
    rng = np.random.default_rng(seed)
    block = {
        "noise": lambda: rng.integers(0, 256, (TILE, TILE, c), dtype=np.uint8),
        "flat": lambda: np.full((TILE, TILE, c), rng.integers(1, 256), np.uint8),
        "zero": lambda: np.zeros((TILE, TILE, c), np.uint8),
        "one pixel": lambda: np.pad(np.full((1, 1, c), 9, np.uint8), ((TILE - 1, 0), (3, TILE - 4), (0, 0))),
    }[kind]()
    z, frame, raw = canvas._storage.z, canvas.frame, canvas._storage.raw
    a = frame.to_array(canvas.grid.tile_window(*ij))
    z[:, a.row_off : a.row_end, a.col_off : a.col_end] = block.transpose(2, 0, 1)  # zarr's own write
    by_zarr = stored(canvas, *ij)
    write_tile(raw, frame, z, 0, *ij, block)
    assert stored(canvas, *ij) == by_zarr  # the same bytes, or no file for an all-background tile
    assert (by_zarr is None) == (kind == "zero")
    ours = read_tile(raw, frame, z, 0, *ij)
    np.testing.assert_array_equal(ours, z[:, a.row_off : a.row_end, a.col_off : a.col_end].transpose(1, 2, 0))
    np.testing.assert_array_equal(ours, block)
