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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
import scipy.sparse as sparse
import scipy.sparse.linalg as splinalg
from numpy.lib.stride_tricks import sliding_window_view

from imkerutils.errors import PermanentGeneratorError

__all__ = ["QuiltStats", "integrate", "quilt"]

_MIN_PATCH = 8


@dataclass(frozen=True, slots=True)
class QuiltStats:
    """What :func:`quilt` actually did (the patch size may shrink to fit the source)."""

    patch: int
    overlap: int
    patches: int


def quilt(
    image: np.ndarray,
    keep: np.ndarray,
    rng: np.random.Generator,
    *,
    patch: int = 64,
    overlap: int = 16,
    tolerance: float = 0.1,
    shortlist: int = 16,
    coarse: int = 2,
    offset_cost: float = 0.0,
    seam_weight: float = 0.0,
    gradient_domain: bool = False,
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

    Returns
    -------
    (ndarray, QuiltStats)
        A new uint8 image equal to ``image`` where ``keep`` is True.

    Examples
    --------
    >>> img = np.zeros((64, 64, 3), np.uint8); img[:, ::4] = 255
    >>> keep = np.zeros((64, 64), bool); keep[:, :32] = True
    >>> out, stats = quilt(img, keep, np.random.default_rng(0), patch=16, overlap=4)
    >>> bool((out[:, 32:, 0][:, ::4] == 255).all()), stats.patches > 0
    (True, True)
    """
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
    return _Quilter(
        image,
        keep,
        valid,
        rng,
        patch,
        overlap,
        tolerance,
        shortlist,
        coarse,
        offset_cost,
        seam_weight,
        gradient_domain,
    ).run()


def _fully_kept(keep: np.ndarray, size: int) -> np.ndarray | None:
    """Bool map of top-left positions whose ``size`` x ``size`` window is all kept."""
    h, w = keep.shape
    if size > h or size > w:
        return None
    holes = np.zeros((h + 1, w + 1), np.int64)
    holes[1:, 1:] = np.cumsum(np.cumsum(~keep, axis=0), axis=1)
    count = holes[size:, size:] - holes[:-size, size:] - holes[size:, :-size] + holes[:-size, :-size]
    return count == 0


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
    """Views of the four overlap strips of a square array, each turned so its side is column 0."""
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
    for r in range(1, length):
        prev = acc[:, r - 1]
        best = prev.copy()
        np.minimum(best[:, 1:], prev[:, :-1], out=best[:, 1:])
        np.minimum(best[:, :-1], prev[:, 1:], out=best[:, :-1])
        acc[:, r] += best
    depth = np.empty((n, length), np.int64)
    strips = np.arange(n)
    d = np.argmin(acc[:, -1], axis=1)
    depth[:, -1] = d
    padded = np.pad(acc, ((0, 0), (0, 0), (1, 1)), constant_values=np.inf)
    for r in range(length - 2, -1, -1):
        # padded column j holds acc column j - 1: look at acc columns d - 1, d, d + 1
        window = padded[strips[:, None], r, d[:, None] + np.arange(3)]
        d = d + np.argmin(window, axis=1) - 1
        depth[:, r] = d
    return cols < depth[..., None]


class _Quilter:
    """State of one synthesis run (kept private: :func:`quilt` is the interface)."""

    def __init__(
        self,
        image: np.ndarray,
        keep: np.ndarray,
        valid: np.ndarray,
        rng: np.random.Generator,
        patch: int,
        overlap: int,
        tolerance: float,
        shortlist: int,
        coarse: int,
        offset_cost: float,
        seam_weight: float,
        gradient_domain: bool,
    ) -> None:
        self.image = image
        self.out = image.copy()
        self.keep = keep
        self.known = keep.copy()
        self.valid = valid
        self.rng = rng
        self.b = patch
        self.o = min(overlap, patch // 2)
        self.tol = tolerance
        self.offset_cost = offset_cost
        rim = keep & ~_fully_kept_3x3(keep)
        self.weight = keep.astype(np.float32) + np.float32(seam_weight) * rim
        self.shortlist = max(1, shortlist)
        self.channels = image.shape[2]
        self.src = image.astype(np.float32) - 127.5
        self.windows = sliding_window_view(self.src, (patch, patch), axis=(0, 1))  # (y, x, C, B, B)
        self.valid_yx = np.argwhere(valid)
        self.f = coarse if coarse > 1 and patch % coarse == 0 and patch // coarse >= 4 else 1
        self._prepare_coarse()
        h, w, c = image.shape
        # desired forward differences F[y, x + 1] - F[y, x] and F[y + 1, x] - F[y, x]
        self.grad_x = np.zeros((h, w - 1, c), np.float32) if gradient_domain else None
        self.grad_y = np.zeros((h - 1, w, c), np.float32) if gradient_domain else None

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
            self.out = integrate(self.image, self.keep, self.grad_x, self.grad_y)
        return self.out, QuiltStats(b, o, placed)

    def _place(self, y: int, x: int) -> None:
        """Choose, cut and paste the patch whose top-left corner is ``(y, x)``."""
        b = self.b
        sl = (slice(y, y + b), slice(x, x + b))
        known = self.known[sl]
        target = np.moveaxis(self.out[sl].astype(np.float32) - 127.5, -1, 0)  # (C, B, B)
        if known.any():
            weight = np.where(self.keep[sl], self.weight[sl], known.astype(np.float32))
            sy, sx = self._choose(target, weight, y)
        else:
            sy, sx = self.valid_yx[self.rng.integers(len(self.valid_yx))]
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

    def _choose(self, target: np.ndarray, mask: np.ndarray, y: int) -> tuple[int, int]:
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
        energy = np.where(self.coarse_valid, energy, np.inf)
        floor = float(wsum.sum()) * c  # one grey level squared per value: equally good
        best = float(energy.min())
        near = np.flatnonzero(energy.ravel() <= best * (1 + self.tol) + floor)
        if len(near) > self.shortlist:
            near = np.union1d(self.rng.choice(near, self.shortlist - 1, replace=False), [int(np.argmin(energy))])
        cu, cv = np.unravel_index(near, energy.shape)
        r = f - 1
        d = np.arange(-r, r + 1)
        cy = (y0 + cu * f)[:, None, None] + d[None, :, None]
        cx = (x0 + cv * f)[:, None, None] + d[None, None, :]
        cy, cx = np.broadcast_arrays(cy, cx)
        pos = np.unique(np.stack([cy.ravel(), cx.ravel()], axis=1), axis=0)
        vy, vx = self.valid.shape
        pos = pos[(pos[:, 0] >= 0) & (pos[:, 1] >= 0) & (pos[:, 0] < vy) & (pos[:, 1] < vx)]
        pos = pos[self.valid[pos[:, 0], pos[:, 1]]]
        rows, cols = np.nonzero(mask)
        cand = self.src[pos[:, :1] + rows, pos[:, 1:] + cols]  # (N, K, C)
        err = ((cand - target[:, rows, cols].T) ** 2).sum(axis=2) @ mask[rows, cols]
        total_w = float(mask.sum())
        err += total_w * c * (self.offset_cost * (pos[:, 0] - y)) ** 2
        good = np.flatnonzero(err <= err.min() * (1 + self.tol) + total_w * c)
        pick = pos[good[self.rng.integers(len(good))]]
        return int(pick[0]), int(pick[1])


# ---------------------------------------------------------------- gradient-domain integration


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
    rhs = _poisson_rhs(image.astype(np.float64), keep, grad_x.astype(np.float64), grad_y.astype(np.float64))
    rows, cols = np.nonzero(omega)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    solver = _BoxSolver(keep.shape, box)
    regular = bool(omega[box].all())
    solved = solver.solve(rhs[box])[omega[box]] if regular else _solve_irregular(omega, rhs, solver, box)
    out[omega] = np.clip(np.rint(solved), 0, 255).astype(np.uint8)
    return out


def _poisson_rhs(image: np.ndarray, keep: np.ndarray, grad_x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """Right-hand side: desired differences to the four neighbours plus kept neighbours' values."""
    kept = np.pad(np.where(keep[..., None], image, 0.0), ((1, 1), (1, 1), (0, 0)), mode="reflect")
    rhs = kept[1:-1, 2:] + kept[1:-1, :-2] + kept[2:, 1:-1] + kept[:-2, 1:-1]
    rhs += np.concatenate([-grad_x, grad_x[:, -1:]], axis=1)  # F_p - F_right (mirror at the border)
    rhs += np.concatenate([-grad_x[:, :1], grad_x], axis=1)  # F_p - F_left
    rhs += np.concatenate([-grad_y, grad_y[-1:]], axis=0)  # F_p - F_below
    rhs += np.concatenate([-grad_y[:1], grad_y], axis=0)  # F_p - F_above
    return rhs


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
        start, end = self.kind
        if start and end:
            return sfft.idst(x, type=1, axis=axis)
        if start:
            return sfft.idst(x, type=2, axis=axis)
        if end:
            return sfft.idst(np.flip(x, axis), type=2, axis=axis)
        return sfft.idct(x, type=1, axis=axis) if self.n > 1 else x

    def synthesise(self, c: np.ndarray, axis: int) -> np.ndarray:
        start, end = self.kind
        if start and end:
            return sfft.dst(c, type=1, axis=axis)
        if start:
            return sfft.dst(c, type=2, axis=axis)
        if end:
            return np.flip(sfft.dst(c, type=2, axis=axis), axis)
        return sfft.dct(c, type=1, axis=axis) if self.n > 1 else c


def _laplacian(omega: np.ndarray) -> sparse.csr_matrix:
    """The Poisson operator on the unknown pixels (kept neighbours moved to the right-hand side)."""
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
        return solver.solve(full)[inner].ravel()

    size = n * channels
    operator = splinalg.LinearOperator((size, size), matvec=apply, dtype=np.float64)
    preconditioner = splinalg.LinearOperator((size, size), matvec=precondition, dtype=np.float64)
    b = rhs[omega].ravel()
    x, _ = splinalg.bicgstab(operator, b, x0=precondition(b), rtol=1e-4, maxiter=100, M=preconditioner)
    return x.reshape(n, channels)
