"""An in-memory :class:`~imkerutils.tiling.export.CanvasSource`: one NumPy array placed in world coordinates.

:class:`ArraySource` is what an export needs and no more: no Zarr arrays, no
pyramid (coarser levels are averaged by the exporter), nothing on disk.  It
lets exports be tested, and plug-in sources compared, without building a canvas.

>>> import numpy as np
>>> src = ArraySource(np.full((2, 3, 3), 7, np.uint8), row_off=-1, col_off=5)
>>> src.bounds
Window(row_off=-1, col_off=5, height=2, width=3)
>>> src.read(Window(-2, 5, 2, 2))[..., 0].tolist()  # background outside the bounds
[[0, 0], [7, 7]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from imkerutils.errors import InvalidTileError, InvalidWindowError
from imkerutils.tiling.checks import check_tile
from imkerutils.tiling.frame import level_window
from imkerutils.tiling.window import Window, intersection

if TYPE_CHECKING:
    from imkerutils.tiling.export import CanvasSource

__all__ = ["ArraySource"]

_MODES = {3: "RGB", 4: "RGBA"}


class ArraySource:
    """The pixels of ``array`` (``(height, width, C)`` uint8) with their top-left at world ``(row_off, col_off)``.

    Outside the array is background (0).  ``levels`` is 1 and ``read_only`` is
    True, so an export never asks it for a coarser level or a pyramid update;
    ``frame`` and ``level_array`` are ``None``, so every pixel goes through
    :meth:`read`.
    """

    levels = 1
    read_only = True
    frame = None

    def __init__(
        self, array: np.ndarray, row_off: int = 0, col_off: int = 0, *, tile: int = 1024, name: str = "array"
    ) -> None:
        if not isinstance(array, np.ndarray):
            raise InvalidTileError(f"an ArraySource holds a NumPy array, got {type(array).__name__}")
        check_tile(array, dtype=np.uint8)
        self._pixels = array.copy()
        self._pixels.flags.writeable = False
        self.bounds = Window(row_off, col_off, array.shape[0], array.shape[1])
        self.channels = int(array.shape[2])
        self.mode = _MODES[self.channels]
        self.tile = tile
        self.location = name
        self.storage_options: dict[str, Any] = {}

    def level_bounds(self, level: int) -> Window:
        """Return the bounds of pyramid level ``level``."""
        return level_window(self.bounds, level)

    def level_array(self, level: int) -> None:
        """Return ``None``: there is no stored array to pass through."""
        return None

    def read(self, window: Window, level: int = 0) -> np.ndarray:
        """Return the pixels of ``window`` at ``level`` (background outside the array)."""
        if level != 0:
            raise InvalidWindowError(f"an ArraySource has level 0 only, not level {level}")
        out = np.zeros((window.height, window.width, self.channels), np.uint8)
        inside = intersection(window, self.bounds)
        if inside is not None:
            b = self.bounds
            out[
                inside.row_off - window.row_off : inside.row_end - window.row_off,
                inside.col_off - window.col_off : inside.col_end - window.col_off,
            ] = self._pixels[
                inside.row_off - b.row_off : inside.row_end - b.row_off,
                inside.col_off - b.col_off : inside.col_end - b.col_off,
            ]
        return out

    def update_pyramid(self) -> int:
        """Return the number of levels (nothing to bring up to date)."""
        return 0  # nothing to update: coarser levels are the exporter's averages


if TYPE_CHECKING:

    def _is_a_canvas_source(source: ArraySource) -> CanvasSource:
        return source  # mypy --strict proves the stub meets the protocol
