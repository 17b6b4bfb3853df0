"""Integer, half-open pixel windows in (row, col) order.

.. warning::
   ``Window(row_off, col_off, height, width)`` takes **y before x and height
   before width**: the reverse of rasterio's ``Window(col_off, row_off, width,
   height)`` and of the CLI's ``--region X Y W H``.  When you think in x, y,
   width, height, write :meth:`Window.from_xywh` with keywords:
   ``Window.from_xywh(x=10, y=20, width=30, height=40) == Window(20, 10, 40, 30)``.

A :class:`Window` is a value: it may start at negative coordinates (a canvas
that grew left or up) and the algebra on it lives in pure module-level
functions, with one-line method aliases.  ``None`` stands for "no overlap".

>>> a = Window(0, 0, 10, 10)
>>> intersection(a, Window(5, -5, 10, 10))
Window(row_off=5, col_off=0, height=5, width=5)
>>> union(a, Window(-4, 2, 2, 2))
Window(row_off=-4, col_off=0, height=14, width=10)
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imkerutils.errors import InvalidWindowError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Window", "intersection", "subdivide", "translate", "union"]


def _as_int(name: str, value: object) -> int:
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidWindowError(f"window {name} must be an integer, got {value!r}") from None


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open rectangle ``[row_off, row_off+height) x [col_off, col_off+width)``.

    **Positional order: row_off (y), col_off (x), height, width**, the reverse of
    rasterio's ``Window(col_off, row_off, width, height)``.  To build one from
    x, y, width, height, use the keyword-only :meth:`from_xywh`:

    >>> Window.from_xywh(x=10, y=20, width=30, height=40)
    Window(row_off=20, col_off=10, height=40, width=30)
    """

    row_off: int
    col_off: int
    height: int
    width: int

    def __post_init__(self) -> None:
        for name in ("row_off", "col_off", "height", "width"):
            object.__setattr__(self, name, _as_int(name, getattr(self, name)))
        if self.height < 0 or self.width < 0:
            raise InvalidWindowError(f"window size must not be negative, got height={self.height}, width={self.width}")

    @classmethod
    def from_xywh(cls, *, x: int, y: int, width: int, height: int) -> Window:
        """Return the ``width x height`` window whose top-left pixel is column ``x``, row ``y`` (keywords only)."""
        return cls(y, x, height, width)

    @classmethod
    def from_bounds(cls, top: int, left: int, bottom: int, right: int) -> Window:
        """Build a window from its edges (``bottom`` and ``right`` exclusive)."""
        return cls(top, left, bottom - top, right - left)

    @property
    def row_end(self) -> int:
        """Return the first row below the window."""
        return self.row_off + self.height

    @property
    def col_end(self) -> int:
        """Return the first column right of the window."""
        return self.col_off + self.width

    @property
    def shape(self) -> tuple[int, int]:
        """Return ``(height, width)``."""
        return (self.height, self.width)

    @property
    def size(self) -> int:
        """Return the number of pixels."""
        return self.height * self.width

    @property
    def is_empty(self) -> bool:
        """Return whether the window holds no pixel."""
        return self.height == 0 or self.width == 0

    def slices(self, origin: tuple[int, int] = (0, 0)) -> tuple[slice, slice]:
        """NumPy slices of this window inside an array whose [0, 0] is ``origin``."""
        r0, c0 = self.row_off - origin[0], self.col_off - origin[1]
        return slice(r0, r0 + self.height), slice(c0, c0 + self.width)

    def contains(self, other: Window) -> bool:
        """Whether ``other`` lies entirely inside this window (empty windows always do)."""
        if other.is_empty:
            return True
        return (
            self.row_off <= other.row_off
            and self.col_off <= other.col_off
            and other.row_end <= self.row_end
            and other.col_end <= self.col_end
        )

    def intersection(self, other: Window) -> Window | None:
        """Return the overlap with ``other`` (see :func:`intersection`)."""
        return intersection(self, other)

    def union(self, other: Window) -> Window:
        """Return the smallest window holding both (see :func:`union`)."""
        return union(self, other)

    def translate(self, d_row: int, d_col: int) -> Window:
        """Return the window moved by ``(d_row, d_col)``."""
        return translate(self, d_row, d_col)

    def to_dict(self) -> dict[str, int]:
        """Return the JSON-ready form (:meth:`from_dict` reads it back)."""
        return {"row_off": self.row_off, "col_off": self.col_off, "height": self.height, "width": self.width}

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> Window:
        """Rebuild from the output of :meth:`to_dict`."""
        return cls(data["row_off"], data["col_off"], data["height"], data["width"])


def intersection(a: Window, b: Window) -> Window | None:
    """Return the overlap of two windows, or ``None`` when they share no pixel."""
    top, left = max(a.row_off, b.row_off), max(a.col_off, b.col_off)
    bottom, right = min(a.row_end, b.row_end), min(a.col_end, b.col_end)
    if bottom <= top or right <= left:
        return None
    return Window.from_bounds(top, left, bottom, right)


def union(a: Window, b: Window) -> Window:
    """Return the smallest window holding both (an empty window adds nothing)."""
    if a.is_empty:
        return b
    if b.is_empty:
        return a
    return Window.from_bounds(
        min(a.row_off, b.row_off),
        min(a.col_off, b.col_off),
        max(a.row_end, b.row_end),
        max(a.col_end, b.col_end),
    )


def translate(w: Window, d_row: int, d_col: int) -> Window:
    """Return the same window moved by ``(d_row, d_col)``."""
    return Window(w.row_off + d_row, w.col_off + d_col, w.height, w.width)


def subdivide(w: Window, height: int, width: int) -> Iterator[Window]:
    """Cut ``w`` into pieces of at most ``height x width``, row by row from its origin.

    The pieces partition ``w`` exactly: every pixel lies in exactly one piece.
    """
    if height <= 0 or width <= 0:
        raise InvalidWindowError(f"subdivide needs a positive piece size, got {height}x{width}")
    for top in range(w.row_off, w.row_end, height):
        for left in range(w.col_off, w.col_end, width):
            yield Window.from_bounds(top, left, min(top + height, w.row_end), min(left + width, w.col_end))
