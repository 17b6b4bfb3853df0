"""The published state of a canvas: what browsers see, its steps summarised, the tiles and thumbnails read from it.

A :class:`View` is made on the writer thread after each change (:func:`publish`) and replaced whole,
so a request always reads one consistent state, through a read-only canvas opened on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image

from imkerutils.exquisite.pipeline import canvas_spent_usd
from imkerutils.exquisite.pipeline.step import EXQUISITE_INFO_KEY
from imkerutils.exquisite.state.budget import Budget, format_usd
from imkerutils.exquisite.state.record import StepRecord
from imkerutils.exquisite.ui.deepzoom import Frame, with_alpha
from imkerutils.tiling.canvas import Canvas, StepInfo
from imkerutils.tiling.frame import level_window
from imkerutils.tiling.imageio import encode_png
from imkerutils.tiling.window import Window, intersection, union

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np

__all__ = ["HISTORY_LIMIT", "THUMB_PX", "View", "publish", "read_tile", "summarise_step", "thumbnail"]

THUMB_PX = 160
HISTORY_LIMIT = 100


@dataclass(frozen=True)
class View:
    """A published state of the canvas: what browsers see and the read-only canvas tiles come from."""

    reader: Canvas
    token: str
    bounds: Window
    levels: int
    head: int
    redoable: int
    frame: Frame
    history: tuple[dict[str, Any], ...]
    regions: Mapping[int, Window]
    spent_usd: float
    #: Which level-0 tiles of the frame some committed step wrote (:meth:`Frame.written_grid`).
    written: np.ndarray | None = None
    #: The undone steps redo would re-apply, next first, summarised as ``history`` entries.
    undone: tuple[dict[str, Any], ...] = ()

    def describe(self, location: str, budget: Budget) -> dict[str, Any]:
        """Return what the page shows of this state: the canvas, the viewer, the history and the cost so far."""
        remaining = Budget(budget.limit_usd, self.spent_usd).remaining_usd if budget.limit_usd is not None else None
        return {
            "canvas": {
                "name": os.path.basename(location.rstrip("/\\")) or location,
                "mode": self.reader.mode,
                "tile": self.reader.tile,
                "bounds": self.bounds.to_dict(),
                "width": self.bounds.width,
                "height": self.bounds.height,
                "levels": self.levels,
            },
            "token": self.token,
            "head": self.head,
            "redoable": self.redoable,
            "viewer": {
                "frame": self.frame.window.to_dict(),
                "tile": self.frame.tile,
                "levels": self.levels,
                "formats": ["png"] if self.reader.mode == "RGBA" else ["jpg", "png"],
            },
            "history": list(self.history),
            "history_total": self.head,
            "redo": list(self.undone),
            "cost": {
                "spent_usd": self.spent_usd,
                "spent": format_usd(self.spent_usd),
                "budget_usd": budget.limit_usd,
                "budget": None if budget.limit_usd is None else format_usd(budget.limit_usd),
                "remaining_usd": remaining,
            },
        }


def _written_window(step: StepInfo, tile: int) -> Window | None:
    """Return the smallest window around the level-0 tiles ``step`` wrote, inside its bounds (None: it wrote none)."""
    if not step.written:
        return None
    rows = [i for i, _ in step.written]
    cols = [j for _, j in step.written]
    around = Window.from_bounds(min(rows) * tile, min(cols) * tile, (max(rows) + 1) * tile, (max(cols) + 1) * tile)
    return intersection(around, step.bounds_after)


def summarise_step(step: StepInfo, tile: int = 1024) -> tuple[dict[str, Any], Window]:
    """Return what the history list shows for one step, and the region its thumbnail shows (and the viewer outlines).

    A generation step's region is its strips; any other step's is the tiles it wrote (a paste far from the
    rest shows itself, not the whole canvas), or its bounds when it wrote none.
    """
    records = [StepRecord.from_dict(r) for r in step.info.get(EXQUISITE_INFO_KEY) or []]
    entry: dict[str, Any] = {
        "number": step.number,
        "id": step.id,
        "kind": step.kind,
        "created_at": step.created_at,
        "size": [step.bounds_after.width, step.bounds_after.height],
        "directions": [],
        "prompt": None,
        "generator": None,
        "seam_excess": None,
        "cost_usd": None,
        "cost": None,
        "source": None,
    }
    source = step.info.get("source")
    if isinstance(source, str):
        entry["source"] = os.path.basename(source)  # the file name only: the page needs no paths
    region = _written_window(step, tile) or step.bounds_after
    if records:
        seams = [s for r in records if (s := r.seam_excess) is not None]
        costs = [r.cost_usd for r in records]
        cost = None if None in costs else sum(c or 0.0 for c in costs)
        entry.update(
            directions=[r.direction.value for r in records],
            prompt=records[0].user_prompt,
            generator=records[0].generator_name,
            seam_excess=max(seams) if seams else None,
            cost_usd=cost,
            cost="unknown" if cost is None else format_usd(cost),
        )
        region = records[0].strip_window
        for r in records[1:]:
            region = union(region, r.strip_window)
    entry["region"] = region.to_dict()
    return entry, region


def publish(location: str) -> View:
    """Return a view of the canvas at ``location`` as it is committed now."""
    reader = Canvas.open(location, read_only=True)  # fresh: sees resized arrays and new levels
    steps = reader.history()
    summaries = [summarise_step(s, reader.tile) for s in steps]
    for entry, _ in summaries:
        entry["thumb"] = f"/api/steps/{entry['number']}/thumb.png?v={entry['id']}"
    undone = [summarise_step(s, reader.tile)[0] for s in reader.undone()[:HISTORY_LIMIT]]
    levels = reader.levels
    frame = Frame.of(reader.bounds, levels=levels, tile=reader.tile)
    return View(
        reader=reader,
        token=reader.state_token,
        bounds=reader.bounds,
        levels=levels,
        head=reader.head,
        redoable=reader.redoable,
        frame=frame,
        history=tuple(entry for entry, _ in summaries[-HISTORY_LIMIT:]),
        regions={entry["number"]: region for entry, region in summaries},
        spent_usd=canvas_spent_usd(reader),
        written=frame.written_grid(reader.written_tile_windows(frame.window)),
        undone=tuple(undone),
    )


def read_tile(v: View, level: int, col: int, row: int) -> tuple[View, np.ndarray | None]:
    """Return the view and the pixels of viewer tile ``(col, row)`` of pyramid ``level``.

    None when the tile shows nothing (outside the bounds, or no step ever wrote under it).  Pixels
    over never-written level-0 tiles come back as RGBA with alpha 0 (the rest opaque); a tile that is
    all written comes back as the canvas stores it (RGB or RGBA).
    """
    window = v.frame.tile_window(level, col, row)
    if intersection(window, v.reader.level_bounds(level)) is None:
        return v, None
    mask = None if v.written is None else v.frame.coverage(v.written, level, col, row)
    if mask is not None and not mask.any():
        return v, None
    pixels = v.reader.read(window, level)
    if mask is None or mask.all():
        return v, pixels
    return v, with_alpha(pixels, mask)


def thumbnail(v: View, number: int) -> bytes | None:
    """Return a small PNG of what committed step ``number`` added (None if there is no such step)."""
    region = v.regions.get(number)
    if region is None or number > v.head:
        return None
    region = intersection(region, v.bounds)
    if region is None:
        return None
    level = 0
    while level < v.levels - 1 and max(region.height, region.width) >> level > 2 * THUMB_PX:
        level += 1
    image = Image.fromarray(v.reader.read(level_window(region, level), level))
    image.thumbnail((THUMB_PX, THUMB_PX))
    return encode_png(image)
