"""Image files in from the command line: bad files are one-line errors that leave nothing behind, and an
import of any size runs in bounded memory (a subprocess's own VmHWM)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pytest
import tifffile
from cli_helpers import clean_error, imkerutils_cmd, ok, run_all
from PIL import Image

from imkerutils.testing.files import open_files_under
from imkerutils.tiling import Canvas, Window

if TYPE_CHECKING:
    from pathlib import Path

ROWS, COLS = 2100, 300  # three strips of 1024 rows: a bad file fails after the first strip's chunks were written


def pattern() -> np.ndarray:
    y, x = np.mgrid[0:ROWS, 0:COLS]
    return np.stack([(x * y) % 256, (x + y) % 256, (x ^ y) % 256], axis=-1).astype(np.uint8)


def damaged(d: Path) -> dict[str, Path]:
    """Truncated and corrupt PNG, JPEG and TIFF files (each fails to decode part-way or at its header)."""
    px, out = pattern(), {}
    Image.fromarray(px).save(d / "ok.png", compress_level=1)
    Image.fromarray(px).save(d / "ok.jpg", quality=90)
    tifffile.imwrite(d / "ok.tif", px, tile=(256, 256), photometric="rgb", compression="zlib")
    tifffile.imwrite(d / "ok-strips.tif", px, photometric="rgb", compression="zlib", rowsperstrip=64)
    for name in ("ok.png", "ok.jpg", "ok.tif", "ok-strips.tif"):
        data = (d / name).read_bytes()
        stem, suffix = name.split(".")
        (d / f"truncated-{stem}.{suffix}").write_bytes(data[: int(len(data) * 0.6)])
        out[f"truncated {name}"] = d / f"truncated-{stem}.{suffix}"
        corrupt = bytearray(data)
        if suffix == "jpg":  # a broken Huffman table: libjpeg's error, not a warning
            i = data.find(b"\xff\xc4")
            corrupt[i + 4 : i + 20] = b"\xff" * 16
        else:  # zeros in the middle of the compressed data (a PNG's CRC, a TIFF tile's deflate / zstd stream)
            mid = len(data) // 2
            corrupt[mid : mid + 64] = bytes(64)
        (d / f"corrupt-{stem}.{suffix}").write_bytes(bytes(corrupt))
        out[f"corrupt {name}"] = d / f"corrupt-{stem}.{suffix}"
    (d / "empty.png").write_bytes(b"")
    out["empty"] = d / "empty.png"
    return out


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return damaged(tmp_path_factory.mktemp("bad"))


@pytest.fixture
def spilled(tmp_path, monkeypatch):
    """Every strip of an import spilled, in bands of a few rows, to a temporary folder; the spill files made."""
    import tempfile
    import weakref

    from imkerutils.tiling import handover, importer, spill

    made: list[weakref.ref[spill.SpillFile]] = []

    class Recorded(spill.SpillFile):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(weakref.ref(self))

    d = tmp_path / "spill"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    monkeypatch.setattr(importer, "SPILL_ABOVE", 0)
    monkeypatch.setattr(handover, "SPILL_FETCH_BYTES", 3000)  # a few rows a band: many bands a strip
    monkeypatch.setattr(handover, "SpillFile", Recorded)
    return d, made


def spill_files_left(d: Path, made: list) -> list[str]:
    """Spill files still open (unnamed files in ``d`` held by this process), once garbage is collected."""
    import gc

    gc.collect()
    assert all(ref() is None or ref().closed for ref in made)
    return open_files_under(d)


@pytest.mark.parametrize("tile", [128, 1024])
def test_a_spilled_import_equals_pillows_decode_and_leaves_no_file(bad_files, tmp_path, spilled, tile):
    d, made = spilled
    src = bad_files["empty"].parent
    rgba = np.dstack([pattern(), pattern()[..., :1] // 2 + 64])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    for path in (src / "ok.png", src / "ok.tif", src / "ok-strips.tif", tmp_path / "rgba.png"):
        before = len(made)
        c = Canvas.from_image(path, tmp_path / f"{path.name}-{tile}", tile=tile)
        assert len(made) - before == -(-ROWS // tile), path  # every strip went through a spill file
        with Image.open(path) as img:
            expected = np.asarray(img.convert(img.mode if img.mode in ("RGB", "RGBA") else "RGB"))
        np.testing.assert_array_equal(c.read(c.bounds), expected)
        assert not c.verify().problems
    assert spill_files_left(d, made) == []
    assert list(d.iterdir()) == []


def test_a_spilled_import_that_fails_to_decode_leaves_nothing(bad_files, tmp_path, spilled):
    from imkerutils.errors import ImageFileError

    d, made = spilled
    for name in ("truncated ok.png", "corrupt ok.tif", "truncated ok-strips.tif"):
        out = tmp_path / name.replace(" ", "-")
        out.mkdir()
        with pytest.raises(ImageFileError, match="truncated or corrupt"):
            Canvas.from_image(bad_files[name], out / "c", tile=128)
        assert list(out.iterdir()) == [], name  # no canvas, no temporary import folder
    assert made  # the first strips were spilled before the decode failed
    assert spill_files_left(d, made) == []
    assert list(d.iterdir()) == []


def test_the_undamaged_files_import(bad_files, tmp_path):
    d = bad_files["empty"].parent
    for name in ("ok.png", "ok.tif", "ok-strips.tif"):
        c = Canvas.from_image(d / name, tmp_path / name, tile=1024)
        np.testing.assert_array_equal(c.read(c.bounds), pattern())


def test_truncated_and_corrupt_files_are_one_line_errors_that_leave_nothing(bad_files, tmp_path):
    names = sorted(bad_files)
    outs = {name: tmp_path / f"out{i}" for i, name in enumerate(names)}
    for out in outs.values():
        out.mkdir()
    procs = run_all([imkerutils_cmd("new", outs[n] / "c", "--from", bad_files[n]) for n in names])
    for name, proc in zip(names, procs, strict=True):
        line = clean_error(proc, "imkerutils", str(bad_files[name].name))
        assert "truncated or corrupt" in line or "not a" in line, (name, line)
        assert list(outs[name].iterdir()) == [], name  # no canvas, no temporary import folder


def test_paste_and_grow_of_a_damaged_file_change_nothing(bad_files, tmp_path):
    canvas = Canvas.create(tmp_path / "c", height=64, width=64)
    token = canvas.state_token
    grown = tmp_path / "g"
    grown.mkdir()
    image = grown / "truncated.png"
    image.write_bytes(bad_files["truncated ok.png"].read_bytes())
    procs = run_all(
        [
            imkerutils_cmd("paste", tmp_path / "c", bad_files["truncated ok.png"], "--x", 0, "--y", 0, "--extend"),
            imkerutils_cmd("paste", tmp_path / "c", bad_files["corrupt ok.tif"], "--x", 0, "--y", 0, "--extend"),
            imkerutils_cmd("grow", image, "-d", "right", "-g", "mock"),
        ]
    )
    for proc in procs:
        clean_error(proc, "imkerutils", "truncated or corrupt")
    assert Canvas.open(tmp_path / "c").state_token == token
    assert sorted(p.name for p in grown.iterdir()) == ["truncated.png"]  # no canvas beside the image


def test_multi_page_and_float_files_are_refused_by_the_cli(tmp_path):
    tifffile.imwrite(tmp_path / "pages.tif", np.zeros((4, 64, 64, 3), np.uint8), photometric="rgb")
    tifffile.imwrite(tmp_path / "float.tif", np.zeros((64, 64), np.float32))
    Canvas.create(tmp_path / "c", height=64, width=64)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "base.png")
    procs = run_all(
        [
            imkerutils_cmd("new", tmp_path / "n1", "--from", tmp_path / "pages.tif"),
            imkerutils_cmd("paste", tmp_path / "c", tmp_path / "pages.tif", "--x", 0, "--y", 0),
            imkerutils_cmd("paste", tmp_path / "c", tmp_path / "float.tif", "--x", 0, "--y", 0),
            imkerutils_cmd("new", tmp_path / "n2", "--from", tmp_path / "float.tif"),
        ]
    )
    for proc, word in zip(procs, ["4 pages", "4 pages", "float", "float"], strict=True):
        clean_error(proc, "imkerutils", word)
    assert not (tmp_path / "n1").exists()
    assert not (tmp_path / "n2").exists()
    assert Canvas.open(tmp_path / "c").head == 0


# -- bounded memory ---------------------------------------------------------------------------------------------
BIG_ROWS, BIG_COLS = 8000, 30000

MAKE_BIG_PNG = textwrap.dedent("""
    import sys, pyvips
    rows, cols, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    xy = pyvips.Image.xyz(cols, rows)  # generated on demand and streamed into the PNG: never whole in memory
    x, y = xy[0], xy[1]
    rgb = ((x * 7 + y * 3) % 251).bandjoin([(x * y) % 253, (x ^ y) % 256]).cast("uchar")
    rgb.pngsave(out, compression=1)
""")

IMPORT = textwrap.dedent("""
    import json, sys
    from imkerutils.tiling import Canvas
    c = Canvas.from_image(sys.argv[1], sys.argv[2], trusted=True)
    hwm = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(json.dumps({"hwm": hwm, "bounds": [c.bounds.height, c.bounds.width], "tiles": c.written_tiles()}))
""")


WIDE_ROWS, WIDE_COLS = 2100, 60000  # a 1024-row strip of it is 176 MiB


def made_png(factory: pytest.TempPathFactory, rows: int, cols: int) -> Path:
    """A ``rows`` x ``cols`` PNG of MAKE_BIG_PNG's pattern, written by a subprocess a strip at a time."""
    path = factory.mktemp("png") / f"{rows}x{cols}.png"
    subprocess.run([sys.executable, "-c", MAKE_BIG_PNG, str(rows), str(cols), str(path)], check=True, timeout=600)
    return path


@pytest.fixture(scope="session")
def big_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return made_png(tmp_path_factory, BIG_ROWS, BIG_COLS)


@pytest.fixture(scope="session")
def wide_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return made_png(tmp_path_factory, WIDE_ROWS, WIDE_COLS)


def expected_pixels(w: Window) -> np.ndarray:
    """What MAKE_BIG_PNG wrote over world window ``w``."""
    y, x = np.mgrid[w.row_off : w.row_end, w.col_off : w.col_end]
    return np.stack([(x * 7 + y * 3) % 251, (x * y) % 253, (x ^ y) % 256], axis=-1).astype(np.uint8)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("png", "shape", "tiles", "bound_mib", "spots"),
    [
        ("big_png", (BIG_ROWS, BIG_COLS), 8 * 30, 300, [Window(7000, 29000, 1000, 1000)]),
        # Holding one 176 MiB strip while its tiles were written peaked at 362 to 373 MiB here; spilled to a
        # temporary file, about 185 MiB (the interpreter and libvips' line cache of a 60000-px PNG are ~140).
        (
            "wide_png",
            (WIDE_ROWS, WIDE_COLS),
            3 * 59,
            256,
            [Window(1000, 58000, 100, 2000), Window(2040, 0, 60, 1100), Window(2000, 59000, 100, 1000)],
        ),
    ],
    ids=["30000x8000", "60000-px-wide-spilled"],
)
def test_a_large_png_imports_in_bounded_memory(request, png, shape, tiles, bound_mib, spots, tmp_path):
    path = request.getfixturevalue(png)
    proc = ok(
        subprocess.run(
            [sys.executable, "-c", IMPORT, str(path), str(tmp_path / "c")], capture_output=True, text=True, timeout=900
        )
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["bounds"] == list(shape)
    assert report["tiles"] == tiles
    assert report["hwm"] < bound_mib * 2**20, f"peak RSS {report['hwm'] / 2**20:.0f} MiB"
    c = Canvas.open(tmp_path / "c", read_only=True)  # pixels across strips and columns, and the last tile
    for w in spots:
        np.testing.assert_array_equal(c.read(w), expected_pixels(w))
    assert not c.verify().problems


SLOW_IMPORT = textwrap.dedent("""
    import sys, time
    from imkerutils.tiling import Canvas, decode
    real = decode.iter_strips

    def slow(info, rows=1024, **kw):  # the decoder, slowed so that the kill lands mid-import
        for top, strip in real(info, rows, **kw):
            yield top, strip
            time.sleep(0.3)

    decode.iter_strips = slow
    Canvas.from_image(sys.argv[1], sys.argv[2], tile=64)
""")


def test_an_import_killed_midway_leaves_nothing_at_the_target(tmp_path):
    import os
    import signal
    import time

    Image.fromarray(pattern()).save(tmp_path / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", SLOW_IMPORT, str(tmp_path / "a.png"), str(out / "c")])
    try:
        deadline = time.monotonic() + 120
        while not any(p.is_file() for p in out.glob(".c.*.importing/0/c/**/*")):  # a chunk has been written
            assert proc.poll() is None, "the import ended before it was killed"
            assert time.monotonic() < deadline, "the import ended before it was killed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert not (out / "c").exists()  # only the hidden temporary folder may remain beside it
    assert all(p.name.startswith(".c.") and p.name.endswith(".importing") for p in out.iterdir())
    c = Canvas.from_image(tmp_path / "a.png", out / "c", tile=64)  # and a new import succeeds
    np.testing.assert_array_equal(c.read(c.bounds), pattern())
