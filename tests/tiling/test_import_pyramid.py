"""An import builds its pyramid from the strips: the same chunk bytes as ``update_pyramid``, no chunk read back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from imkerutils.errors import InvalidTileError
from imkerutils.tiling import Canvas, Window, importer, pyramid, strippyramid
from imkerutils.tiling.decode import iter_strips, probe
from imkerutils.tiling.importer import write_strips
from imkerutils.tiling.pyramid import LEVELS_KEY
from imkerutils.tiling.step import manifest_key

if TYPE_CHECKING:
    from pathlib import Path


def _png(tmp_path: Path, h: int, w: int, mode: str, seed: int) -> Path:
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    pixels[: h // 3, : w // 4] = 0  # a background corner: all-zero chunks are not stored, on either path
    out = tmp_path / f"in-{h}x{w}-{mode}.png"
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(out, compress_level=1)
    return out


def _chunks(root: Path, canvas: Canvas) -> dict[str, bytes]:
    """Every stored chunk file of the coarser levels, by relative path, and the pyramid record."""
    out = {}
    for level in range(1, canvas.levels):
        base = root / canvas.frame.path(level)
        out.update({str(p.relative_to(root)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()})
    out[LEVELS_KEY] = (root / LEVELS_KEY).read_bytes()
    return out


def _reference(png: Path, out: Path, tile: int) -> Canvas:
    """The old path: level 0 as one streamed step, then ``update_pyramid`` reads it back and reduces it."""
    info = probe(png, trusted=True)
    window = Window(0, 0, info.height, info.width)
    canvas = Canvas.create(out, mode=info.mode, tile=tile, plan_for=window)
    write_strips(canvas, iter_strips(info, tile), window, {"source": str(png)})
    canvas.update_pyramid()
    return canvas


SIZES = [(1, 1), (63, 200), (64, 64), (65, 129), (128, 256), (300, 70), (70, 300), (257, 511), (1000, 130)]


@pytest.mark.parametrize(("h", "w"), SIZES)
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
@pytest.mark.parametrize("memory", ["roomy", "tight", "spilled"])
def test_imported_pyramid_equals_update_pyramid_chunk_for_chunk(tmp_path, h, w, mode, memory, monkeypatch):
    """Tight: the decoder waits for each strip's tiles (one strip's bytes), every row of tops goes to a file.

    Spilled: every strip waits in a temporary file, each tile read back by its task.
    """
    png = _png(tmp_path, h, w, mode, seed=h * 7919 + w)
    ref = _reference(png, tmp_path / "ref", 64)
    if memory == "tight":
        monkeypatch.setattr(importer, "STRIP_BUDGET", 0)
        monkeypatch.setattr(strippyramid, "_TOPS_IN_MEMORY", 0)
    if memory == "spilled":
        monkeypatch.setattr(importer, "SPILL_ABOVE", 0)
    read_back: list[tuple[int, int, int]] = []
    real = pyramid.reduce_tile

    def spy(raw, frame, src, dst, level, i, j):
        read_back.append((level, i, j))
        real(raw, frame, src, dst, level, i, j)

    monkeypatch.setattr(pyramid, "reduce_tile", spy)
    got = Canvas.from_image(png, tmp_path / "got", trusted=True, tile=64)
    assert read_back == []  # the levels came from the strips, not from level-0 chunks read back
    assert got.levels == ref.levels
    assert got.frame == ref.frame
    assert got._storage.pyramid.dirty() == set()
    assert got._storage.pyramid.built_levels() == got.levels
    want, have = _chunks(tmp_path / "ref", ref), _chunks(tmp_path / "got", got)
    assert sorted(have) == sorted(want)
    for key in want:
        assert have[key] == want[key], key
    assert got.verify().ok
    assert got.update_pyramid() == 0


def test_default_tile_odd_size_and_rebuilt_levels_match(tmp_path):
    """With the default 1024 tiles: clearing the levels and running update_pyramid rewrites the same bytes."""
    png = _png(tmp_path, 1500, 2300, "RGB", seed=5)
    got = Canvas.from_image(png, tmp_path / "got", trusted=True)
    assert got.levels == 3
    before = _chunks(tmp_path / "got", got)
    raw = got._storage.raw
    for level in range(1, got.levels):
        raw.delete_prefix(f"{got.frame.path(level)}/c/")
    raw.delete(LEVELS_KEY)
    got._storage.pyramid.mark_dirty([(i, j) for i in range(2) for j in range(3)])
    assert got.update_pyramid() > 0
    assert _chunks(tmp_path / "got", got) == before
    assert got.verify().ok


def test_streamed_pyramid_needs_a_fresh_canvas_at_the_origin(tmp_path):
    png = _png(tmp_path, 70, 90, "RGB", seed=1)
    info = probe(png, trusted=True)
    canvas = Canvas.create(tmp_path / "c", mode="RGB", tile=64)
    with pytest.raises(Exception, match="fresh canvas"):
        write_strips(canvas, iter_strips(info, 64), Window(64, 0, 70, 90), {}, pyramid=True)
    assert canvas.history() == []


def test_a_short_strip_that_is_not_the_last_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    canvas = Canvas.create(tmp_path / "c.zarr", tile=64)
    window = Window(0, 0, 160, 64)
    strips = iter([(0, np.full((32, 64, 3), 9, np.uint8)), (32, np.full((64, 64, 3), 7, np.uint8))])
    with pytest.raises(InvalidTileError, match="does not continue the import"):
        write_strips(canvas, strips, window, {}, pyramid=True)
    canvas = Canvas.open(tmp_path / "c.zarr")
    assert canvas.head == 0
    assert canvas.levels == 1
    assert not (tmp_path / "c.zarr" / canvas.frame.path(1)).exists() or not any(
        (tmp_path / "c.zarr" / canvas.frame.path(1)).rglob("c/*")
    )


def test_a_killed_imports_coarser_chunks_never_come_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed mid-import leaves level-1+ chunks no record lists; the next pyramid build drops them."""
    from imkerutils.tiling import step as step_module

    canvas = Canvas.create(tmp_path / "c.zarr", tile=64)
    window = Window(0, 0, 256, 256)

    def strips():  # the process "dies" after three of four strips: the step is never committed
        for k in range(3):
            yield 64 * k, np.full((64, 256, 3), 200, np.uint8)
        raise KeyboardInterrupt

    # a kill runs no rollback, and the OS closes the lock file with the process (left to the garbage
    # collector, the open lock could outlive this block and refuse the reopen below: CanvasLockedError)
    monkeypatch.setattr(step_module.Step, "abort", lambda self: self._release())
    with pytest.raises(KeyboardInterrupt):
        write_strips(canvas, strips(), window, {}, pyramid=True)
    monkeypatch.undo()
    canvas = Canvas.open(tmp_path / "c.zarr")  # recovery rolls level 0 back
    assert canvas.bounds.is_empty
    canvas.paste(np.full((128, 128, 3), 50, np.uint8), 0, 0, extend=True)
    canvas.update_pyramid()
    canvas.extend(Window(0, 0, 256, 256))
    canvas.update_pyramid()
    assert canvas.verify().ok
    for level in range(1, canvas.levels):
        values = set(np.unique(canvas.read(canvas.level_bounds(level), level=level)))
        assert values <= {0, 50}, (level, values)  # the leftover 200s would show here


@pytest.mark.parametrize(("h", "w", "mode"), [(130, 200, "RGB"), (64, 64, "RGBA"), (1, 70, "L")])
def test_imported_level_zero_is_what_a_paste_writes_chunk_for_chunk(tmp_path, h, w, mode):
    """The import and a paste write the same level-0 files, bytes and manifest (both through chunkio, which
    tests/tiling/test_chunkio.py compares with zarr's own writes)."""
    png = _png(tmp_path, h, w, mode, seed=h + w)
    imported = Canvas.from_image(png, tmp_path / "a", tile=64)
    pasted = Canvas.create(tmp_path / "b", mode=imported.mode, tile=64)
    pasted.paste(imported.read(imported.bounds), 0, 0, extend=True)

    def level0(root: Path, canvas: Canvas) -> dict[object, bytes | None]:
        out: dict[object, bytes | None] = {}
        for i, j in canvas.grid.tiles(canvas.bounds):  # by world tile: the two canvases' margins differ
            for key in (canvas.frame.chunk_key(0, i, j), manifest_key(i, j)):
                path = root / key
                out[(i, j, key.startswith("_manifest"))] = path.read_bytes() if path.is_file() else None
        return out

    a, b = level0(tmp_path / "a", imported), level0(tmp_path / "b", pasted)
    assert a == b
    assert sum(v is not None for v in a.values()) > len(a) // 2  # chunks and hashes, not only absent files
    assert imported.verify().ok
