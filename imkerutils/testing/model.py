"""An in-memory reference model of :class:`~imkerutils.tiling.Canvas`.

:class:`CanvasModel` keeps the pixels of a small world ``region`` in one NumPy
array, the bounds, and whole-state snapshots for undo and redo.  It is
deliberately naive (no chunks, no journal, no files) so that a stateful test
can run the same operations on a canvas and on the model and demand equal
results.  It raises the same :mod:`imkerutils.errors` a canvas raises, before
changing anything.

>>> import numpy as np
>>> m = CanvasModel("RGB", Window(0, 0, 2, 2))
>>> m.paste(np.full((1, 3, 3), 9, np.uint8), -1, 0, extend=True)
>>> m.bounds
Window(row_off=-1, col_off=0, height=3, width=3)
>>> m.read(Window(-1, -1, 1, 5))[..., 0].tolist()
[[0, 9, 9, 9, 0]]
>>> m.undo(); m.bounds, m.head
(Window(row_off=0, col_off=0, height=2, width=2), 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from imkerutils.errors import (
    InvalidTileError,
    InvalidWindowError,
    NothingToRedoError,
    NothingToUndoError,
    OutOfBoundsError,
)
from imkerutils.tiling.window import Window, intersection, union

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["DEFAULT_REGION", "CanvasModel"]

#: The world region a model holds pixels for unless told otherwise.
DEFAULT_REGION = Window(-128, -128, 384, 384)
_EMPTY = Window(0, 0, 0, 0)
_CHANNELS = {"RGB": 3, "RGBA": 4}


@dataclass(frozen=True, slots=True)
class _Snapshot:
    bounds: Window
    pixels: np.ndarray


class CanvasModel:
    """Reference canvas: world pixels of ``region`` in one array, background (0) elsewhere.

    Parameters
    ----------
    mode
        ``"RGB"`` or ``"RGBA"``.
    bounds
        Initial bounds (all background, like ``Canvas.create``).
    region
        The world window the model can hold pixels in; pixels pasted outside
        it are a mistake in the test, reported with ``ValueError``.
    """

    def __init__(self, mode: str = "RGB", bounds: Window = _EMPTY, region: Window = DEFAULT_REGION) -> None:
        if mode not in _CHANNELS:
            raise InvalidTileError(f"mode must be RGB or RGBA, got {mode!r}")
        self.mode = mode
        self.channels = _CHANNELS[mode]
        self.region = region
        self.bounds = bounds
        self.pixels = np.zeros((region.height, region.width, self.channels), dtype=np.uint8)
        self._undo: list[_Snapshot] = []
        self._redo: list[_Snapshot] = []

    @property
    def head(self) -> int:
        """Number of committed steps (as ``Canvas.head``)."""
        return len(self._undo)

    # -- reads ---------------------------------------------------------------
    def read(self, window: Window) -> np.ndarray:
        """Pixels of ``window``: the held pixels inside the bounds, background everywhere else."""
        out = np.zeros((window.height, window.width, self.channels), dtype=np.uint8)
        content = intersection(self.bounds, self.region)
        visible = None if content is None else intersection(window, content)
        if visible is not None:
            origin = (self.region.row_off, self.region.col_off)
            out[visible.slices((window.row_off, window.col_off))] = self.pixels[visible.slices(origin)]
        return out

    # -- steps ---------------------------------------------------------------
    def paste(self, data: np.ndarray, row: int, col: int, *, extend: bool = False) -> None:
        """Write ``data`` at ``(row, col)``; outside the bounds needs ``extend``."""
        self.write([(row, col, data)], extend=extend)

    def write(self, pieces: Sequence[tuple[int, int, np.ndarray]], *, extend: bool = False) -> None:
        """Several pieces as one step; later pieces win where they overlap."""
        if not pieces:
            raise InvalidWindowError("nothing to write: no pieces given")
        targets = []
        for row, col, data in pieces:
            if data.ndim != 3 or data.shape[2] != self.channels or data.dtype != np.uint8:
                raise InvalidTileError(f"pixels must be (h, w, {self.channels}) uint8, got {data.shape} {data.dtype}")
            target = Window(row, col, data.shape[0], data.shape[1])
            if target.is_empty:
                raise InvalidWindowError("nothing to paste: the pixels have zero height or width")
            if not extend and not self.bounds.contains(target):
                raise OutOfBoundsError(f"{target} leaves the bounds {self.bounds}")
            if not self.region.contains(target):
                raise ValueError(f"{target} leaves the model's region {self.region}; use a larger region")
            targets.append(target)
        self._begin()
        covered = targets[0]
        for target, (_, _, data) in zip(targets, pieces, strict=True):
            covered = union(covered, target)
            self.pixels[target.slices((self.region.row_off, self.region.col_off))] = data
        if extend:
            self.bounds = union(self.bounds, covered)

    def extend(self, window: Window) -> None:
        """Extend the bounds to hold ``window`` (one step, even when nothing changes)."""
        self._begin()
        self.bounds = union(self.bounds, window)

    def undo(self) -> None:
        """Revert the last step."""
        if not self._undo:
            raise NothingToUndoError("nothing to undo")
        self._redo.append(self._snapshot())
        self._restore(self._undo.pop())

    def redo(self) -> None:
        """Re-apply the last undone step."""
        if not self._redo:
            raise NothingToRedoError("nothing to redo")
        self._undo.append(self._snapshot())
        self._restore(self._redo.pop())

    # -- internals -----------------------------------------------------------
    def _snapshot(self) -> _Snapshot:
        return _Snapshot(self.bounds, self.pixels.copy())

    def _restore(self, snap: _Snapshot) -> None:
        self.bounds, self.pixels = snap.bounds, snap.pixels

    def _begin(self) -> None:
        self._undo.append(self._snapshot())
        self._redo.clear()
