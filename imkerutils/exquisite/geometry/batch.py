"""Plan a batch: several edges grown at once, as one DAG of tiles.

Edges are planned in the order given, each on the bounds grown by the edges
before it, so when two adjacent edges grow the second one also covers their
corner, and its tiles near the corner see (keep) the first edge's new pixels.
A tile depends on every tile of its own edge that its edge plan names, and on
every tile of an earlier edge whose written pixels fall inside its reference
tile.  Tiles with no path between them in this DAG may run in parallel; the
write windows of all tiles partition the batch's new pixels.

>>> b = plan_batch(Window(0, 0, 1024, 1024), ["right", "down"])
>>> [(t.key, t.depends_on) for t in b.tiles]
[((0, 0), ()), ((1, 0), ()), ((1, 1), ((1, 0), (0, 0)))]
>>> b.new_bounds
Window(row_off=0, col_off=0, height=1536, width=1536)
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imkerutils.errors import GeometryError
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.exquisite.geometry.plan import BAND, OVERLAP, TILE, EdgePlan, TilePlan, plan_edge
from imkerutils.tiling.window import Window, intersection

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["BatchPlan", "BatchTile", "plan_batch"]

TileKey = tuple[int, int]  # (edge position in the batch, tile index along that edge)


@dataclass(frozen=True, slots=True)
class BatchTile:
    """A tile of a batch: its edge plan's tile, plus its dependencies across the batch."""

    key: TileKey
    plan: TilePlan
    depends_on: tuple[TileKey, ...]


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """The edges of one batch and the DAG of their tiles."""

    bounds: Window
    new_bounds: Window
    edges: tuple[EdgePlan, ...]
    tiles: tuple[BatchTile, ...]

    @property
    def directions(self) -> tuple[Direction, ...]:
        """Return the edges the batch grows, in plan order."""
        return tuple(e.direction for e in self.edges)

    def _index(self) -> dict[TileKey, int]:
        return {t.key: n for n, t in enumerate(self.tiles)}

    def levels(self) -> tuple[tuple[BatchTile, ...], ...]:
        """Return the groups of tiles that can run concurrently, each after the groups it depends on."""
        sorter: graphlib.TopologicalSorter[TileKey] = graphlib.TopologicalSorter(
            {t.key: t.depends_on for t in self.tiles}
        )
        sorter.prepare()
        index = self._index()
        groups = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            groups.append(tuple(self.tiles[index[k]] for k in ready))
            sorter.done(*ready)
        return tuple(groups)


def plan_batch(
    bounds: Window,
    directions: Sequence[Direction | str],
    *,
    tile: int = TILE,
    band: int = BAND,
    overlap: int = OVERLAP,
) -> BatchPlan:
    """Plan growing ``bounds`` towards each of ``directions`` (each at most once) as one batch."""
    ds = [Direction.parse(d) for d in directions]
    if not ds:
        raise GeometryError("a batch needs at least one direction")
    if len(set(ds)) != len(ds):
        raise GeometryError(f"each direction may appear once in a batch, got {[d.value for d in ds]}")
    edges: list[EdgePlan] = []
    tiles: list[BatchTile] = []
    current = bounds
    for k, d in enumerate(ds):
        edge = plan_edge(current, d, tile=tile, band=band, overlap=overlap)
        for t in edge.tiles:
            deps: list[TileKey] = [(k, j) for j in t.depends_on]
            deps += [
                e.key for e in tiles if e.key[0] < k and intersection(e.plan.write_window, t.tile_window) is not None
            ]
            tiles.append(BatchTile((k, t.index), t, tuple(deps)))
        edges.append(edge)
        current = edge.new_bounds
    return BatchPlan(bounds=bounds, new_bounds=current, edges=tuple(edges), tiles=tuple(tiles))
