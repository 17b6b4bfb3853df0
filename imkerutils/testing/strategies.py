"""Hypothesis strategies for windows, tile grids, canvas modes and pixel arrays.

For tests of :mod:`imkerutils.tiling` and of anything built on it.  Offsets
go negative by default: a canvas that grew left or up lives there.

>>> from hypothesis import given
>>> @given(windows(min_size=1))
... def check(w):
...     assert not w.is_empty and w.row_off >= -64
>>> check()
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from imkerutils.tiling.grid import TileGrid
from imkerutils.tiling.window import Window

__all__ = [
    "CHANNELS",
    "MODES",
    "grids",
    "modes",
    "pixel_arrays",
    "tile_sizes",
    "windows",
    "windows_inside",
]

#: Canvas modes and their channel counts.
CHANNELS = {"RGB": 3, "RGBA": 4}
MODES = tuple(CHANNELS)


def modes() -> st.SearchStrategy[str]:
    """``"RGB"`` or ``"RGBA"``."""
    return st.sampled_from(MODES)


def tile_sizes(min_size: int = 1, max_size: int = 32) -> st.SearchStrategy[int]:
    """Positive tile sizes (small ones cross many tile lines cheaply)."""
    return st.integers(min_size, max_size)


def grids(min_size: int = 1, max_size: int = 32) -> st.SearchStrategy[TileGrid]:
    """:class:`TileGrid` values with a tile size in ``[min_size, max_size]``."""
    return tile_sizes(min_size, max_size).map(TileGrid)


def windows(
    *, min_offset: int = -64, max_offset: int = 64, min_size: int = 0, max_size: int = 48
) -> st.SearchStrategy[Window]:
    """Windows whose offsets lie in ``[min_offset, max_offset]`` and sides in ``[min_size, max_size]``."""
    offsets = st.integers(min_offset, max_offset)
    sizes = st.integers(min_size, max_size)
    return st.builds(Window, offsets, offsets, sizes, sizes)


@st.composite
def windows_inside(draw: st.DrawFn, outer: Window, min_size: int = 1) -> Window:
    """Return a window lying entirely inside ``outer`` (which must hold at least ``min_size`` per side)."""
    if outer.height < min_size or outer.width < min_size:
        raise ValueError(f"{outer} cannot hold a window of side {min_size}")
    height = draw(st.integers(min_size, outer.height))
    width = draw(st.integers(min_size, outer.width))
    row = draw(st.integers(outer.row_off, outer.row_end - height))
    col = draw(st.integers(outer.col_off, outer.col_end - width))
    return Window(row, col, height, width)


@st.composite
def pixel_arrays(
    draw: st.DrawFn,
    mode: str | None = None,
    *,
    height: int | None = None,
    width: int | None = None,
    min_side: int = 1,
    max_side: int = 24,
) -> np.ndarray:
    """``(height, width, channels)`` uint8 arrays of noise (``mode`` None: drawn too).

    Pixels come from a NumPy generator seeded by Hypothesis: fast for large
    arrays, reproducible, and shrinking moves towards small shapes and seed 0.
    A quarter of the arrays are one flat colour (including 0, the background),
    which catches code that confuses "written" with "non-zero".
    """
    mode = draw(modes()) if mode is None else mode
    if mode not in CHANNELS:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    h = draw(st.integers(min_side, max_side)) if height is None else height
    w = draw(st.integers(min_side, max_side)) if width is None else width
    shape = (h, w, CHANNELS[mode])
    if draw(st.integers(0, 3)) == 0:
        return np.full(shape, draw(st.integers(0, 255)), dtype=np.uint8)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.integers(0, 256, size=shape, dtype=np.uint8)
