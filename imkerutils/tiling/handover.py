"""How the decoders of :mod:`.decode` hand a strip over, converted to RGB / RGBA as Pillow converts.

Into column blocks (:class:`~.strips.Cut`) in memory, or into a :class:`~.spill.SpillFile` when the strip is
too large to hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from imkerutils.tiling.spill import SpillFile

if TYPE_CHECKING:
    from imkerutils.tiling.decode import ImageInfo, Reserve
    from imkerutils.tiling.strips import Cut

__all__ = ["FETCH_BYTES", "SPILL_FETCH_BYTES", "Output", "cmyk_to_rgb", "convert_into", "handed"]

FETCH_BYTES = 8 << 20  # rows asked of libvips at once: small, so its line cache stays small too
SPILL_FETCH_BYTES = 2 << 20  # the same for a spilled strip: each fetch is held about three times over


@dataclass(frozen=True, slots=True)
class Output:
    """How the decoders hand strips over: ``cut``'s column blocks, in memory or ``spill``-ed, and ``reserve``."""

    cut: Cut
    reserve: Reserve | None
    spill: bool

    def new(self, h: int, rows: int) -> list[np.ndarray] | SpillFile:
        """Empty blocks for a strip of ``h`` rows; ``reserve`` is told of the first ``rows`` (not when spilled)."""
        if self.spill:
            return SpillFile(self.cut, h)
        self.more(rows)
        return [np.empty((h, w, self.cut.channels), np.uint8) for _, w in self.cut.spans]

    def more(self, rows: int) -> None:
        """``rows`` more rows of the strip are about to be decoded (into memory, unless spilled)."""
        if self.reserve is not None and not self.spill:
            self.reserve(self.cut.nbytes(rows))

    def split(self, pixels: np.ndarray) -> list[np.ndarray]:
        """``pixels`` (already RGB / RGBA, all columns) as blocks: itself, or copies of its columns."""
        if self.cut.columns >= self.cut.width:
            return [pixels]
        return [pixels[:, x : x + w].copy() for x, w in self.cut.spans]

    def convert(self, out: list[np.ndarray] | SpillFile, r: int, raw: np.ndarray, info: ImageInfo, mode: str) -> None:
        """Convert ``raw`` (the file's samples for all columns) into rows ``r:`` of ``out``'s blocks."""
        n, c = raw.shape[0], self.cut.channels
        if isinstance(out, SpillFile):  # each block's rows through one scratch buffer, written to the file
            scratch = np.empty(n * self.cut.columns * c, np.uint8)
            for k, (x, w) in enumerate(self.cut.spans):
                rows = scratch[: n * w * c].reshape(n, w, c)
                convert_into(rows, raw[:, x : x + w], info, mode)
                out.write(k, r, rows)
            return
        for block, (x, w) in zip(out, self.cut.spans, strict=True):
            convert_into(block[r : r + n], raw[:, x : x + w], info, mode)

    def fetch_bytes(self) -> int:
        """Bytes of rows to decode at once: fewer when spilling, whose point is a small peak."""
        return SPILL_FETCH_BYTES if self.spill else FETCH_BYTES


def handed(out: list[np.ndarray] | SpillFile) -> list[Any]:
    """Return the blocks of a decoded strip, as :func:`~.strips.handed_over` takes them."""
    return out.blocks() if isinstance(out, SpillFile) else out


def convert_into(out: np.ndarray, raw: np.ndarray, info: ImageInfo, mode: str) -> None:
    """Write ``raw`` (the file's samples, ``(h, w, bands)``) into ``out`` as RGB / RGBA uint8."""
    if raw.dtype == np.uint16:
        raw = (raw >> 8).astype(np.uint8)
    if info.cmyk:
        out[..., :3] = cmyk_to_rgb(raw)
        if mode == "RGBA":
            out[..., 3] = 255
        return
    colour = 1 if info.bands in (1, 2) else 3
    out[..., :3] = raw[..., :colour]  # grey broadcasts to R = G = B
    if mode == "RGBA":
        out[..., 3] = raw[..., colour] if info.bands in (2, 4) else 255


def cmyk_to_rgb(cmyk: np.ndarray) -> np.ndarray:
    """Pillow's CMYK -> RGB (``Convert.c``: ``cmyk2rgb``), bit for bit.

    >>> cmyk_to_rgb(np.array([[[0, 0, 0, 0], [255, 0, 0, 0], [0, 0, 0, 255], [128, 64, 0, 100]]], np.uint8))
    array([[[255, 255, 255],
            [  0, 255, 255],
            [  0,   0,   0],
            [ 77, 116, 155]]], dtype=uint8)
    """
    nk = 255 - cmyk[..., 3:4].astype(np.int32)
    t = cmyk[..., :3].astype(np.int32) * nk + 128  # MULDIV255(a, b) = ((t >> 8) + t) >> 8, t = a * b + 128
    return np.clip(nk - (((t >> 8) + t) >> 8), 0, 255).astype(np.uint8)
