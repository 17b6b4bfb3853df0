"""The streaming PNG writer: valid PNGs (every CRC, the zlib stream, two independent decoders), exact pixels."""

from __future__ import annotations

import io
import itertools
import struct
import zlib
from typing import TYPE_CHECKING

import imagecodecs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from imkerutils.errors import ExportSizeError
from imkerutils.tiling import Window
from imkerutils.tiling.export import export_region
from imkerutils.tiling.export import png as png_mod
from imkerutils.tiling.export.png import adler32_combine, write_png

if TYPE_CHECKING:
    from pathlib import Path


def pil_read(path: Path) -> tuple[np.ndarray, str]:
    with Image.open(path) as im:
        return np.asarray(im), im.mode


def parse_png(data: bytes) -> list[tuple[bytes, bytes]]:
    """``[(chunk type, chunk data)]``, checking the signature and every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC on {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR"
    assert chunks[-1] == (b"IEND", b"")
    return chunks


def unfilter(raw: bytes, height: int, width: int, channels: int) -> np.ndarray:
    """Undo PNG filters None / Sub / Up row by row (a plain reference decoder)."""
    rb = width * channels
    rows = np.frombuffer(raw, np.uint8).reshape(height, rb + 1)
    out = np.zeros((height, rb), np.uint8)
    for i in range(height):
        ftype, line = rows[i, 0], rows[i, 1:].copy()
        if ftype == 1:
            for j in range(channels, rb):
                line[j] = (int(line[j]) + int(line[j - channels])) & 0xFF
        elif ftype == 2 and i > 0:
            line = (line.astype(np.int16) + out[i - 1]).astype(np.uint8)
        else:
            assert ftype in (0, 2)
        out[i] = line
    return out.reshape(height, width, channels)


def cuts(draw: st.DrawFn, n: int) -> list[int]:
    points = sorted(draw(st.sets(st.integers(1, max(1, n - 1)), max_size=4))) if n > 1 else []
    return [0, *points, n]


@st.composite
def png_cases(draw: st.DrawFn) -> dict:
    channels = draw(st.sampled_from([3, 4]))
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    seed = draw(st.integers(0, 2**16))
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, channels), dtype=np.uint8)
    if draw(st.booleans()):  # smooth content too, so long matches and the dictionary matter
        pixels = np.broadcast_to(np.arange(w, dtype=np.uint8)[None, :, None], pixels.shape).copy()
    return {
        "pixels": pixels,
        "cuts": cuts(draw, h),
        "level": draw(st.integers(0, 9)),
        "filter": draw(st.sampled_from(sorted(png_mod.FILTERS))),
        "strategy": draw(st.sampled_from(sorted(png_mod.STRATEGIES))),
        "block_bytes": draw(st.sampled_from([1, 7, 100, 1 << 20])),
        "workers": draw(st.integers(1, 3)),
    }


@given(png_cases())
def test_any_strips_blocks_filters_and_levels_make_a_valid_png(case: dict) -> None:
    pixels = case["pixels"]
    h, w, c = pixels.shape
    saved = png_mod._BLOCK_BYTES
    png_mod._BLOCK_BYTES = case["block_bytes"]  # many blocks per strip: joins, dictionaries, adler combine
    try:
        buf = io.BytesIO()
        strips = [pixels[a:b] for a, b in zip(case["cuts"], case["cuts"][1:], strict=False)]
        write_png(
            buf,
            strips,
            width=w,
            height=h,
            channels=c,
            level=case["level"],
            filter=case["filter"],
            strategy=case["strategy"],
            workers=case["workers"],
            offset=(-5, 7),
        )
    finally:
        png_mod._BLOCK_BYTES = saved
    data = buf.getvalue()
    chunks = parse_png(data)
    assert struct.unpack(">IIBBBBB", chunks[0][1]) == (w, h, 8, 2 if c == 3 else 6, 0, 0, 0)
    assert (b"oFFs", struct.pack(">iiB", -5, 7, 0)) in chunks
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))  # checks the Adler-32
    np.testing.assert_array_equal(unfilter(raw, h, w, c), pixels)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)  # Pillow
    np.testing.assert_array_equal(imagecodecs.png_decode(data), pixels)  # libpng


@given(st.binary(max_size=300), st.binary(max_size=300))
def test_adler32_combine_matches_zlib(a: bytes, b: bytes) -> None:
    assert adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)


def test_adler32_combine_long_second_part() -> None:
    a, b = b"\xff" * 70_000, bytes(range(256)) * 600  # sums past the modulus
    assert adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)


def test_zlib_header_is_valid_for_every_level() -> None:
    for level in range(10):
        cmf, flg = png_mod._zlib_header(level)
        assert (cmf * 256 + flg) % 31 == 0
        assert cmf == 0x78
        assert not flg & 0x20


def test_strips_must_add_up_to_the_height() -> None:
    img = np.zeros((4, 3, 3), np.uint8)
    with pytest.raises(ValueError, match="hold 2 rows, the image 4"):
        write_png(io.BytesIO(), [img[:2]], width=3, height=4, channels=3)
    with pytest.raises(ValueError, match="more than the 4 rows"):
        write_png(io.BytesIO(), [img, img], width=3, height=4, channels=3)
    with pytest.raises(ValueError, match="does not fit"):
        write_png(io.BytesIO(), [img[:, :2]], width=3, height=4, channels=3)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_export_matches_canvas_read_across_bounds_and_negative_coordinates(
    make_canvas, out_dir: Path, mode: str
) -> None:
    canvas, pixels = make_canvas(mode)
    region = Window(-100, -150, 350, 430)  # starts above-left of the bounds, ends inside them
    out = export_region(canvas, out_dir / "r.png", region=region, progress=False)
    back, pil_mode = pil_read(out)
    expected = canvas.read(region)
    np.testing.assert_array_equal(back, expected)
    np.testing.assert_array_equal(back[30:330, 20:420], pixels)  # the pasted noise, at its world place
    assert not back[:30].any()
    assert not back[:, :20].any()
    assert not back[330:].any()
    assert not back[:, 420:].any()
    if mode == "RGBA":
        assert pil_mode == "RGBA"
        assert back[..., 3].any()
    offs = dict(parse_png(out.read_bytes()))[b"oFFs"]
    assert struct.unpack(">iiB", offs) == (-150, -100, 0)


def test_export_defaults_to_the_whole_bounds(make_canvas, out_dir: Path) -> None:
    canvas, pixels = make_canvas("RGB")
    out = export_region(canvas, out_dir / "all.png", compression="rle", progress=False)
    np.testing.assert_array_equal(pil_read(out)[0], pixels)
    stored = export_region(canvas, out_dir / "stored.png", compression="none", progress=False)
    np.testing.assert_array_equal(pil_read(stored)[0], pixels)
    assert stored.stat().st_size > pixels.nbytes  # level 0: stored blocks


def test_png_size_limit_is_checked_before_any_work(make_canvas, out_dir: Path) -> None:
    canvas, _ = make_canvas("RGB")
    with pytest.raises(ExportSizeError, match="too large for PNG"):
        export_region(canvas, out_dir / "huge.png", region=Window(0, 0, 1, 2**31), progress=False)
    assert list(out_dir.iterdir()) == []


def test_progress_callback_counts_every_pixel(make_canvas, out_dir: Path) -> None:
    canvas, _ = make_canvas("RGB")
    seen: list[tuple[int, int]] = []
    export_region(canvas, out_dir / "p.png", progress=lambda done, total: seen.append((done, total)))
    b = canvas.bounds
    assert seen[-1] == (b.size, b.size)
    assert len(seen) > 1
    assert all(x[0] < y[0] for x, y in itertools.pairwise(seen))
