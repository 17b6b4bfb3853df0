"""The four growth directions and the one transform that maps each onto RIGHT."""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from imkerutils.errors import InvalidDirectionError

__all__ = ["Direction", "contiguous", "from_right", "right_facing", "to_right"]


class Direction(StrEnum):
    """Which edge of the canvas grows."""

    RIGHT = "right"
    LEFT = "left"
    UP = "up"
    DOWN = "down"

    @classmethod
    def parse(cls, value: str | Direction) -> Direction:
        """Accept a Direction or its name in any case."""
        if isinstance(value, Direction):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise InvalidDirectionError(f"direction must be one of right, left, up, down; got {value!r}") from None


def to_right(image: np.ndarray, direction: Direction) -> np.ndarray:
    """View ``image`` (rows, cols, ...) so that growing ``direction`` becomes growing right."""
    if direction is Direction.RIGHT:
        return image
    if direction is Direction.LEFT:
        return image[:, ::-1]
    if direction is Direction.DOWN:
        return image.swapaxes(0, 1)
    return image.swapaxes(0, 1)[:, ::-1]  # UP: transpose, then mirror


def right_facing(image: np.ndarray, mask: np.ndarray, direction: Direction) -> tuple[np.ndarray, np.ndarray]:
    """Return ``image`` and ``mask`` turned as :func:`to_right` does, as contiguous copies.

    Work that reads many columns of a mirrored or transposed view is several times slower than on a copy
    (a LEFT tile's reference took 13 ms instead of 3); the copy costs one pass.
    """
    return contiguous(to_right(image, direction)), contiguous(to_right(mask, direction))


def contiguous(view: np.ndarray) -> np.ndarray:
    """Return ``np.ascontiguousarray(view)``, copied a pixel at a time when ``view`` is a turned (H, W, C) image.

    numpy copies a mirrored or transposed RGB view byte by byte (about 5 ms for a 1024-px tile); seen as
    one ``C``-byte item per pixel, the same copy takes about 2.5 ms.  That needs the channels of each pixel
    side by side in memory, which mirroring and transposing keep.
    """
    if view.ndim == 3 and view.shape[2] > 1 and view.strides[2] == view.itemsize and not view.flags.c_contiguous:
        pixels = view.view(np.dtype((np.void, view.itemsize * view.shape[2])))
        return np.ascontiguousarray(pixels).view(view.dtype)
    return np.ascontiguousarray(view)


def from_right(image: np.ndarray, direction: Direction) -> np.ndarray:
    """Inverse of :func:`to_right`."""
    if direction is Direction.UP:
        return image[:, ::-1].swapaxes(0, 1)
    return to_right(image, direction)  # the identity, a mirror and a transpose are their own inverses
