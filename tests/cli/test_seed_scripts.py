"""The seed's runnable modules and the ``extract-tile`` / ``paste-tile`` scripts, as their users run them.

The first two tests are the seed's own ``tests/test_cli_smoke.py``: its command lines and checks, one
subprocess call shared.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import TYPE_CHECKING

import fsspec
import numpy as np
import pytest
from cli_helpers import clean_error, ok, run, run_all, script
from PIL import Image

from imkerutils.cli.tile_scripts import extract_tile_main, paste_tile_main
from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.tiles import is_canvas

if TYPE_CHECKING:
    from pathlib import Path


def noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def load(path: Path | str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im).copy()


def snapshot(root: Path) -> dict[Path, tuple[int, int]]:
    return {p.relative_to(root): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


# -- the seed's smoke tests ------------------------------------------------------------------------------
# The seed's own two tests: the same command lines and the same checks; only their subprocess call is shared.
def run_seed_module(module: str, *argv: str) -> None:
    """Run ``python -m imkerutils.tiling_utils.MODULE ARGV... --x 0 --y 0 --corner tl`` as the seed's tests did."""
    cmd = [sys.executable, "-m", f"imkerutils.tiling_utils.{module}", *argv, "--x", "0", "--y", "0", "--corner", "tl"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_seed_extract_tile_cli_smoke(tmp_path):
    img_path = tmp_path / "img.png"
    Image.new("RGB", (2048, 2048), (10, 20, 30)).save(img_path)
    out_tile = tmp_path / "tile.png"
    run_seed_module("extract_tile", str(img_path), str(out_tile))
    assert out_tile.exists()
    with Image.open(out_tile) as im:  # the seed's test left the file open (a ResourceWarning here)
        assert im.size == (1024, 1024)


def test_seed_paste_tile_cli_smoke(tmp_path):
    base_path = tmp_path / "base.png"
    Image.new("RGB", (2048, 2048), (1, 2, 3)).save(base_path)
    tile_path = tmp_path / "tile.png"
    Image.new("RGB", (1024, 1024), (200, 0, 0)).save(tile_path)
    out_path = tmp_path / "patched.png"
    run_seed_module("paste_tile", str(base_path), str(tile_path), str(out_path))
    assert out_path.exists()


# -- beyond the smoke tests ------------------------------------------------------------------------------
def test_seed_modules_write_the_seed_default_outputs_and_lines(tmp_path):
    pixels = noise(2048, 1100)
    Image.fromarray(pixels).save(tmp_path / "img.png")
    Image.fromarray(noise(1024, 1024, seed=1)).save(tmp_path / "t.png")
    extract, paste = run_all(
        [
            [
                sys.executable,
                "-m",
                "imkerutils.tiling_utils.extract_tile",
                "img.png",
                "--x",
                "1099",
                "--y",
                "5",
                "--corner",
                "tr",
            ],
            [sys.executable, "-m", "imkerutils.tiling_utils.paste_tile", "img.png", "t.png", "--x", "0", "--y", "1024"],
        ],
        cwd=tmp_path,
    )
    assert ok(extract).stdout.splitlines() == [
        "Saved tile: outputs/tiles/img__tr__1099_5.png",
        "Rect: (76, 5, 1100, 1029) (right/bottom are exclusive)",
    ]
    np.testing.assert_array_equal(load(tmp_path / "outputs/tiles/img__tr__1099_5.png"), pixels[5:1029, 76:1100])
    assert ok(paste).stdout.splitlines() == ["Saved: outputs/images/img__patched.png", "Pasted at top-left: (0, 1024)"]
    expected = pixels.copy()
    expected[1024:, :1024] = noise(1024, 1024, seed=1)
    np.testing.assert_array_equal(load(tmp_path / "outputs/images/img__patched.png"), expected)


def test_seed_module_refusals_are_one_line(tmp_path):
    Image.fromarray(noise(20, 20)).save(tmp_path / "img.png")
    proc = run(
        [
            sys.executable,
            "-m",
            "imkerutils.tiling_utils.extract_tile",
            tmp_path / "img.png",
            tmp_path / "o.png",
            "--x",
            "0",
            "--y",
            "0",
        ]
    )
    clean_error(proc, "python -m imkerutils.tiling_utils.extract_tile", "does not fit")
    assert not (tmp_path / "o.png").exists()


# -- outputs inside a canvas are refused -----------------------------------------------------------------
@pytest.fixture
def canvas(tmp_path):
    Image.fromarray(noise(40, 50)).save(tmp_path / "img.png")
    Image.fromarray(noise(8, 8, seed=1)).save(tmp_path / "t8.png")
    Canvas.from_image(tmp_path / "img.png", tmp_path / "C", tile=16)
    return tmp_path / "C"


def test_extract_tile_and_paste_tile_refuse_outputs_inside_a_canvas(tmp_path, canvas):
    before = snapshot(canvas)
    procs = run_all(
        [
            script("extract-tile", canvas, canvas / "0" / "c" / "x.png", "--x", 0, "--y", 0, "--tile", 8),
            script("extract-tile", canvas, canvas / "x.png", "--x", 0, "--y", 0, "--tile", 8),
            script(
                "extract-tile", tmp_path / "img.png", canvas / "_journal" / "a.png", "--x", 0, "--y", 0, "--tile", 8
            ),
            script(
                "paste-tile",
                tmp_path / "img.png",
                tmp_path / "t8.png",
                canvas / "0" / "p.png",
                "--x",
                0,
                "--y",
                0,
                "--tile",
                8,
            ),
            script("extract-tile", canvas, canvas, "--x", 0, "--y", 0, "--tile", 8),
        ]
    )
    for proc, prog in zip(procs, ["extract-tile"] * 3 + ["paste-tile", "extract-tile"], strict=True):
        clean_error(proc, prog, "canvas")
    assert snapshot(canvas) == before
    assert Canvas.open(canvas, read_only=True).verify().ok


# -- canvas URLs ------------------------------------------------------------------------------------------
@pytest.fixture
def remote_canvas():
    """A canvas on fsspec's in-memory file system (what s3:// goes through), removed afterwards."""
    location = f"memory://imkerutils-tests/{uuid.uuid4().hex}/c.zarr"
    c = Canvas.create(location, tile=16)
    c.paste(noise(30, 40), -10, -20, extend=True)
    yield location
    fs = fsspec.filesystem("memory")
    fs.rm(location[len("memory://") :], recursive=True)


def test_is_canvas_accepts_urls(remote_canvas):
    assert is_canvas(remote_canvas)
    assert not is_canvas(remote_canvas.rsplit("/", 1)[0] + "/nothing.zarr")


def test_extract_tile_and_paste_tile_accept_canvas_urls(tmp_path, remote_canvas, capsys):
    assert extract_tile_main([remote_canvas, str(tmp_path / "t.png"), "--x", "-20", "--y", "-10", "--tile", "8"]) == 0
    np.testing.assert_array_equal(load(tmp_path / "t.png"), noise(30, 40)[:8, :8])
    tile = noise(8, 8, seed=3)
    Image.fromarray(tile).save(tmp_path / "new.png")
    assert (
        paste_tile_main(
            [
                remote_canvas,
                str(tmp_path / "new.png"),
                "--x",
                "19",
                "--y",
                "19",
                "--corner",
                "br",
                "--tile",
                "8",
                "--json",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert '"region": {\n    "x": 12,\n    "y": 12,\n    "width": 8,\n    "height": 8\n  }' in out
    c = Canvas.open(remote_canvas)
    assert c.head == 2
    np.testing.assert_array_equal(c.read(Window(12, 12, 8, 8)), tile)
    assert c.verify().ok
