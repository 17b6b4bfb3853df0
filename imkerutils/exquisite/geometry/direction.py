"""The four growth directions and the one transform that maps each onto RIGHT."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from imkerutils.errors import InvalidDirectionError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Direction", "from_right", "to_right"]


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


def from_right(image: np.ndarray, direction: Direction) -> np.ndarray:
    """Inverse of :func:`to_right`."""
    if direction is Direction.UP:
        return image[:, ::-1].swapaxes(0, 1)
    return to_right(image, direction)  # the identity, a mirror and a transpose are their own inverses
