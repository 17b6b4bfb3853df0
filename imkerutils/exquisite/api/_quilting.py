"""Image quilting (Efros & Freeman, 2001) that fills the unknown pixels of an image.

Patches are copied from the *source* (every ``patch`` x ``patch`` window lying
wholly inside the kept pixels) and laid out column by column, left to right,
top to bottom, so that synthesis grows outward from a kept band on the left.
Each new patch is chosen to agree with every pixel already known under it
(kept pixels and earlier patches), then cut along minimum-error paths in the
overlap strips of each side that touches known pixels.

The search is coarse to fine: the masked sum of squared differences over all
candidate positions is computed at half resolution with FFT correlation, then a
random shortlist of near-best candidates is re-scored at full resolution at
their +-1 pixel neighbours.

Optionally (``gradient_domain``) the patches' *gradients* are pasted instead of
their values and the unknown pixels are integrated with a Poisson solve whose
boundary values are the kept pixels (Perez et al.'s guided interpolation): the
tone steps a cut cannot hide, above all against the kept band that never
changes, become a smooth correction while the texture is kept.

Everything is NumPy/SciPy; results depend only on the inputs and the random
generator passed in.

This module is longer than 500 lines on purpose (issue 18, point 8): it is one
algorithm whose steps (coarse search, fine search, minimum-error cuts, Poisson
integration with drift fade) share the same masks, offsets and random stream;
split into modules they would only pass that state back and forth.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.fft as sfft
import scipy.ndimage as ndimage
import scipy.sparse as sparse
import scipy.sparse.linalg as splinalg
from numpy.lib.stride_tricks import sliding_window_view

from imkerutils.errors import PermanentGeneratorError
from imkerutils.exquisite.api._tone import ToneOptions, decorrelate_tone

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["QuiltOptions", "QuiltStats", "integrate", "quilt"]

_MIN_PATCH = 8


@dataclass(frozen=True, slots=True)
class QuiltOptions:
    """The settings of one :func:`quilt` run; ``patch`` and ``overlap`` shrink (halving) when no patch fits.

    Attributes
    ----------
    patch, overlap : int
        Patch side and overlap in pixels; both shrink (halving) when no patch
        fits wholly inside the kept pixels.
    tolerance : float
        Candidates whose error is within ``(1 + tolerance)`` of the best are
        equally likely.
    shortlist : int
        How many coarse candidates are re-scored at full resolution.
    coarse : int
        Downsampling factor of the coarse search (1 disables it).
    offset_cost : float
        Grey levels of RMS error charged per pixel a source patch lies above
        or below its target: a prior that content continues along rows
        (keeps sky above the mountains when growing sideways).
    seam_weight : float
        Extra weight, in the match error, of kept pixels that touch the
        unknown region: no cut can hide a mismatch against pixels that never
        change, so the patch must continue them closely.
    gradient_domain : bool
        Keep the patches' gradients rather than their values: the unknown
        pixels are solved from a Poisson equation whose guidance field is the
        gradient of the patch that supplied each pixel, with the kept pixels
        as boundary values.  Removes the tone steps left at cuts and at the
        kept boundary (a smooth correction, not a blur: the texture is kept).
    reuse_cost : float
        Grey levels of RMS colour error charged for copying source pixels
        that an earlier patch already copied, in proportion to the overlap
        of the two source windows: spreads the copies over the whole source
        instead of repeating one object.  0 disables it.
    fresh : int
        Source offsets (source position minus target position) within
        ``fresh`` pixels of a neighbouring patch's offset are not eligible:
        two neighbours never continue one coherent copy, so no region
        larger than one patch is copied verbatim.  0 disables it; the rule is
        dropped for a patch when no other candidate remains, and for patches
        touching kept pixels (they must continue pixels that never change).
    drift : int
        With ``gradient_domain``: the Poisson correction (solved minus pasted
        values) is kept in full only within ``drift`` pixels of the kept
        pixels; further in, its large-scale part (a local mean over about
        ``drift`` pixels) fades out, so a dark or bright spot on the boundary
        does not spread into a glow or a wedge across the whole region, and
        the new pixels keep the source patches' tones.  The small-scale part
        (what hides the tone steps at the cuts) stays.  0 disables it.
    tone : ToneOptions or None
        With ``gradient_domain``: large-scale tone decorrelates with distance
        (:func:`._tone.decorrelate_tone`): the new pixels' row and column mean
        profiles (luminance, less their line, Gaussian-smoothed over
        ``tone.sigma`` px) are shrunk by a weight rising from 0 at the kept
        pixels to ``tone.strength`` at ``tone.reach`` px, the rows towards
        ``tone.keep`` times the kept pixels' own row profile, so tone met at
        the seam is not carried across the whole region.  ``None`` (the
        default) disables it.
    """

    patch: int = 64
    overlap: int = 16
    tolerance: float = 0.1
    shortlist: int = 16
    coarse: int = 2
    offset_cost: float = 0.0
    seam_weight: float = 0.0
    gradient_domain: bool = False
    reuse_cost: float = 0.0
    fresh: int = 0
    drift: int = 0
    tone: ToneOptions | None = None


_DEFAULT = QuiltOptions()


@dataclass(frozen=True, slots=True)
class QuiltStats:
    """What :func:`quilt` actually did (the patch size may shrink to fit the source)."""

    patch: int
    overlap: int
    patches: int


def quilt(
    image: np.ndarray, keep: np.ndarray, rng: np.random.Generator, options: QuiltOptions = _DEFAULT
) -> tuple[np.ndarray, QuiltStats]:
    """Fill ``image[~keep]`` with patches copied from the kept pixels.

    Parameters
    ----------
    image : ndarray
        ``(H, W, C)`` uint8; pixels where ``keep`` is False are ignored.
    keep : ndarray
        ``(H, W)`` bool, True for pixels that are given and never changed.
    rng : numpy.random.Generator
        The only source of randomness (choice among near-best candidates).
    options : QuiltOptions
        The settings (default: :class:`QuiltOptions`'s).

    Returns
    -------
    (ndarray, QuiltStats)
        A new uint8 image equal to ``image`` where ``keep`` is True.

    Examples
    --------
    >>> img = np.zeros((64, 64, 3), np.uint8); img[:, ::4] = 255
    >>> keep = np.zeros((64, 64), bool); keep[:, :32] = True
    >>> out, stats = quilt(img, keep, np.random.default_rng(0), QuiltOptions(patch=16, overlap=4))
    >>> bool((out[:, 32:, 0][:, ::4] == 255).all()), stats.patches > 0
    (True, True)
    """
    patch, overlap = options.patch, options.overlap
    if not (~keep).any():
        return image.copy(), QuiltStats(patch, overlap, 0)
    if not keep.any():
        raise PermanentGeneratorError("nothing to continue: the request has no kept pixels")
    valid = None
    while patch >= _MIN_PATCH:
        valid = _fully_kept(keep, patch)
        if valid is not None and valid.any():
            break
        patch, overlap = patch // 2, max(1, overlap // 2)
    else:
        raise PermanentGeneratorError(
            f"the kept region holds no {_MIN_PATCH}x{_MIN_PATCH} block of pixels to copy from"
        )
    assert valid is not None
    return _Quilter(image, keep, valid, rng, replace(options, patch=patch, overlap=overlap)).run()


def _fully_kept(keep: np.ndarray, size: int) -> np.ndarray | None:
    """Bool map of top-left positions whose ``size`` x ``size`` window is all kept."""
    h, w = keep.shape
    if size > h or size > w:
        return None
    holes = np.zeros((h + 1, w + 1), np.int64)
    holes[1:, 1:] = np.cumsum(np.cumsum(~keep, axis=0), axis=1)
    count = holes[size:, size:] - holes[:-size, size:] - holes[size:, :-size] + holes[:-size, :-size]
    return np.asarray(count == 0)


def _fully_kept_3x3(keep: np.ndarray) -> np.ndarray:
    """Kept pixels whose 8 neighbours are all kept (the image border counts as kept)."""
    padded = np.pad(keep, 1, mode="edge")
    h, w = keep.shape
    out = keep.copy()
    for dy in range(3):
        for dx in range(3):
            out &= padded[dy : dy + h, dx : dx + w]
    return out


def _starts(lo: int, hi: int, size: int, step: int, n: int) -> list[int]:
    """Patch origins covering ``[lo, hi)`` with the given step, all inside ``[0, n - size]``."""
    if hi - lo <= size:
        return [min(max(lo, 0), n - size)]
    out = list(range(lo, hi - size, step))
    out.append(hi - size)
    return out


def _sides(a: np.ndarray, width: int) -> list[np.ndarray]:
    """Return the views of the four overlap strips of a square array, each turned so its side is column 0."""
    return [
        a[:, :width],
        a[:, ::-1][:, :width],
        a[:width, :].T,
        a[::-1, :][:width, :].T,
    ]


def _cut_old(err: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Minimum-error cuts in a stack of strips: True where the old pixel stays.

    ``err`` and ``known`` are ``(S, L, O)``: S strips with the patch side at
    column 0.  Row ``r`` of a strip keeps the old pixels at columns ``< d[r]``;
    ``d`` moves by at most one per row, never keeps an unknown pixel, and
    minimises the error summed along the boundary.
    """
    n, length, width = err.shape
    first_unknown = np.where(known.all(axis=2), width, np.argmin(known, axis=2))  # (S, L)
    limit = np.minimum(first_unknown, width - 1)
    cols = np.arange(width)
    shifted = np.concatenate([np.zeros((n, length, 1), err.dtype), err[:, :, :-1]], axis=2)
    cost = np.where(cols < first_unknown[..., None], err, shifted)
    acc = np.where(cols <= limit[..., None], cost, np.inf)
    # The strips are short and narrow (a patch side by the overlap): plain Python over lists beats
    # per-row numpy calls several times over.  Ties go to the lowest column, as np.argmin would.
    depth = np.empty((n, length), np.int64)
    for s_idx, rows in enumerate(acc.tolist()):
        prev = rows[0]
        for r in range(1, length):
            row = rows[r]
            for j in range(width):
                best = prev[j]
                if j and prev[j - 1] < best:
                    best = prev[j - 1]
                if j + 1 < width and prev[j + 1] < best:
                    best = prev[j + 1]
                row[j] += best
            prev = row
        last = rows[-1]
        d = min(range(width), key=last.__getitem__)
        depth[s_idx, -1] = d
        for r in range(length - 2, -1, -1):
            row = rows[r]
            best_d, best_v = d, row[d]
            if d and row[d - 1] <= best_v:  # d - 1 comes first in the window (d - 1, d, d + 1)
                best_d, best_v = d - 1, row[d - 1]
            if d + 1 < width and row[d + 1] < best_v:
                best_d = d + 1
            d = best_d
            depth[s_idx, r] = d
    return cols < depth[..., None]


class _Quilter:
    """State of one synthesis run (kept private: :func:`quilt` is the interface)."""

    def __init__(
        self,
        image: np.ndarray,
        keep: np.ndarray,
        valid: np.ndarray,
        rng: np.random.Generator,
        options: QuiltOptions,
    ) -> None:
        patch, overlap, seam_weight = options.patch, options.overlap, options.seam_weight
        self.image = image
        self.drift = int(options.drift)
        self.tone = options.tone
        self.out = image.copy()
        self.keep = keep
        self.known = keep.copy()
        self.valid = valid
        self.rng = rng
        self.b = patch
        self.o = min(overlap, patch // 2)
        self.tol = options.tolerance
        self.offset_cost = options.offset_cost
        rim = keep & ~_fully_kept_3x3(keep)
        self.weight = keep.astype(np.float32) + np.float32(seam_weight) * rim
        self.shortlist = max(1, options.shortlist)
        self.channels = image.shape[2]
        self.src = image.astype(np.float32) - 127.5
        self.windows = sliding_window_view(self.src, (patch, patch), axis=(0, 1))  # (y, x, C, B, B)
        self.valid_yx = np.argwhere(valid)
        self.reuse_cost = float(options.reuse_cost)
        self.fresh = int(options.fresh)
        # overlap (in patch areas) of each source window with the windows copied so far
        self.reuse: np.ndarray | None = np.zeros(valid.shape, np.float32) if options.reuse_cost > 0 else None
        tri = 1 - np.abs(np.arange(-patch + 1, patch, dtype=np.float32)) / patch
        self.reuse_kernel = np.outer(tri, tri)
        self.placed = np.zeros((64, 4), np.int64)  # rows (y, x, source y - y, source x - x)
        self.n_placed = 0
        self.f = max(1, options.coarse)  # the largest factor <= coarse that tiles the patch into >= 4 x 4 cells
        while self.f > 1 and (patch % self.f or patch // self.f < 4):
            self.f -= 1
        self._prepare_coarse()
        h, w, c = image.shape
        # desired forward differences F[y, x + 1] - F[y, x] and F[y + 1, x] - F[y, x]
        self.grad_x = np.zeros((h, w - 1, c), np.float32) if options.gradient_domain else None
        self.grad_y = np.zeros((h - 1, w, c), np.float32) if options.gradient_domain else None

    def _prepare_coarse(self) -> None:
        """Spectra of the downsampled source, cropped to the windows that may be copied."""
        f, b = self.f, self.b
        y0, x0 = self.valid_yx.min(axis=0)
        y1, x1 = self.valid_yx.max(axis=0) + b
        h2, w2 = (y1 - y0) // f, (x1 - x0) // f
        region = self.src[y0 : y0 + h2 * f, x0 : x0 + w2 * f]
        small = region.reshape(h2, f, w2, f, self.channels).mean(axis=(1, 3))
        self.origin = (int(y0), int(x0))
        self.fshape = (h2, w2)
        self.spec_src = sfft.rfft2(np.moveaxis(small, -1, 0), axes=(-2, -1))
        self.spec_sq = sfft.rfft2((small * small).sum(axis=-1))
        bs = b // f
        nu, nv = h2 - bs + 1, w2 - bs + 1
        self.coarse_valid = self.valid[y0 : y0 + nu * f : f, x0 : x0 + nv * f : f]
        if f > 1 and not self.coarse_valid.any():  # valid windows only off the coarse grid
            self.f = 1
            self._prepare_coarse()

    def run(self) -> tuple[np.ndarray, QuiltStats]:
        """Lay patches over the unknown pixels' bounding box, column by column."""
        h, w = self.keep.shape
        b, o = self.b, self.o
        gy, gx = np.nonzero(~self.keep)
        ys = _starts(max(0, gy.min() - o), min(h, gy.max() + 1 + o), b, b - o, h)
        xs = _starts(max(0, gx.min() - o), min(w, gx.max() + 1 + o), b, b - o, w)
        placed = 0
        for x in xs:
            for y in ys:
                if self.known[y : y + b, x : x + b].all():
                    continue
                self._place(y, x)
                placed += 1
        if self.grad_x is not None and self.grad_y is not None:
            solved = integrate(self.image, self.keep, self.grad_x, self.grad_y)
            self.out = _fade_drift(solved, self.out, self.keep, self.drift) if self.drift else solved
            if (t := self.tone) is not None:
                self.out = decorrelate_tone(self.out, self.keep, t.reach, t.strength, t.sigma, t.keep)
        return self.out, QuiltStats(b, o, placed)

    def _place(self, y: int, x: int) -> None:
        """Choose, cut and paste the patch whose top-left corner is ``(y, x)``."""
        b = self.b
        sl = (slice(y, y + b), slice(x, x + b))
        known = self.known[sl]
        target = np.moveaxis(self.out[sl].astype(np.float32) - 127.5, -1, 0)  # (C, B, B)
        if known.any():
            weight = np.where(self.keep[sl], self.weight[sl], known.astype(np.float32))
            # a patch touching kept pixels must continue pixels that never change: every offset is allowed
            rim = bool(self.keep[sl].any())
            sy, sx = self._choose(target, weight, y, x, self.shortlist, fresh=not rim)
        else:
            sy, sx = self.valid_yx[self.rng.integers(len(self.valid_yx))]
        self._remember(y, x, int(sy), int(sx))
        new = self.windows[sy, sx]  # (C, B, B), centred float
        old_keep = np.zeros((b, b), bool)
        touched = [i for i, k in enumerate(_sides(known, self.o)) if k.any()]
        if touched:
            err = ((new - target) ** 2).sum(axis=0) * known
            e_sides, k_sides, o_sides = _sides(err, self.o), _sides(known, self.o), _sides(old_keep, self.o)
            cuts = _cut_old(np.stack([e_sides[i] for i in touched]), np.stack([k_sides[i] for i in touched]))
            for i, cut in zip(touched, cuts, strict=True):
                o_sides[i] |= cut
        take = ~old_keep & ~self.keep[sl]
        self.out[sl][take] = self.image[sy : sy + b, sx : sx + b][take]
        self.known[sl] = True
        if self.grad_x is not None and self.grad_y is not None:
            # the patch's own gradients on every edge touching its side of the cut
            fresh = ~old_keep
            pix = self.image[sy : sy + b, sx : sx + b].astype(np.float32)
            edges = fresh[:, 1:] | fresh[:, :-1]
            self.grad_x[y : y + b, x : x + b - 1][edges] = (pix[:, 1:] - pix[:, :-1])[edges]
            edges = fresh[1:] | fresh[:-1]
            self.grad_y[y : y + b - 1, x : x + b][edges] = (pix[1:] - pix[:-1])[edges]

    def _remember(self, y: int, x: int, sy: int, sx: int) -> None:
        """Record a copy: its offset (for ``fresh``) and its source window (for ``reuse_cost``)."""
        if self.n_placed == len(self.placed):
            self.placed = np.concatenate([self.placed, np.zeros_like(self.placed)])
        self.placed[self.n_placed] = (y, x, sy - y, sx - x)
        self.n_placed += 1
        if self.reuse is None:
            return
        b = self.b
        vy, vx = int(self.reuse.shape[0]), int(self.reuse.shape[1])
        y0, y1 = max(0, sy - b + 1), min(vy, sy + b)
        x0, x1 = max(0, sx - b + 1), min(vx, sx + b)
        ky, kx = y0 - (sy - b + 1), x0 - (sx - b + 1)
        self.reuse[y0:y1, x0:x1] += self.reuse_kernel[ky : ky + y1 - y0, kx : kx + x1 - x0]

    def _neighbour_offsets(self, y: int, x: int) -> np.ndarray:
        """Offsets of the patches placed within one patch of ``(y, x)``, shape ``(N, 2)``."""
        if not self.fresh or not self.n_placed:
            return np.zeros((0, 2), np.int64)
        placed = self.placed[: self.n_placed]
        near = (np.abs(placed[:, 0] - y) <= self.b) & (np.abs(placed[:, 1] - x) <= self.b)
        return placed[near, 2:]

    def _stale(self, sy: np.ndarray, sx: np.ndarray, y: int, x: int, offsets: np.ndarray) -> np.ndarray:
        """Return True for source positions whose offset is within ``fresh`` of a neighbour's."""
        out = np.zeros(np.broadcast(sy, sx).shape, bool)
        for oy, ox in offsets:
            out |= (np.abs(sy - y - oy) <= self.fresh) & (np.abs(sx - x - ox) <= self.fresh)
        return out

    def _choose(
        self, target: np.ndarray, mask: np.ndarray, y: int, x: int, shortlist: int, *, fresh: bool = True
    ) -> tuple[int, int]:
        """Source position of the next patch: coarse FFT search, then full-resolution re-scoring."""
        f, b, c = self.f, self.b, self.channels
        bs = b // f
        wsum = mask.reshape(bs, f, bs, f).sum(axis=(1, 3)) / (f * f)
        tsum = (target * mask).reshape(c, bs, f, bs, f).sum(axis=(2, 4)) / (f * f)
        with np.errstate(invalid="ignore", divide="ignore"):
            const = float(np.where(wsum > 0, (tsum * tsum).sum(axis=0) / np.maximum(wsum, 1e-12), 0).sum())
        h2, w2 = self.fshape
        tpl = np.concatenate([wsum[None], tsum])
        spec = sfft.fft(sfft.rfft(tpl, n=w2, axis=-1), n=h2, axis=-2)
        np.conjugate(spec, out=spec)
        total = self.spec_sq * spec[0] - 2 * np.einsum("cij,cij->ij", self.spec_src, spec[1:])
        nu, nv = self.coarse_valid.shape
        energy = sfft.irfft2(total, s=(h2, w2))[:nu, :nv] + const
        y0, x0 = self.origin
        rows_src = y0 + f * np.arange(nu)
        energy += (float(wsum.sum()) * c * (self.offset_cost * (rows_src - y)) ** 2)[:, None]
        if self.reuse is not None:
            reused = self.reuse[y0 : y0 + nu * f : f, x0 : x0 + nv * f : f]
            energy += float(wsum.sum()) * c * self.reuse_cost**2 * reused
        allowed = self.coarse_valid
        offsets = self._neighbour_offsets(y, x) if fresh else np.zeros((0, 2), np.int64)
        if len(offsets):
            stale = np.zeros((nu, nv), bool)
            for oy, ox in offsets:  # grid points u with |y0 + f u - (y + oy)| <= fresh, likewise v
                u0, u1 = -((y0 - y - oy + self.fresh) // f), (y + oy + self.fresh - y0) // f
                v0, v1 = -((x0 - x - ox + self.fresh) // f), (x + ox + self.fresh - x0) // f
                stale[max(u0, 0) : max(u1 + 1, 0), max(v0, 0) : max(v1 + 1, 0)] = True
            unstale = allowed & ~stale
            if unstale.any():
                allowed = unstale
            else:
                offsets = offsets[:0]
        energy = np.where(allowed, energy, np.inf)
        floor = float(wsum.sum()) * c  # one grey level squared per value: equally good
        best = float(energy.min())
        near = np.flatnonzero(energy.ravel() <= best * (1 + self.tol) + floor)
        if len(near) > shortlist:
            near = np.union1d(self.rng.choice(near, shortlist - 1, replace=False), [int(np.argmin(energy))])
        cu, cv = np.unravel_index(near, energy.shape)
        cy, cx = y0 + cu * f, x0 + cv * f
        rows, cols = np.nonzero(mask)
        fine = (target[:, rows, cols].T, mask[rows, cols], rows, cols, y, x, offsets)
        r = f // 2  # every position lies within f // 2 of a coarse grid point
        if r <= 1:
            pos, err = self._score(cy, cx, np.arange(-r, r + 1), fine)
        else:  # every other position first, then the neighbours of the two best
            pos, err = self._score(cy, cx, np.arange(-r, r + 1, 2), fine)
            top = np.argsort(err, kind="stable")[:2]
            more, more_err = self._score(pos[top, 0], pos[top, 1], np.arange(-1, 2), fine)
            pos, err = np.concatenate([pos, more]), np.concatenate([err, more_err])
        total_w = float(mask.sum())
        good = np.flatnonzero(err <= err.min() * (1 + self.tol) + total_w * c)
        pick = pos[good[self.rng.integers(len(good))]]
        return int(pick[0]), int(pick[1])

    def _score(
        self, cy: np.ndarray, cx: np.ndarray, d: np.ndarray, fine: tuple[Any, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Full-resolution match error (with priors) of the valid positions ``(cy + dy, cx + dx)``, dy, dx in d."""
        values, weights, rows, cols, y, x, offsets = fine
        c = self.channels
        py = np.asarray(cy)[:, None, None] + d[None, :, None]
        px = np.asarray(cx)[:, None, None] + d[None, None, :]
        vy, vx = self.valid.shape
        inside = (py >= 0) & (py < vy) & (px >= 0) & (px < vx)
        flat = np.unique((py * vx + px)[inside])  # sorted, as np.unique over (y, x) rows would give
        flat = flat[self.valid.ravel()[flat]]
        pos = np.stack([flat // vx, flat % vx], axis=1)
        if len(offsets):
            fresh_pos = pos[~self._stale(pos[:, 0], pos[:, 1], y, x, offsets)]
            pos = fresh_pos if len(fresh_pos) else pos
        cand = self.src[pos[:, :1] + rows, pos[:, 1:] + cols]  # (N, K, C)
        err = ((cand - values) ** 2).sum(axis=2) @ weights
        total_w = float(weights.sum())
        err += total_w * c * (self.offset_cost * (pos[:, 0] - y)) ** 2
        if self.reuse is not None:
            err += total_w * c * self.reuse_cost**2 * self.reuse[pos[:, 0], pos[:, 1]]
        return pos, err


# ---------------------------------------------------------------- gradient-domain integration


def _fade_drift(solved: np.ndarray, pasted: np.ndarray, keep: np.ndarray, reach: int) -> np.ndarray:
    """``solved`` less the large-scale part of its correction ``solved - pasted``, faded in over ``reach`` px.

    The large-scale part is the correction's mean over the unknown pixels in a
    window about ``reach`` px wide (a box filter of ``reach // 2 * 2 + 1`` px
    applied twice); it is subtracted with weight ``min(1, d / reach)``, ``d``
    the distance to the nearest kept pixel, so the solve still meets the kept
    pixels exactly.  Kept pixels are returned unchanged.
    """
    out = solved.copy()
    rows, cols = np.nonzero(~keep)
    if len(rows) == 0:
        return out
    # work on the unknown pixels' bounding box plus ``reach``: everything the filters and distances see
    h, w = keep.shape
    box = (
        slice(max(0, rows.min() - reach), min(h, rows.max() + 1 + reach)),
        slice(max(0, cols.min() - reach), min(w, cols.max() + 1 + reach)),
    )
    unknown = ~keep[box]
    solved_box = solved[box].astype(np.float32)
    corr = (solved_box - pasted[box].astype(np.float32)) * unknown[..., None]
    size = reach // 2 * 2 + 1
    weight = unknown.astype(np.float32)
    for _ in range(2):
        corr = ndimage.uniform_filter(corr, size=(size, size, 1), mode="nearest")
        weight = ndimage.uniform_filter(weight, size=size, mode="nearest")
    low = corr / np.maximum(weight, 1e-6)[..., None]
    fade = np.minimum(ndimage.distance_transform_edt(unknown) / reach, 1.0).astype(np.float32)
    fixed = solved_box - fade[..., None] * low
    out[box][unknown] = np.clip(np.rint(fixed[unknown]), 0, 255).astype(np.uint8)
    return out


def integrate(image: np.ndarray, keep: np.ndarray, grad_x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """Solve the unknown pixels from desired gradients, the kept pixels fixed.

    For every unknown pixel ``p`` the discrete Poisson equation
    ``sum_q (F_p - F_q) = sum_q g_pq`` holds over its four neighbours, where
    ``g`` comes from ``grad_x`` (``F[y, x + 1] - F[y, x]``, shape
    ``(H, W - 1, C)``) and ``grad_y`` (``(H - 1, W, C)``); kept neighbours are
    boundary values and a neighbour beyond the image border is its mirror
    image (zero normal derivative).  A rectangular unknown region (the usual
    case) is solved exactly with sine/cosine transforms; any other shape with
    BiCGSTAB preconditioned by that solver on the region's bounding box.

    Returns a new uint8 image equal to ``image`` where ``keep`` is True.

    Examples
    --------
    >>> img = np.tile(np.arange(0, 80, 10, dtype=np.uint8), (8, 1))[..., None]
    >>> keep = np.zeros((8, 8), bool); keep[:, :3] = True
    >>> gx = np.full((8, 7, 1), 10.0); gy = np.zeros((7, 8, 1))
    >>> integrate(np.where(keep[..., None], img, 0).astype(np.uint8), keep, gx, gy)[0, :, 0]
    array([ 0, 10, 20, 30, 40, 50, 60, 70], dtype=uint8)
    """
    omega = ~keep
    out = image.copy()
    if not omega.any():
        return out
    rhs = _poisson_rhs(image, keep, grad_x, grad_y)
    rows, cols = np.nonzero(omega)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    solver = _BoxSolver(keep.shape, box)
    regular = bool(omega[box].all())
    solved = solver.solve(rhs[box])[omega[box]] if regular else _solve_irregular(omega, rhs, solver, box)
    out[omega] = np.clip(np.rint(solved), 0, 255).astype(np.uint8)
    return out


def _poisson_rhs(image: np.ndarray, keep: np.ndarray, grad_x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """Right-hand side (float64): desired differences to the four neighbours plus kept neighbours' values.

    Built a channel at a time: the float64 temporaries of all channels at once were most of a tile's peak
    memory (172 of the generator's 234 MiB at 1024² RGB; a channel at a time, about a third of that).
    """
    rhs = np.empty(image.shape, np.float64)
    for k in range(image.shape[2]):
        rhs[..., k] = _poisson_rhs_plane(
            image[..., k].astype(np.float64), keep, grad_x[..., k].astype(np.float64), grad_y[..., k].astype(np.float64)
        )
    return rhs


def _poisson_rhs_plane(image: np.ndarray, keep: np.ndarray, grad_x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """One channel of :func:`_poisson_rhs`."""
    kept = np.pad(np.where(keep, image, 0.0), 1, mode="reflect")
    rhs = kept[1:-1, 2:] + kept[1:-1, :-2] + kept[2:, 1:-1] + kept[:-2, 1:-1]
    rhs += np.concatenate([-grad_x, grad_x[:, -1:]], axis=1)  # F_p - F_right (mirror at the border)
    rhs += np.concatenate([-grad_x[:, :1], grad_x], axis=1)  # F_p - F_left
    rhs += np.concatenate([-grad_y, grad_y[-1:]], axis=0)  # F_p - F_below
    rhs += np.concatenate([-grad_y[:1], grad_y], axis=0)  # F_p - F_above
    return np.asarray(rhs)


class _BoxSolver:
    """Exact solver of the Poisson system on a rectangle.

    Each side is Dirichlet (the pixels beyond it are kept) or, on the image
    border, mirror-Neumann; the 1-D operators are then diagonalised by DST-I,
    DST-II, a flipped DST-II or DCT-I.
    """

    def __init__(self, shape: tuple[int, int], box: tuple[slice, slice]) -> None:
        self.axes = [
            _Basis(sl.stop - sl.start, dirichlet_start=sl.start > 0, dirichlet_end=sl.stop < n)
            for sl, n in zip(box, shape, strict=True)
        ]
        lam = self.axes[0].eigenvalues[:, None] + self.axes[1].eigenvalues[None, :]
        lam[lam == 0] = np.inf  # only the constant mode of an all-Neumann box: fixed by nothing, set to 0
        self.inverse = (1.0 / lam)[..., None]

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        coef = self.axes[1].analyse(self.axes[0].analyse(rhs, 0), 1)
        return self.axes[1].synthesise(self.axes[0].synthesise(coef * self.inverse, 0), 1)


class _Basis:
    """Eigenbasis of the 1-D second difference with the given ends."""

    def __init__(self, n: int, *, dirichlet_start: bool, dirichlet_end: bool) -> None:
        k = np.arange(n)
        self.n, self.kind = n, (dirichlet_start, dirichlet_end)
        if dirichlet_start and dirichlet_end:
            self.eigenvalues = 2 - 2 * np.cos(np.pi * (k + 1) / (n + 1))
        elif dirichlet_start or dirichlet_end:
            self.eigenvalues = 2 - 2 * np.cos(np.pi * (2 * k + 1) / (2 * n))
        elif n > 1:
            self.eigenvalues = 2 - 2 * np.cos(np.pi * k / (n - 1))
        else:
            self.eigenvalues = np.zeros(1)

    def analyse(self, x: np.ndarray, axis: int) -> np.ndarray:
        if self.kind == (False, True):  # a Dirichlet end only: the Dirichlet-start basis, mirrored
            x = np.flip(x, axis)
        return self._transform(x, axis, sfft.idst, sfft.idct)

    def synthesise(self, c: np.ndarray, axis: int) -> np.ndarray:
        x = self._transform(c, axis, sfft.dst, sfft.dct)
        return np.flip(x, axis) if self.kind == (False, True) else x

    def _transform(self, x: np.ndarray, axis: int, sine: Callable[..., Any], cosine: Callable[..., Any]) -> np.ndarray:
        """``sine`` (DST-I with both ends Dirichlet, DST-II with one) or ``cosine`` (DCT-I) of ``x`` along ``axis``."""
        if any(self.kind):
            return np.asarray(sine(x, type=1 if all(self.kind) else 2, axis=axis))
        return np.asarray(cosine(x, type=1, axis=axis)) if self.n > 1 else x


def _laplacian(omega: np.ndarray) -> sparse.csr_matrix:
    """Return the Poisson operator on the unknown pixels (kept neighbours moved to the right-hand side)."""
    h, w = omega.shape
    index = np.full((h, w), -1, np.int64)
    ys, xs = np.nonzero(omega)
    n = len(ys)
    index[ys, xs] = np.arange(n)
    rows, cols = [np.arange(n)], [np.arange(n)]
    vals = [np.full(n, 4.0)]
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        qy, qx = ys + dy, xs + dx
        outside = (qy < 0) | (qy >= h) | (qx < 0) | (qx >= w)
        qy, qx = np.where(outside, ys - dy, qy), np.where(outside, xs - dx, qx)  # mirror
        j = index[qy, qx]
        inside = j >= 0
        rows.append(np.flatnonzero(inside))
        cols.append(j[inside])
        vals.append(np.full(int(inside.sum()), -1.0))
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


def _solve_irregular(omega: np.ndarray, rhs: np.ndarray, solver: _BoxSolver, box: tuple[slice, slice]) -> np.ndarray:
    """BiCGSTAB on a non-rectangular region, preconditioned by the bounding-box solver.

    All channels are solved as one block-diagonal system, so each iteration
    costs one vectorised box solve.  The tolerance (1e-4 of the right-hand
    side) is far below the rounding to integers that follows.
    """
    matrix = _laplacian(omega)
    inner = omega[box]
    n, channels = matrix.shape[0], rhs.shape[2]

    def apply(x: np.ndarray) -> np.ndarray:
        return np.asarray(matrix @ x.reshape(n, channels)).ravel()

    def precondition(r: np.ndarray) -> np.ndarray:
        full = np.zeros((*inner.shape, channels))
        full[inner] = r.reshape(n, channels)
        return np.asarray(solver.solve(full)[inner].ravel())

    size = n * channels
    operator = splinalg.LinearOperator((size, size), matvec=apply, dtype=np.float64)
    preconditioner = splinalg.LinearOperator((size, size), matvec=precondition, dtype=np.float64)
    b = rhs[omega].ravel()
    x, _ = splinalg.bicgstab(operator, b, x0=precondition(b), rtol=1e-4, maxiter=100, M=preconditioner)
    return np.asarray(x.reshape(n, channels))
