"""Image files in: explicit mode conversion, bad files, the decompression-bomb guard, Canvas.from_image."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from imkerutils.errors import CanvasExistsError, DecompressionBombError, ImageFileError
from imkerutils.tiling import Canvas, Window, decode, imageio
from imkerutils.tiling.imageio import open_image, read_image


def assert_close(a: np.ndarray, b: np.ndarray, tol: int) -> None:
    assert a.shape == b.shape
    assert np.abs(a.astype(int) - b.astype(int)).max() <= tol


# -- mode conversion -----------------------------------------------------------------
def test_palette_png_with_transparency_becomes_rgba(tmp_path):
    index = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    img = Image.fromarray(index, "P")
    img.putpalette([10, 20, 30, 200, 0, 0, 0, 200, 0] + [0] * (256 * 3 - 9))
    img.save(tmp_path / "p.png", transparency=0)
    got = read_image(tmp_path / "p.png")
    colours = np.array([[10, 20, 30], [200, 0, 0], [0, 200, 0]], dtype=np.uint8)
    assert got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got[..., :3], colours[index])
    np.testing.assert_array_equal(got[..., 3], np.where(index == 0, 0, 255))


def test_palette_png_without_transparency_becomes_rgb(tmp_path):
    img = Image.fromarray(np.array([[0, 1]], dtype=np.uint8), "P")
    img.putpalette([1, 2, 3, 4, 5, 6] + [0] * (256 * 3 - 6))
    img.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_image(tmp_path / "p.png"), [[[1, 2, 3], [4, 5, 6]]])


def test_grey_and_grey_alpha_pngs(tmp_path, noise):
    grey = noise(5, 7, 1)[..., 0]
    Image.fromarray(grey, "L").save(tmp_path / "l.png")
    got = read_image(tmp_path / "l.png")
    assert got.shape == (5, 7, 3)
    for c in range(3):
        np.testing.assert_array_equal(got[..., c], grey)
    la = noise(5, 7, 2, seed=1)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    got = read_image(tmp_path / "la.png")
    assert got.shape == (5, 7, 4)
    np.testing.assert_array_equal(got[..., 0], la[..., 0])
    np.testing.assert_array_equal(got[..., 2], la[..., 0])
    np.testing.assert_array_equal(got[..., 3], la[..., 1])


def test_sixteen_bit_grey_png_keeps_the_high_byte(tmp_path):
    values = np.array([[0x0000, 0x00FF, 0x0100], [0x1234, 0x8000, 0xFFFF]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as im:
        assert im.mode.startswith("I")  # really a 16-bit file
    got = read_image(tmp_path / "g16.png")
    assert got.shape == (2, 3, 3)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got[..., 1], [[0x00, 0x00, 0x01], [0x12, 0x80, 0xFF]])


def test_cmyk_and_grey_jpegs_become_rgb(tmp_path):
    cmyk = np.zeros((16, 48, 4), dtype=np.uint8)
    cmyk[:, 16:32, 0] = 255  # pure cyan
    cmyk[:, 32:, 3] = 255  # pure black
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    got = read_image(tmp_path / "cmyk.jpg")
    assert got.shape == (16, 48, 3)
    assert_close(got[:, :16], np.full((16, 16, 3), 255, np.uint8), tol=3)  # no ink: white
    assert_close(got[:, 16:32], np.broadcast_to(np.array([0, 255, 255], np.uint8), (16, 16, 3)), tol=3)
    assert_close(got[:, 32:], np.zeros((16, 16, 3), np.uint8), tol=3)

    grey = np.repeat(np.arange(0, 256, 16, dtype=np.uint8)[None, :], 16, axis=0)
    Image.fromarray(grey, "L").save(tmp_path / "l.jpg", quality=100)
    got = read_image(tmp_path / "l.jpg")
    assert got.shape == (16, 16, 3)
    assert (got[..., 0] == got[..., 1]).all()
    assert (got[..., 1] == got[..., 2]).all()
    assert_close(got[..., 0], grey, tol=4)


def test_forced_modes(png):
    path, rgb = png("rgb.png", 4, 5)
    rgba = read_image(path, mode="RGBA")
    np.testing.assert_array_equal(rgba[..., :3], rgb)
    assert (rgba[..., 3] == 255).all()
    path4, pixels4 = png("rgba.png", 4, 5, c=4)
    np.testing.assert_array_equal(read_image(path4), pixels4)
    np.testing.assert_array_equal(read_image(path4, mode="RGB").shape, (4, 5, 3))


def test_sixteen_bit_grey_and_planar_tiffs(tmp_path, noise):
    g = np.random.default_rng(5).integers(0, 65536, (30, 40), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "g16.tif", g)
    src = open_image(tmp_path / "g16.tif")
    assert (src.mode, src.height, src.width) == ("RGB", 30, 40)
    for c in range(3):
        np.testing.assert_array_equal(src.read(Window(0, 0, 30, 40))[..., c], (g >> 8).astype(np.uint8))
    rgb = noise(30, 40, 3)
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    np.testing.assert_array_equal(open_image(tmp_path / "planar.tif").read(Window(0, 0, 30, 40)), rgb)


# -- bad files ------------------------------------------------------------------------------
def test_missing_files_and_directories(tmp_path):
    for call in (read_image, open_image, lambda p: Canvas.from_image(p, tmp_path / "c")):
        with pytest.raises(ImageFileError, match="not found"):
            call(tmp_path / "nope.png")
        with pytest.raises(ImageFileError, match="directory"):
            call(tmp_path)
    assert issubclass(ImageFileError, OSError)
    assert not (tmp_path / "c").exists()


def test_truncated_png(png):
    path, _ = png("t.png", 64, 64)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match="truncated or corrupt"):
        read_image(path)


def test_non_image_files(tmp_path):
    (tmp_path / "text.png").write_text("hello, I am not a PNG")
    (tmp_path / "text.tif").write_text("nor a TIFF")
    with pytest.raises(ImageFileError, match="not an image"):
        read_image(tmp_path / "text.png")
    with pytest.raises(ImageFileError, match="not an image"):
        open_image(tmp_path / "text.tif")


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_truncated_tiled_tiff_fails_cleanly_and_leaves_nothing(tmp_path, noise, compression):
    pixels = noise(600, 520, 3)
    tifffile.imwrite(tmp_path / "t.tif", pixels, tile=(256, 256), photometric="rgb", compression=compression)
    data = (tmp_path / "t.tif").read_bytes()
    (tmp_path / "t.tif").write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ImageFileError, match="could not be decoded"):
        Canvas.from_image(tmp_path / "t.tif", out / "canvas", tile=256)
    assert list(out.iterdir()) == []  # no canvas, no half-imported temporary


def test_decompression_bomb_guard(monkeypatch, png, tmp_path):
    path, pixels = png("big.png", 20, 30)
    monkeypatch.setattr(decode, "MAX_PIXELS", 599)
    for call in (lambda **kw: read_image(path, **kw), lambda **kw: Canvas.from_image(path, tmp_path / "c", **kw)):
        with pytest.raises(DecompressionBombError) as err:
            call()
        assert "trusted=True" in str(err.value)
        assert "--trust-large" in str(err.value)
        assert "600" in str(err.value)  # the pixel count
    assert not (tmp_path / "c").exists()
    np.testing.assert_array_equal(read_image(path, trusted=True), pixels)
    c = Canvas.from_image(path, tmp_path / "c", trusted=True, tile=16)
    np.testing.assert_array_equal(c.read(c.bounds), pixels)
    monkeypatch.setattr(decode, "MAX_PIXELS", 600)  # the limit itself is allowed
    np.testing.assert_array_equal(read_image(path), pixels)


def test_bomb_guard_covers_every_tiff_from_its_header(monkeypatch, tmp_path, noise):
    """One policy: tiled or not, a TIFF over the limit is refused before any pixel is decoded."""
    tifffile.imwrite(tmp_path / "g.tif", noise(20, 30, 1)[..., 0])  # grey, striped
    tifffile.imwrite(tmp_path / "rgb.tif", noise(20, 30, 3), tile=(16, 16), photometric="rgb")  # tiled
    monkeypatch.setattr(decode, "MAX_PIXELS", 100)
    for name in ("g.tif", "rgb.tif"):
        with pytest.raises(DecompressionBombError, match="--trust-large"):
            open_image(tmp_path / name)
        with pytest.raises(DecompressionBombError, match="--trust-large"):
            Canvas.from_image(tmp_path / name, tmp_path / "c")
        assert open_image(tmp_path / name, trusted=True).height == 20
    assert not (tmp_path / "c").exists()


# -- Canvas.from_image -----------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [3, 4])
def test_from_png(tmp_path, png, channels):
    path, pixels = png("a.png", 37, 45, c=channels)
    c = Canvas.from_image(path, tmp_path / "c", tile=16)
    assert c.mode == ("RGBA" if channels == 4 else "RGB")
    assert c.bounds == Window(0, 0, 37, 45)
    assert c.head == 1
    np.testing.assert_array_equal(c.read(c.bounds), pixels)
    np.testing.assert_array_equal(c.read(Window(-2, -2, 3, 3))[:2], 0)  # background outside
    assert c.verify().ok
    assert c.verify().tiles_checked == 9


def test_from_jpeg_equals_its_decoded_pixels(tmp_path, noise):
    Image.fromarray(noise(40, 33)).save(tmp_path / "a.jpg", quality=90)
    c = Canvas.from_image(tmp_path / "a.jpg", tmp_path / "c", tile=16)
    with Image.open(tmp_path / "a.jpg") as im:
        expected = np.asarray(im.convert("RGB"))
    assert c.mode == "RGB"
    np.testing.assert_array_equal(c.read(c.bounds), expected)


def test_from_tiled_tiff_streams_strips(tmp_path, noise, monkeypatch):
    """The import decodes a strip of ``tile`` rows at a time, never the whole image (nor with tifffile)."""
    pixels = noise(600, 520, 4)
    tifffile.imwrite(tmp_path / "a.tif", pixels, tile=(256, 256), photometric="rgb", extrasamples=("unassalpha",))

    def whole(*args, **kwargs):
        raise AssertionError("the TIFF was decoded whole")

    for cls in (tifffile.TiffFile, tifffile.TiffPage, tifffile.TiffPageSeries):
        monkeypatch.setattr(cls, "asarray", whole)
    monkeypatch.setattr(tifffile, "imread", whole)
    strips: list[tuple[int, tuple[int, ...]]] = []
    real = decode.iter_strips

    def spy(info, rows=1024, **kw):
        for top, strip in real(info, rows, **kw):
            strips.append((top, strip.shape))
            yield top, strip

    monkeypatch.setattr(decode, "iter_strips", spy)
    c = Canvas.from_image(tmp_path / "a.tif", tmp_path / "c", tile=256)
    monkeypatch.undo()

    assert strips == [(0, (256, 520, 4)), (256, (256, 520, 4)), (512, (88, 520, 4))]
    assert c.mode == "RGBA"
    assert c.bounds == Window(0, 0, 600, 520)
    np.testing.assert_array_equal(c.read(c.bounds), pixels)
    assert c.verify().ok
    assert c.head == 1


def test_from_image_refuses_to_overwrite(tmp_path, png):
    path, pixels = png("a.png", 8, 8)
    Canvas.from_image(path, tmp_path / "c", tile=16)
    other, other_pixels = png("b.png", 9, 9, seed=3)
    with pytest.raises(CanvasExistsError):
        Canvas.from_image(other, tmp_path / "c")
    np.testing.assert_array_equal(Canvas.open(tmp_path / "c").read(Window(0, 0, 8, 8)), pixels)
    c = Canvas.from_image(other, tmp_path / "c", overwrite=True, tile=16)
    np.testing.assert_array_equal(c.read(c.bounds), other_pixels)


def test_open_image_reads_a_tiled_tiff_window_by_window(tmp_path, noise, monkeypatch):
    """extract_tile's path: a chunky RGB(A) TIFF is read a window at a time, never decoded whole (review fix:
    the lazy path had become reachable only for TIFFs libvips decodes, i.e. almost none)."""
    pixels = noise(600, 520, 4)
    tifffile.imwrite(
        tmp_path / "a.tif", pixels, tile=(256, 256), photometric="rgb", extrasamples=("unassalpha",), compression="zlib"
    )

    def whole(*args, **kwargs):
        raise AssertionError("the TIFF was decoded whole")

    monkeypatch.setattr(imageio, "read_pixels", whole)
    for cls in (tifffile.TiffFile, tifffile.TiffPage, tifffile.TiffPageSeries):
        monkeypatch.setattr(cls, "asarray", whole)
    with imageio.open_image(tmp_path / "a.tif") as src:
        assert isinstance(src._array, imageio._TiffTiles)
        np.testing.assert_array_equal(src.read(Window(100, 250, 200, 270)), pixels[100:300, 250:520])
