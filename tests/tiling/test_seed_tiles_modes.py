"""paste_tile on image files of every kind: the outside of the box stays exact in the base's own mode and depth."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from imkerutils.errors import DecompressionBombError, ExportFormatError, ImageFileError
from imkerutils.tiling import Canvas, Window, paste_tile
from imkerutils.tiling import decode as decode_module
from imkerutils.tiling.tiles import default_paste_output

T = 8
H, W = 24, 30
RNG_SEED = 11
PALETTE = np.random.default_rng(3).integers(0, 256, (16, 3), dtype=np.uint8)


def noise(shape: tuple[int, ...], seed: int = RNG_SEED, high: int = 256, dtype: type = np.uint8) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, size=shape, dtype=dtype)


def read_back(path: Path) -> tuple[str, np.ndarray]:
    """The file as Pillow decodes it: its mode and pixels."""
    with Image.open(path) as im:
        im.load()
        return im.mode, np.asarray(im).copy()


def outside(a: np.ndarray, box: Window) -> str:
    """SHA-256 of ``a`` with ``box`` blanked out (2-D or 3-D arrays)."""
    out = a.copy()
    out[box.slices()] = 0
    return hashlib.sha256(np.ascontiguousarray(out).tobytes()).hexdigest()


def rgb_tile(path: Path) -> np.ndarray:
    px = noise((T, T, 3), seed=99)
    Image.fromarray(px).save(path)
    return px


def write_rgb_png(p: Path) -> None:
    Image.fromarray(noise((H, W, 3))).save(p)


def write_rgba_png(p: Path) -> None:
    Image.fromarray(noise((H, W, 4)), "RGBA").save(p)


def write_l_png(p: Path) -> None:
    Image.fromarray(noise((H, W)), "L").save(p)


def write_p_png(p: Path) -> None:
    im = Image.frombytes("P", (W, H), noise((H, W), high=16).tobytes())
    im.putpalette(PALETTE.ravel().tolist())
    im.save(p)


def write_i16_png(p: Path) -> None:
    Image.frombytes("I;16", (W, H), noise((H, W), high=65536, dtype=np.uint16).astype("<u2").tobytes()).save(p)


def write_jpeg(p: Path) -> None:
    smooth = np.linspace(0, 255, H * W * 3).reshape(H, W, 3).astype(np.uint8)
    Image.fromarray(smooth ^ (noise((H, W, 3)) & 0x3F)).save(p, quality=50)


def write_rgb_tiff(p: Path) -> None:
    tifffile.imwrite(p, noise((H, W, 3)), photometric="rgb", tile=(16, 16), compression="zlib")


def write_la_png(p: Path) -> None:
    Image.fromarray(noise((H, W, 2)), "LA").save(p)


def write_bilevel_png(p: Path) -> None:
    Image.fromarray(noise((H, W), high=2).astype(bool)).save(p)


# kind -> (file name, writer, expected mode of the result, the tile as the result should hold it)
TileAs = Callable[[Image.Image], np.ndarray]
KINDS: dict[str, tuple[str, Callable[[Path], None], str, TileAs]] = {
    "rgb-png": ("base.png", write_rgb_png, "RGB", lambda t: np.asarray(t)),
    "rgba-png": ("base.png", write_rgba_png, "RGBA", lambda t: np.asarray(t.convert("RGBA"))),
    "l-png": ("base.png", write_l_png, "L", lambda t: np.asarray(t.convert("L"))),
    "la-png": ("base.png", write_la_png, "LA", lambda t: np.asarray(t.convert("LA"))),
    "1-png": (
        "base.png",
        write_bilevel_png,
        "1",
        lambda t: np.asarray(t.convert("L")) >= 128,
    ),  # thresholded, not dithered
    "p-png": ("base.png", write_p_png, "P", lambda t: np.asarray(t)),  # compared after conversion to RGB
    "i16-png": (
        "base.png",
        write_i16_png,
        "I;16",
        lambda t: np.asarray(t.convert("L")).astype(np.uint16) * 257,
    ),  # 8-bit tile scaled up
    "jpeg": ("base.jpg", write_jpeg, "RGB", lambda t: np.asarray(t)),
    "rgb-tiff": ("base.tif", write_rgb_tiff, "RGB", lambda t: np.asarray(t)),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request, tmp_path):
    name, writer, mode, tile_as = KINDS[request.param]
    base = tmp_path / name
    writer(base)
    tile = tmp_path / "tile.png"
    if request.param == "p-png":  # a tile drawn from the base's palette: the result can stay 'P'
        Image.fromarray(PALETTE[noise((T, T), seed=98, high=16)]).save(tile)
    else:
        rgb_tile(tile)
    with Image.open(tile) as t:
        expected_inside = tile_as(t.convert("RGB"))
    return request.param, base, tile, mode, expected_inside


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(left=st.integers(0, W - T), top=st.integers(0, H - T), corner=st.sampled_from(["tl", "tr", "bl", "br"]))
def test_paste_keeps_the_outside_exact_in_the_base_mode(kind, left, top, corner):
    name, base, tile, mode, expected_inside = kind
    x = left + (T - 1 if corner[1] == "r" else 0)
    y = top + (T - 1 if corner[0] == "b" else 0)
    box = Window(top, left, T, T)
    out = base.parent / f"out{base.suffix if base.suffix != '.jpg' else '.png'}"
    before = base.read_bytes()

    assert paste_tile(base, tile, out, x=x, y=y, corner=corner, tile=T) == (left, top)

    base_mode, base_px = read_back(base)
    out_mode, out_px = read_back(out)
    assert base_mode == mode
    assert out_mode == mode
    assert out_px.dtype == base_px.dtype
    assert out_px.shape == base_px.shape
    assert outside(out_px, box) == outside(base_px, box)  # every pixel outside the box byte-identical
    inside = out_px[box.slices()]
    if name == "p-png":
        with Image.open(out) as im:
            inside = np.asarray(im.convert("RGB"))[box.slices()]
    np.testing.assert_array_equal(inside, expected_inside)
    assert base.read_bytes() == before  # the input is never touched


def test_p_base_with_colours_off_its_palette_is_written_as_rgb(tmp_path):
    base = tmp_path / "p.png"
    write_p_png(base)
    tile_px = rgb_tile(tmp_path / "tile.png")  # noise: not in the 16-colour palette
    paste_tile(base, tmp_path / "tile.png", tmp_path / "out.png", x=5, y=3, tile=T)
    mode, out = read_back(tmp_path / "out.png")
    assert mode == "RGB"
    with Image.open(base) as im:
        base_rgb = np.asarray(im.convert("RGB"))
    box = Window(3, 5, T, T)
    assert outside(out, box) == outside(base_rgb, box)  # the base's own colours outside, exactly
    np.testing.assert_array_equal(out[box.slices()], tile_px)  # the tile's exact colours, not quantised


def test_p_base_with_transparency_keeps_it(tmp_path):
    im = Image.frombytes("P", (W, H), noise((H, W), high=16).tobytes())
    im.putpalette(PALETTE.ravel().tolist())
    im.info["transparency"] = bytes(range(0, 256, 16))
    im.save(tmp_path / "p.png")
    tile_px = rgb_tile(tmp_path / "tile.png")
    paste_tile(tmp_path / "p.png", tmp_path / "tile.png", tmp_path / "out.png", x=0, y=0, tile=T)
    mode, out = read_back(tmp_path / "out.png")
    assert mode == "RGBA"
    with Image.open(tmp_path / "p.png") as src:
        base_rgba = np.asarray(src.convert("RGBA"))
    box = Window(0, 0, T, T)
    assert outside(out, box) == outside(base_rgba, box)
    np.testing.assert_array_equal(out[box.slices()][..., :3], tile_px)
    assert (out[box.slices()][..., 3] == 255).all()


def test_16bit_tile_into_16bit_base_keeps_its_values(tmp_path):
    write_i16_png(tmp_path / "base.png")
    tile16 = noise((T, T), seed=5, high=65536, dtype=np.uint16)
    Image.frombytes("I;16", (T, T), tile16.astype("<u2").tobytes()).save(tmp_path / "tile.png")
    paste_tile(tmp_path / "base.png", tmp_path / "tile.png", tmp_path / "out.png", x=2, y=1, tile=T)
    mode, out = read_back(tmp_path / "out.png")
    _, base = read_back(tmp_path / "base.png")
    box = Window(1, 2, T, T)
    assert mode == "I;16"
    assert outside(out, box) == outside(base, box)
    np.testing.assert_array_equal(out[box.slices()], tile16)


@pytest.mark.parametrize("name", ["out.jpg", "out.JPEG", "out.webp"])
def test_an_explicit_lossy_output_is_refused_and_nothing_is_written(tmp_path, name):
    write_jpeg(tmp_path / "base.jpg")
    rgb_tile(tmp_path / "tile.png")
    with pytest.raises(ExportFormatError, match=r"pixels outside the pasted box would change.*\.png"):
        paste_tile(tmp_path / "base.jpg", tmp_path / "tile.png", tmp_path / name, x=0, y=0, tile=T)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.jpg", "tile.png"]


def test_other_formats_and_modes_the_output_cannot_hold_are_refused(tmp_path):
    write_rgb_png(tmp_path / "base.png")
    rgb_tile(tmp_path / "tile.png")
    with pytest.raises(ExportFormatError, match="only PNG or TIFF"):
        paste_tile(tmp_path / "base.png", tmp_path / "tile.png", tmp_path / "out.bmp", x=0, y=0, tile=T)
    Image.fromarray(noise((H, W, 4)), "CMYK").save(tmp_path / "cmyk.tif")
    with pytest.raises(ExportFormatError, match=r"mode CMYK.*out\.tif"):
        paste_tile(tmp_path / "cmyk.tif", tmp_path / "tile.png", tmp_path / "out.png", x=0, y=0, tile=T)
    assert not (tmp_path / "out.bmp").exists()
    assert not (tmp_path / "out.png").exists()


def test_bases_with_no_exact_route_are_refused(tmp_path):
    rgb_tile(tmp_path / "tile.png")
    write_rgb_png(tmp_path / "base.png")
    tifffile.imwrite(tmp_path / "rgb16.tif", noise((H, W, 3), high=65536, dtype=np.uint16), photometric="rgb")
    with pytest.raises(ImageFileError, match="16-bit"):  # Pillow would cut it to 8 bits
        paste_tile(tmp_path / "rgb16.tif", tmp_path / "tile.png", tmp_path / "a.tif", x=0, y=0, tile=T)
    tifffile.imwrite(tmp_path / "t16.tif", noise((T, T, 3), high=65536, dtype=np.uint16), photometric="rgb")
    paste_tile(tmp_path / "base.png", tmp_path / "t16.tif", tmp_path / "ok.png", x=0, y=0, tile=T)  # as a tile: fine
    tifffile.imwrite(tmp_path / "float.tif", np.zeros((H, W), np.float32))
    with pytest.raises(ImageFileError, match="float samples"):
        paste_tile(tmp_path / "float.tif", tmp_path / "tile.png", tmp_path / "b.tif", x=0, y=0, tile=T)
    tifffile.imwrite(tmp_path / "pages.tif", noise((2, H, W, 3)), photometric="rgb")
    with pytest.raises(ImageFileError, match="2 pages"):
        paste_tile(tmp_path / "pages.tif", tmp_path / "tile.png", tmp_path / "c.tif", x=0, y=0, tile=T)
    assert not any((tmp_path / n).exists() for n in ("a.tif", "b.tif", "c.tif"))


def test_trusted_lifts_the_pixel_limit_for_the_tile_too(tmp_path, monkeypatch):
    write_rgb_png(tmp_path / "base.png")
    rgb_tile(tmp_path / "tile.png")
    canvas = Canvas.create(tmp_path / "canvas", tile=16)
    canvas.paste(noise((H, W, 3)), 0, 0, extend=True)
    monkeypatch.setattr(decode_module, "MAX_PIXELS", T * T - 1)  # the tile alone is over the limit
    with pytest.raises(DecompressionBombError):
        paste_tile(canvas.path, tmp_path / "tile.png", x=0, y=0, tile=T)
    paste_tile(canvas.path, tmp_path / "tile.png", x=0, y=0, tile=T, trusted=True)
    paste_tile(tmp_path / "base.png", tmp_path / "tile.png", tmp_path / "out.png", x=0, y=0, tile=T, trusted=True)
    assert (tmp_path / "out.png").exists()


# -- the console scripts' default outputs, run as subprocesses in a fresh cwd ----------------------------------
def script(name: str, *args: object) -> list[str]:
    path = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    assert path is not None, f"console script {name!r} is not installed (pip install -e .)"
    return [path, *map(str, args)]


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd)


def test_the_default_output_of_a_jpeg_base_is_a_png_under_outputs(tmp_path, monkeypatch):
    write_jpeg(tmp_path / "rgb.jpg")
    rgb_tile(tmp_path / "tile.png")
    Image.fromarray(noise((H, W, 4)), "CMYK").save(tmp_path / "cmyk.jpg")
    monkeypatch.chdir(tmp_path)
    assert default_paste_output("rgb.jpg", 0, 0) == Path("outputs/rgb_pasted_x0_y0.png")
    assert default_paste_output("cmyk.jpg", 1, 2) == Path("outputs/cmyk_pasted_x1_y2.tif")  # PNG has no CMYK
    assert default_paste_output("a.tiff", 3, 4) == Path("outputs/a_pasted_x3_y4.tiff")  # no file read
    paste_tile("rgb.jpg", "tile.png", x=0, y=0, tile=T)
    paste_tile("cmyk.jpg", "tile.png", x=1, y=2, tile=T)
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == ["cmyk_pasted_x1_y2.tif", "rgb_pasted_x0_y0.png"]
    for name, out, box in [
        ("rgb.jpg", "rgb_pasted_x0_y0.png", Window(0, 0, T, T)),
        ("cmyk.jpg", "cmyk_pasted_x1_y2.tif", Window(2, 1, T, T)),
    ]:
        base_mode, base = read_back(tmp_path / name)
        out_mode, got = read_back(tmp_path / "outputs" / out)
        assert out_mode == base_mode
        assert outside(got, box) == outside(base, box)


def test_paste_tile_script_writes_a_jpeg_base_as_png_under_outputs(tmp_path):
    write_jpeg(tmp_path / "rgb.jpg")
    rgb_tile(tmp_path / "tile.png")
    proc = run(script("paste-tile", "rgb.jpg", "tile.png", "--x", 0, "--y", 0, "--tile", T), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == ["rgb_pasted_x0_y0.png"]
    _, out = read_back(tmp_path / "outputs" / "rgb_pasted_x0_y0.png")
    _, base = read_back(tmp_path / "rgb.jpg")
    assert outside(out, Window(0, 0, T, T)) == outside(base, Window(0, 0, T, T))


def test_paste_tile_script_refuses_an_explicit_jpeg_output(tmp_path):
    write_jpeg(tmp_path / "rgb.jpg")
    rgb_tile(tmp_path / "tile.png")
    proc = run(script("paste-tile", "rgb.jpg", "tile.png", "out.jpg", "--x", 0, "--y", 0, "--tile", T), cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert "outside the pasted box would change" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rgb.jpg", "tile.png"]


def test_extract_tile_script_default_output_is_under_outputs(tmp_path):
    pixels = np.zeros((1030, 1040, 3), np.uint8)  # the default 1024 tile; smooth, so the PNG is quick
    pixels[..., 0] = np.arange(1040, dtype=np.uint32)[None, :] % 251
    pixels[..., 1] = np.arange(1030, dtype=np.uint32)[:, None] % 241
    Image.fromarray(pixels).save(tmp_path / "input.png")
    proc = run(script("extract-tile", "input.png", "--x", 0, "--y", 0), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == ["input_tile_x0_y0.png"]
    _, cut = read_back(tmp_path / "outputs" / "input_tile_x0_y0.png")
    np.testing.assert_array_equal(cut, pixels[:1024, :1024])
