"""JPEG and WebP for small regions: read back by Pillow and imagecodecs; clear errors past their limits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import imagecodecs
import numpy as np
import pytest
from PIL import Image

from imkerutils.errors import ExportFormatError, ExportSizeError
from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.export import export_region

if TYPE_CHECKING:
    from pathlib import Path


def pil_read(path: Path) -> tuple[np.ndarray, str, str]:
    with Image.open(path) as im:
        return np.asarray(im), im.mode, im.format


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_lossless_webp_is_exact_alpha_included(make_canvas, out_dir: Path, mode: str) -> None:
    canvas, _ = make_canvas(mode)
    region = Window(-100, -150, 350, 430)
    out = export_region(canvas, out_dir / "r.webp", region=region, progress=False)
    back, pil_mode, fmt = pil_read(out)
    assert (fmt, pil_mode) == ("WEBP", mode)
    expected = canvas.read(region)
    np.testing.assert_array_equal(back, expected)
    np.testing.assert_array_equal(imagecodecs.webp_decode(out.read_bytes()), expected)


def test_jpeg_is_close_to_the_canvas(tmp_path: Path, out_dir: Path) -> None:
    canvas = Canvas.create(tmp_path / "c.zarr", tile=64)
    y, x = np.mgrid[0:200, 0:300]
    smooth = np.stack([x * 0.8, y * 1.2, (x + y) * 0.4], axis=-1).astype(np.uint8)
    canvas.paste(smooth, -50, -60, extend=True)
    out = export_region(canvas, out_dir / "r.jpg", compression="jpeg:95", progress=False)
    back, pil_mode, fmt = pil_read(out)
    assert (fmt, pil_mode, back.shape) == ("JPEG", "RGB", (200, 300, 3))
    for decoded in (back, imagecodecs.jpeg8_decode(out.read_bytes())):
        rms = np.sqrt(((decoded.astype(float) - smooth) ** 2).mean())
        assert rms < 3, rms


def test_limits_and_alpha_give_clear_errors_before_any_work(make_canvas, out_dir: Path) -> None:
    canvas, _ = make_canvas("RGB")
    with pytest.raises(ExportSizeError, match=r"too large for WebP \(at most 16,383 px per side"):
        export_region(canvas, out_dir / "w.webp", region=Window(0, 0, 10, 16_384), progress=False)
    with pytest.raises(ExportSizeError, match="too large for JPEG"):
        export_region(canvas, out_dir / "w.jpg", region=Window(0, 0, 1, 65_501), progress=False)
    with pytest.raises(ExportSizeError, match="px in all"):  # within the side limits, too many pixels to hold
        export_region(canvas, out_dir / "w.jpg", region=Window(0, 0, 15_000, 15_000), progress=False)
    rgba, _ = make_canvas("RGBA", seed=1)
    with pytest.raises(ExportFormatError, match="JPEG cannot hold an alpha channel"):
        export_region(rgba, out_dir / "a.jpeg", progress=False)
    with pytest.raises(ExportFormatError, match="cannot use compression 'zstd'"):
        export_region(canvas, out_dir / "z.webp", compression="zstd", progress=False)
    with pytest.raises(ExportFormatError, match="not a pyramid"):
        export_region(canvas, out_dir / "p.webp", pyramid=True, progress=False)
    assert list(out_dir.iterdir()) == []
