"""Large-scale tone that decorrelates with distance from the kept pixels (a post-process of the quilting).

Neighbour-matched quilting continues whatever tone meets the seam: a dark spot
on the boundary (an eye's fovea, a rocket's shadow, the sky over a meadow) is
carried along its rows across the whole new region, so the region's row mean
profile ends up with more long-period power than the band it continues.  In a
photograph, large-scale tone at one place says less and less about the tone
further away.  :func:`decorrelate_tone` imitates that cheaply: it shrinks the
long-period deviations of the new pixels' row means and column means (what is
left after the least-squares line, which is kept) in proportion to a weight
that is 0 at the kept pixels and rises smoothly to ``strength`` at ``reach``
pixels from them.  The seam stays continuous, texture and detail are kept (only
a smooth field, constant along rows or columns, is subtracted), and kept pixels
are returned unchanged.  Optionally the rows tend not to a straight line but
to a fraction of the band's own row profile (the layout the whole band shares).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage as ndimage

from imkerutils.exquisite.api.base import check_param
from imkerutils.exquisite.geometry.quality import luminance

__all__ = ["ToneOptions", "decorrelate_tone", "distance_ramp", "profile_deviation"]


@dataclass(frozen=True, slots=True)
class ToneOptions:
    """How large-scale tone decorrelates with distance from the kept pixels (:func:`decorrelate_tone`'s arguments).

    The defaults are the ``local`` generator's, chosen with ``benchmarks/bench_local_generator.py``.

    Attributes
    ----------
    reach : int
        Pixels from the kept pixels over which the weight rises from 0 to ``strength`` (1 to 4096).
    strength : float
        The weight reached at ``reach`` (0 to 1; 1 removes the carried profiles' long-period part that far out).
    sigma : float
        Gaussian sigma (px) by which the profiles are smoothed before they are shrunk: only periods of several
        ``sigma`` are touched, so horizon lines and edges keep their sharpness (0 to 1024; 0: no smoothing).
    keep : float
        Far from the seam the row profile tends to this fraction (0 to 1) of the kept pixels' own row profile
        rather than to a straight line: the layout the whole band shares (sky over hills over meadow) persists,
        weakened, while what sits only at the seam fades (``decorrelate_tone``'s ``keep_band``).
    """

    reach: int = 256
    strength: float = 1.0
    sigma: float = 24.0
    keep: float = 0.5

    def __post_init__(self) -> None:  # checked and made plain numbers, so equal settings record alike
        object.__setattr__(self, "reach", check_param("tone.reach", self.reach, 1, 4096, integer=True))
        object.__setattr__(self, "strength", check_param("tone.strength", self.strength, 0, 1))
        object.__setattr__(self, "sigma", check_param("tone.sigma", self.sigma, 0, 1024))
        object.__setattr__(self, "keep", check_param("tone.keep", self.keep, 0, 1))


def distance_ramp(distance: np.ndarray, reach: float, strength: float) -> np.ndarray:
    """``strength`` times a smoothstep of ``distance / reach``: 0 (and flat) at 0, ``strength`` from ``reach`` on.

    Examples
    --------
    >>> distance_ramp(np.array([0.0, 32.0, 64.0, 100.0]), 64, 0.5).round(3).tolist()
    [0.0, 0.25, 0.5, 0.5]
    """
    t = np.clip(np.asarray(distance, np.float32) / np.float32(max(reach, 1e-6)), 0, 1)
    return np.asarray(np.float32(strength) * t * t * (3 - 2 * t))


def profile_deviation(values: np.ndarray, weights: np.ndarray, sigma: float) -> np.ndarray:
    """Weighted mean profile of ``values`` along axis 1, less its weighted least-squares line, low-passed.

    ``values`` is ``(N, M, C)`` and ``weights`` ``(N, M)``; the result is
    ``(N, C)``: for each of the N lines, the weighted mean over its M pixels,
    minus the least-squares line through those means (weighted by each line's
    total weight), smoothed by a Gaussian of ``sigma`` lines (a normalised
    convolution, zero beyond the ends: lines without weight, and the ends,
    average only the lines that have some; 0: no smoothing).  Lines with no
    weight anywhere near them get 0.

    Examples
    --------
    >>> v = np.zeros((6, 4, 1)); v[:, :, 0] = np.array([0, 0, 9, 9, 0, 0.])[:, None] + np.arange(6)[:, None]
    >>> profile_deviation(v, np.ones((6, 4)), 0)[:, 0].round(2).tolist()  # the ramp 0..5 is removed
    [-3.0, -3.0, 6.0, 6.0, -3.0, -3.0]
    """
    w = weights.sum(axis=1)
    mean = np.einsum("nm,nmc->nc", weights, values) / np.maximum(w, 1e-12)[:, None]
    total = float(w.sum())
    if total <= 0:
        return np.zeros((values.shape[0], values.shape[2]), np.float64)
    t = np.arange(len(w), dtype=np.float64)
    t -= float(w @ t) / total
    centre = (w @ mean) / total
    slope = (w * t) @ mean / max(float(w @ (t * t)), 1e-12)
    dev = (mean - centre - t[:, None] * slope) * (w > 0)[:, None]
    if sigma > 0:
        num = ndimage.gaussian_filter1d(dev * w[:, None], sigma, axis=0, mode="constant")
        den = ndimage.gaussian_filter1d(w, sigma, mode="constant")
        dev = num / np.maximum(den, 1e-6 * max(float(den.max()), 1e-12))[:, None]
    return np.asarray(dev)


def decorrelate_tone(
    image: np.ndarray, keep: np.ndarray, reach: int, strength: float, sigma: float, keep_band: float = 0.0
) -> np.ndarray:
    """Shrink the new pixels' row- and column-mean deviations with their distance from the kept pixels.

    With ``k`` = :func:`distance_ramp` of each unknown pixel's distance to the
    nearest kept pixel, the deviation of the unknown pixels' row profile
    (:func:`profile_deviation` of their luminance, weighted by ``k``) times
    ``k`` is subtracted from every colour channel (an alpha channel is left
    alone), then likewise for the columns.  With ``keep_band`` > 0 the rows
    tend to ``keep_band`` times the kept pixels' own row profile (same rows,
    same smoothing) instead of to a line: the layout the whole band shares
    (sky over hills over meadow) persists, weakened, while what sits only at
    the seam fades.  Only luminance moves, so hues are kept.  Returns a new
    uint8 image equal to ``image`` where ``keep`` is True.

    Examples
    --------
    A dark band across the middle rows, carried from the kept pixels, fades to the rows' mean from ``reach`` on:

    >>> img = np.full((64, 160, 1), 100, np.uint8); img[24:40, :, 0] = 40
    >>> keep = np.zeros((64, 160), bool); keep[:, :32] = True
    >>> out = decorrelate_tone(img, keep, reach=64, strength=1.0, sigma=0)
    >>> bool((out[:, :32] == img[:, :32]).all())
    True
    >>> [int(v) for v in out[32, 32::32, 0]], [int(v) for v in out[8, 32::32, 0]]  # dark row, lit row
    ([40, 65, 85, 85], [100, 92, 85, 85])
    """
    unknown = ~keep
    out = image.copy()
    rows, cols = np.nonzero(unknown)
    if len(rows) == 0 or not keep.any() or strength <= 0 or reach <= 0:
        return out
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    inner = unknown[box]
    dist = _distance_to_kept(keep, box, reach)
    k = distance_ramp(dist, reach, strength) * inner
    colour = 3 if image.shape[2] >= 3 else 1  # the colour channels; an alpha channel (2nd of 2, 4th of 4) stays
    values = image[box][..., :colour].astype(np.float32)
    grey = luminance(image[box], np.float32)[..., None]
    row_dev = profile_deviation(grey, k, sigma).astype(np.float32)  # (H, 1)
    if keep_band:  # the far rows tend to a fraction of the kept pixels' own row profile, not to a line
        kept = luminance(image[box[0]], np.float32)[..., None]
        row_dev -= np.float32(keep_band) * profile_deviation(kept, keep[box[0]].astype(np.float32), sigma).astype(
            np.float32
        )
    shift = k * row_dev
    grey -= shift[..., None]
    col_dev = profile_deviation(grey.transpose(1, 0, 2), k.T, sigma).astype(np.float32)  # (W, 1)
    shift += k * col_dev.T
    values -= shift[..., None]
    out[box][..., :colour][inner] = np.clip(np.rint(values[inner]), 0, 255).astype(np.uint8)
    return out


_CELL = 4  # the distance is measured on cells of 4 x 4 pixels and interpolated: a ramp over ``reach`` needs no more


def _distance_to_kept(keep: np.ndarray, box: tuple[slice, slice], reach: int) -> np.ndarray:
    """Approximate distance (px) from each pixel of ``box`` to the nearest kept pixel, 0 on kept pixels.

    Measured between 4 x 4 cells (a cell holding a kept pixel is at 0), over
    ``box`` plus ``reach`` on every side, and interpolated linearly: it is
    within about 6 px of the exact distance, and 0 within a cell of the kept
    pixels.  16 times fewer cells than pixels keep it at about 2 ms a tile.
    """
    h, w = keep.shape
    pad = int(reach) + _CELL
    y0, x0 = max(0, box[0].start - pad), max(0, box[1].start - pad)
    y1, x1 = min(h, box[0].stop + pad), min(w, box[1].stop + pad)
    region = keep[y0:y1, x0:x1]
    ch, cw = -(-region.shape[0] // _CELL), -(-region.shape[1] // _CELL)
    cells = np.zeros((ch * _CELL, cw * _CELL), bool)
    cells[: region.shape[0], : region.shape[1]] = region
    kept_cells = cells.reshape(ch, _CELL, cw, _CELL).any(axis=(1, 3))
    coarse = ndimage.distance_transform_edt(~kept_cells).astype(np.float32) * _CELL
    # cell centres lie at (i + 0.5) * _CELL - 0.5 in pixel coordinates: interpolate at every pixel of the box
    yy = (np.arange(box[0].start, box[0].stop) - y0 + 0.5) / _CELL - 0.5
    xx = (np.arange(box[1].start, box[1].stop) - x0 + 0.5) / _CELL - 0.5
    rows = _interpolate(coarse, yy, axis=0)
    return np.asarray(_interpolate(rows, xx, axis=1) * ~keep[box])


def _interpolate(a: np.ndarray, at: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of ``a`` along ``axis`` at fractional indices ``at`` (clamped to the ends)."""
    at = np.clip(at, 0, a.shape[axis] - 1)
    i0 = np.floor(at).astype(np.int64)
    i1 = np.minimum(i0 + 1, a.shape[axis] - 1)
    t = (at - i0).astype(np.float32)
    shape = [1, 1]
    shape[axis] = -1
    t = t.reshape(shape)
    return np.asarray(np.take(a, i0, axis=axis) * (1 - t) + np.take(a, i1, axis=axis) * t)
