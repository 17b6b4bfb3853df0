"""A strip of rows kept in an unnamed temporary file instead of memory, one tile-wide column block at a time.

A strip of 1024 rows of a 60000-px-wide RGB image is 176 MiB; holding it while its tiles are written made
such an import peak near 390 MiB.  The decoder instead writes each band of rows it gets from libvips into
:class:`SpillFile`, laid out column-major (block ``k``, rows ``0..h``, contiguous), and each tile's task reads
its block back (:meth:`SpilledBlock.read`) when it runs: memory holds a band and the tiles being written.
The bytes pass through the page cache, not the process.  The I/O is hand-written (``os.pwrite`` and
``os.preadv`` at computed offsets): no library writes a strip in one order and reads it in another within
that memory bound (``np.memmap`` would map the pages into the process, and count them against it).

The file is unnamed (:func:`tempfile.TemporaryFile`), so nothing is left on disk whatever happens; it is
closed once every block has been read, or when the :class:`SpillFile` is collected (a block dropped unread).
"""

from __future__ import annotations

import os
import tempfile
import threading
import weakref
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from imkerutils.tiling.strips import Cut

__all__ = ["SpillFile", "SpilledBlock"]


class SpillFile:
    """One strip of ``h`` rows cut as ``cut`` says, in an unnamed temporary file (see the module docstring)."""

    def __init__(self, cut: Cut, h: int) -> None:
        self.cut, self.h = cut, h
        self._file = tempfile.TemporaryFile(prefix="imkerutils-strip-", buffering=0)  # noqa: SIM115 (closed below)
        self._fd = self._file.fileno()
        self._unread = len(cut.spans)
        self._taken: set[int] = set()
        self._lock = threading.Lock()
        self._closer = weakref.finalize(self, self._file.close)  # an unread block must not keep it open forever

    def write(self, k: int, r: int, rows: np.ndarray) -> None:
        """Write ``rows`` (``(n, width of block k, C)`` uint8, C-contiguous) as rows ``r:r + n`` of block ``k``."""
        _write_all(self._fd, rows.data.cast("B"), self.offset(k, r))

    def offset(self, k: int, r: int) -> int:
        """Byte offset of row ``r`` of block ``k``: the blocks are stored one after another, each row-major."""
        x, w = self.cut.spans[k]
        return (x * self.h + r * w) * self.cut.channels

    def blocks(self) -> list[SpilledBlock]:
        """Return the strip's blocks, left to right, each read back once by whoever writes its tile."""
        return [SpilledBlock(self, k, (self.h, w, self.cut.channels)) for k, (_, w) in enumerate(self.cut.spans)]

    def read(self, k: int) -> np.ndarray:
        """Block ``k`` as a fresh ``(h, w, C)`` array; the file is closed once every block was read."""
        with self._lock:  # once each: a second read could race the close after the last one (a reused fd)
            if k in self._taken or not self._closer.alive:
                raise ValueError(f"block {k} of a spilled strip was already read, or the strip was dropped")
            self._taken.add(k)
        try:
            out = np.empty((self.h, self.cut.spans[k][1], self.cut.channels), np.uint8)
            _read_all(self._fd, out.data.cast("B"), self.offset(k, 0))
            return out
        finally:
            with self._lock:
                self._unread -= 1
                last = self._unread == 0
            if last:
                self._closer()

    @property
    def closed(self) -> bool:
        """Whether the file is closed (every block read, or the strip dropped)."""
        return not self._closer.alive


class SpilledBlock:
    """A column block of a :class:`SpillFile`: its shape, and :meth:`read` to get its pixels (once)."""

    __slots__ = ("_k", "_spill", "shape")
    dtype = np.dtype(np.uint8)
    nbytes = 0  # none of it is in memory until read

    def __init__(self, spill: SpillFile, k: int, shape: tuple[int, int, int]) -> None:
        self._spill, self._k, self.shape = spill, k, shape

    def read(self) -> np.ndarray:
        """Return the block's pixels, ``(h, w, C)`` uint8, read from the file."""
        return self._spill.read(self._k)


def _write_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


def _read_all(fd: int, out: memoryview, offset: int) -> None:
    while out:
        n = os.preadv(fd, [out], offset)
        if n == 0:
            raise OSError(f"a spilled strip's temporary file ended at byte {offset}")
        out, offset = out[n:], offset + n
