"""Lazy views of a canvas: dask arrays and xarray DataArrays over only the chunks a window touches.

``dask.array.from_zarr`` on a whole level array costs time in its chunk count (``docs/design.md``, "Lazy
graphs stay local"), so :func:`to_dask` builds its graph over a :class:`_LevelRegion`, an array-like that
reads the window through :meth:`Canvas.read <imkerutils.tiling.canvas.Canvas.read>` when dask asks, in
blocks whose edges fall on tile lines.  :func:`to_xarray` labels that array with world coordinates.
Both are what :meth:`Canvas.to_dask` and :meth:`Canvas.to_xarray` return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from imkerutils.tiling.frame import tile_of_tile_key
from imkerutils.tiling.step import aligned_chunks
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Iterable

    import dask.array as da
    import xarray as xr

    from imkerutils.tiling.canvas import Canvas

__all__ = ["to_dask", "to_xarray"]


class _LevelRegion:
    """An array-like view of one level-0 world window of a canvas, read when dask asks.

    Lets ``dask.array.from_array`` build a graph over only the chunks a window touches (``from_zarr`` on
    the whole array costs time in its chunk count).  It reads through the canvas's arrays of the moment,
    so a graph built before a rebase still reads the right chunks after it.
    """

    def __init__(self, canvas: Canvas, window: Window, token: str) -> None:
        self.canvas, self.window, self.token = canvas, window, token
        self.shape = (window.height, window.width, canvas.channels)
        self.dtype = np.dtype(np.uint8)
        self.ndim = 3

    def __dask_tokenize__(self) -> tuple[str, Window]:
        return (self.token, self.window)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        rows, cols = key[0], key[1]
        r0, r1, _ = rows.indices(self.window.height)
        c0, c1, _ = cols.indices(self.window.width)
        out = self.canvas.read(Window(self.window.row_off + r0, self.window.col_off + c0, r1 - r0, c1 - c0))
        return out[(slice(None), slice(None), *key[2:])] if len(key) > 2 else out


def summary(canvas: Canvas) -> dict[str, Any]:
    """Return what ``imkerutils info`` prints about ``canvas``."""
    b = canvas.bounds
    return {
        "path": canvas.location,
        "mode": canvas.mode,
        "tile": canvas.tile,
        "bounds": b.to_dict(),
        "size": [b.height, b.width],
        "steps": canvas.head,
        "redoable": canvas.redoable,
        "tiles_written": canvas.written_tiles(),
        "levels": canvas.levels,
        "bytes_on_disk": canvas.disk_usage(),
    }


def written_tile_windows(canvas: Canvas, manifest_keys: Iterable[str], window: Window) -> list[Window]:
    """World windows of the level-0 tiles in ``manifest_keys`` that meet ``window``, in row-major order."""
    tiles = (canvas.grid.tile_window(*tile_of_tile_key(k)) for k in manifest_keys)
    return sorted((w for w in tiles if w.intersection(window) is not None), key=lambda w: (w.row_off, w.col_off))


def to_dask(canvas: Canvas, window: Window | None = None) -> da.Array:
    """Return a lazy dask array of ``window`` (default: the bounds) over only the chunks it touches."""
    import dask.array as da
    from dask.base import tokenize

    w = canvas.bounds if window is None else window
    rows = aligned_chunks(w.row_off, w.height, canvas.tile)
    cols = aligned_chunks(w.col_off, w.width, canvas.tile)
    token = f"{canvas.location}:{canvas.state_token}"
    name = "canvas-read-" + tokenize(canvas.location, canvas.state_token, w)
    view: da.Array = da.from_array(
        _LevelRegion(canvas, w, token),
        chunks=(rows, cols, (canvas.channels,)),
        name=name,
        asarray=False,
        lock=False,
        fancy=False,
        meta=np.empty((0, 0, 0), np.uint8),
    )
    return view


def to_xarray(canvas: Canvas, window: Window | None = None) -> xr.DataArray:
    """``window`` as a lazy xarray with world ``y``/``x`` coordinates and a ``c`` dimension."""
    import xarray as xr

    w = canvas.bounds if window is None else window
    return xr.DataArray(
        canvas.to_dask(w),
        dims=("y", "x", "c"),
        coords={"y": np.arange(w.row_off, w.row_end), "x": np.arange(w.col_off, w.col_end), "c": list(canvas.mode)},
        name="canvas",
    )
