"""TIFF tiles that are whole canvas chunks: stored zstd bytes passed through, or decoded and re-encoded.

Every export is read back pixel for pixel with tifffile (and libvips where pyvips is installed); the
pass-through is checked against the chunk bytes read independently, from the store's files.
"""

from __future__ import annotations

import functools
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import imagecodecs
import numpy as np
import pytest
import tifffile
import zarr

from imkerutils.errors import CanvasCorruptError
from imkerutils.testing.layout import recompress_level0
from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.export import _chunks, export_region, tiff
from imkerutils.tiling.export._plan import Compression, LevelRegion, level_window

if TYPE_CHECKING:
    from collections.abc import Callable

TILE = 64


def smooth(height: int, width: int, channels: int, seed: int = 0) -> np.ndarray:
    """Compressible pixels (gradients plus a little noise): zstd levels give different bytes on them."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 3 + y) // 4, (y * 5) // 7, (x + y) // 3, 255 - x // 2][:channels], axis=-1)
    return ((base + rng.integers(0, 4, base.shape)) % 256).astype(np.uint8)


def smooth_canvas(
    tmp_path: Path, mode: str = "RGB", row: int = -64, col: int = -128, height: int = 300, width: int = 400
) -> Canvas:
    canvas = Canvas.create(tmp_path / f"{uuid.uuid4().hex}.zarr", mode=mode, tile=TILE)
    canvas.paste(smooth(height, width, len(mode)), row, col, extend=True)
    return canvas


def tiff_tiles(path: Path, page: int = 0, level: int = 0) -> tuple[tifffile.TiffPage, list[bytes]]:
    """A page's (or the ``level``-th coarser page after it) tile bytes as stored in the file, row-major."""
    with tifffile.TiffFile(path) as tif:
        p = tif.pages[page + level]
        fh = tif.filehandle
        out = []
        for offset, count in zip(p.dataoffsets, p.databytecounts, strict=True):
            fh.seek(offset)
            out.append(fh.read(count))
        return p, out


def stored_chunk(canvas: Canvas, level: int, row: int, col: int) -> bytes | None:
    """The stored bytes of the level-``level`` chunk whose top-left is level pixel (row, col), from the files."""
    path = canvas.path / canvas.frame.chunk_key(level, row // TILE, col // TILE)
    return path.read_bytes() if path.exists() else None


def tile_windows(window: Window) -> list[Window]:
    return [
        Window(r, c, TILE, TILE)
        for r in range(window.row_off, window.row_end, TILE)
        for c in range(window.col_off, window.col_end, TILE)
    ]


@functools.cache
def _vips_reads_zstd_tiff() -> bool:
    """Whether this libvips's libtiff decodes zstd tiles (the pyvips-binary wheel's does not: it reads zeros)."""
    import tempfile

    import pyvips

    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.tif"
        tifffile.imwrite(probe, np.full((16, 16, 3), 7, np.uint8), tile=(16, 16), compression="zstd")
        im = pyvips.Image.new_from_file(str(probe))
        return bool(im.min() == 7)


def vips_read(path: Path) -> np.ndarray | None:
    """The first page as libvips's TIFF reader sees it, or ``None`` without pyvips (or zstd support)."""
    try:
        import pyvips
    except (ImportError, OSError):
        return None
    with tifffile.TiffFile(path) as tif:
        zstd = tif.pages[0].compression == 50000
    if zstd and not _vips_reads_zstd_tiff():
        return None
    im = pyvips.Image.new_from_file(str(path), access="sequential")
    return np.ndarray(buffer=im.write_to_memory(), dtype=np.uint8, shape=(im.height, im.width, im.bands))


def check_pixels(path: Path, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(tifffile.imread(path), expected)
    vips = vips_read(path)
    if vips is not None:
        np.testing.assert_array_equal(vips, expected)


@pytest.fixture
def encoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the tiles the TIFF writer encodes (a tile passed through is not encoded)."""
    calls: list[int] = []
    real = tiff._encoder

    def counting(compression: Compression) -> Callable[[np.ndarray], bytes] | None:
        encode = real(compression)
        if encode is None:
            return None

        def counted(t: np.ndarray) -> bytes:
            calls.append(1)
            return encode(t)

        return counted

    monkeypatch.setattr(tiff, "_encoder", counting)
    return calls


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
@pytest.mark.parametrize("compression", ["deflate", "zstd", "zstd:3"])
def test_whole_chunks_inside_the_bounds_are_copied_as_stored(
    tmp_path: Path, out_dir: Path, encoded: list[int], mode: str, compression: str
) -> None:
    canvas = smooth_canvas(tmp_path, mode)  # bounds rows -64..236, cols -128..272: the last row/column are cut
    out = export_region(canvas, out_dir / "w.tif", compression=compression, progress=False)
    check_pixels(out, canvas.read(canvas.bounds))
    page, tiles = tiff_tiles(out)
    zstd = compression.startswith("zstd")
    assert page.compression == (50000 if zstd else 8)
    windows = tile_windows(canvas.bounds)
    whole = [w for w in windows if canvas.bounds.contains(w)]
    assert len(tiles) == len(windows) == 5 * 7
    assert len(whole) == 4 * 6
    for w, data in zip(windows, tiles, strict=True):
        if w in whole and zstd:
            assert data == stored_chunk(canvas, 0, w.row_off, w.col_off), w
    assert len(encoded) == (len(windows) - len(whole) if zstd else len(windows))


def test_a_region_off_the_chunk_grid_is_re_encoded(tmp_path: Path, out_dir: Path) -> None:
    canvas = smooth_canvas(tmp_path)
    region = Window(-60, -100, 250, 330)  # not on multiples of 64
    out = export_region(canvas, out_dir / "o.tif", region=region, compression="zstd", progress=False)
    check_pixels(out, canvas.read(region))
    _, tiles = tiff_tiles(out)
    stored = {
        c
        for w in tile_windows(Window(-128, -192, 448, 576))
        if (c := stored_chunk(canvas, 0, w.row_off, w.col_off)) is not None
    }
    assert stored
    assert not stored & set(tiles)


def test_a_region_past_the_bounds_with_unwritten_chunks(tmp_path: Path, out_dir: Path, encoded: list[int]) -> None:
    canvas = smooth_canvas(tmp_path, row=-64, col=-128, height=128, width=192)
    canvas.extend(Window(-64, -128, 320, 448))  # chunks inside the bounds that were never written
    canvas.paste(smooth(64, 64, 3, seed=5), 128, 192)  # one more chunk, apart from the others
    region = Window(-192, -256, 640, 768)  # on the chunk grid, reaching past the bounds on every side
    out = export_region(canvas, out_dir / "b.tif", region=region, compression="zstd", progress=False)
    expected = canvas.read(region)
    check_pixels(out, expected)
    _, tiles = tiff_tiles(out)
    written = {(w.row_off, w.col_off): stored_chunk(canvas, 0, w.row_off, w.col_off) for w in tile_windows(region)}
    background = imagecodecs.zstd_encode(np.zeros((TILE, TILE, 3), np.uint8), level=3)
    passed = 0
    for w, data in zip(tile_windows(region), tiles, strict=True):
        stored = written[(w.row_off, w.col_off)]
        if stored is not None:
            assert data == stored, w  # every written chunk here lies inside the bounds
            passed += 1
        elif canvas.bounds.contains(w):
            assert data == background, w  # an unwritten chunk: background, encoded once
    assert passed == 2 * 3 + 1
    assert len(encoded) == 10 * 12 - 5 * 7 + 1  # the tiles outside the bounds, and the background once


@pytest.mark.parametrize("level", [6, 19])
def test_an_explicit_zstd_level_other_than_the_canvas_s_is_honoured(tmp_path: Path, out_dir: Path, level: int) -> None:
    canvas = smooth_canvas(tmp_path)
    region = Window(-64, -128, 256, 384)  # whole chunks only
    out = export_region(canvas, out_dir / "l.tif", region=region, compression=f"zstd:{level}", progress=False)
    check_pixels(out, canvas.read(region))
    _, tiles = tiff_tiles(out)
    differ = 0
    for w, data in zip(tile_windows(region), tiles, strict=True):
        stored = stored_chunk(canvas, 0, w.row_off, w.col_off)
        pixels = np.ascontiguousarray(canvas.read(w))
        assert data == imagecodecs.zstd_encode(pixels, level=level)
        differ += data != stored
    assert differ == len(tiles)  # on these pixels every tile at this level differs from the stored chunk


@pytest.mark.parametrize("compression", ["zstd", "zstd:9", "deflate:6", "none"])
@pytest.mark.parametrize("chunks", ["pass", "decode", "zarr"])
def test_every_way_of_reading_chunks_gives_the_same_file_contents(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch, compression: str, chunks: str
) -> None:
    canvas = smooth_canvas(tmp_path, "RGBA")
    monkeypatch.setattr(tiff, "_CHUNKS", chunks)
    region = Window(-128, -192, 448, 576)
    out = export_region(canvas, out_dir / "m.tif", region=region, compression=compression, progress=False)
    check_pixels(out, canvas.read(region))
    _, tiles = tiff_tiles(out)
    inside = [w for w in tile_windows(region) if canvas.bounds.contains(w)]
    stored = {stored_chunk(canvas, 0, w.row_off, w.col_off) for w in inside}
    if chunks == "pass" and compression == "zstd":
        assert sum(t in stored for t in tiles) == len(inside)
    if compression == "deflate:6":  # re-encoded by the same call whichever way the pixels were read
        for w, data in zip(tile_windows(region), tiles, strict=True):
            assert data == imagecodecs.deflate_encode(np.ascontiguousarray(canvas.read(w)), level=6)


def test_pyramid_levels_copy_the_canvas_pyramid_chunks(
    tmp_path: Path, out_dir: Path, box_mean, encoded: list[int]
) -> None:
    canvas = smooth_canvas(tmp_path, row=-512, col=-512, height=700, width=900)
    out = export_region(canvas, out_dir / "p.tif", compression="zstd", pyramid=True, progress=False)
    with tifffile.TiffFile(out) as tif:
        arrays = [lvl.asarray() for lvl in tif.series[0].levels]
    assert [a.shape[:2] for a in arrays] == [(700, 900), (350, 450), (175, 225), (88, 113), (44, 57)]
    for k, arr in enumerate(arrays):
        np.testing.assert_array_equal(arr, box_mean(canvas, level_window(canvas.bounds, k), k), err_msg=f"level {k}")
    total = passed_all = 0
    for k in range(5):  # level 4 starts at pixel -32, off the chunk grid
        lb = level_window(canvas.bounds, k)
        _page, tiles = tiff_tiles(out, level=k)
        total += len(tiles)
        if k == 4:
            break
        passed = 0
        for w, data in zip(tile_windows(lb), tiles, strict=True):
            if lb.contains(w):
                assert data == stored_chunk(canvas, k, w.row_off, w.col_off), (k, w)
                passed += 1
        assert passed == (lb.height // TILE) * (lb.width // TILE) > 0
        passed_all += passed
    assert len(encoded) == total - passed_all


def test_a_coarser_level_alone(tmp_path: Path, out_dir: Path, box_mean) -> None:
    canvas = smooth_canvas(tmp_path, "RGBA", row=-512, col=-512, height=700, width=900)
    region = Window(-512, -512, 600, 700)
    out = export_region(canvas, out_dir / "c.tif", region=region, level=1, compression="zstd", progress=False)
    lw = level_window(region, 1)
    check_pixels(out, box_mean(canvas, lw, 1))
    _, tiles = tiff_tiles(out)
    assert tiles[0] == stored_chunk(canvas, 1, lw.row_off, lw.col_off)


def _canvas_with_codec(path: Path, compressor: Any) -> Canvas:
    """An empty canvas whose level 0 stores its chunks with ``compressor`` (in the canvas's own layout)."""
    canvas = Canvas.create(path, tile=TILE)
    recompress_level0(canvas.path, compressor)
    return Canvas.open(canvas.path)


def test_chunks_with_a_zstd_checksum_pass_through_and_read_back(tmp_path: Path, out_dir: Path) -> None:
    canvas = _canvas_with_codec(tmp_path / "sum.zarr", zarr.codecs.ZstdCodec(level=0, checksum=True))
    canvas.paste(smooth(192, 256, 3), 0, 0, extend=True)
    out = export_region(canvas, out_dir / "s.tif", compression="zstd", progress=False)
    check_pixels(out, canvas.read(canvas.bounds))
    _, tiles = tiff_tiles(out)
    stored = stored_chunk(canvas, 0, 0, 0)
    assert stored is not None
    assert tiles[0] == stored
    assert stored[4] & 0x04


def test_other_chunk_codecs_are_decoded_by_zarr(tmp_path: Path, out_dir: Path) -> None:
    canvas = _canvas_with_codec(tmp_path / "gz.zarr", zarr.codecs.GzipCodec(level=1))
    canvas.paste(smooth(192, 256, 3), 0, 0, extend=True)
    assert _chunks.LevelChunks.find(canvas, LevelRegion(0, canvas.bounds), TILE) is None
    out = export_region(canvas, out_dir / "g.tif", compression="zstd", progress=False)
    check_pixels(out, canvas.read(canvas.bounds))


def test_find_refuses_grids_the_chunks_do_not_tile(tmp_path: Path) -> None:
    canvas = smooth_canvas(tmp_path)
    find = _chunks.LevelChunks.find
    assert find(canvas, LevelRegion(0, Window(-64, -128, 128, 128)), TILE) is not None
    assert find(canvas, LevelRegion(0, Window(-63, -128, 128, 128)), TILE) is None  # off the grid
    assert find(canvas, LevelRegion(0, Window(-64, -128, 128, 128)), 2 * TILE) is None  # other tile size
    assert find(canvas, LevelRegion(1, Window(0, 0, 64, 64), (1, 0)), TILE) is None  # averaged, not stored
    assert find(canvas, LevelRegion(9, Window(0, 0, 64, 64)), TILE) is None  # beyond the pyramid
    assert find(canvas, LevelRegion(0, Window(1024, 1024, 64, 64)), TILE) is None  # outside the bounds


def test_a_damaged_chunk_fails_the_export_and_leaves_nothing(tmp_path: Path, out_dir: Path) -> None:
    canvas = smooth_canvas(tmp_path)
    (canvas.path / canvas.frame.chunk_key(0, 0, 0)).write_bytes(b"not a zstd frame")
    with pytest.raises(CanvasCorruptError, match="not a zstd frame"):
        export_region(canvas, out_dir / "d.tif", compression="zstd", progress=False)
    assert list(out_dir.iterdir()) == []


def test_a_canvas_on_an_fsspec_store_passes_chunks_through(out_dir: Path, encoded: list[int]) -> None:
    import fsspec

    location = f"memory://imkerutils-tests/{uuid.uuid4().hex}"
    canvas = Canvas.create(location, tile=TILE)
    canvas.paste(smooth(192, 320, 3), -64, 0, extend=True)
    out = export_region(canvas, out_dir / "f.tif", compression="zstd", progress=False)
    check_pixels(out, canvas.read(canvas.bounds))
    _, tiles = tiff_tiles(out)
    assert encoded == []
    fs = fsspec.filesystem("memory")
    for n, w in enumerate(tile_windows(canvas.bounds)):
        key = canvas.frame.chunk_key(0, w.row_off // TILE, w.col_off // TILE)
        assert tiles[n] == fs.cat(f"{location[len('memory://') :]}/{key}"), w


def test_a_reader_of_a_canvas_with_a_pending_step_copies_the_committed_chunks(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch, encoded: list[int]
) -> None:
    import imkerutils.tiling.step as step_module

    path = tmp_path / "pending.zarr"
    canvas = Canvas.create(path, tile=TILE)
    canvas.paste(smooth(256, 256, 3), 0, 0, extend=True)
    committed = canvas.read(canvas.bounds)
    with monkeypatch.context() as m:  # the writer "dies" after its chunk writes, before the commit
        m.setattr(step_module.Step, "commit", lambda self, writes: self._release())
        canvas.paste(smooth(128, 192, 3, seed=9)[::-1].copy(), 64, 0)
    reader = Canvas.open(path, read_only=True)
    out = export_region(reader, out_dir / "c.tif", compression="zstd", progress=False)
    check_pixels(out, committed)
    assert encoded == []  # every tile is a committed chunk, copied from its journal snapshot where overwritten
