"""Shared validation of a :class:`TileRequest` before a generator touches it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from imkerutils.errors import InvalidTileError

if TYPE_CHECKING:
    from imkerutils.exquisite.api.base import TileRequest

__all__ = ["check_request"]


def check_request(request: TileRequest) -> int:
    """Check shapes and dtypes of ``request``; return its channel count (3 or 4).

    Raises
    ------
    InvalidTileError
        If the reference is not ``(size, size, 3|4)`` uint8 or the mask is not
        ``(size, size)`` bool.
    """
    size = request.size
    ref, gen = request.reference, request.generate
    if not isinstance(ref, np.ndarray) or ref.dtype != np.uint8 or ref.ndim != 3:
        raise InvalidTileError(
            f"reference must be a (size, size, C) uint8 array; got "
            f"{getattr(ref, 'dtype', type(ref).__name__)} of shape {getattr(ref, 'shape', None)}"
        )
    if ref.shape[:2] != (size, size) or ref.shape[2] not in (3, 4):
        raise InvalidTileError(f"reference must have shape ({size}, {size}, 3|4); got {ref.shape}")
    if not isinstance(gen, np.ndarray) or gen.dtype != np.bool_ or gen.shape != (size, size):
        raise InvalidTileError(
            f"generate must be a ({size}, {size}) bool array; got "
            f"{getattr(gen, 'dtype', type(gen).__name__)} of shape {getattr(gen, 'shape', None)}"
        )
    return int(ref.shape[2])
