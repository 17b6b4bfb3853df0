"""Seam strategies: named corrections applied to a finished tile's new half only.

A strategy works in the right-facing view (band on the left of ``seam_col``,
new pixels on the right) and may change only pixels that are generated
(``generate`` True) *and* lie in the new half within ``width`` columns of the
seam.  Band pixels and other kept pixels stay byte-identical, always.

``exact``
    the identity: the model's pixels are written as they are.
``feather``
    a correction field.  On every row where a real band pixel meets a generated
    one, the colour offset ``band[:, seam_col-1] - new[:, seam_col]`` is
    measured; rows whose seam pixel is kept (a neighbour's pixels) count as
    offset 0 and rows without a real band pixel get no correction.  The offsets
    are smoothed along the edge with a Gaussian of ``smooth`` px (0 = off;
    unsmoothed per-row offsets copy the band's texture noise into the new half
    as streaks), then added to the new pixels with a weight that is 1 at the
    seam and decays to 0 at ``width`` columns (``profile`` "cosine" or
    "linear").  With ``smooth=0`` the first new column equals the band's last.
    Colour channels only; alpha is left as generated.

>>> tile = np.zeros((2, 6, 3), np.uint8); tile[:, :3] = 90; tile[:, 3:] = 100
>>> generate = np.zeros((2, 6), bool); generate[:, 3:] = True
>>> apply_seam("feather", tile, generate, "right", seam_col=3, width=2, smooth=0)[0, :, 0].tolist()
[90, 90, 90, 90, 95, 100]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import ndimage

from imkerutils.errors import GeometryError, InvalidTileError, UnknownSeamStrategyError
from imkerutils.exquisite.geometry.checks import check_generate
from imkerutils.exquisite.geometry.direction import Direction, from_right, to_right
from imkerutils.tiling.checks import check_tile

__all__ = ["SEAM_STRATEGIES", "apply_seam", "seam_strategy_names"]

SeamStrategy = Callable[..., np.ndarray]


def _exact(tile: np.ndarray, generate: np.ndarray, *, seam_col: int, width: int) -> np.ndarray:
    return tile


def _profile(width: int, n: int, profile: str) -> np.ndarray:
    j = np.arange(n, dtype=np.float64)
    if profile == "linear":
        return np.clip(1.0 - j / width, 0.0, 1.0)
    if profile == "cosine":
        return np.where(j < width, 0.5 * (1.0 + np.cos(np.pi * np.minimum(j, width) / width)), 0.0)
    raise GeometryError(f"unknown feather profile {profile!r}; choose 'cosine' or 'linear'")


def _feather(
    tile: np.ndarray,
    generate: np.ndarray,
    *,
    seam_col: int,
    width: int,
    smooth: float = 16.0,
    profile: str = "cosine",
) -> np.ndarray:
    n = min(width, tile.shape[1] - seam_col)
    weight = _profile(width, n, profile)
    if n <= 0:
        return tile
    nc = 3 if tile.shape[2] == 4 else tile.shape[2]
    real_band = ~generate[:, seam_col - 1]
    seam_new = generate[:, seam_col]
    offset = tile[:, seam_col - 1, :nc] - tile[:, seam_col, :nc]
    offset = np.where((real_band & seam_new)[:, None], offset, 0.0)
    if smooth > 0:  # normalised convolution over the rows that have a real band pixel
        num = ndimage.gaussian_filter1d(offset, smooth, axis=0, mode="constant")
        den = ndimage.gaussian_filter1d(real_band.astype(np.float64), smooth, mode="constant")
        offset = np.divide(num, den[:, None], out=np.zeros_like(num), where=den[:, None] > 1e-9)
    offset[~real_band] = 0.0
    out = tile.copy()
    region = out[:, seam_col : seam_col + n, :nc]
    corrected = region + offset[:, None, :] * weight[None, :, None]
    paint = generate[:, seam_col : seam_col + n, None]
    out[:, seam_col : seam_col + n, :nc] = np.where(paint, corrected, region)
    return out


SEAM_STRATEGIES: Mapping[str, SeamStrategy] = MappingProxyType({"exact": _exact, "feather": _feather})


def seam_strategy_names() -> tuple[str, ...]:
    """Return the names :func:`apply_seam` accepts."""
    return tuple(sorted(SEAM_STRATEGIES))


def apply_seam(
    strategy: str,
    tile: np.ndarray,
    generate: np.ndarray,
    direction: Direction | str = Direction.RIGHT,
    *,
    width: int = 64,
    seam_col: int = 512,
    **options: Any,
) -> np.ndarray:
    """Apply the seam strategy ``strategy`` to a finished tile (world orientation).

    Parameters
    ----------
    strategy : str
        A name from :func:`seam_strategy_names`.
    tile : ndarray (H, W, C), C = 3 or 4
        The finished tile: real pixels where kept, model pixels where generated.
    generate : ndarray of bool (H, W)
        The tile's generate mask.
    direction : Direction or str
        The growth direction of the tile.
    width : int
        Columns past the seam the strategy may change.
    seam_col : int
        The seam's column in the right-facing view (the band width).
    **options
        Strategy options (``feather``: ``smooth``, ``profile``).

    Returns
    -------
    ndarray
        A new array, same shape and dtype as ``tile``.
    """
    try:
        func = SEAM_STRATEGIES[strategy]
    except (KeyError, TypeError):
        raise UnknownSeamStrategyError(
            f"unknown seam strategy {strategy!r}; choose one of {', '.join(seam_strategy_names())}"
        ) from None
    tile = check_tile(tile)
    generate = check_generate(generate, tile.shape[:2])
    if width < 0:
        raise GeometryError(f"seam width must not be negative, got {width}")
    d = Direction.parse(direction)
    rf_tile = to_right(tile, d)
    rf_gen = to_right(generate, d)
    if not 0 < seam_col < rf_tile.shape[1]:
        raise InvalidTileError(f"seam column {seam_col} is outside a tile {rf_tile.shape[1]} columns wide")
    if func is _exact:  # the identity: skip the float round trip
        return tile.copy()
    work = np.ascontiguousarray(rf_tile, dtype=np.float64)  # same numbers in every orientation
    result = func(work, np.ascontiguousarray(rf_gen), seam_col=seam_col, width=width, **options)
    if np.issubdtype(tile.dtype, np.integer):
        info = np.iinfo(tile.dtype)
        result = np.clip(np.rint(result), info.min, info.max)
    out = np.ascontiguousarray(from_right(result.astype(tile.dtype), d))
    # Whatever a strategy did, kept pixels and the band are the input's, byte for byte.
    np.copyto(out, tile, where=~generate[..., None])
    return out
