"""Content-quality measures of a generated region against the pixels it continues.

The seam metrics (:mod:`.seam`) only look at the seam.  These two look at the
whole new region, for the failures a patch-based generator makes further in:

``banding_score(new, source)``
    Stripes: the power of the region's **mean profiles** relative to the
    source's.  The column profile is the mean grey value of each column (over
    all rows), the row profile the mean of each row.  Averaging over the other
    axis cancels texture that changes along it, so what is left are bands that
    run the whole length of the region.  Each profile has its least-squares
    line removed (a smooth brightness gradient is not banding) and its power is
    the mean square of what remains, in grey levels squared.  The score is the
    larger of the two ratios ``(power_new + eps) / (power_source + eps)`` (one
    per axis), with ``eps = 0.25`` (half a grey level, squared) so flat images
    score 1.  A continuation with the source's own statistics scores about 1;
    vertical or horizontal bands push it up.

``repetition_score(new, source)``
    Copies: the fraction of the new region's pixels covered by a block of
    ``scale`` x ``scale`` pixels (for each scale in ``scales``, 64 and 128 by
    default) that is a near-verbatim copy of one block of the source.  Blocks
    are compared on their **detail** (the grey image minus a local mean over
    about 5 px), so a copy still counts after a smooth brightness correction
    (what gradient-domain blending adds).  Each block is compared on its core
    (the block less 4 px on every side, as far as a pixel's detail reaches),
    so the score of a copied block does not depend on what surrounds it.  A
    block is a copy when its core's regularised normalised correlation with
    some source window,
    ``sum(a * b) / sqrt((sum(a**2) + n eps**2) * (sum(b**2) + n eps**2))``
    with ``eps = 0.5`` grey levels, reaches ``threshold`` (0.9): a verbatim copy
    of a textured block scores close to 1, unrelated texture and featureless
    areas (noise, sky, an upscaled smooth photo) far below.  New blocks sit
    on a grid of step ``scale // 2``; each is searched over every source
    position, at half resolution first (normalised correlation by FFT, the
    block cut at both pixel parities per axis, so an odd offset is found as
    well as an even one), and its ``candidates`` best positions are then scored exactly at full
    resolution (+-1 px), so the search finds the copy wherever it came from.

Both take the regions as ``(H, W)`` grey or ``(H, W, C)`` arrays on the 0-255
scale (an alpha channel is ignored).  A photograph's own values, the same
score of its real continuation against the same source, are the reference a
generator is held to.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> source = rng.integers(0, 256, (128, 128), dtype=np.uint8)
>>> stripes = np.tile(np.where(np.arange(128) % 32 < 16, 60, 190), (128, 1))
>>> banding_score(stripes, source) > 20
True
>>> repetition_score(source[:, 32:96], source)
1.0
>>> repetition_score(rng.integers(0, 256, (128, 64)), source)
0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imkerutils.errors import GeometryError, InvalidTileError

__all__ = ["BANDING_EPS", "REPETITION_THRESHOLD", "banding_power", "banding_score", "luminance", "repetition_score"]

BANDING_EPS = 0.25
REPETITION_THRESHOLD = 0.9
_DETAIL_RADIUS = 2  # box radius of the local mean removed before comparing blocks (applied twice)
_MARGIN = 2 * _DETAIL_RADIUS  # how far a pixel's detail reaches: blocks are compared on their core
_NCC_EPS = 0.5  # grey levels: detail below this much RMS counts as featureless


def luminance(img: np.ndarray, dtype: type[np.floating[Any]] = np.float64) -> np.ndarray:
    """Luminance (ITU-R 601 weights) of ``(H, W)`` or ``(H, W, C)`` pixels, in ``dtype``; alpha ignored.

    >>> luminance(np.array([[[255, 0, 0, 7], [0, 0, 255, 7]]], np.uint8))  # red, blue; alpha ignored
    array([[76.245, 29.07 ]])
    """
    a = np.asarray(img)
    if a.ndim == 2:
        return a.astype(dtype)
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise InvalidTileError(f"a region must have shape (H, W) or (H, W, C), got {a.shape}")
    if a.shape[2] <= 2:
        return a[..., 0].astype(dtype)
    rgb = a[..., :3].astype(dtype)
    return np.asarray(rgb @ np.array([0.299, 0.587, 0.114], dtype))


# ---------------------------------------------------------------- banding


def _profile_power(profile: np.ndarray) -> float:
    """Mean square of ``profile`` after removing its least-squares line."""
    n = len(profile)
    if n < 3:
        return 0.0
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2
    slope = float(t @ profile) / float(t @ t)
    resid = profile - profile.mean() - slope * t
    return float(np.mean(resid * resid))


def banding_power(region: np.ndarray) -> tuple[float, float]:
    """Power of the detrended (column profile, row profile) of ``region``, in grey levels squared.

    Examples
    --------
    >>> flat = np.full((32, 48), 100.0)
    >>> banding_power(flat)
    (0.0, 0.0)
    >>> cols = flat.copy(); cols[:, ::2] += 10  # vertical stripes 10 grey levels deep
    >>> [round(p, 1) for p in banding_power(cols)]
    [25.0, 0.0]
    """
    g = luminance(region)
    return _profile_power(g.mean(axis=0)), _profile_power(g.mean(axis=1))


def banding_score(new: np.ndarray, source: np.ndarray, *, eps: float = BANDING_EPS) -> float:
    """Stripes in ``new`` relative to ``source``: the larger ratio of mean-profile powers (see the module doc).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> a, b = rng.normal(128, 20, (2, 256, 256))
    >>> 0.3 < banding_score(a, b) < 3
    True
    >>> b[:, ::64] += 60
    >>> banding_score(b, a) > 10
    True
    """
    new_cols, new_rows = banding_power(new)
    src_cols, src_rows = banding_power(source)
    return max((new_cols + eps) / (src_cols + eps), (new_rows + eps) / (src_rows + eps))


# ---------------------------------------------------------------- repetition


def _box(a: np.ndarray, r: int, axis: int) -> np.ndarray:
    """Mean over ``2r + 1`` samples along ``axis``, the edges mirrored."""
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(a, pad, mode="symmetric"), axis=axis)
    hi = np.take(c, np.arange(2 * r + 1, c.shape[axis]), axis=axis)
    lo = np.take(c, np.arange(0, c.shape[axis] - 2 * r - 1), axis=axis)
    return np.asarray((hi - lo) / (2 * r + 1))


def _detail(img: np.ndarray) -> np.ndarray:
    """Grey image minus its local mean (a 5-px box filter applied twice)."""
    g = luminance(img)
    smooth = g
    for _ in range(2):
        smooth = _box(_box(smooth, _DETAIL_RADIUS, 0), _DETAIL_RADIUS, 1)
    return np.asarray(g - smooth)


def _window_sums(a: np.ndarray, size: int) -> np.ndarray:
    """Return the sums of ``a`` over every ``size`` x ``size`` window (top-left indexed)."""
    c = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
    c[1:, 1:] = np.cumsum(np.cumsum(a, axis=0), axis=1)
    return np.asarray(c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size])


def _half(a: np.ndarray) -> np.ndarray:
    """2 x 2 means (odd last row / column dropped)."""
    h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
    return np.asarray(a[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)))


def _grid(n: int, size: int, step: int) -> list[int]:
    """Block origins along one axis: every ``step``, plus one flush with the end."""
    out = list(range(0, n - size + 1, step))
    if out and out[-1] != n - size:
        out.append(n - size)
    return out


def _copied_blocks(
    new_d: np.ndarray, src_d: np.ndarray, size: int, threshold: float, candidates: int
) -> list[tuple[int, int]]:
    """Origins of the ``size`` blocks of ``new_d`` whose core matches some source window to ``threshold``.

    The core is the block less ``_MARGIN`` pixels on every side: its detail
    depends only on the block's own pixels, so a copied block scores the same
    whatever surrounds it.
    """
    ys, xs = _grid(new_d.shape[0], size, size // 2), _grid(new_d.shape[1], size, size // 2)
    core = size - 2 * _MARGIN
    if not ys or not xs or core > src_d.shape[0] or core > src_d.shape[1]:
        return []
    reg = core * core * _NCC_EPS**2
    src_energy = _window_sums(src_d * src_d, core)  # every full-resolution source window
    # coarse search: normalised correlation at half resolution over every source position (FFT).  A copy
    # may sit at an odd offset, where the 2 x 2 means of block and source straddle different pixels (a
    # quarter of the correlation, for fine texture): so the template is cut at both parities per axis,
    # from the core less one pixel, and one of the four lines up with the source's grid.
    small = _half(src_d).astype(np.float32)
    ht = core // 2 - 1
    shape = small.shape
    spec = np.fft.rfft2(small)
    small_energy = _window_sums(small.astype(np.float64) ** 2, ht) + ht * ht * (_NCC_EPS / 2) ** 2
    vy, vx = small_energy.shape
    windows = np.lib.stride_tricks.sliding_window_view(src_d, (core, core))
    copies = []
    halves = {(p, q): _half(new_d[p:, q:]) for p in (0, 1) for q in (0, 1)}  # new_d's 2 x 2 means, each phase
    d = np.arange(-1, 2)
    for y in ys:
        for x in xs:
            cy, cx = y + _MARGIN, x + _MARGIN
            block = new_d[cy : cy + core, cx : cx + core]
            energy = float((block * block).sum())
            if energy / (energy + reg) < threshold**2:  # no source window can correlate this well
                continue
            starts_y, starts_x = [], []
            for sy, sx in ((0, 0), (0, 1), (1, 0), (1, 1)):  # the template starts at (cy + sy, cx + sx)
                ty, tx = cy + sy, cx + sx
                tpl = np.zeros(shape, np.float32)
                tpl[:ht, :ht] = halves[ty % 2, tx % 2][ty // 2 : ty // 2 + ht, tx // 2 : tx // 2 + ht]
                corr = np.fft.irfft2(spec * np.conj(np.fft.rfft2(tpl)), s=shape)[:vy, :vx]
                score = corr / np.sqrt(small_energy)
                k = min(candidates, score.size)
                by, bx = np.unravel_index(np.argpartition(score.ravel(), -k)[-k:], score.shape)
                starts_y.append(2 * by - sy)  # where the core would start in the source
                starts_x.append(2 * bx - sx)
            # exact scores at full resolution around each coarse candidate
            py, px = np.broadcast_arrays(
                np.concatenate(starts_y)[:, None, None] + d[None, :, None],
                np.concatenate(starts_x)[:, None, None] + d[None, None, :],
            )
            py, px = py.ravel(), px.ravel()
            ok = (py >= 0) & (px >= 0) & (py < windows.shape[0]) & (px < windows.shape[1])
            py, px = py[ok], px[ok]
            dots = np.einsum("kij,ij->k", windows[py, px], block)
            ncc = dots / np.sqrt((energy + reg) * (src_energy[py, px] + reg))
            if len(ncc) and float(ncc.max()) >= threshold:
                copies.append((y, x))
    return copies


def repetition_score(
    new: np.ndarray,
    source: np.ndarray,
    *,
    scales: tuple[int, ...] = (64, 128),
    threshold: float = REPETITION_THRESHOLD,
    candidates: int = 4,
) -> float:
    """Fraction of ``new`` covered by near-verbatim copies of ``source`` blocks (see the module doc).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> src = rng.normal(128, 30, (192, 192))
    >>> new = rng.normal(128, 30, (128, 256))
    >>> repetition_score(new, src)
    0.0
    >>> new[:64, 64:192] = src[17:81, 33:161] + 5  # a 64 x 128 copy, brightened
    >>> repetition_score(new, src)
    0.25
    """
    if not scales or any(not isinstance(s, int) or s < 4 or s % 2 for s in scales):
        raise GeometryError(f"scales must be even ints >= 4; got {scales!r}")
    if not 0 < threshold <= 1 or not isinstance(candidates, int) or candidates < 1:
        raise GeometryError(f"need 0 < threshold <= 1 and candidates >= 1; got {threshold!r}, {candidates!r}")
    new_d, src_d = _detail(new), _detail(source)
    covered = np.zeros(new_d.shape, bool)
    for size in scales:
        for y, x in _copied_blocks(new_d, src_d, size, threshold, candidates):
            covered[y : y + size, x : x + size] = True
    return float(covered.mean())
