"""Plan filling any region of a canvas: tiles, the pixels each writes, and their order as a DAG.

The edge plan (:mod:`.plan`) grows one whole edge; a fill plan generalises it to
any ``region`` and any layout of content around and inside it.  Inputs are pure
geometry: the region and the windows that hold content (the caller decides what
counts, e.g. the canvas bounds intersected with the storage tiles some step wrote).

* The region is cut into **cells** of at most ``cell`` px per axis: each axis is
  first cut at the region's edges and at every edge of the content windows
  (the bounds, storage tiles), and each piece between two cuts is split into
  equal parts of at most ``cell`` px (mirror-symmetric: growing left is the
  mirror of growing right).  A cell **writes** its pixels that hold no content,
  as disjoint rectangles (``write_windows``); a cell without such pixels gets
  no tile.  The write windows of all tiles partition the region's empty pixels.
* Each cell gets a square **reference tile** of ``tile`` px containing it.
* **Rings**: a cell is in ring 1 when some tile containing it can see content;
  otherwise in ring ``r + 1`` when one can see the writes of a ring-``r`` cell.  A
  region with no ring-1 cell has no content next to it: :class:`NoContentNearError`.
* **Order**: tiles run by ring, then by **phase** ``(i mod p, j mod p)`` with
  ``p = ceil(tile / cell)``, so same-phase cells of one ring are about a tile
  apart and run in parallel (phase A / phase B of the edge plan, in two
  dimensions), then by position.
  A tile **depends on** every tile of an earlier (ring, phase) group whose writes
  fall inside its reference tile and keeps those pixels (``keep_windows`` =
  content + those writes); tiles of one group never depend on each other, and
  the later phases between them see both sides (corners included), so no two
  tiles meet at an unconditioned seam.
* Among the reference tiles that contain the cell with the cell at their start,
  centre or end (per axis), a tile takes the one that sees the most kept pixels
  (ties: centre first, then start, then end).

All windows are world windows.

>>> p = plan_fill(Window(0, 1024, 1024, 512), [Window(0, 0, 1024, 1024)])
>>> [(t.key, t.tile_window.col_off, t.depends_on) for t in p.tiles]
[((0, 0), 512, ()), ((1, 0), 512, ((0, 0),))]
>>> p.new_bounds
Window(row_off=0, col_off=0, height=1024, width=1536)
"""

from __future__ import annotations

import graphlib
import itertools
import math
import operator
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from imkerutils.errors import GeometryError, NoContentNearError
from imkerutils.exquisite.geometry.direction import Direction, to_right
from imkerutils.exquisite.geometry.mask import window_mask
from imkerutils.exquisite.geometry.plan import TILE, grow_bounds
from imkerutils.jsonform import fields_form
from imkerutils.tiling.grid import TileGrid
from imkerutils.tiling.window import Window, intersection, union

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["FillPlan", "FillTile", "dominant_seam", "edge_region", "plan_fill", "subtract"]

TileKey = tuple[int, int]  # (row, col) of a cell on the plan's cell grid


@dataclass(frozen=True, slots=True)
class FillTile:
    """One reference tile of a fill plan (world windows)."""

    key: TileKey
    ring: int
    phase: int
    cell: Window
    tile_window: Window
    write_windows: tuple[Window, ...]
    keep_windows: tuple[Window, ...]
    depends_on: tuple[TileKey, ...]

    @property
    def origin(self) -> tuple[int, int]:
        """Return the world ``(row, col)`` of the tile's top-left pixel."""
        return self.tile_window.row_off, self.tile_window.col_off

    def generate_mask(self) -> np.ndarray:
        """Bool ``(tile, tile)`` mask: True where the model may paint (everything not kept)."""
        return window_mask(self.tile_window, self.keep_windows)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (:meth:`from_dict` reads it back)."""
        return fields_form(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FillTile:
        """Rebuild from the output of :meth:`to_dict`."""
        return cls(
            key=(int(data["key"][0]), int(data["key"][1])),
            ring=int(data["ring"]),
            phase=int(data["phase"]),
            cell=Window.from_dict(data["cell"]),
            tile_window=Window.from_dict(data["tile_window"]),
            write_windows=tuple(Window.from_dict(w) for w in data["write_windows"]),
            keep_windows=tuple(Window.from_dict(w) for w in data["keep_windows"]),
            depends_on=tuple((int(k[0]), int(k[1])) for k in data["depends_on"]),
        )


# A frozen record of windows like tiling.journal.StepMeta: alike in shape only.
@dataclass(frozen=True, slots=True)
class FillPlan:
    """The tiles that fill ``region``, in an order that respects ``depends_on``."""

    region: Window
    bounds: Window
    new_bounds: Window
    tiles: tuple[FillTile, ...]
    tile: int
    cell: tuple[int, int]

    @property
    def written(self) -> tuple[Window, ...]:
        """Every window the plan writes (disjoint)."""
        return tuple(w for t in self.tiles for w in t.write_windows)

    def levels(self) -> tuple[tuple[FillTile, ...], ...]:
        """Return the groups of tiles that can run concurrently, each after the groups it depends on."""
        by_key = {t.key: t for t in self.tiles}
        sorter: graphlib.TopologicalSorter[TileKey] = graphlib.TopologicalSorter(
            {t.key: t.depends_on for t in self.tiles}
        )
        sorter.prepare()
        groups = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            groups.append(tuple(by_key[k] for k in ready))
            sorter.done(*ready)
        return tuple(groups)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (:meth:`from_dict` reads it back)."""
        return fields_form(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FillPlan:
        """Rebuild from the output of :meth:`to_dict`."""
        return cls(
            region=Window.from_dict(data["region"]),
            bounds=Window.from_dict(data["bounds"]),
            new_bounds=Window.from_dict(data["new_bounds"]),
            tiles=tuple(FillTile.from_dict(t) for t in data["tiles"]),
            tile=int(data["tile"]),
            cell=(int(data["cell"][0]), int(data["cell"][1])),
        )


def subtract(w: Window, holes: Iterable[Window]) -> list[Window]:
    """``w`` minus ``holes``, as disjoint rectangles (row bands, merged along each band).

    >>> subtract(Window(0, 0, 4, 4), [Window(1, 1, 2, 2)])  # doctest: +NORMALIZE_WHITESPACE
    [Window(row_off=0, col_off=0, height=1, width=4), Window(row_off=1, col_off=0, height=2, width=1),
     Window(row_off=1, col_off=3, height=2, width=1), Window(row_off=3, col_off=0, height=1, width=4)]
    """
    cut = [h for h in (intersection(w, h) for h in holes) if h is not None]
    if not cut:
        return [w]
    rows = sorted({w.row_off, w.row_end, *(h.row_off for h in cut), *(h.row_end for h in cut)})
    cols = sorted({w.col_off, w.col_end, *(h.col_off for h in cut), *(h.col_end for h in cut)})
    out: list[Window] = []
    for r0, r1 in itertools.pairwise(rows):
        run: int | None = None
        for c0, c1 in itertools.pairwise(cols):
            covered = any(h.row_off <= r0 and r1 <= h.row_end and h.col_off <= c0 and c1 <= h.col_end for h in cut)
            if not covered and run is None:
                run = c0
            if covered and run is not None:
                out.append(Window(r0, run, r1 - r0, c0 - run))
                run = None
        if run is not None:
            out.append(Window(r0, run, r1 - r0, cols[-1] - run))
    return out


class _Index:
    """Windows bucketed on a square grid, for "which of them meet this window" queries."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.buckets: dict[tuple[int, int], list[Window]] = {}

    def add(self, w: Window) -> None:
        for b in self._buckets(w):
            self.buckets.setdefault(b, []).append(w)

    def _buckets(self, w: Window) -> Iterable[tuple[int, int]]:
        return TileGrid(self.size).tiles(w)

    def meeting(self, w: Window) -> list[Window]:
        seen: dict[Window, None] = {}
        for b in self._buckets(w):
            for v in self.buckets.get(b, ()):
                if v not in seen and intersection(v, w) is not None:
                    seen[v] = None
        return list(seen)


def _area(w: Window, others: Iterable[Window]) -> int:
    return sum(p.size for p in (intersection(w, o) for o in others) if p is not None)


def _offsets(start: int, length: int, tile: int) -> list[int]:
    """Tile starts with the cell at the tile's centre, start or end (distinct, in that order)."""
    spare = tile - length
    out: list[int] = []
    for off in (start - spare // 2, start, start - spare):
        if off not in out:
            out.append(off)
    return out


def _cuts(lo: int, hi: int, lines: Iterable[int], size: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` cut at ``lines``, each piece split into equal parts of at most ``size``.

    >>> _cuts(0, 1000, [300], 512)
    [(0, 300), (300, 650), (650, 1000)]
    """
    fixed = sorted({lo, hi, *(x for x in lines if lo < x < hi)})
    out: list[tuple[int, int]] = []
    for a, b in itertools.pairwise(fixed):
        n = -(-(b - a) // size)
        out.extend((a + (b - a) * k // n, a + (b - a) * (k + 1) // n) for k in range(n))
    return out


def _check(tile: object, cell: object) -> tuple[int, int, int]:
    try:
        t = operator.index(tile)  # type: ignore[arg-type]
        ch, cw = (operator.index(c) for c in cell)  # type: ignore[attr-defined]
    except TypeError:
        raise GeometryError(f"tile and cell must be integers, got tile={tile!r}, cell={cell!r}") from None
    if t < 2 or not (0 < ch < t and 0 < cw < t):
        raise GeometryError(f"need tile >= 2 and 0 < cell < tile, got tile={t}, cell=({ch}, {cw})")
    return t, ch, cw


def plan_fill(
    region: Window,
    content: Sequence[Window],
    *,
    tile: int = TILE,
    cell: int | tuple[int, int] | None = None,
    bounds: Window | None = None,
) -> FillPlan:
    """Plan generating every pixel of ``region`` outside ``content``.

    Parameters
    ----------
    region : Window
        Where to generate (world coordinates).
    content : sequence of Window
        Disjoint windows holding content; their pixels are never written.
    tile : int
        Reference tile size.
    cell : int or (int, int), optional
        Largest cell (default ``tile // 2``): how many new pixels a tile writes at most per axis.
    bounds : Window, optional
        The canvas bounds before the fill (default: the union of ``content``); ``new_bounds``
        is it grown by everything written.
    """
    if isinstance(cell, int) or cell is None:
        cell = (cell or tile // 2, cell or tile // 2)
    if isinstance(tile, int) and tile < 2:
        raise GeometryError(f"need tile >= 2, got {tile}")
    tile, ch, cw = _check(tile, cell)
    if region.is_empty:
        raise GeometryError(f"the region to fill is empty: {region}")
    content_index = _Index(tile)
    for w in content:
        if not w.is_empty:
            content_index.add(w)
    near = [w for w in content if not w.is_empty and intersection(w, region) is not None]
    row_cuts = _cuts(region.row_off, region.row_end, [x for w in near for x in (w.row_off, w.row_end)], ch)
    col_cuts = _cuts(region.col_off, region.col_end, [x for w in near for x in (w.col_off, w.col_end)], cw)
    cells: dict[TileKey, Window] = {}
    writes: dict[TileKey, tuple[Window, ...]] = {}
    for i, (r0, r1) in enumerate(row_cuts):
        for j, (c0, c1) in enumerate(col_cuts):
            c = Window(r0, c0, r1 - r0, c1 - c0)
            parts = subtract(c, content_index.meeting(c))
            if parts:
                cells[(i, j)] = c
                writes[(i, j)] = tuple(parts)
    if not cells:
        raise GeometryError(f"every pixel of the region {_describe(region)} already holds content: nothing to fill")

    def reach(c: Window) -> Window:  # every pixel a tile containing c can see
        return Window(
            c.row_off - (tile - c.height), c.col_off - (tile - c.width), 2 * tile - c.height, 2 * tile - c.width
        )

    # rings, by breadth-first search from the cells that see content
    ring: dict[TileKey, int] = {k: 1 for k, c in cells.items() if content_index.meeting(reach(c))}
    if not ring:
        raise NoContentNearError(
            f"the region {_describe(region)} has no content within {tile} px: nothing to condition it on"
        )
    cell_index = _Index(tile)
    key_of: dict[Window, TileKey] = {}
    for k, c in cells.items():
        cell_index.add(c)
        key_of[c] = k
    queue = deque(sorted(ring))
    while queue:
        k = queue.popleft()
        for w in writes[k]:
            near_w = Window(w.row_off - tile, w.col_off - tile, w.height + 2 * tile, w.width + 2 * tile)
            for c in cell_index.meeting(near_w):
                n = key_of[c]
                if n not in ring and intersection(w, reach(c)) is not None:
                    ring[n] = ring[k] + 1
                    queue.append(n)
    assert len(ring) == len(cells)  # the cells of a region are connected, and some see content

    pi, pj = math.ceil(tile / ch), math.ceil(tile / cw)

    def phase(k: TileKey) -> int:
        return (k[0] % pi) * pj + k[1] % pj

    order = sorted(cells, key=lambda k: (ring[k], phase(k), k))
    written = _Index(tile)  # the writes of earlier groups (ring, phase)
    owner: dict[Window, TileKey] = {}
    tiles: list[FillTile] = []
    pending: list[TileKey] = []

    def flush() -> None:
        for key in pending:
            for w in writes[key]:
                written.add(w)
                owner[w] = key
        pending.clear()

    for k in order:
        if pending and (ring[pending[0]], phase(pending[0])) != (ring[k], phase(k)):
            flush()
        c = cells[k]
        best: tuple[int, Window] | None = None
        for r in _offsets(c.row_off, c.height, tile):
            for q in _offsets(c.col_off, c.width, tile):
                tw = Window(r, q, tile, tile)
                seen = _area(tw, content_index.meeting(tw)) + _area(tw, written.meeting(tw))
                if best is None or seen > best[0]:
                    best = (seen, tw)
        assert best is not None
        tw = best[1]
        kept_content = [p for p in (intersection(w, tw) for w in content_index.meeting(tw)) if p is not None]
        kept_new = [(owner[w], p) for w in written.meeting(tw) if (p := intersection(w, tw)) is not None]
        deps = tuple(dict.fromkeys(o for o, _ in kept_new))
        tiles.append(
            FillTile(
                key=k,
                ring=ring[k],
                phase=phase(k),
                cell=c,
                tile_window=tw,
                write_windows=writes[k],
                keep_windows=(*kept_content, *(p for _, p in kept_new)),
                depends_on=deps,
            )
        )
        pending.append(k)
    before = bounds
    if before is None:
        nonempty = [w for w in content if not w.is_empty]
        before = nonempty[0] if nonempty else Window(0, 0, 0, 0)
        for w in nonempty[1:]:
            before = union(before, w)
    after = before
    for t in tiles:
        for w in t.write_windows:
            after = w if after.is_empty else union(after, w)
    return FillPlan(region=region, bounds=before, new_bounds=after, tiles=tuple(tiles), tile=tile, cell=(ch, cw))


def _describe(w: Window) -> str:
    return f"x {w.col_off} y {w.row_off} {w.width}x{w.height}"


def dominant_seam(generate: np.ndarray, prefer: Direction | str | None = None) -> tuple[Direction, int]:
    """Return the direction and right-facing column of the longest straight seam from kept to generated pixels.

    Seam metrics and seam strategies look at one straight seam in the right-facing view; a fill
    tile may have kept pixels on several sides, so they are measured at the longest.  With
    ``prefer``, that direction's longest seam is taken whenever it has one (growing an edge: every
    tile faces the edge's direction, as in the edge plan, so mirrored growth stays mirrored).

    >>> g = np.ones((8, 8), bool); g[:, :3] = False
    >>> dominant_seam(g)
    (<Direction.RIGHT: 'right'>, 3)
    >>> g[:5, 3:] = False  # a longer seam above the generated pixels
    >>> dominant_seam(g), dominant_seam(g, prefer="right")
    ((<Direction.DOWN: 'down'>, 5), (<Direction.RIGHT: 'right'>, 3))
    """
    best: tuple[int, Direction, int] | None = None
    order = [Direction.RIGHT, Direction.LEFT, Direction.DOWN, Direction.UP]
    if prefer is not None:
        first = Direction.parse(prefer)
        order = [first, *(d for d in order if d is not first)]
    for d in order:
        g = to_right(np.asarray(generate, bool), d)
        counts = (~g[:, :-1] & g[:, 1:]).sum(axis=0)
        col = int(np.argmax(counts)) + 1
        n = int(counts[col - 1])
        if prefer is not None and d is order[0] and n > 0:
            return d, col
        if best is None or n > best[0]:
            best = (n, d, col)
    assert best is not None
    return best[1], best[2]


def edge_region(
    bounds: Window, directions: Sequence[Direction | str], by: int, along: tuple[int, int] | None = None
) -> tuple[Window, tuple[Window, ...]]:
    """Return the region growing ``bounds`` by ``by`` px towards ``directions`` fills, and the windows it must keep.

    ``along = (start, length)`` grows only that stretch of one edge (world rows for left / right,
    columns for up / down).  Several directions fill ``bounds`` grown by ``by`` on each side
    (corners included); ``bounds`` itself is then kept, so holes inside it are left alone.

    >>> edge_region(Window(0, 0, 100, 200), ["right"], 50, along=(10, 30))
    (Window(row_off=10, col_off=200, height=30, width=50), ())
    >>> edge_region(Window(0, 0, 100, 200), ["left", "up"], 8)
    (Window(row_off=-8, col_off=-8, height=108, width=208), (Window(row_off=0, col_off=0, height=100, width=200),))
    """
    ds = [Direction.parse(d) for d in directions]
    if not ds or len(set(ds)) != len(ds):
        raise GeometryError(f"name each direction to grow once, got {[d.value for d in ds]}")
    try:
        by = operator.index(by)
    except TypeError:
        raise GeometryError(f"the depth of a step must be an integer, got {by!r}") from None
    if by < 1:
        raise GeometryError(f"the depth of a step must be at least 1 px, got {by}")
    if bounds.is_empty:
        raise GeometryError("cannot grow an empty canvas")
    b = bounds
    if along is not None:
        if len(ds) != 1:
            raise GeometryError("--along grows part of ONE edge: name exactly one direction")
        start, length = (operator.index(v) for v in along)
        if length < 1:
            raise GeometryError(f"the length along the edge must be at least 1 px, got {length}")
        d = ds[0]
        if d is Direction.RIGHT:
            return Window(start, b.col_end, length, by), ()
        if d is Direction.LEFT:
            return Window(start, b.col_off - by, length, by), ()
        if d is Direction.DOWN:
            return Window(b.row_end, start, by, length), ()
        return Window(b.row_off - by, start, by, length), ()
    if len(ds) == 1:
        d = ds[0]
        span = (b.row_off, b.height) if d in (Direction.RIGHT, Direction.LEFT) else (b.col_off, b.width)
        return edge_region(b, ds, by, along=span)
    grown = b
    for d in ds:
        grown = grow_bounds(grown, d, by)
    return grown, (b,)
