"""Hypothesis strategies and independent reference formulas for the geometry tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from imkerutils.exquisite.geometry import Direction
from imkerutils.tiling.window import Window

directions = st.sampled_from(list(Direction))


@st.composite
def windows(draw, max_height: int = 7000, max_width: int = 2000, min_size: int = 1) -> Window:
    return Window(
        draw(st.integers(-3000, 3000)),
        draw(st.integers(-3000, 3000)),
        draw(st.integers(min_size, max_height)),
        draw(st.integers(min_size, max_width)),
    )


@st.composite
def small_params(draw) -> dict[str, int]:
    """Small tiles, so pixel-level checks stay fast."""
    tile = draw(st.integers(2, 48))
    band = draw(st.integers(1, tile - 1))
    overlap = draw(st.integers(0, (tile - 1) // 2))
    return {"tile": tile, "band": band, "overlap": overlap}


@st.composite
def plan_inputs(draw, small: bool | None = None):
    """(bounds, direction, params): default geometry on big bounds, or small tiles on small bounds."""
    if small is None:
        small = draw(st.booleans())
    if small:
        params = draw(small_params())
        bounds = draw(windows(max_height=8 * params["tile"], max_width=2 * params["tile"]))
    else:
        params = {"tile": 1024, "band": 512, "overlap": draw(st.sampled_from([256, 0, 100, 511]))}
        bounds = draw(windows())
    return bounds, draw(directions), params


def mirror(w: Window) -> Window:
    """Mirror left-right about the column -1/2 (world col c -> -c - 1)."""
    return Window(w.row_off, -w.col_end, w.height, w.width)


def transpose(w: Window) -> Window:
    return Window(w.col_off, w.row_off, w.width, w.height)


def expected_strip(bounds: Window, d: Direction, advance: int) -> Window:
    """The new strip, written out per direction in world coordinates."""
    r, c, h, w = bounds.row_off, bounds.col_off, bounds.height, bounds.width
    return {
        Direction.RIGHT: Window(r, c + w, h, advance),
        Direction.LEFT: Window(r, c - advance, h, advance),
        Direction.DOWN: Window(r + h, c, advance, w),
        Direction.UP: Window(r - advance, c, advance, w),
    }[d]


def expected_new_bounds(bounds: Window, d: Direction, advance: int) -> Window:
    r, c, h, w = bounds.row_off, bounds.col_off, bounds.height, bounds.width
    return {
        Direction.RIGHT: Window(r, c, h, w + advance),
        Direction.LEFT: Window(r, c - advance, h, w + advance),
        Direction.DOWN: Window(r, c, h + advance, w),
        Direction.UP: Window(r - advance, c, h + advance, w),
    }[d]


def pink_noise(height: int, width: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    """A natural-looking uint8 texture: 1/f noise per channel, scaled to 0-255."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    amp = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / max(height, width))
    out = np.empty((height, width, channels))
    for c in range(channels):
        phase = rng.uniform(0, 2 * np.pi, size=amp.shape)
        field = np.fft.irfft2(amp * np.exp(1j * phase), s=(height, width))
        out[..., c] = (field - field.min()) / (field.max() - field.min())
    return np.rint(30 + 190 * out).astype(np.uint8)
