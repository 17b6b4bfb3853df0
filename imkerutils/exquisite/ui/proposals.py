"""What the page shows of staged proposals: a summary of each, and each candidate's overlay image."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from imkerutils.exquisite.pipeline.staging import Proposal, candidate_pieces, load_proposal
from imkerutils.exquisite.state.budget import format_usd
from imkerutils.tiling.imageio import encode_png
from imkerutils.tiling.window import Window, union

if TYPE_CHECKING:
    from imkerutils.tiling.canvas import Canvas

__all__ = ["OVERLAY_PX", "bbox", "candidate_png", "summarise_proposal"]

OVERLAY_PX = 2048  # longest side of a candidate's overlay image


def bbox(windows: list[Window]) -> Window:
    """Return the smallest window around ``windows``."""
    box = windows[0]
    for w in windows[1:]:
        box = union(box, w)
    return box


def summarise_proposal(p: Proposal, token: str) -> dict[str, Any]:
    """Return what the page shows of a staged proposal: its region, the box its candidates write, each candidate."""
    box = bbox(list(p.plan.written)) if p.plan.written else p.region
    records = p.records()
    out: dict[str, Any] = {
        "id": p.id,
        "created_at": p.created_at,
        "region": {"x": p.region.col_off, "y": p.region.row_off, "width": p.region.width, "height": p.region.height},
        "box": {"x": box.col_off, "y": box.row_off, "width": box.width, "height": box.height},
        "tiles": len(p.plan.tiles),
        "canvas_unchanged": token == p.canvas_token,
        "prompt": records[0].user_prompt if records else "",
        "generator": records[0].generator_name if records else "",
        "candidates": [],
    }
    for c, r in zip(p.candidates, records, strict=True):
        out["candidates"].append(
            {
                "candidate": c["candidate"],
                "seed": c["seed"],
                "seam_excess": r.seam_excess,
                "cost_usd": r.cost_usd,
                "cost": "unknown" if r.cost_usd is None else format_usd(r.cost_usd),
                "image": f"/api/staged/{p.id}/{c['candidate']}.png",
            }
        )
    return out


def candidate_png(reader: Canvas, proposal_id: str, candidate: int) -> bytes:
    """One staged candidate's new pixels as a PNG of their bounding box, transparent where it writes nothing."""
    pieces = candidate_pieces(reader, load_proposal(reader, proposal_id), candidate)
    box = bbox([w for w, _ in pieces])
    out = np.zeros((box.height, box.width, 4), np.uint8)
    for w, a in pieces:
        target = out[w.slices((box.row_off, box.col_off))]
        target[..., : a.shape[2]] = a
        if a.shape[2] == 3:
            target[..., 3] = 255
    image = Image.fromarray(out, "RGBA")
    image.thumbnail((OVERLAY_PX, OVERLAY_PX))
    return encode_png(image)
