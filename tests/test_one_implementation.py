"""One implementation of each mechanism (issue 18 point 3), and the shared helpers' own behaviour.

The source checks read ``imkerutils/`` as syntax trees: a second PNG encoder, a
second temp-then-rename, a second tile/mask check or a second window partition
written anywhere else fails here and names the file.
"""

from __future__ import annotations

import ast
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

import imkerutils
from imkerutils.errors import InvalidTileError
from imkerutils.exquisite.geometry.batch import BatchPlan
from imkerutils.exquisite.geometry.checks import check_generate
from imkerutils.exquisite.geometry.mask import mask_to_openai_rgba, openai_rgba_to_mask
from imkerutils.exquisite.geometry.plan import EdgePlan, TilePlan
from imkerutils.tiling import TileGrid, Window, subdivide
from imkerutils.tiling.atomicfile import PARTIAL_SUFFIX, publish, remove, replacing
from imkerutils.tiling.checks import check_tile
from imkerutils.tiling.export._source import bands
from imkerutils.tiling.frame import project
from imkerutils.tiling.imageio import encode_png
from imkerutils.tiling.step import aligned_chunks

if TYPE_CHECKING:
    from collections.abc import Iterator

PACKAGE = Path(imkerutils.__file__).resolve().parent


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8"), str(path))


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (n for n in ast.walk(tree) if isinstance(n, ast.Call))


def _attr(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else "?"


def _is_png_format(k: ast.keyword) -> bool:
    return k.arg == "format" and isinstance(k.value, ast.Constant) and k.value.value == "PNG"


# -- the source checks -----------------------------------------------------------------------------


def test_png_is_encoded_in_one_place():
    """Only ``tiling/imageio.py`` calls Pillow's ``save(..., format="PNG")``; everyone else calls encode_png."""
    found = [
        f"{name}:{call.lineno}"
        for name, tree in _modules()
        for call in _calls(tree)
        if _attr(call) == "save"
        and any(
            k.arg == "format" and isinstance(k.value, ast.Constant) and k.value.value == "PNG" for k in call.keywords
        )
    ]
    assert found
    assert all(f.startswith("tiling/imageio.py:") for f in found), found


def test_files_are_renamed_into_place_in_one_module():
    """``os.replace`` / ``os.rename`` (the temp-then-rename) appear only in ``tiling/atomicfile.py``."""
    found = [
        f"{name}:{call.lineno}"
        for name, tree in _modules()
        for call in _calls(tree)
        if _dotted(call.func) in ("os.replace", "os.rename")
    ]
    assert found
    assert all(f.startswith("tiling/atomicfile.py:") for f in found), found


def test_tile_and_mask_are_checked_in_one_module():
    """A bool *generate* mask is checked by geometry/checks.py alone, an ``(H, W, 3|4)`` tile by tiling/checks.py.

    (The seam metrics and quality scores take any ``(H, W)`` or ``(H, W, C)`` image: a different contract.)
    """
    found = []
    for name, tree in _modules():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            if _dotted(node.exc.func) != "InvalidTileError":
                continue
            text = " ".join(
                c.value for c in ast.walk(node.exc) if isinstance(c, ast.Constant) and isinstance(c.value, str)
            )
            if "generate mask must" in text or "generate must" in text or "3|4" in text or "3 or 4" in text:
                found.append(f"{name}:{node.lineno}")
    ours = ("exquisite/geometry/checks.py:", "tiling/checks.py:")
    assert found
    assert all(f.startswith(ours) for f in found), found


def test_windows_are_partitioned_by_window_and_frame_only():
    """Stepping through a window's rows or columns (``range(w.row_off, w.row_end, step)``) is subdivide's job."""
    found = []
    for name, tree in _modules():
        for call in _calls(tree):
            if _dotted(call.func) != "range" or len(call.args) < 2:
                continue
            ends = {a.attr for a in call.args[:2] if isinstance(a, ast.Attribute)}
            if ends in ({"row_off", "row_end"}, {"col_off", "col_end"}):
                found.append(f"{name}:{call.lineno}")
    assert found
    assert all(f.startswith("tiling/window.py:") for f in found), found


def test_the_openai_mask_is_built_once():
    """The request's mask PNG is the geometry module's RGBA mask, not a second construction of it."""
    openai_ = (PACKAGE / "exquisite" / "api" / "openai_.py").read_text(encoding="utf-8")
    assert "np.where(generate" not in openai_
    from imkerutils.exquisite.api.openai_ import mask_png

    generate = np.zeros((4, 6), bool)
    generate[1:3, 2:] = True
    with Image.open(io.BytesIO(mask_png(generate))) as im:
        rgba = np.asarray(im)
    np.testing.assert_array_equal(rgba, mask_to_openai_rgba(generate))
    np.testing.assert_array_equal(openai_rgba_to_mask(rgba), generate)


def test_dead_helpers_are_gone():
    assert not hasattr(BatchPlan, "tile")
    for name in ("advance", "topological_order", "to_dict", "from_dict"):
        assert not hasattr(EdgePlan, name), name
    for name in ("to_dict", "from_dict"):
        assert not hasattr(TilePlan, name), name


# -- encode_png --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 5, 3), (3, 5, 4), (3, 5)])
def test_encode_png_round_trips_exactly(shape):
    pixels = np.random.default_rng(1).integers(0, 256, shape, np.uint8)
    data = encode_png(pixels[:, ::-1])  # a non-contiguous view is encoded as it looks
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        np.testing.assert_array_equal(np.asarray(im), pixels[:, ::-1])


def test_encode_png_takes_a_pillow_image_and_a_level():
    image = Image.fromarray(np.full((64, 64, 3), 9, np.uint8))
    fast, small = encode_png(image), encode_png(image, compress_level=9)
    for data in (fast, small):
        with Image.open(io.BytesIO(data)) as im:
            assert np.asarray(im).tolist() == np.asarray(image).tolist()
    assert len(small) <= len(fast)


# -- atomicfile --------------------------------------------------------------------------------------


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_replacing_publishes_a_file_and_leaves_no_temporary(tmp_path):
    final = tmp_path / "a.bin"
    final.write_bytes(b"old")
    with replacing(final) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".a.bin.")
        assert tmp.name.endswith(PARTIAL_SUFFIX)
        tmp.write_bytes(b"new")
        assert final.read_bytes() == b"old"  # readers see the old bytes until the block ends
    assert final.read_bytes() == b"new"
    assert _names(tmp_path) == ["a.bin"]


def test_replacing_keeps_the_old_file_when_the_block_fails(tmp_path):
    final = tmp_path / "a.bin"
    final.write_bytes(b"old")

    def fail_half_way() -> None:
        with replacing(final) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_half_way()
    assert final.read_bytes() == b"old"
    assert _names(tmp_path) == ["a.bin"]


def test_replacing_a_folder_moves_the_old_one_aside(tmp_path):
    final = tmp_path / "c.zarr"
    (final / "x").mkdir(parents=True)
    (final / "x" / "old").write_text("old")
    with replacing(final, directory=True, suffix=".importing") as tmp:
        assert tmp.name.endswith(".importing")
        tmp.mkdir()
        (tmp / "new").write_text("new")
    assert _names(final) == ["new"]
    assert _names(tmp_path) == ["c.zarr"]


def test_replacing_with_a_hard_link_to_the_same_file_leaves_no_temporary(tmp_path):
    """``os.replace`` is a no-op when both names are one inode: the temporary name must still go."""
    final = tmp_path / "a"
    final.write_bytes(b"same")
    with replacing(final) as tmp:
        os.link(final, tmp)
    assert final.read_bytes() == b"same"
    assert _names(tmp_path) == ["a"]


def test_publish_without_overwrite_never_clobbers(tmp_path):
    final, tmp = tmp_path / "out", tmp_path / ".out.x.partial"
    final.write_bytes(b"theirs")
    tmp.write_bytes(b"ours")
    with pytest.raises(FileExistsError):
        publish(tmp, final, overwrite=False, directory=False)
    assert final.read_bytes() == b"theirs"
    (tmp_path / "d").mkdir()
    (tmp_path / ".d.partial").mkdir()
    with pytest.raises(FileExistsError):
        publish(tmp_path / ".d.partial", tmp_path / "d", overwrite=False, directory=True)


def test_remove_takes_files_folders_links_and_nothing(tmp_path):
    (tmp_path / "f").write_bytes(b"")
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "keep").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "keep")
    for name in ("f", "d", "link", "missing"):
        remove(tmp_path / name)
    assert _names(tmp_path) == ["keep"]


def test_rawstore_writes_through_atomicfile(tmp_path):
    from zarr.storage import LocalStore

    from imkerutils.tiling.rawstore import RawStore

    raw = RawStore(LocalStore(str(tmp_path)))
    raw.put("a/b", b"1")
    raw.put("a/b", b"22")
    assert raw.copy("a/b", "a/c")
    assert raw.copy("a/b", "a/c")  # the second copy links the same inode again
    assert not raw.copy("a/missing", "a/c")
    assert raw.get("a/b") == b"22"
    assert raw.get("a/c") is None
    assert _names(tmp_path / "a") == ["b"]


# -- tile and mask checks ------------------------------------------------------------------------------


def test_check_tile_and_check_generate():
    tile = np.zeros((4, 4, 3), np.uint8)
    assert check_tile(tile, size=4, dtype=np.uint8) is tile
    assert check_generate([[True, False]]).dtype == np.bool_
    bad_tiles = [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 2), np.uint8)]
    for bad in bad_tiles:
        with pytest.raises(InvalidTileError, match=r"a tile must be a \(H, W, 3\|4\) array"):
            check_tile(bad)
    with pytest.raises(InvalidTileError, match=r"\(5, 5, 3\|4\) uint8 array, got uint8 of shape \(4, 4, 3\)"):
        check_tile(tile, size=5, dtype=np.uint8)
    with pytest.raises(InvalidTileError, match="uint8 array, got float64"):
        check_tile(tile.astype(float), dtype=np.uint8)
    with pytest.raises(InvalidTileError, match=r"must be a 2-D bool array, got uint8 of shape \(4, 4\)"):
        check_generate(np.zeros((4, 4), np.uint8))
    with pytest.raises(InvalidTileError, match=r"must be a \(4, 4\) bool array, got bool of shape \(4, 3\)"):
        check_generate(np.zeros((4, 3), bool), (4, 4))


# -- one partition of a window -----------------------------------------------------------------------------


@pytest.mark.parametrize("w", [Window(-5, 3, 17, 9), Window(0, 0, 8, 8), Window(1000, -7, 1, 2100)])
@pytest.mark.parametrize("size", [1, 4, 1024])
def test_grid_split_bands_and_aligned_chunks_agree_with_project(w, size):
    projected = [(p.tile, p.piece) for p in project(w, size)]
    assert list(TileGrid(size).split(w)) == projected
    assert [ij for ij, _ in projected] == list(TileGrid(size).tiles(w))
    rows = sorted({p.row_off: p.height for _, p in projected}.items())
    assert aligned_chunks(w.row_off, w.height, size) == tuple(h for _, h in rows)
    assert bands(w, size, 3) == list(subdivide(w, size, 3))
    aligned = bands(w, size, 3, align=size)
    assert sum(p.size for p in aligned) == w.size
    assert all(w.contains(p) and p.height <= size and p.width <= 3 for p in aligned)
    assert all(p.row_off == w.row_off or p.row_off % size == 0 for p in aligned)
