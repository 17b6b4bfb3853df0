"""Strips of rows handed over as column blocks (:func:`~imkerutils.tiling.decode.iter_strips` ``columns=``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np

__all__ = ["Strip", "handed_over"]


@dataclass(frozen=True, slots=True)
class Strip:
    """A strip of rows as column blocks, each ``(h, <= columns, C)`` uint8 and its own array, left to right.

    A consumer that is done with one block frees it, whatever it does with the others.
    """

    blocks: tuple[np.ndarray, ...]

    @property
    def shape(self) -> tuple[int, int, int]:
        """Return ``(h, width, C)`` of the whole strip."""
        first = self.blocks[0]
        return first.shape[0], sum(b.shape[1] for b in self.blocks), first.shape[2]


def handed_over(strips: Iterator[tuple[int, list[np.ndarray]]], *, whole: bool) -> Iterator[tuple[int, Any]]:
    """Each strip as one array (``whole``) or a :class:`Strip`, no longer referenced here once handed over."""
    for top, blocks in strips:
        strip = blocks[0] if whole else Strip(tuple(blocks))
        del blocks  # the decoder drops its own reference before it decodes the next strip
        yield top, strip
        del strip  # before the next strip is decoded: the caller may be freeing this one's blocks
