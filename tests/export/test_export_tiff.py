"""Tiled BigTIFF export, read back by tifffile, and by libtiff (imagecodecs) and Pillow, which tifffile is not."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image

from imkerutils.errors import ExportFormatError
from imkerutils.tiling import Window
from imkerutils.tiling.export import export_region
from imkerutils.tiling.export._plan import level_window

if TYPE_CHECKING:
    from pathlib import Path

REGION = Window(-90, -140, 260, 300)  # crosses the bounds' top-left corner


@pytest.mark.parametrize(
    ("mode", "compression", "tag"),
    [
        ("RGB", None, 8),  # deflate by default
        ("RGB", "zstd:5", 50000),
        ("RGBA", "none", 1),
        ("RGBA", "deflate:1", 8),
    ],
)
def test_tiff_matches_canvas_read(make_canvas, out_dir: Path, mode: str, compression: str | None, tag: int) -> None:
    canvas, _ = make_canvas(mode)
    out = export_region(canvas, out_dir / "r.tif", region=REGION, compression=compression, progress=False)
    with tifffile.TiffFile(out) as tif:
        assert tif.is_bigtiff
        page = tif.pages[0]
        assert page.is_tiled
        assert (page.tilelength, page.tilewidth) == (64, 64)
        assert page.compression == tag
        assert page.photometric == tifffile.PHOTOMETRIC.RGB
        if mode == "RGBA":
            assert tuple(page.extrasamples) == (tifffile.EXTRASAMPLE.UNASSALPHA,)
        back = page.asarray()
        meta = json.loads(page.description)["imkerutils"]
        assert meta == {"world_origin": [REGION.row_off, REGION.col_off], "level": 0, "scale": 1}
    np.testing.assert_array_equal(back, canvas.read(REGION))


def test_jpeg_compression_is_lossy_but_close_and_refuses_alpha(make_canvas, out_dir: Path) -> None:
    rng = np.random.default_rng(3)
    canvas, _ = make_canvas("RGB")
    smooth = np.clip(np.linspace(0, 255, 200)[None, :, None] + rng.normal(0, 2, (150, 200, 3)), 0, 255)
    canvas.paste(smooth.astype(np.uint8), 0, 0)
    region = Window(0, 0, 150, 200)
    out = export_region(canvas, out_dir / "j.tif", region=region, compression="jpeg:95", progress=False)
    with tifffile.TiffFile(out) as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.JPEG
        back = tif.pages[0].asarray()
    err = back.astype(float) - canvas.read(region)
    assert back.shape == (150, 200, 3)
    assert np.sqrt((err**2).mean()) < 4
    rgba, _ = make_canvas("RGBA", seed=1)
    with pytest.raises(ExportFormatError, match="alpha"):
        export_region(rgba, out_dir / "a.tif", compression="jpeg", progress=False)
    assert not (out_dir / "a.tif").exists()


def read_levels(path: Path) -> list[np.ndarray]:
    with tifffile.TiffFile(path) as tif:
        # the coarser levels are further top-level pages, marked reduced (as libvips writes a pyramid)
        assert [p.subfiletype for p in tif.pages] == [0] + [1] * (len(tif.pages) - 1)
        assert all(not p.pages for p in tif.pages)  # no SubIFDs: OpenSlide sees only the main IFD chain
        return [lvl.asarray() for lvl in tif.series[0].levels]  # tifffile finds a pyramid only if sizes halve


def test_pyramid_levels_halve_exactly_from_an_odd_corner(make_canvas, out_dir: Path) -> None:
    canvas, _ = make_canvas("RGBA", height=300, width=400, row=-70, col=-131)
    out = export_region(canvas, out_dir / "p.tif", pyramid=True, compression="zstd", progress=False)
    arrays = read_levels(out)
    assert [a.shape for a in arrays] == [(300, 400, 4), (150, 200, 4), (75, 100, 4), (38, 50, 4)]
    for k, arr in enumerate(arrays):  # level k averages 2**k x 2**k blocks from the image's corner
        f = 2**k
        data = canvas.read(Window(-70, -131, arr.shape[0] * f, arr.shape[1] * f)).astype(np.uint64)
        sums = data.reshape(arr.shape[0], f, arr.shape[1], f, 4).sum(axis=(1, 3))
        np.testing.assert_array_equal(arr, (sums + f * f // 2) // (f * f), err_msg=f"level {k}")


def test_pyramid_from_an_aligned_corner_follows_the_canvas_levels(make_canvas, out_dir: Path, box_mean) -> None:
    canvas, _ = make_canvas("RGB", height=300, width=400, row=-64, col=-128)
    out = export_region(canvas, out_dir / "p.tif", pyramid=True, progress=False)
    arrays = read_levels(out)
    assert [a.shape[:2] for a in arrays] == [(300, 400), (150, 200), (75, 100), (38, 50)]
    for k, arr in enumerate(arrays):
        np.testing.assert_array_equal(arr, box_mean(canvas, level_window(canvas.bounds, k), k), err_msg=f"level {k}")


def test_export_of_a_coarser_level(make_canvas, out_dir: Path, box_mean) -> None:
    canvas, _ = make_canvas("RGB")
    region = Window(-75, -133, 211, 305)
    out = export_region(canvas, out_dir / "l2.tif", region=region, level=2, progress=False)
    lw = level_window(region, 2)
    assert lw == Window(-19, -34, 53, 77)
    np.testing.assert_array_equal(tifffile.imread(out), box_mean(canvas, lw, 2))


def test_levels_beyond_the_canvas_pyramid_average_its_coarsest_level(make_canvas, out_dir: Path, box_mean) -> None:
    canvas, _ = make_canvas("RGB")
    deep = getattr(canvas, "levels", 1) + 1  # coarser than any level the canvas keeps
    region = Window(-300, -500, 900, 1300)  # reaches far past the bounds: background there
    out = export_region(canvas, out_dir / "deep.tif", region=region, level=deep, progress=False)
    lw = level_window(region, deep)
    back = tifffile.imread(out)
    np.testing.assert_array_equal(back, box_mean(canvas, lw, deep))
    assert back.any()


# -- read back without tifffile (which also wrote the files): libtiff through imagecodecs, and Pillow ---------


def libtiff_levels(path: Path) -> list[np.ndarray]:
    """Every level, decoded by libtiff, walking the main IFD chain (``tiff_decode(index=...)``)."""
    data = path.read_bytes()
    with tifffile.TiffFile(path) as tif:
        n = len(tif.pages)
    return [imagecodecs.tiff_decode(data, index=k) for k in range(n)]


def pil_read(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.format == "TIFF"
        return np.asarray(im)


@pytest.mark.parametrize("compression", ["none", "deflate", "zstd"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_libtiff_and_pillow_read_the_region_exactly(make_canvas, out_dir: Path, mode: str, compression: str) -> None:
    canvas, _ = make_canvas(mode)
    out = export_region(canvas, out_dir / "r.tif", region=REGION, compression=compression, progress=False)
    expected = canvas.read(REGION)
    back = imagecodecs.tiff_decode(out.read_bytes())
    assert back.shape == (REGION.height, REGION.width, len(mode))
    np.testing.assert_array_equal(back, expected)
    np.testing.assert_array_equal(pil_read(out), expected)


@pytest.mark.parametrize("compression", ["none", "deflate", "zstd"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_libtiff_reads_every_pyramid_level_exactly(make_canvas, out_dir: Path, mode: str, compression: str) -> None:
    canvas, _ = make_canvas(mode, row=-64, col=-128)  # a corner on every level's grid: levels are the canvas's
    out = export_region(canvas, out_dir / "p.tif", pyramid=True, compression=compression, progress=False)
    levels = libtiff_levels(out)
    assert [a.shape for a in levels] == [
        (300, 400, len(mode)),
        (150, 200, len(mode)),
        (75, 100, len(mode)),
        (38, 50, len(mode)),
    ]
    for k, arr in enumerate(levels):
        expected = canvas.read(canvas.bounds) if k == 0 else canvas.read(canvas.level_bounds(k), level=k)
        np.testing.assert_array_equal(arr, expected, err_msg=f"level {k}")
    np.testing.assert_array_equal(pil_read(out), levels[0])


def test_jpeg_pyramid_levels_are_close_to_the_canvas_levels(make_canvas, out_dir: Path) -> None:
    canvas, _ = make_canvas("RGB", row=-64, col=-128)
    y, x = np.mgrid[0:300, 0:400]
    smooth = np.stack([x * 0.6, y * 0.8, (x + y) * 0.35], axis=-1).astype(np.uint8)
    canvas.paste(smooth, -64, -128)  # JPEG suits smooth pictures, not noise
    out = export_region(canvas, out_dir / "j.tif", pyramid=True, compression="jpeg:90", progress=False)
    shapes = [(300, 400, 3), (150, 200, 3), (75, 100, 3), (38, 50, 3)]
    with tifffile.TiffFile(out) as tif:
        assert all(p.compression == tifffile.COMPRESSION.JPEG for p in tif.pages)
        by_tifffile = [lvl.asarray() for lvl in tif.series[0].levels]
    by_libtiff = libtiff_levels(out)
    assert canvas.levels == len(shapes)
    for name, arrays in (("tifffile", by_tifffile), ("libtiff", by_libtiff)):
        assert [a.shape for a in arrays] == shapes, name
        for k, arr in enumerate(arrays):
            expected = canvas.read(canvas.bounds) if k == 0 else canvas.read(canvas.level_bounds(k), level=k)
            mae = np.abs(arr.astype(float) - expected).mean()
            assert mae < 2, (name, k, mae)  # measured 0.6 (level 0) to 1.5 (level 3)
    assert np.abs(pil_read(out).astype(float) - canvas.read(canvas.bounds)).mean() < 2


@pytest.mark.parametrize("compression", ["deflate", "none"])
def test_openslide_sees_every_pyramid_level(make_canvas, out_dir: Path, compression: str) -> None:
    """Issue 17: OpenSlide (and so QuPath) saw one level in our pyramidal TIFF (SubIFDs)."""
    openslide = pytest.importorskip("openslide")
    canvas, _ = make_canvas("RGB", height=600, width=700, row=-64, col=-128)  # canvas-aligned: levels are its own
    out = export_region(canvas, out_dir / "s.tif", pyramid=True, compression=compression, progress=False)
    with openslide.OpenSlide(out) as slide:
        assert slide.properties["openslide.vendor"] == "generic-tiff"
        assert slide.level_count == canvas.levels == 5
        for k in range(slide.level_count):
            lb = canvas.level_bounds(k)
            assert slide.level_dimensions[k] == (lb.width, lb.height)
            got = np.asarray(slide.read_region((0, 0), k, (lb.width, lb.height)))
            assert (got[..., 3] == 255).all()
            np.testing.assert_array_equal(got[..., :3], canvas.read(lb, level=k), err_msg=f"level {k}")
