"""The one check of a *generate* mask, for every function that takes one.

A *generate* mask is a 2-D bool array, True where the model may paint; it goes
with a tile (checked by :func:`imkerutils.tiling.checks.check_tile`).
Generators, the reference builder, the seam blends, the compositing and the
OpenAI mask all raise the same :class:`~imkerutils.errors.InvalidTileError`
for the same mistake.

>>> check_generate(np.ones((2, 3), bool), (2, 2))
Traceback (most recent call last):
...
imkerutils.errors.InvalidTileError: the generate mask must be a (2, 2) bool array, got bool of shape (2, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imkerutils.errors import InvalidTileError

__all__ = ["check_generate"]


def check_generate(generate: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``generate`` as a 2-D bool array (of ``shape`` when given)."""
    g: np.ndarray = np.asarray(generate)
    if g.dtype != np.bool_ or g.ndim != 2 or (shape is not None and g.shape != tuple(shape)):
        want = "2-D" if shape is None else f"({', '.join(str(n) for n in shape)})"
        raise InvalidTileError(f"the generate mask must be a {want} bool array, got {g.dtype} of shape {g.shape}")
    return g
