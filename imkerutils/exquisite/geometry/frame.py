"""The right-facing frame: map world windows so that every direction becomes RIGHT.

:func:`~imkerutils.exquisite.geometry.direction.to_right` views a pixel array so
that growing ``direction`` becomes growing right.  The functions here do the same
for windows, so that geometry is written once, for RIGHT, and mapped.

The frames are chosen so that pixel arrays and windows agree: if ``a`` holds the
world pixels of window ``w``, then ``to_right(a, d)`` holds the right-facing
pixels of ``window_to_right(w, d)``.  Per direction, a world pixel ``(row, col)``
has the right-facing coordinates

========  =====================
RIGHT     ``(row, col)``
LEFT      ``(row, -col - 1)``        (mirror left-right)
DOWN      ``(col, row)``             (transpose)
UP        ``(col, -row - 1)``        (transpose, then mirror)
========  =====================

In every frame the rows of the right-facing frame run along the growing edge,
in increasing world coordinate (top to bottom for LEFT/RIGHT, left to right for
UP/DOWN).

>>> w = Window(10, 20, 3, 4)
>>> window_to_right(w, Direction.LEFT)
Window(row_off=10, col_off=-24, height=3, width=4)
>>> window_to_right(w, Direction.UP)
Window(row_off=20, col_off=-13, height=4, width=3)
>>> all(window_from_right(window_to_right(w, d), d) == w for d in Direction)
True
"""

from __future__ import annotations

from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.tiling.window import Window

__all__ = ["window_from_right", "window_to_right"]


def window_to_right(window: Window, direction: Direction | str) -> Window:
    """Return the right-facing frame's window covering the same pixels as world ``window``."""
    d = Direction.parse(direction)
    r, c, h, w = window.row_off, window.col_off, window.height, window.width
    if d is Direction.RIGHT:
        return window
    if d is Direction.LEFT:
        return Window(r, -(c + w), h, w)
    if d is Direction.DOWN:
        return Window(c, r, w, h)
    return Window(c, -(r + h), w, h)  # UP


def window_from_right(window: Window, direction: Direction | str) -> Window:
    """Inverse of :func:`window_to_right`: a right-facing window back in world coordinates."""
    d = Direction.parse(direction)
    if d is Direction.UP:
        return Window(-(window.col_off + window.width), window.row_off, window.width, window.height)
    return window_to_right(window, d)  # the identity, a mirror and a transpose are their own inverses
