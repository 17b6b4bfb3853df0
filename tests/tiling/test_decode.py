"""Imports through libvips, a strip at a time, equal Pillow's decode and the documented conversion.

And one input policy, from the header, before anything is decoded: multi-page and float files are refused by
every entry point (``Canvas.from_image``, ``read_image`` as ``paste`` uses it, ``paste_tile`` on canvases and
image files, ``grow IMAGE`` / ``ui IMAGE`` through ``open_or_create``).
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageFile

from imkerutils.cli.grow import open_or_create
from imkerutils.errors import ImageFileError, InvalidTileError
from imkerutils.tiling import Canvas, Window, decode
from imkerutils.tiling.decode import iter_strips, probe, read_pixels
from imkerutils.tiling.imageio import open_image, read_image, to_rgb_or_rgba
from imkerutils.tiling.tiles import paste_tile

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

H, W = 37, 45


def rng_pixels(shape: tuple[int, ...], seed: int = 0, high: int = 256, dtype: type = np.uint8) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, size=shape, dtype=dtype)


def smooth(c: int) -> np.ndarray:
    """Photo-like pixels (lossy codecs on noise are a poor test of a decoder)."""
    y, x = np.mgrid[0:H, 0:W]
    planes = [(128 + 100 * np.sin(x / (5 + k) + y / (7 + 2 * k))).astype(np.uint8) for k in range(c)]
    return np.stack(planes, axis=-1)


def write_png_modes(d: Path) -> dict[str, Path]:
    out = {}
    Image.fromarray(rng_pixels((H, W)) > 127).save(out.setdefault("1.png", d / "1.png"))
    Image.fromarray(rng_pixels((H, W)), "L").save(out.setdefault("L.png", d / "L.png"))
    Image.fromarray(rng_pixels((H, W, 2)), "LA").save(out.setdefault("LA.png", d / "LA.png"))
    Image.fromarray(rng_pixels((H, W, 3)), "RGB").save(out.setdefault("RGB.png", d / "RGB.png"))
    Image.fromarray(rng_pixels((H, W, 4)), "RGBA").save(out.setdefault("RGBA.png", d / "RGBA.png"))
    Image.fromarray(rng_pixels((H, W), high=65536, dtype=np.uint16)).save(out.setdefault("I16.png", d / "I16.png"))
    p = Image.fromarray(rng_pixels((H, W), high=5), "P")
    p.putpalette([10, 20, 30, 200, 0, 0, 0, 200, 0, 1, 2, 3, 250, 250, 250])
    p.save(out.setdefault("P.png", d / "P.png"))
    p.save(out.setdefault("P-transparent.png", d / "P-transparent.png"), transparency=1)
    Image.fromarray(rng_pixels((H, W)), "L").save(out.setdefault("L-key.png", d / "L-key.png"), transparency=7)
    return out


def write_other_modes(d: Path) -> dict[str, Path]:
    out = {}
    Image.fromarray(smooth(4), "CMYK").save(out.setdefault("CMYK.jpg", d / "CMYK.jpg"), quality=95)
    Image.fromarray(smooth(3), "RGB").save(out.setdefault("RGB.jpg", d / "RGB.jpg"), quality=90)
    Image.fromarray(smooth(1)[..., 0], "L").save(out.setdefault("L.jpg", d / "L.jpg"), quality=90)
    Image.fromarray(smooth(3), "RGB").save(out.setdefault("RGB-sub.jpg", d / "RGB-sub.jpg"), subsampling=2)
    Image.fromarray(rng_pixels((H, W, 4)), "RGBA").save(out.setdefault("RGBA.webp", d / "RGBA.webp"), lossless=True)
    Image.fromarray(rng_pixels((H, W, 3)), "RGB").save(out.setdefault("RGB.webp", d / "RGB.webp"), lossless=True)
    p = Image.fromarray(rng_pixels((H, W), high=4), "P")
    p.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    p.save(out.setdefault("P.gif", d / "P.gif"))
    Image.fromarray(rng_pixels((H, W, 3)), "RGB").save(out.setdefault("RGB.bmp", d / "RGB.bmp"))  # Pillow only
    # TIFFs: CMYK (the K-as-alpha case), 16-bit grey, planar, a zstd one (what our exports write, and
    # what the bundled libvips cannot decode), striped and tiled, a palette and a 1-bit one.
    tifffile.imwrite(out.setdefault("CMYK.tif", d / "CMYK.tif"), rng_pixels((H, W, 4)), photometric="separated")
    tifffile.imwrite(
        out.setdefault("CMYK-tiled.tif", d / "CMYK-tiled.tif"),
        rng_pixels((H, W, 4), seed=1),
        photometric="separated",
        tile=(16, 16),
        compression="zlib",
    )
    tifffile.imwrite(out.setdefault("I16.tif", d / "I16.tif"), rng_pixels((H, W), high=65536, dtype=np.uint16))
    tifffile.imwrite(
        out.setdefault("RGB-planar.tif", d / "RGB-planar.tif"),
        np.moveaxis(rng_pixels((H, W, 3)), -1, 0),
        photometric="rgb",
        planarconfig="separate",
    )
    tifffile.imwrite(
        out.setdefault("RGBA-zstd.tif", d / "RGBA-zstd.tif"),
        rng_pixels((H, W, 4)),
        photometric="rgb",
        tile=(16, 16),
        compression="zstd",
        extrasamples=("unassalpha",),
    )
    tifffile.imwrite(out.setdefault("L-zstd.tif", d / "L-zstd.tif"), rng_pixels((H, W)), compression="zstd")
    tifffile.imwrite(
        out.setdefault("RGB-lzw.tif", d / "RGB-lzw.tif"),
        rng_pixels((H, W, 3)),
        photometric="rgb",
        compression="lzw",
        rowsperstrip=5,
    )
    colormap = rng_pixels((3, 256), high=65536, dtype=np.uint16)
    tifffile.imwrite(out.setdefault("P.tif", d / "P.tif"), rng_pixels((H, W)), photometric="palette", colormap=colormap)
    tifffile.imwrite(out.setdefault("1.tif", d / "1.tif"), rng_pixels((H, W)) > 127, photometric="minisblack")
    tifffile.imwrite(out.setdefault("L-white.tif", d / "L-white.tif"), rng_pixels((H, W)), photometric="miniswhite")
    return out


@pytest.fixture(scope="module")
def mode_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("modes")
    return {**write_png_modes(d), **write_other_modes(d)}


def pillow_expected(path: Path) -> np.ndarray:
    """Pillow's decode followed by the documented conversion (``to_rgb_or_rgba``)."""
    with Image.open(path) as img:
        return to_rgb_or_rgba(img)


MODE_FILES = [
    "1.png",
    "L.png",
    "LA.png",
    "RGB.png",
    "RGBA.png",
    "I16.png",
    "P.png",
    "P-transparent.png",
    "L-key.png",
    "CMYK.jpg",
    "RGB.jpg",
    "L.jpg",
    "RGB-sub.jpg",
    "RGBA.webp",
    "RGB.webp",
    "P.gif",
    "RGB.bmp",
    "CMYK.tif",
    "CMYK-tiled.tif",
    "I16.tif",
    "RGB-planar.tif",
    "RGBA-zstd.tif",
    "L-zstd.tif",
    "RGB-lzw.tif",
    "P.tif",
    "1.tif",
    "L-white.tif",
]


@pytest.mark.parametrize("name", MODE_FILES)
def test_every_mode_equals_pillow_pixel_for_pixel(mode_files, tmp_path, name):
    path = mode_files[name]
    expected = pillow_expected(path)
    info = probe(path)
    assert (info.height, info.width, len(info.mode)) == expected.shape
    strips = list(iter_strips(info, 16))
    assert [top for top, _ in strips] == [0, 16, 32]
    assert [s.shape for _, s in strips] == [(16, W, len(info.mode))] * 2 + [(5, W, len(info.mode))]
    np.testing.assert_array_equal(np.concatenate([s for _, s in strips]), expected)
    np.testing.assert_array_equal(read_image(path), expected)
    with open_image(path) as src:
        np.testing.assert_array_equal(src.read(Window(3, 4, 20, 30)), expected[3:23, 4:34])
    canvas = Canvas.from_image(path, tmp_path / "c", tile=16)
    assert canvas.mode == info.mode
    assert canvas.bounds == Window(0, 0, H, W)
    np.testing.assert_array_equal(canvas.read(canvas.bounds), expected)
    assert canvas.verify().ok
    assert canvas.head == 1


@pytest.mark.parametrize("name", ["RGB.png", "LA.png", "CMYK.tif", "I16.tif", "RGBA-zstd.tif"])
def test_forced_modes_match_pillow_convert(mode_files, name):
    path = mode_files[name]
    for mode in ("RGB", "RGBA"):
        with Image.open(path) as img:
            expected = to_rgb_or_rgba(img, mode)
        np.testing.assert_array_equal(read_image(path, mode=mode), expected)


def test_cmyk_tiff_becomes_rgb_not_rgba_with_k_as_alpha(mode_files, tmp_path):
    """Issue 17: a CMYK TIFF became RGBA with K as alpha."""
    cmyk = tifffile.imread(mode_files["CMYK.tif"])
    canvas = Canvas.from_image(mode_files["CMYK.tif"], tmp_path / "c", tile=16)
    assert canvas.mode == "RGB"
    got = canvas.read(canvas.bounds).astype(int)
    nk = 255 - cmyk[..., 3:].astype(int)
    np.testing.assert_allclose(got, nk * (255 - cmyk[..., :3].astype(int)) / 255, atol=1)  # ink on white paper


def test_sixteen_bit_keeps_the_high_byte(mode_files):
    values = tifffile.imread(mode_files["I16.tif"])
    got = read_image(mode_files["I16.tif"])
    for c in range(3):
        np.testing.assert_array_equal(got[..., c], (values >> 8).astype(np.uint8))


def test_strips_are_fresh_arrays_and_rows_are_checked(mode_files):
    info = probe(mode_files["RGB.png"])
    strips = [s for _, s in iter_strips(info, 10)]
    assert all(s.flags.writeable and s.flags.c_contiguous for s in strips)
    assert len({id(s) for s in strips}) == len(strips)
    with pytest.raises(InvalidTileError):
        next(iter_strips(info, 0))
    with pytest.raises(InvalidTileError):
        next(iter_strips(info, 10, mode="CMYK"))
    np.testing.assert_array_equal(read_pixels(info, mode="RGBA")[..., 3], 255)


def test_a_pyramid_tiff_is_its_first_page(tmp_path):
    """A TIFF whose further pages are reduced-resolution copies (a pyramid) is one picture: its first page."""
    full = rng_pixels((64, 48, 3))
    with tifffile.TiffWriter(tmp_path / "pyr.tif") as tw:
        tw.write(full, photometric="rgb", tile=(16, 16))
        tw.write(full[::2, ::2], photometric="rgb", tile=(16, 16), subfiletype=1)
        tw.write(full[::4, ::4], photometric="rgb", tile=(16, 16), subfiletype=1)
    canvas = Canvas.from_image(tmp_path / "pyr.tif", tmp_path / "c", tile=16)
    np.testing.assert_array_equal(canvas.read(canvas.bounds), full)


# -- one input policy, before any decode ------------------------------------------------------------------------
def write_refused(d: Path) -> dict[str, tuple[Path, str]]:
    """Files every entry point refuses, and a word of the reason."""
    files = {}
    tifffile.imwrite(d / "pages.tif", rng_pixels((4, 32, 32, 3)), photometric="rgb")
    files["pages"] = (d / "pages.tif", "4 pages")
    tifffile.imwrite(d / "float.tif", np.zeros((32, 32), np.float32))
    files["float"] = (d / "float.tif", "float samples")
    tifffile.imwrite(d / "rgbfloat.tif", np.zeros((32, 32, 3), np.float32), photometric="rgb")
    files["rgbfloat"] = (d / "rgbfloat.tif", "float samples")
    tifffile.imwrite(d / "int32.tif", np.zeros((32, 32), np.uint32))
    files["int32"] = (d / "int32.tif", "uint samples")
    frames = [Image.fromarray(rng_pixels((32, 32, 3), seed=s)) for s in range(3)]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:])
    files["gif"] = (d / "anim.gif", "3 pages")
    frames[0].save(d / "anim.webp", save_all=True, append_images=frames[1:], lossless=True)
    files["webp"] = (d / "anim.webp", "3 pages")
    tifffile.imwrite(d / "five.tif", rng_pixels((32, 32, 5)), photometric="rgb", extrasamples=(0, 0))
    files["five"] = (d / "five.tif", "5-band")
    return files


def entry_points(tmp_path: Path) -> dict[str, Callable[[Path], object]]:
    canvas = Canvas.create(tmp_path / "canvas", tile=16, height=32, width=32)
    base = tmp_path / "base.png"
    Image.fromarray(rng_pixels((64, 64, 3))).save(base)
    tile = tmp_path / "tile.png"
    Image.fromarray(rng_pixels((32, 32, 3))).save(tile)
    return {
        "from_image": lambda p: Canvas.from_image(p, tmp_path / "new"),
        "read_image (paste)": lambda p: read_image(p, mode=canvas.mode),
        "open_image (extract_tile)": lambda p: open_image(p),
        "paste_tile into a canvas": lambda p: paste_tile(canvas.path, p, x=0, y=0, tile=32),
        "paste_tile base": lambda p: paste_tile(p, tile, tmp_path / "out.png", x=0, y=0, tile=32),
        "paste_tile tile into a file": lambda p: paste_tile(base, p, tmp_path / "out.png", x=0, y=0, tile=32),
        "grow / ui IMAGE": lambda p: open_or_create(str(p)),
    }


@pytest.mark.parametrize("kind", ["pages", "float", "rgbfloat", "int32", "gif", "webp", "five"])
def test_every_entry_point_refuses_from_the_header(tmp_path, kind):
    files = write_refused(tmp_path)
    path, reason = files[kind]
    calls = entry_points(tmp_path)
    canvas_before = sorted(p.name for p in (tmp_path / "canvas").rglob("*"))
    with pytest.MonkeyPatch.context() as mp:
        _forbid_decoding(mp)
        for name, call in calls.items():
            with pytest.raises(ImageFileError, match=reason):
                call(path)
            assert not (tmp_path / "new").exists(), name
            assert not (tmp_path / "out.png").exists(), name
    assert not path.with_suffix(".zarr").exists()
    assert sorted(p.name for p in (tmp_path / "canvas").rglob("*")) == canvas_before
    assert Canvas.open(tmp_path / "canvas").head == 0


def _forbid_decoding(mp: pytest.MonkeyPatch) -> None:
    """Any pixel decode fails the test: the policy must refuse from the header."""

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("pixels were decoded before the input policy refused the file")

    mp.setattr(decode, "iter_strips", boom)
    mp.setattr(decode, "read_pixels", boom)
    mp.setattr(ImageFile.ImageFile, "load", boom)
    for cls in (tifffile.TiffFile, tifffile.TiffPage, tifffile.TiffPageSeries):
        mp.setattr(cls, "asarray", boom)
    import pyvips

    mp.setattr(pyvips.Region, "fetch", boom)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp"])  # libvips, tifffile, the Pillow fallback
def test_strips_in_column_blocks_are_the_same_pixels_and_reserve_every_byte(tmp_path, suffix):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (70, 150, 3), dtype=np.uint8)
    path = tmp_path / f"a{suffix}"
    Image.fromarray(pixels).save(path)
    info = probe(path)
    reserved: list[int] = []
    got = list(iter_strips(info, 32, columns=64, reserve=reserved.append))
    assert [top for top, _ in got] == [0, 32, 64]
    for top, strip in got:
        assert [b.shape[1] for b in strip.blocks] == [64, 64, 22]
        assert strip.shape == (min(32, 70 - top), 150, 3)
        np.testing.assert_array_equal(np.concatenate(strip.blocks, axis=1), pixels[top : top + 32])
    assert sum(reserved) == pixels.nbytes
    whole = [s for _, s in iter_strips(info, 32)]
    np.testing.assert_array_equal(np.concatenate(whole), pixels)


# Decodes a JPEG a strip at a time in a fresh process and prints the largest file-backed resident memory
# (RssFile) gained after the first strip, in bytes, and the file's size: libvips mapped a JPEG named by its path, and
# each decoded page stayed resident, so a gigapixel JPEG's import peaked a whole file higher.
_RSS_FILE_SCENARIO = """
import os, sys
from imkerutils.tiling.decode import iter_strips, probe
def rss_file():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("RssFile:"))
seen = []  # after each strip; the first strip's loads libvips' code, so growth counts from there
for _, strip in iter_strips(probe(sys.argv[1], trusted=True), 256):
    seen.append(rss_file())
    del strip
print((max(seen) - seen[0]) * 1024, os.path.getsize(sys.argv[1]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_jpeg_is_read_not_mapped_so_its_pages_do_not_stay_resident(tmp_path):
    pyvips = pytest.importorskip("pyvips")
    path = tmp_path / "noise.jpg"
    noise = [pyvips.Image.gaussnoise(4096, 2048, sigma=60, mean=128, seed=k).cast("uchar") for k in range(3)]
    noise[0].bandjoin(noise[1:]).jpegsave(str(path), Q=95)  # noise: a large file for its size (about 17 MB)
    out = subprocess.run(
        [sys.executable, "-c", _RSS_FILE_SCENARIO, str(path)], capture_output=True, text=True, check=True
    )
    resident, size = map(int, out.stdout.split())
    assert size > 8 << 20
    assert resident < size // 4, f"{resident >> 20} MiB of the {size >> 20} MiB file stayed resident"


@pytest.mark.parametrize(("suffix", "opened"), [(".jpg", 1), (".png", 0)])
def test_only_a_jpeg_is_opened_for_a_custom_libvips_source(tmp_path, monkeypatch, suffix, opened):
    """A PNG is decoded by name (libvips never maps it); only a JPEG needs our own file handle."""
    pytest.importorskip("pyvips")
    path = tmp_path / f"img{suffix}"
    pixels = np.random.default_rng(4).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=95)
    info = probe(path)
    assert info.backend == "vips"
    opens: list[object] = []

    def counting_open(*args, **kwargs):
        opens.append(args[0])
        return open(*args, **kwargs)

    monkeypatch.setattr(decode, "open", counting_open, raising=False)
    strips = [strip for _, strip in iter_strips(info, 16)]
    assert opens == [path] * opened
    got = np.concatenate(strips)
    if suffix == ".png":
        np.testing.assert_array_equal(got, pixels)
    else:
        np.testing.assert_array_equal(got, read_pixels(info))  # the same decode, whole or in strips
