"""Command-line error paths, run as real subprocesses: one line on stderr, exit code 2, nothing changed.

Covers bad ``extract`` sizes, regions too large for in-memory formats, outputs that cannot be written, and the
decompression-bomb guard of ``new`` and ``paste`` (with and without ``--trust-large``).
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr
from cli_helpers import clean_error, imkerutils_cmd, ok, run_all, script
from PIL import Image

from imkerutils.cli.main import main
from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.imageio import MAX_PIXELS


def noise_png(path: Path, h: int, w: int, seed: int) -> np.ndarray:
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(pixels, "RGB").save(path)
    return pixels


def snapshot(root: Path) -> dict[Path, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time (a canvas change shows here)."""
    return {p.relative_to(root): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def entries(d: Path) -> set[str]:
    return {p.name for p in d.iterdir()}


@pytest.fixture
def setup(tmp_path):
    """An image, an 8x8 tile, a canvas made from the image (tile 16), and a plain file to use as a 'folder'."""
    image = noise_png(tmp_path / "rgb.png", 20, 30, seed=0)
    noise_png(tmp_path / "t8.png", 8, 8, seed=1)
    Canvas.from_image(tmp_path / "rgb.png", tmp_path / "c.zarr", tile=16)
    (tmp_path / "file.txt").write_text("not a folder")
    return tmp_path, image


def test_extract_zero_or_negative_size_names_the_bad_size(setup):
    d, _ = setup
    c, before, files = d / "c.zarr", snapshot(d / "c.zarr"), entries(d)
    cases = [
        (["--width", 0, "--height", 5], ["--width 0 (zero)"]),
        (["--width", 5, "--height", 0], ["--height 0 (zero)"]),
        (["--width", -3, "--height", 0], ["--width -3 (negative)", "--height 0 (zero)"]),
    ]
    procs = run_all([imkerutils_cmd("extract", c, d / "o.png", "--x", 0, "--y", 0, *size) for size, _ in cases])
    for proc, (_, words) in zip(procs, cases, strict=True):
        clean_error(proc, "imkerutils", "at least 1x1", *words)
    assert entries(d) == files
    assert snapshot(c) == before


def test_extract_huge_region_is_refused_by_in_memory_formats_before_reading(setup):
    d, _ = setup
    c, before, files = d / "c.zarr", snapshot(d / "c.zarr"), entries(d)
    big = ["--x", 0, "--y", 0, "--width", 100_000, "--height", 100_000]
    jpg, webp, bmp = run_all([imkerutils_cmd("extract", c, d / f"o.{ext}", *big) for ext in ("jpg", "webp", "bmp")])
    clean_error(jpg, "imkerutils", "100000x100000", "too large for JPEG", ".png")
    clean_error(webp, "imkerutils", "100000x100000", "too large for WebP")
    clean_error(bmp, "imkerutils", "100000x100000", "too large for .bmp", f"{MAX_PIXELS:,}")
    assert entries(d) == files
    assert snapshot(c) == before


def test_extract_streams_png_a_band_at_a_time(setup, monkeypatch, capsys):
    """In process: a PNG extract never asks the canvas for more than a band of tile rows."""
    d, image = setup
    sizes: list[int] = []
    real_read = Canvas.read

    def read(self, window, *args, **kwargs):
        sizes.append(window.size)
        return real_read(self, window, *args, **kwargs)

    monkeypatch.setattr(Canvas, "read", read)
    assert (
        main(
            [
                "extract",
                str(d / "c.zarr"),
                str(d / "big.png"),
                "--x",
                "-500",
                "--y",
                "-300",
                "--width",
                "1200",
                "--height",
                "800",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == f"wrote {d / 'big.png'} (1200x800 at x=-500, y=-300)"
    assert sizes
    assert max(sizes) <= 16 * 1200 < 1200 * 800 // 10
    with Image.open(d / "big.png") as im:
        out = np.asarray(im)
    np.testing.assert_array_equal(out[300:320, 500:530], image)
    assert not out[:300].any()
    assert not out[320:].any()


def test_extract_formats_and_regions_crossing_the_bounds(setup):
    """Streamed (PNG, TIFF, OME-Zarr), small (WebP) and Pillow-only (BMP) outputs all hold the same pixels."""
    d, _ = setup
    c = d / "c.zarr"
    (d / "old.png").write_bytes(b"replaced by extract, as before")
    region = ["--x", -5, "--y", -3, "--width", 40, "--height", 27]
    outs = ["old.png", "o.tif", "o.ome.zarr", "o.webp", "o.bmp"]
    for proc, name in zip(run_all([imkerutils_cmd("extract", c, d / n, *region) for n in outs]), outs, strict=True):
        assert ok(proc).stdout.strip() == f"wrote {d / name} (40x27 at x=-5, y=-3)"
    expected = Canvas.open(c, read_only=True).read(Window(-3, -5, 27, 40))
    for name in ("old.png", "o.webp", "o.bmp"):
        with Image.open(d / name) as im:
            np.testing.assert_array_equal(np.asarray(im.convert("RGB")), expected, err_msg=name)
    np.testing.assert_array_equal(tifffile.imread(d / "o.tif"), expected)
    group = zarr.open_group(d / "o.ome.zarr", mode="r")
    np.testing.assert_array_equal(np.moveaxis(np.asarray(group["0"]), 0, -1), expected)
    assert not [p for p in d.iterdir() if p.name.endswith(".partial")]


def test_extract_refusals_leave_nothing(setup):
    """No canvas pixel in the region, the canvas itself as output, an existing OME-Zarr folder, a bad extension."""
    d, _ = setup
    c = d / "c.zarr"
    (d / "kept.ome.zarr").mkdir()
    (d / "kept.ome.zarr" / "mine.txt").write_text("keep me")
    before, files = snapshot(c), entries(d)
    outside, inside, folder, unknown = run_all(
        [
            imkerutils_cmd("extract", c, d / "o.png", "--x", 30, "--y", 0, "--width", 8, "--height", 8),
            imkerutils_cmd("extract", c, c / "o.png", "--x", 0, "--y", 0),
            imkerutils_cmd("extract", c, d / "kept.ome.zarr", "--x", 0, "--y", 0),
            imkerutils_cmd("extract", c, d / "o.zarr", "--x", 0, "--y", 0),
        ]
    )
    clean_error(outside, "imkerutils", "entirely outside", "x 0..29, y 0..19")
    clean_error(inside, "imkerutils", "the canvas")
    clean_error(folder, "imkerutils", "already exists", "kept.ome.zarr")
    clean_error(unknown, "imkerutils", "extension", ".ome.zarr")
    assert entries(d) == files
    assert snapshot(c) == before
    assert (d / "kept.ome.zarr" / "mine.txt").read_text() == "keep me"


def test_unwritable_outputs_give_one_line(setup):
    d, _ = setup
    c, before, files = d / "c.zarr", snapshot(d / "c.zarr"), entries(d)
    not_dir = d / "file.txt"  # a file where a folder should be: fails for root too
    cases = [
        (
            imkerutils_cmd("new", not_dir / "x.zarr", "--from", d / "rgb.png"),
            "imkerutils",
            f"{not_dir / 'x.zarr'}: Not a directory",
        ),
        (
            script("extract-tile", d / "rgb.png", not_dir / "o.png", "--x", 0, "--y", 0, "--tile", 8),
            "extract-tile",
            f"{not_dir}: Not a directory",
        ),
        (
            script("paste-tile", d / "rgb.png", d / "t8.png", not_dir / "o.png", "--x", 0, "--y", 0, "--tile", 8),
            "paste-tile",
            f"{not_dir / 'o.png'}: Not a directory",
        ),
        (
            imkerutils_cmd("extract", c, not_dir / "o.png", "--x", 0, "--y", 0),
            "imkerutils",
            f"{not_dir}: Not a directory",
        ),
        (
            imkerutils_cmd("extract", c, not_dir / "o.gif", "--x", 0, "--y", 0),
            "imkerutils",
            f"{not_dir}: Not a directory",
        ),
    ]
    if sys.platform.startswith("linux") and Path("/proc").is_dir():  # nothing can be created in /proc
        cases += [
            (
                imkerutils_cmd("new", "/proc/x.zarr", "--from", d / "rgb.png"),
                "imkerutils",
                "/proc/x.zarr: No such file or directory",
            ),
            (
                script("extract-tile", d / "rgb.png", "/proc/x/o.png", "--x", 0, "--y", 0, "--tile", 8),
                "extract-tile",
                "/proc/x: No such file or directory",
            ),
            (
                script("paste-tile", d / "rgb.png", d / "t8.png", "/proc/x/o.png", "--x", 0, "--y", 0, "--tile", 8),
                "paste-tile",
                "/proc/x/o.png: No such file or directory",
            ),
            (
                imkerutils_cmd("extract", c, "/proc/nope/o.png", "--x", 0, "--y", 0),
                "imkerutils",
                "write /proc/nope/o.png: No such file or directory",
            ),
        ]
    for proc, (_, prog, words) in zip(run_all([cmd for cmd, _, _ in cases], cwd=d), cases, strict=True):
        clean_error(proc, prog, words)
    assert entries(d) == files
    assert snapshot(c) == before
    assert not Path("/proc/x.zarr").exists()


def bomb_png(path: Path, side: int) -> None:
    """A 1-bit all-black PNG of ``side`` x ``side`` pixels, written row by row (a few tens of KB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def test_decompression_bomb_guard_of_new_and_paste(setup):
    """The guard (MAX_PIXELS, not adjustable from the command line) refuses; ``--trust-large`` lets it through."""
    d, _ = setup
    side = int(MAX_PIXELS**0.5) + 1
    assert side * side > MAX_PIXELS
    bomb_png(d / "bomb.png", side)
    assert (d / "bomb.png").stat().st_size < 100_000
    c = d / "big.zarr"
    Canvas.from_image(d / "rgb.png", c)  # 1024-px tiles: the trusted paste writes 14 x 14 of them
    before, files = snapshot(c), entries(d)

    new, paste = run_all(
        [
            imkerutils_cmd("new", d / "b.zarr", "--from", d / "bomb.png"),
            imkerutils_cmd("paste", c, d / "bomb.png", "--x", 0, "--y", 0, "--extend"),
        ]
    )
    clean_error(new, "imkerutils", f"{side}x{side}", "safety limit", "--trust-large")
    clean_error(paste, "imkerutils", f"{side}x{side}", "safety limit", "--trust-large")
    assert entries(d) == files
    assert snapshot(c) == before

    new, paste = run_all(
        [
            imkerutils_cmd("new", d / "b.zarr", "--from", d / "bomb.png", "--trust-large"),
            imkerutils_cmd("paste", c, d / "bomb.png", "--x", 0, "--y", 0, "--extend", "--trust-large"),
        ]
    )
    assert f"{side}x{side} RGB" in ok(new).stdout
    assert f"pasted {side}x{side} at x=0, y=0" in ok(paste).stdout
    b = Canvas.open(d / "b.zarr", read_only=True)
    assert b.bounds == Window(0, 0, side, side)
    assert not b.read(Window(side - 8, side - 8, 8, 8)).any()
    canvas = Canvas.open(c, read_only=True)
    assert canvas.head == 2
    assert canvas.bounds == Window(0, 0, side, side)
    assert not canvas.read(Window(0, 0, 20, 30)).any()  # the black bomb covers the old image
