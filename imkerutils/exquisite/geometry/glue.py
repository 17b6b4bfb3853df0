"""Glue a generated tile back: compose it with the real pixels, cut out what it writes.

The pipeline writes :func:`new_pixels` at ``plan.write_window`` and nothing
else, so the band and the neighbours' pixels are never written twice.

>>> from imkerutils.exquisite.geometry.plan import plan_edge
>>> from imkerutils.tiling.window import Window
>>> tile = plan_edge(Window(0, 0, 100, 600), "left").tiles[0]
>>> tile.write_window
Window(row_off=0, col_off=-512, height=100, width=512)
>>> new_pixels(tile, np.zeros((1024, 1024, 3), np.uint8)).shape
(100, 512, 3)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from imkerutils.errors import InvalidTileError
from imkerutils.exquisite.geometry.checks import check_generate

if TYPE_CHECKING:
    from imkerutils.exquisite.geometry.plan import TilePlan

__all__ = ["compose", "new_pixels"]


def compose(reference: np.ndarray, result: np.ndarray, generate: np.ndarray) -> np.ndarray:
    """Return the finished tile: ``result`` where ``generate`` is True, ``reference`` (real pixels) elsewhere."""
    reference = np.asarray(reference)
    result = np.asarray(result)
    if reference.shape != result.shape or reference.dtype != result.dtype:
        raise InvalidTileError(
            f"result {result.shape} {result.dtype} does not match reference {reference.shape} {reference.dtype}"
        )
    generate = check_generate(generate, reference.shape[:2])
    out = np.array(reference, order="C")
    # Pixels as single items (one C-byte void each): the masked copy then moves whole pixels, about 8x faster
    # on a 1024-px RGB tile than ``np.where`` over the channels (1 against 8 ms).
    _as_pixels(out)[generate] = _as_pixels(np.ascontiguousarray(result))[generate]
    return out


def _as_pixels(image: np.ndarray) -> np.ndarray:
    """View a C-contiguous (H, W) or (H, W, C) array as (H, W) items holding one pixel each."""
    if image.ndim == 2:
        return image
    return image.view(np.dtype((np.void, image.itemsize * image.shape[2])))[..., 0]


def new_pixels(plan: TilePlan, result: np.ndarray) -> np.ndarray:
    """Return the pixels of ``result`` (world orientation, over ``plan.tile_window``) inside ``plan.write_window``."""
    result = np.asarray(result)
    if result.shape[:2] != plan.tile_window.shape:
        raise InvalidTileError(f"result of shape {result.shape} does not cover tile window {plan.tile_window.shape}")
    return result[plan.write_window.slices(plan.origin)].copy()
