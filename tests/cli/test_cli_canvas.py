"""The command line, run as real subprocesses: `imkerutils ...`, `extract-tile`, `paste-tile`."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import numpy as np
import pytest
import zarr
from cli_helpers import clean_error, imkerutils_cmd, ok, run, run_all, script
from PIL import Image

from imkerutils.cli.main import main
from imkerutils.cli.tile_scripts import extract_tile_main, paste_tile_main
from imkerutils.tiling import Canvas, Window, union

if TYPE_CHECKING:
    from pathlib import Path


def noise_png(path: Path, h: int, w: int, seed: int, c: int = 3) -> np.ndarray:
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)
    Image.fromarray(pixels, "RGBA" if c == 4 else "RGB").save(path)
    return pixels


def load(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im).copy()


def disk_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def test_canvas_life_cycle(tmp_path):
    image = noise_png(tmp_path / "img.png", 40, 50, seed=0)
    tile = noise_png(tmp_path / "tile.png", 30, 20, seed=1)
    c = tmp_path / "canvas"

    assert "created" in ok(run(imkerutils_cmd("new", c, "--from", tmp_path / "img.png"))).stdout

    info_json, info_text = run_all([script("imkerutils", "info", c, "--json"), imkerutils_cmd("info", c)])
    info = json.loads(ok(info_json).stdout)
    assert info["bounds"] == {"x": 0, "y": 0, "width": 50, "height": 40}
    assert list(info["size"].items()) == [("width", 50), ("height", 40)]
    assert info["mode"] == "RGB"
    assert info["tiles_written"] == 1
    assert info["steps"] == 1
    assert info["bytes_on_disk"] == disk_bytes(c) > 40 * 50
    assert "RGB" in ok(info_text).stdout
    assert "50 x 40" in info_text.stdout
    np.testing.assert_array_equal(Canvas.open(c, read_only=True).read(Window(0, 0, 40, 50)), image)

    ok(run(imkerutils_cmd("paste", c, tmp_path / "tile.png", "--x", -10, "--y", 30, "--extend")))
    grown = union(Window(0, 0, 40, 50), Window(30, -10, 30, 20))
    canvas = Canvas.open(c, read_only=True)
    assert canvas.bounds == grown
    assert canvas.head == 2
    np.testing.assert_array_equal(canvas.read(Window(30, -10, 30, 20)), tile)

    # side by side: a paste reaching past the bounds without --grow (refused, nothing changes), and
    # an extract of a region crossing the bounds (what Pillow reads back equals canvas.read)
    files_before = {p.relative_to(c): p.stat().st_mtime_ns for p in c.rglob("*") if p.is_file()}
    refused, extracted = run_all(
        [
            imkerutils_cmd("paste", c, tmp_path / "tile.png", "--x", 45, "--y", 0),
            imkerutils_cmd("extract", c, tmp_path / "out.png", "--x", -12, "--y", -3, "--width", 66, "--height", 70),
        ]
    )
    clean_error(refused, "imkerutils", "--extend")
    ok(extracted)
    assert {p.relative_to(c): p.stat().st_mtime_ns for p in c.rglob("*") if p.is_file()} == files_before
    np.testing.assert_array_equal(load(tmp_path / "out.png"), canvas.read(Window(-3, -12, 70, 66)))

    ok(run(imkerutils_cmd("undo", c)))
    assert Canvas.open(c, read_only=True).bounds == Window(0, 0, 40, 50)
    ok(run(imkerutils_cmd("redo", c)))
    canvas = Canvas.open(c, read_only=True)
    assert canvas.bounds == grown
    np.testing.assert_array_equal(canvas.read(Window(30, -10, 30, 20)), tile)

    assert "ok" in ok(run(script("imkerutils", "verify", c))).stdout

    # tamper: rewrite the chunk of tile (0, 0) behind imkerutils' back
    frame = canvas.frame
    r, col = frame.shift(0)
    z = zarr.open_group(c, mode="r+")[frame.path(0)]
    z[:, r : r + 5, col : col + 5] = (255 - image[:5, :5]).transpose(2, 0, 1)
    bad = run(imkerutils_cmd("verify", c))
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert "tile (0, 0)" in bad.stderr
    assert "tile (0, -1)" not in bad.stderr
    assert "tile (1, -1)" not in bad.stderr


def test_tile_scripts_on_files_and_canvases(tmp_path):
    image = noise_png(tmp_path / "img.png", 40, 50, seed=2)
    tile = noise_png(tmp_path / "tile.png", 16, 16, seed=3)
    c = tmp_path / "canvas"
    Canvas.from_image(tmp_path / "img.png", c, tile=16)
    cut, pasted, cut_canvas, pasted_canvas = run_all(
        [
            script(
                "extract-tile",
                tmp_path / "img.png",
                tmp_path / "cut.png",
                "--x",
                30,
                "--y",
                20,
                "--corner",
                "br",
                "--tile",
                16,
            ),
            script(
                "paste-tile",
                tmp_path / "img.png",
                tmp_path / "tile.png",
                tmp_path / "pasted.png",
                "--x",
                49,
                "--y",
                0,
                "--corner",
                "tr",
                "--tile",
                16,
            ),
            script("extract-tile", c, tmp_path / "cut_canvas.png", "--x", 2, "--y", 3, "--tile", 16),
            script("paste-tile", c, tmp_path / "tile.png", "--x", 0, "--y", 39, "--corner", "bl", "--tile", 16),
        ]
    )
    ok(cut), ok(pasted), ok(cut_canvas), ok(pasted_canvas)
    np.testing.assert_array_equal(load(tmp_path / "cut.png"), image[5:21, 15:31])
    expected = image.copy()
    expected[0:16, 34:50] = tile
    np.testing.assert_array_equal(load(tmp_path / "pasted.png"), expected)
    np.testing.assert_array_equal(load(tmp_path / "cut_canvas.png"), image[3:19, 2:18])
    canvas = Canvas.open(c, read_only=True)
    expected = image.copy()
    expected[24:40, 0:16] = tile
    np.testing.assert_array_equal(canvas.read(canvas.bounds), expected)
    assert canvas.head == 2


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    """Files and canvases for the error cases: good, broken, truncated, too small (none may change)."""
    tmp_path = tmp_path_factory.mktemp("bad")
    noise_png(tmp_path / "img.png", 20, 20, seed=4)
    noise_png(tmp_path / "small.png", 8, 7, seed=5)
    (tmp_path / "text.png").write_text("not an image")
    png = (tmp_path / "img.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    Canvas.from_image(tmp_path / "img.png", tmp_path / "canvas", tile=16)
    shutil.copytree(tmp_path / "canvas", tmp_path / "broken")
    (tmp_path / "broken" / "zarr.json").write_bytes(b"\x00garbage")
    Canvas.create(tmp_path / "fresh", height=4, width=4)
    return tmp_path


def test_bad_input_in_subprocesses_gives_one_line_and_exit_code_2(bad_inputs):
    d = bad_inputs
    cases = [
        (imkerutils_cmd("info", d / "missing"), "imkerutils", ["no canvas"]),
        (imkerutils_cmd("new", d / "n1", "--from", d / "cut.png"), "imkerutils", ["truncated"]),
        (script("imkerutils", "info", d / "broken", "--json"), "imkerutils", ["zarr.json"]),
        (
            script("extract-tile", d / "img.png", d / "t.png", "--x", 15, "--y", 0, "--tile", 8),
            "extract-tile",
            ["does not fit"],
        ),
        (script("paste-tile", d / "canvas", d / "small.png", "--x", 0, "--y", 0, "--tile", 8), "paste-tile", ["8x8"]),
    ]
    for proc, (_, prog, words) in zip(run_all([cmd for cmd, _, _ in cases], cwd=d), cases, strict=True):
        clean_error(proc, prog, *words)
    assert not (d / "n1").exists()
    assert not (d / "t.png").exists()
    assert Canvas.open(d / "canvas").head == 1


IN_PROCESS_CASES = {
    "new-missing-image": (main, ["new", "{d}/n2", "--from", "{d}/missing.png"], "imkerutils", "not found"),
    "new-not-an-image": (main, ["new", "{d}/n3", "--from", "{d}/text.png"], "imkerutils", "not an image"),
    "new-exists": (main, ["new", "{d}/canvas", "--from", "{d}/img.png"], "imkerutils", "already exists"),
    "undo-nothing": (main, ["undo", "{d}/fresh"], "imkerutils", "nothing to undo"),
    "redo-nothing": (main, ["redo", "{d}/canvas"], "imkerutils", "nothing to redo"),
    "extract-negative": (
        main,
        ["extract", "{d}/canvas", "{d}/e.png", "--x", "0", "--y", "0", "--width", "-4"],
        "imkerutils",
        "negative",
    ),
    "extract-unknown-format": (
        main,
        ["extract", "{d}/canvas", "{d}/e.xyz", "--x", "0", "--y", "0"],
        "imkerutils",
        "extension",
    ),
    "paste-not-an-image": (
        main,
        ["paste", "{d}/canvas", "{d}/text.png", "--x", "0", "--y", "0"],
        "imkerutils",
        "not an image",
    ),
    "paste-outside": (
        main,
        ["paste", "{d}/canvas", "{d}/small.png", "--x", "15", "--y", "0"],
        "imkerutils",
        "--extend",
    ),
    "extract-tile-canvas": (
        extract_tile_main,
        ["{d}/canvas", "{d}/t.png", "--x", "3", "--y", "3", "--corner", "br", "--tile", "8"],
        "extract-tile",
        "does not fit",
    ),
    "paste-tile-file": (
        paste_tile_main,
        ["{d}/img.png", "{d}/small.png", "{d}/p.png", "--x", "0", "--y", "0", "--tile", "8"],
        "paste-tile",
        "8x8",
    ),
}


@pytest.mark.parametrize(("entry", "argv", "prog", "word"), IN_PROCESS_CASES.values(), ids=IN_PROCESS_CASES.keys())
def test_bad_input_gives_one_line_and_exit_code_2(bad_inputs, capsys, entry, argv, prog, word):
    d = bad_inputs
    assert entry([a.format(d=d) for a in argv]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"{prog}: error: "), err
    assert word in err, err
    assert not any((d / n).exists() for n in ("n2", "n3", "e.png", "e.xyz", "t.png", "p.png"))
    canvas = Canvas.open(d / "canvas", read_only=True)
    assert canvas.head == 1
    assert canvas.bounds == Window(0, 0, 20, 20)


def test_console_script_reports_its_version():
    from imkerutils import __version__

    assert ok(run(script("imkerutils", "--version"))).stdout.strip() == f"imkerutils {__version__}"
