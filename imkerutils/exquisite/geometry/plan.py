"""Plan the tiles that grow one edge of a canvas.

Everything is computed for growing RIGHT in the right-facing frame
(:mod:`~imkerutils.exquisite.geometry.frame`) and mapped back, so LEFT, UP and
DOWN are exact mirrors / transposes of RIGHT.  Below, "rows" run along the edge
and "columns" across it, as in the right-facing frame.

Growing RIGHT a canvas whose content is ``bounds``:

* the **new strip** is the ``advance = tile - band`` columns just right of
  ``bounds``, spanning its rows; ``new_bounds`` is ``bounds`` grown by it;
* the edge (``bounds.height`` rows) is covered by square reference tiles of
  ``tile`` px.  Each tile's left ``band`` columns are the last ``band`` columns of
  the canvas (its **band**), its right ``advance`` columns lie in the new strip;
* consecutive tiles overlap along the edge by ``overlap`` px (stride
  ``tile - overlap``), the first starts at the edge's start and, when the edge
  is not covered exactly, the last is aligned to the edge's end;
* **seams between tiles** are avoided with a dependency DAG.  Even-indexed tiles
  (phase A) do not overlap each other and run in parallel.  Odd-indexed tiles
  (phase B) fill the gaps: they keep (mask False) the new pixels of their
  phase-A neighbours on both sides and paint only the gap between them.  When
  the end-aligned last tile would leave its phase-B neighbour less than half the
  regular gap (``tile - 2 * overlap``) to paint between two independently
  generated phase-A tiles, it runs after both its neighbours instead (phase 2),
  continuing their pixels from one side;
* each tile **writes** the part of its new half that no tile it depends on
  wrote; these ``write_window`` s partition the new strip exactly;
* an edge **shorter than a tile** gets one tile starting at the edge's start.
  The part of that tile past the edge's end lies outside ``bounds``: its
  reference pixels are fill, its mask is True (the model paints there, so it
  sees a whole tile), and it is never written (``write_window`` is clipped to
  the edge).  The same holds for the band columns of a canvas narrower than
  ``band``: ``band_window`` is clipped to ``bounds``.

All windows in a plan are world windows.  :meth:`TilePlan.generate_mask` is in
world orientation too, aligned with pixels read from the canvas over
``tile_window``.

>>> plan = plan_edge(Window(0, 0, 2048, 1024), "right")
>>> [t.write_window.row_off for t in plan.tiles], [t.depends_on for t in plan.tiles]
([0, 1024, 1792], [(), (0,), (1,)])
>>> plan.new_bounds
Window(row_off=0, col_off=0, height=2048, width=1536)
>>> [[t.index for t in level] for level in plan.levels()]
[[0], [1], [2]]
"""

from __future__ import annotations

import graphlib
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imkerutils.errors import GeometryError
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.exquisite.geometry.frame import window_from_right, window_to_right
from imkerutils.exquisite.geometry.mask import window_mask
from imkerutils.tiling.window import Window, intersection, union

if TYPE_CHECKING:
    import numpy as np

__all__ = ["EdgePlan", "TilePlan", "grow_bounds", "plan_edge"]

TILE = 1024
BAND = 512
OVERLAP = 256


# Fields like FillTile's and BatchPlan's (windows, phase, depends_on): each plan's own record, alike in shape only.
@dataclass(frozen=True, slots=True)
class TilePlan:
    """One reference tile of an edge plan (all windows in world coordinates).

    Attributes
    ----------
    index : int
        Position along the edge (0 = first in increasing world coordinate).
    direction : Direction
        The growing edge.
    phase : int
        0 (phase A, no dependencies), 1 (phase B, fills gaps) or 2 (an end tile
        that runs after both neighbours).
    tile_window : Window
        The ``tile x tile`` reference tile.
    band_window : Window
        The real canvas pixels inside the tile (the band, clipped to ``bounds``).
    write_window : Window
        The new pixels this tile writes; disjoint from every other tile's.
    context_windows : tuple of Window
        For each tile in ``depends_on`` (same order), the pixels it wrote that
        this tile sees and keeps.
    depends_on : tuple of int
        Indices of the tiles that must run before this one.
    """

    index: int
    direction: Direction
    phase: int
    tile_window: Window
    band_window: Window
    write_window: Window
    context_windows: tuple[Window, ...]
    depends_on: tuple[int, ...]

    @property
    def keep_windows(self) -> tuple[Window, ...]:
        """The windows whose real pixels the model must keep: the band, then the context."""
        return (self.band_window, *self.context_windows)

    @property
    def origin(self) -> tuple[int, int]:
        """World ``(row, col)`` of the tile's pixel ``[0, 0]``."""
        return self.tile_window.row_off, self.tile_window.col_off

    def generate_mask(self) -> np.ndarray:
        """Bool ``(tile, tile)`` mask in world orientation: True where the model may paint."""
        return window_mask(self.tile_window, self.keep_windows)


@dataclass(frozen=True, slots=True)
class EdgePlan:
    """The tiles that grow one edge of ``bounds`` by ``tile - band`` pixels."""

    direction: Direction
    bounds: Window
    strip: Window
    new_bounds: Window
    tiles: tuple[TilePlan, ...]
    tile: int = TILE
    band: int = BAND
    overlap: int = OVERLAP

    def levels(self) -> tuple[tuple[TilePlan, ...], ...]:
        """Return the groups of tiles that can run concurrently, in an order that respects ``depends_on``."""
        by_index = {t.index: t for t in self.tiles}
        sorter: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter(
            {t.index: t.depends_on for t in self.tiles}
        )
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            raise GeometryError(f"tile dependencies form a cycle: {exc.args[1]}") from None
        groups = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            unknown = [i for i in ready if i not in by_index]
            if unknown:
                raise GeometryError(f"tiles depend on unknown tile indices {unknown}")
            groups.append(tuple(by_index[i] for i in ready))
            sorter.done(*ready)
        return tuple(groups)


def grow_bounds(bounds: Window, direction: Direction | str, by: int) -> Window:
    """``bounds`` grown by ``by`` pixels towards ``direction``.

    >>> grow_bounds(Window(0, 0, 10, 10), "up", 4)
    Window(row_off=-4, col_off=0, height=14, width=10)
    """
    d = Direction.parse(direction)
    rf = window_to_right(bounds, d)
    return window_from_right(Window(rf.row_off, rf.col_off, rf.height, rf.width + by), d)


def _check_params(tile: object, band: object, overlap: object) -> tuple[int, int, int]:
    try:
        t, b, o = (operator.index(v) for v in (tile, band, overlap))  # type: ignore[arg-type]
    except TypeError:
        raise GeometryError(f"tile, band and overlap must be integers, got {tile!r}, {band!r}, {overlap!r}") from None
    if t < 2 or not 0 < b < t:
        raise GeometryError(f"need tile >= 2 and 0 < band < tile, got tile={t}, band={b}")
    if o < 0 or 2 * o >= t:
        raise GeometryError(f"need 0 <= overlap < tile / 2, got overlap={o} for tile={t}")
    return t, b, o


def _starts(length: int, tile: int, stride: int) -> list[int]:
    """Tile starts along an edge of ``length``: stride apart, the last aligned to the end."""
    if length <= tile:
        return [0]
    n = -(-(length - tile) // stride) + 1
    return [k * stride for k in range(n - 1)] + [length - tile]


def _phases(starts: list[int], tile: int, overlap: int) -> list[int]:
    """0 for even tiles (phase A), 1 for odd ones (phase B), 2 for a last tile too close to phase A."""
    phases = [k % 2 for k in range(len(starts))]
    last = len(starts) - 1
    if last >= 2 and last % 2 == 0:
        gap = starts[last] - (starts[last - 2] + tile)  # new rows the phase-B tile between them paints
        if 2 * gap < tile - 2 * overlap or gap < 1:
            phases[last] = 2
    return phases


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int] | None:
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo < hi else None


def _writes(extents: list[tuple[int, int]], phases: list[int]) -> list[tuple[int, int]]:
    """Each tile's extent minus the extents of overlapping tiles of an earlier phase."""
    writes = []
    for k, (start, end) in enumerate(extents):
        lo, hi = start, end
        for j, ext in enumerate(extents):
            if phases[j] >= phases[k] or _overlap(ext, (start, end)) is None:
                continue
            if ext[0] <= start:
                lo = max(lo, ext[1])
            else:
                hi = min(hi, ext[0])
        if lo >= hi:  # cannot happen for validated parameters
            raise GeometryError(f"tile {k} of the edge plan would write nothing")
        writes.append((lo, hi))
    return writes


def plan_edge(
    bounds: Window,
    direction: Direction | str,
    *,
    tile: int = TILE,
    band: int = BAND,
    overlap: int = OVERLAP,
) -> EdgePlan:
    """Plan the tiles that grow ``bounds`` by ``tile - band`` pixels towards ``direction``.

    Parameters
    ----------
    bounds : Window
        The canvas content (world coordinates); must not be empty.
    direction : Direction or str
        The edge to grow.
    tile, band, overlap : int
        Reference tile size, band width (the real pixels each tile sees across
        the edge), and overlap of neighbouring tiles along the edge
        (``0 <= overlap < tile / 2``).

    Returns
    -------
    EdgePlan
    """
    d = Direction.parse(direction)
    tile, band, overlap = _check_params(tile, band, overlap)
    if bounds.is_empty:
        raise GeometryError(f"cannot grow an empty canvas, bounds={bounds}")
    advance = tile - band
    rf = window_to_right(bounds, d)
    length = rf.height
    band_col = rf.col_end - band  # first column of every tile (and of a full band)

    starts = _starts(length, tile, tile - overlap)
    phases = _phases(starts, tile, overlap)
    extents = [(s, min(s + tile, length)) for s in starts]
    writes = _writes(extents, phases)

    def strip_rows(rows: tuple[int, int]) -> Window:
        return window_from_right(Window(rf.row_off + rows[0], rf.col_end, rows[1] - rows[0], advance), d)

    tiles = []
    for k, s in enumerate(starts):
        seen = {j: _overlap(writes[j], extents[k]) for j in range(len(starts)) if phases[j] < phases[k]}
        context = {j: rows for j, rows in seen.items() if rows is not None}
        tile_rf = Window(rf.row_off + s, band_col, tile, tile)
        band_rf = intersection(tile_rf, rf)
        assert band_rf is not None  # the tile starts inside the edge and its band touches the edge
        tiles.append(
            TilePlan(
                index=k,
                direction=d,
                phase=phases[k],
                tile_window=window_from_right(tile_rf, d),
                band_window=window_from_right(band_rf, d),
                write_window=strip_rows(writes[k]),
                context_windows=tuple(strip_rows(rows) for rows in context.values()),
                depends_on=tuple(context),
            )
        )
    strip = strip_rows((0, length))
    return EdgePlan(
        direction=d,
        bounds=bounds,
        strip=strip,
        new_bounds=union(bounds, strip),
        tiles=tuple(tiles),
        tile=tile,
        band=band,
        overlap=overlap,
    )
