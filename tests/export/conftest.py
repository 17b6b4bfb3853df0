"""Canvases for the export tests: content at negative world coordinates, small tiles (so regions span many)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

from imkerutils.tiling import Canvas, Window

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

TILE = 64


def _box_mean(canvas: Canvas, lw: Window, level: int) -> np.ndarray:
    """Reference pixels of level window ``lw``: canvas levels where it has them, else 2**k x 2**k means.

    Written independently of the exporter (a reshape-mean over an aligned read).
    """
    levels = getattr(canvas, "levels", 1)
    base = min(level, levels - 1)
    f = 2 ** (level - base)
    src = Window(lw.row_off * f, lw.col_off * f, lw.height * f, lw.width * f)
    data = canvas.read(src) if base == 0 else canvas.read(src, base)
    if f == 1:
        return data
    sums = data.reshape(lw.height, f, lw.width, f, canvas.channels).astype(np.uint64).sum(axis=(1, 3))
    return ((sums + f * f // 2) // (f * f)).astype(np.uint8)


@pytest.fixture
def make_canvas(tmp_path: Path) -> Callable[..., tuple[Canvas, np.ndarray]]:
    """``make_canvas(mode="RGB", height=300, width=400, row=-70, col=-130, seed=0)``.

    A canvas with tile 64 whose only content is noise pasted with its top-left at world ``(row, col)``;
    returns the canvas and the pasted pixels.
    """

    def make(
        mode: str = "RGB", height: int = 300, width: int = 400, row: int = -70, col: int = -130, seed: int = 0
    ) -> tuple[Canvas, np.ndarray]:
        rng = np.random.default_rng(seed)
        pixels = rng.integers(0, 256, (height, width, len(mode)), dtype=np.uint8)
        canvas = Canvas.create(tmp_path / f"{mode}-{seed}.zarr", mode=mode, tile=TILE)
        canvas.paste(pixels, row, col, extend=True)
        return canvas, pixels

    return make


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


@pytest.fixture
def box_mean() -> Callable[[Canvas, Window, int], np.ndarray]:
    """``box_mean(canvas, level_window, level)``: the reference pixels of a level window."""
    return _box_mean
