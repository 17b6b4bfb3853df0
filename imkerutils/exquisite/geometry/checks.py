"""The one check of a tile and of its *generate* mask, for every function that takes them.

A tile is an ``(H, W, 3 or 4)`` array (RGB or RGBA); a *generate* mask is a
2-D bool array, True where the model may paint.  Generators, the reference
builder, the seam blends and the compositing all accept these two and raise
the same :class:`~imkerutils.errors.InvalidTileError` for the same mistake.

>>> check_tile(np.zeros((2, 2, 3), np.uint8)).shape
(2, 2, 3)
>>> check_generate(np.ones((2, 3), bool), (2, 2))
Traceback (most recent call last):
...
imkerutils.errors.InvalidTileError: the generate mask must be a (2, 2) bool array, got bool of shape (2, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imkerutils.errors import InvalidTileError

__all__ = ["check_generate", "check_tile"]


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


def check_generate(generate: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``generate`` as a 2-D bool array (of ``shape`` when given)."""
    g: np.ndarray = np.asarray(generate)
    if g.dtype != np.bool_ or g.ndim != 2 or (shape is not None and g.shape != tuple(shape)):
        want = "2-D" if shape is None else f"({', '.join(str(n) for n in shape)})"
        raise InvalidTileError(f"the generate mask must be a {want} bool array, got {g.dtype} of shape {g.shape}")
    return g
