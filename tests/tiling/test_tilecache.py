"""Canvas.caching_tiles: inside the block each stored chunk is decoded once, and reads stay exact."""

from __future__ import annotations

import imagecodecs
import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.pipeline import GrowSettings, grow_step
from imkerutils.testing.layout import recompress_level0
from imkerutils.testing.strategies import windows
from imkerutils.tiling import Canvas, Window

TILE = 16
CONTENT = Window(-20, -30, 70, 80)  # negative offsets; crosses tile lines on every side


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every zstd decode of a stored chunk, by the size of its bytes (one entry a decode)."""
    seen: list[int] = []
    real = imagecodecs.zstd_decode

    def counting(data: bytes, *args: object, **kwargs: object) -> bytes:
        seen.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(imagecodecs, "zstd_decode", counting)
    return seen


@pytest.fixture(scope="module")
def canvas(tmp_path_factory: pytest.TempPathFactory) -> Canvas:
    c = Canvas.create(tmp_path_factory.mktemp("cache") / "c", mode="RGB", tile=TILE)
    pixels = np.random.default_rng(3).integers(0, 256, (*CONTENT.shape, 3), dtype=np.uint8)
    c.paste(pixels, CONTENT.row_off, CONTENT.col_off, extend=True)
    return c


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(window=windows(max_size=120))
def test_reads_inside_the_block_equal_reads_outside(canvas: Canvas, window: Window) -> None:
    expected = canvas.read(window)
    with canvas.caching_tiles():
        first, again = canvas.read(window), canvas.read(window)
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(again, expected)
    assert first.flags.writeable  # a fresh array, as outside the block
    assert first is not again


def test_each_stored_tile_is_decoded_once_inside_the_block(canvas: Canvas, decodes: list[int]) -> None:
    window = Window(0, 0, 2 * TILE, 2 * TILE)  # four whole stored tiles
    with canvas.caching_tiles():
        for _ in range(3):
            canvas.read(window)
        canvas.read(Window(5, 5, TILE, TILE))  # the same four tiles again
    assert len(decodes) == 4


def test_writes_and_undo_inside_the_block_are_seen_by_its_reads(tmp_path) -> None:
    c = Canvas.create(tmp_path / "c", mode="RGB", tile=TILE)
    before = np.full((2 * TILE, 2 * TILE, 3), 7, np.uint8)
    c.paste(before, 0, 0, extend=True)
    patch = np.full((5, 9, 3), 200, np.uint8)
    with c.caching_tiles():
        np.testing.assert_array_equal(c.read(c.bounds), before)
        c.paste(patch, 10, 12)  # crosses four tiles
        after = before.copy()
        after[10:15, 12:21] = 200
        np.testing.assert_array_equal(c.read(c.bounds), after)
        c.undo()
        np.testing.assert_array_equal(c.read(c.bounds), before)
        c.redo()
        np.testing.assert_array_equal(c.read(c.bounds), after)
        with c.caching_tiles():  # nested: the same tiles
            np.testing.assert_array_equal(c.read(c.bounds), after)
    np.testing.assert_array_equal(c.read(c.bounds), after)


@given(capacity_reads=st.lists(st.tuples(st.integers(-2, 5), st.integers(-2, 6)), min_size=1, max_size=30))
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_few_tiles_are_kept_at_most(canvas: Canvas, capacity_reads: list[tuple[int, int]]) -> None:
    with canvas.caching_tiles():
        for i, j in capacity_reads:
            canvas.read(Window(i * TILE, j * TILE, TILE, TILE))
            assert len(canvas._storage.tiles._tiles) <= 4


def test_a_growth_step_decodes_each_stored_chunk_once(tmp_path, decodes: list[int]) -> None:
    c = Canvas.create(tmp_path / "c", height=1024, width=1024)
    c.paste(np.random.default_rng(0).integers(0, 256, (1024, 1536, 3), dtype=np.uint8), 0, 0, extend=True)
    decodes.clear()
    grow_step(c, "right", MockGenerator(), GrowSettings(seed=1, save_artifacts=False))
    # the reference tile (cols 1024..2048), its band (1024..1536) and the merge of the half-new chunk all
    # meet stored chunk (0, 1) alone: it is decoded once (it was read three times before the step kept it)
    assert len(decodes) == 1


@pytest.mark.parametrize(
    "compressor",
    [zarr.codecs.GzipCodec(level=1), zarr.codecs.ZstdCodec(level=0, checksum=True)],
    ids=["gzip", "zstd-checksum"],
)
def test_a_level_with_other_codecs_is_read_and_written_by_zarr_inside_the_block(tmp_path, compressor) -> None:
    """A canvas made elsewhere may store level 0 with other codecs: its chunks are zarr's, never our zstd frame."""
    c = Canvas.create(tmp_path / "c", tile=TILE)
    recompress_level0(c.path, compressor)
    c = Canvas.open(c.path)
    pixels = np.random.default_rng(5).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    with c.caching_tiles():
        c.paste(pixels, -7, -9, extend=True)
        np.testing.assert_array_equal(c.read(c.bounds), pixels)
        c.paste(pixels[:10, :10], 0, 0)  # merged into stored chunks read inside the block
    expected = pixels.copy()
    expected[7:17, 9:19] = pixels[:10, :10]
    np.testing.assert_array_equal(
        zarr.open_array(str(c.path / c.frame.path(0)))[:].transpose(1, 2, 0)[c.frame.to_array(c.bounds).slices()],
        expected,
    )


def test_a_decode_that_a_write_overlaps_is_not_kept() -> None:
    """A write landing while a tile is decoded (another thread) must not leave the replaced bytes kept."""
    from imkerutils.tiling.grid import TileGrid
    from imkerutils.tiling.tilecache import TileCache

    stored = {(0, 0): np.zeros((TILE, TILE, 3), np.uint8)}
    decoded: list[tuple[int, int]] = []
    cache: TileCache

    def read_tile(i: int, j: int) -> np.ndarray:
        decoded.append((i, j))
        old = stored[(i, j)].copy()
        if len(decoded) == 1:  # the writer's turn, between this decode and its being kept
            stored[(i, j)] = np.full((TILE, TILE, 3), 9, np.uint8)
            cache.forget((i, j))
        return old

    cache = TileCache(read_tile, TileGrid(TILE), 3)
    assert not cache.tile(0, 0).any()  # what was stored when the read began
    assert (cache.tile(0, 0) == 9).all()  # decoded again, not the replaced bytes
    assert decoded == [(0, 0), (0, 0)]
