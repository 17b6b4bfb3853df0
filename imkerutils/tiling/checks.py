"""The one check of a tile's pixels: an ``(H, W, 3 or 4)`` array, RGB or RGBA.

Image files, array sources, generators and the seam and reference code all
take pixels in this layout and raise the same
:class:`~imkerutils.errors.InvalidTileError` for the same mistake.

>>> check_tile(np.zeros((2, 2, 3), np.uint8)).shape
(2, 2, 3)
>>> check_tile(np.zeros((2, 2), np.uint8))
Traceback (most recent call last):
...
imkerutils.errors.InvalidTileError: a tile must be a (H, W, 3|4) array, got uint8 of shape (2, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imkerutils.errors import InvalidTileError

__all__ = ["check_tile"]


def check_tile(tile: Any, *, size: int | None = None, dtype: type[np.generic] | None = None) -> np.ndarray:
    """``tile`` as an array of shape ``(H, W, 3 or 4)`` (``(size, size, ...)`` and of ``dtype`` when given)."""
    a: np.ndarray = np.asarray(tile)
    want = "(H, W, 3|4)" if size is None else f"({size}, {size}, 3|4)"
    kind = "" if dtype is None else f" {np.dtype(dtype).name}"
    if (
        a.ndim != 3
        or a.shape[2] not in (3, 4)
        or (size is not None and a.shape[:2] != (size, size))
        or (dtype is not None and a.dtype != dtype)
    ):
        raise InvalidTileError(f"a tile must be a {want}{kind} array, got {a.dtype} of shape {a.shape}")
    return a
