"""Strips of rows handed over as column blocks (:func:`~imkerutils.tiling.decode.iter_strips` ``columns=``).

:class:`Cut` is the geometry of those blocks, with no I/O: the decoder fills blocks in memory, or in a
:class:`~imkerutils.tiling.spill.SpillFile`, by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np

    from imkerutils.tiling.spill import SpilledBlock

__all__ = ["Cut", "Strip", "handed_over"]


@dataclass(frozen=True, slots=True)
class Cut:
    """Strips ``width`` px wide of ``channels`` bytes a pixel, cut into column blocks ``columns`` wide.

    >>> Cut(2500, 3, 1024).spans
    ((0, 1024), (1024, 1024), (2048, 452))
    >>> Cut(2500, 3, 1024).nbytes(10)
    75000
    """

    width: int
    channels: int
    columns: int

    @property
    def spans(self) -> tuple[tuple[int, int], ...]:
        """``(first column, width)`` of each block, left to right (the last may be narrower)."""
        w, c = self.width, self.columns
        return tuple((x, min(c, w - x)) for x in range(0, w, c))

    def nbytes(self, rows: int) -> int:
        """Bytes of ``rows`` whole rows."""
        return rows * self.width * self.channels


@dataclass(frozen=True, slots=True)
class Strip:
    """A strip of rows as column blocks, each ``(h, <= columns, C)`` uint8 and its own array, left to right.

    A consumer that is done with one block frees it, whatever it does with the others.  A strip too large
    to hold comes as :class:`~imkerutils.tiling.spill.SpilledBlock` s instead, each read back with ``read()``.
    """

    blocks: tuple[np.ndarray, ...] | tuple[SpilledBlock, ...]

    @property
    def shape(self) -> tuple[int, int, int]:
        """Return ``(h, width, C)`` of the whole strip."""
        first = self.blocks[0]
        return first.shape[0], sum(b.shape[1] for b in self.blocks), first.shape[2]


def handed_over(strips: Iterator[tuple[int, list[Any]]], *, whole: bool) -> Iterator[tuple[int, Any]]:
    """Each strip as one array (``whole``) or a :class:`Strip`, no longer referenced here once handed over."""
    for top, blocks in strips:
        strip = blocks[0] if whole else Strip(tuple(blocks))
        del blocks  # the decoder drops its own reference before it decodes the next strip
        yield top, strip
        del strip  # before the next strip is decoded: the caller may be freeing this one's blocks
