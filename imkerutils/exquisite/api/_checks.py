"""Shared validation of a :class:`TileRequest` before a generator touches it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from imkerutils.errors import InvalidTileError
from imkerutils.exquisite.geometry.checks import check_generate
from imkerutils.tiling.checks import check_tile

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
    for name, value in (("reference", request.reference), ("generate", request.generate)):
        if not isinstance(value, np.ndarray):  # generators use the request's own arrays after this check
            raise InvalidTileError(f"the {name} of a tile request must be a NumPy array, got {type(value).__name__}")
    ref = check_tile(request.reference, size=size, dtype=np.uint8)
    check_generate(request.generate, (size, size))
    return int(ref.shape[2])
