"""The reference tile: real pixels where kept, a fill hint where the model paints.

The hidden pixels (``generate`` True) of a tile read from the canvas hold
nothing meaningful (unwritten chunks, or pixels outside the canvas).  Image
models take them as a hint, so they are filled, never left black:

``"edge"``
    each hidden pixel copies its nearest kept pixel (Euclidean distance, ties
    broken by the scan order of :func:`scipy.ndimage.distance_transform_edt`).
    For a plain RIGHT tile this is exactly edge replication of the band's last
    column into the new half; below the end of a short edge it continues the
    last real row.
``"blur"``
    the ``"edge"`` fill smoothed with a Gaussian of ``blur_sigma`` px; kept
    pixels are unchanged.

A tile with no kept pixel at all is filled with mid-grey (128).

>>> tile = np.zeros((2, 4, 3), np.uint8)
>>> tile[:, :2] = [[[10, 10, 10], [20, 20, 20]], [[30, 30, 30], [40, 40, 40]]]
>>> generate = np.zeros((2, 4), bool); generate[:, 2:] = True
>>> build_reference(tile, generate)[..., 0].tolist()
[[10, 20, 20, 20], [30, 40, 40, 40]]
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from imkerutils.errors import GeometryError
from imkerutils.exquisite.geometry.checks import check_generate
from imkerutils.tiling.checks import check_tile

__all__ = ["FILLS", "build_reference"]

FILLS = ("edge", "blur")
_EMPTY_FILL = 128


def _check_tile(tile: np.ndarray, generate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tile = check_tile(tile)
    return tile, check_generate(generate, tile.shape[:2])


def _plain_edge(generate: np.ndarray) -> int | None:
    """``c`` when ``generate`` is exactly the columns ``c:`` (0 < c), else ``None``."""
    first_row = generate[0]
    c = int(np.argmax(first_row))
    if c == 0 or not first_row[c:].all() or first_row[:c].any():
        return None
    if not (generate[:, c:].all() and not generate[:, :c].any()):
        return None
    return c


def build_reference(
    tile_pixels: np.ndarray,
    generate: np.ndarray,
    *,
    fill: str = "edge",
    blur_sigma: float = 16.0,
) -> np.ndarray:
    """Return the reference tile sent to a generator.

    Parameters
    ----------
    tile_pixels : ndarray, shape (H, W, C), C = 3 or 4
        The tile as read from the canvas over ``tile_window`` (world orientation).
    generate : ndarray of bool, shape (H, W)
        True where the model may paint (those pixels are replaced by the fill).
    fill : {"edge", "blur"}
        How hidden pixels are filled (see the module docstring).
    blur_sigma : float
        Gaussian sigma in px for ``fill="blur"``.

    Returns
    -------
    ndarray
        A new array of the same shape and dtype; kept pixels are identical to
        ``tile_pixels``.
    """
    tile, generate = _check_tile(tile_pixels, generate)
    if fill not in FILLS:
        raise GeometryError(f"unknown fill {fill!r}; choose one of {', '.join(FILLS)}")
    out = tile.copy()
    if not generate.any():
        return out
    if generate.all():
        out[...] = _EMPTY_FILL
        return out
    edge = _plain_edge(generate)
    if edge is not None and fill == "edge":
        # The common case, a band on the left and nothing kept to the right of it: the nearest kept
        # pixel of every hidden pixel is the band's last pixel in its row (what the transform below
        # finds too, at a fraction of its cost).
        out[:, edge:] = tile[:, edge - 1 : edge]
        return out
    # For every pixel, the index of the nearest kept (generate False) pixel.
    rows, cols = ndimage.distance_transform_edt(generate, return_distances=False, return_indices=True)
    filled = tile[rows, cols]
    if fill == "blur":
        smooth = ndimage.gaussian_filter(filled.astype(np.float64), sigma=(blur_sigma, blur_sigma, 0), mode="nearest")
        if np.issubdtype(tile.dtype, np.integer):
            info = np.iinfo(tile.dtype)
            smooth = np.clip(np.rint(smooth), info.min, info.max)
        filled = smooth.astype(tile.dtype)
    out[generate] = filled[generate]
    return out
