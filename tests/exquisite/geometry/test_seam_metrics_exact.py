"""The seam metrics' cheap paths (issue 16, point 2) give bit for bit what the plain float64 formulas give.

The metrics convert only the columns each one looks at, build the grey image from a uint16 channel sum and
measure band drift in integers; the step record stores their floats, so they must not move in the last bit.
The reference below is the straightforward version: a float64 copy of the whole right-facing tile, then the
formulas of :mod:`imkerutils.exquisite.geometry.seam`'s docstring.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage

from imkerutils.exquisite.geometry import Direction, from_right, seam_scores, to_right
from imkerutils.exquisite.geometry.seam import EPS, EPS_ENERGY, _hf_energy


def _f64(tile: np.ndarray, d: Direction, rows: np.ndarray | None) -> np.ndarray:
    t = tile[..., None] if tile.ndim == 2 else tile
    t = t[..., :-1] if t.shape[2] in (2, 4) else t
    t = np.ascontiguousarray(to_right(t, d), dtype=np.float64)
    return t if rows is None else t[rows]


def _energy(grey: np.ndarray) -> float:
    lap = ndimage.laplace(grey, mode="reflect")[1:-1, 1:-1]
    return float((lap**2).mean())


def _reference(tile: np.ndarray, d: Direction, generate: np.ndarray, raw: np.ndarray, seam: int) -> dict[str, object]:
    g = to_right(generate, d)
    rows = ~g[:, seam - 1] & g[:, seam]
    t = _f64(tile, d, rows)
    diff = np.diff(t[:, seam - 5 : seam + 5], axis=1)
    grad = np.sqrt((diff**2).sum(axis=2)).mean(axis=0)
    excess = float((grad[4] + EPS) / (float(np.median(np.delete(grad, 4))) + EPS))
    grey = t.mean(axis=2)
    detail = float((_energy(grey[:, seam:]) + EPS_ENERGY) / (_energy(grey[:, :seam]) + EPS_ENERGY))
    inner, last = t[:, seam - 16 : seam - 8].mean(axis=1), t[:, seam - 8 : seam].mean(axis=1)
    first = t[:, seam : seam + 8].mean(axis=1)
    across, within = np.linalg.norm(first - last, axis=1).mean(), np.linalg.norm(last - inner, axis=1).mean()
    drift = np.abs(to_right(tile, d)[:, :seam].astype(np.float64) - to_right(raw, d)[:, :seam].astype(np.float64))
    drift = drift[~g[:, :seam]]
    return {
        "seam_excess": excess,
        "detail_ratio": detail,
        "colour_step": float((across + EPS) / (within + EPS)),
        "rows": int(rows.sum()),
        "band_drift_mean": float(drift.mean()) if drift.size else 0.0,
        "band_drift_max": float(drift.max()) if drift.size else 0.0,
    }


@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.tuples(st.integers(48, 160), st.integers(48, 160)),
    channels=st.sampled_from([3, 4]),
    direction=st.sampled_from(list(Direction)),
    smooth=st.booleans(),
    kept_rows=st.integers(0, 20),
)
def test_seam_scores_equal_the_float64_formulas(
    seed: int, size: tuple[int, int], channels: int, direction: Direction, smooth: bool, kept_rows: int
) -> None:
    rng = np.random.default_rng(seed)
    tile = rng.integers(0, 256, (*size, channels), dtype=np.uint8)
    if smooth:  # photo-like: small steps between neighbours
        tile = (np.cumsum(tile.astype(np.int64) // 16, axis=1) % 256).astype(np.uint8)
    raw = np.clip(tile.astype(np.int16) + rng.integers(-4, 5, tile.shape), 0, 255).astype(np.uint8)
    h, w = to_right(tile, direction).shape[:2]
    seam = int(rng.integers(20, w - 20))
    g = np.zeros((h, w), bool)
    g[:, seam:] = True
    g[:kept_rows] = True  # rows generated across the seam: not seam rows, and not part of the band drift
    generate = np.ascontiguousarray(from_right(g, direction))
    got = seam_scores(tile, direction, generate=generate, raw=raw, seam_col=seam).to_dict()
    assert got == _reference(tile, direction, generate, raw, seam)


@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 100), w=st.integers(1, 100))
def test_hf_energy_equals_scipys_laplacian(seed: int, h: int, w: int) -> None:
    grey = np.random.default_rng(seed).integers(0, 766, (h, w)).astype(np.float64) / 3
    lap = ndimage.laplace(grey, mode="reflect")
    expected = float((lap[1:-1, 1:-1] ** 2).mean()) if h > 2 and w > 2 else float((lap**2).mean())
    assert _hf_energy(grey) == expected
