"""Reading an export's pixels from a canvas, a band at a time, two bands ahead.

What an export reads is a :class:`CanvasSource`: :class:`~imkerutils.tiling.Canvas`
is one, and :class:`imkerutils.testing.source.ArraySource` (one NumPy array) another.

Exports never hold the whole region: they walk it in bands (a run of rows, at
most a few tiles wide where the format allows) and read the next bands in
background threads while the current one is encoded.  Levels the canvas has no
pyramid for are derived here by averaging ``2**k x 2**k`` blocks of its
coarsest level, still a band at a time.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from imkerutils.tiling.window import Window, intersection, subdivide

if TYPE_CHECKING:
    import zarr

    from imkerutils.tiling.frame import Frame

__all__ = ["CanvasSource", "LevelReader", "Progress", "bands", "prefetched", "usable_cores"]

ProgressArg = bool | Callable[[int, int], None] | None
T = TypeVar("T")


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class CanvasSource(Protocol):
    """What an export reads: every attribute and method the exporters use, and nothing else.

    Pixels come from :meth:`read`; ``level_array`` and ``frame`` only open a
    faster path to whole stored chunks (a source without Zarr arrays returns
    ``None`` for either, and every pixel is read through :meth:`read`).
    """

    # A protocol's read-only attributes are properties (PEP 544), so the stubs below look alike by necessity.
    @property
    def mode(self) -> str:
        """``"RGB"`` or ``"RGBA"``."""

    @property
    def channels(self) -> int:
        """3 or 4, as ``mode`` says."""

    @property
    def tile(self) -> int:
        """The chunk size in pixels: exports read bands aligned to it."""

    @property
    def bounds(self) -> Window:
        """The world window holding content (background, 0, outside it)."""

    @property
    def levels(self) -> int:
        """Pyramid levels :meth:`read` serves, level 0 included (coarser ones are averaged from the last)."""

    @property
    def read_only(self) -> bool:
        """True when the export may not bring the pyramid up to date (it never calls :meth:`update_pyramid`)."""

    @property
    def location(self) -> str:
        """A folder or URL: its last part names an OME-Zarr export; a URL lends ``storage_options`` to outputs."""

    @property
    def storage_options(self) -> dict[str, Any]:
        """Fsspec options of ``location`` (an output on the same kind of store reuses them)."""

    @property
    def frame(self) -> Frame | None:
        """Where world tiles sit in the level arrays (``None``: no stored arrays)."""

    def level_bounds(self, level: int) -> Window:
        """``bounds`` in level-``level`` pixels (start floored, end ceiled)."""

    def level_array(self, level: int) -> zarr.Array[Any] | None:
        """Return the Zarr array of level ``level``'s chunks, or ``None`` (not built, stale, or no arrays at all)."""

    def read(self, window: Window, level: int = 0) -> np.ndarray:
        """Pixels of ``window`` (level pixels) as ``(height, width, channels)`` uint8, background outside the bounds."""

    def update_pyramid(self) -> int:
        """Bring the coarser levels up to date; the number of chunks recomputed."""


class LevelReader:
    """Read windows of a level grid of ``canvas`` (background outside its bounds).

    Pixel ``(i, j)`` covers the world pixels ``[offset[0] + i * 2**level, ...)``
    (see :class:`~imkerutils.tiling.export._plan.LevelRegion`).  Pixels come
    from the canvas's own pyramid where it has that level on that grid;
    otherwise they average blocks of the finest level that fits (rounding
    halves up), a band at a time.

    Examples
    --------
    >>> from imkerutils.testing.source import ArraySource
    >>> rows = np.repeat(np.arange(6, dtype=np.uint8)[:, None, None], 2 * 3, axis=1).reshape(6, 2, 3)
    >>> flat = ArraySource(rows)  # no pyramid: every pixel is its row number
    >>> LevelReader(flat, 1).read(Window(0, 0, 3, 1))[:, 0, 0]  # means of rows 0-1, 2-3, 4-5 (halves round up)
    array([1, 3, 5], dtype=uint8)
    >>> LevelReader(flat, 1, offset=(1, 0)).read(Window(0, 0, 3, 1))[:, 0, 0]  # rows 1-2, 3-4, 5-6
    array([2, 4, 3], dtype=uint8)
    """

    def __init__(
        self, canvas: CanvasSource, level: int, offset: tuple[int, int] = (0, 0), *, band_bytes: int = 64 << 20
    ) -> None:
        self.canvas = canvas
        self.level = level
        base = min(level, canvas.levels - 1)
        while base and (offset[0] % 2**base or offset[1] % 2**base):
            base -= 1  # the grid must be made of whole pixels of the source level
        self.base = base
        self.factor = 2 ** (level - base)
        self.origin = (offset[0] >> base, offset[1] >> base)  # of the grid, in source-level pixels
        self.band_bytes = band_bytes
        self._level_lock = threading.Lock()
        self.base_bounds = canvas.level_bounds(base)

    def _read_base(self, w: Window) -> np.ndarray:
        if self.base == 0:
            return np.asarray(self.canvas.read(w))
        with self._level_lock:  # a writable canvas takes its write lock to freshen the pyramid on each read
            return np.asarray(self.canvas.read(w, self.base))

    def read(self, w: Window) -> np.ndarray:
        """Pixels of window ``w`` of this grid as ``(height, width, channels)`` uint8."""
        f = self.factor
        oy, ox = self.origin
        if f == 1:
            return self._read_base(w.translate(oy, ox))
        c = self.canvas.channels
        out = np.zeros((w.height, w.width, c), np.uint8)
        # Output rows in bands whose source (f rows each, clipped to the bounds) stays near band_bytes.
        src_width = min(w.width * f, max(1, self.base_bounds.width))
        rows = max(1, self.band_bytes // max(1, f * src_width * c))
        for part in subdivide(w, rows, w.width):
            band = Window(oy + part.row_off * f, ox + part.col_off * f, part.height * f, part.width * f)
            inside = intersection(band, self.base_bounds)
            if inside is None:
                continue  # all background
            data = self._read_base(inside)
            # Sum each f x f block (a block may be cut by the bounds: outside is background, adding 0).
            r0, r1 = (inside.row_off - oy) // f, -(-(inside.row_end - oy) // f)
            c0, c1 = (inside.col_off - ox) // f, -(-(inside.col_end - ox) // f)
            row_idx = [max(inside.row_off, oy + i * f) - inside.row_off for i in range(r0, r1)]
            col_idx = [max(inside.col_off, ox + j * f) - inside.col_off for j in range(c0, c1)]
            sums = np.add.reduceat(np.add.reduceat(data, row_idx, axis=0, dtype=np.uint64), col_idx, axis=1)
            out[r0 - w.row_off : r1 - w.row_off, c0 - w.col_off : c1 - w.col_off] = (sums + (f * f) // 2) // (f * f)
        return out


def bands(window: Window, rows: int, cols: int | None = None, *, align: int | None = None) -> list[Window]:
    """Cut ``window`` into bands of ``rows`` rows (and at most ``cols`` columns), row-major.

    With ``align`` the first band ends on a multiple of ``align`` (the canvas's
    tile grid), so no canvas chunk is decoded for two bands.

    >>> [(b.row_off, b.height) for b in bands(Window(1000, 0, 2100, 5), 1024, align=1024)]
    [(1000, 24), (1024, 1024), (2048, 1024), (3072, 28)]
    """
    cols = window.width if cols is None else cols
    edges = [window.row_off]
    if align:
        first = min(window.row_end, (window.row_off // align + 1) * align)
        if first - window.row_off < rows:
            edges.append(first)
    while edges[-1] < window.row_end:
        edges.append(min(window.row_end, edges[-1] + rows))
    return [
        piece
        for top, bottom in itertools.pairwise(edges)
        for piece in subdivide(Window.from_bounds(top, window.col_off, bottom, window.col_end), bottom - top, cols)
    ]


def prefetched(read: Callable[[Window], T], windows: Iterable[Window], *, ahead: int = 2) -> Iterator[tuple[Window, T]]:
    """Yield ``(window, read(window))`` in order, reading up to ``ahead`` windows ahead in threads.

    At most ``ahead + 1`` results are alive at once: the one yielded and those
    being read.  Two readers roughly halve the time of a canvas read (Zarr
    decodes a read's chunks one after another), so the encoder is not starved.
    """
    todo = list(windows)
    if not todo:
        return
    pool = ThreadPoolExecutor(max(1, ahead), thread_name_prefix="imkerutils-export-read")
    try:
        futures = deque(pool.submit(read, w) for w in todo[: max(1, ahead)])
        queued = len(futures)
        for w in todo:
            data = futures.popleft().result()
            if queued < len(todo):
                futures.append(pool.submit(read, todo[queued]))
                queued += 1
            yield w, data
            del data
    finally:
        # Never wait here for reads still running: a generator its consumer abandoned (an export that failed
        # on a full disk) is closed by the garbage collector on whatever thread it runs, zarr's event loop
        # among them, where waiting for reads that need that loop never ends (a CI run hung so).
        pool.shutdown(wait=False, cancel_futures=True)


class Progress:
    """Progress in pixels: a tqdm bar on a terminal, a callback, or nothing.

    ``progress`` is ``None`` (a bar when standard error is a terminal), ``True``
    (always a bar), ``False`` (none) or a callable ``f(done, total)``.
    """

    def __init__(self, progress: ProgressArg, total: int, desc: str) -> None:
        self.total, self.done = total, 0
        self._callback: Callable[[int, int], None] | None = None
        self._bar: Any = None
        if callable(progress):
            self._callback = progress
        elif progress is not False:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                unit="px",
                unit_scale=True,
                desc=desc,
                file=sys.stderr,
                disable=None if progress is None else False,
                leave=False,
            )

    def advance(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        if self._callback is not None:
            self._callback(self.done, self.total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
