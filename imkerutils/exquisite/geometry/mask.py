"""The *generate* mask and its conversion to OpenAI's RGBA convention.

Internally a mask is a boolean array, True where the model may paint and False
where real pixels (the band, or neighbours' already generated pixels) are kept.
OpenAI's image-edit API wants an RGBA PNG instead: alpha 0 = may paint,
alpha 255 = keep.  Only fully transparent pixels (alpha 0) are "paint" when
converting back.

>>> g = np.array([[True, False]])
>>> rgba = mask_to_openai_rgba(g)
>>> rgba[..., 3].tolist()
[[0, 255]]
>>> bool((openai_rgba_to_mask(rgba) == g).all())
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from imkerutils.errors import InvalidTileError
from imkerutils.exquisite.geometry.checks import check_generate
from imkerutils.tiling.window import Window, intersection

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["mask_to_openai_rgba", "openai_rgba_to_mask", "window_mask"]


def mask_to_openai_rgba(generate: np.ndarray) -> np.ndarray:
    """OpenAI's mask image for a boolean *generate* mask.

    Parameters
    ----------
    generate : ndarray of bool, shape (H, W)
        True where the model may paint.

    Returns
    -------
    ndarray of uint8, shape (H, W, 4)
        RGB 0 everywhere; alpha 0 where ``generate`` is True, 255 elsewhere.
    """
    generate = check_generate(generate)
    rgba = np.zeros((*generate.shape, 4), dtype=np.uint8)
    rgba[..., 3] = np.where(generate, 0, 255)
    return rgba


def openai_rgba_to_mask(rgba: np.ndarray) -> np.ndarray:
    """Inverse of :func:`mask_to_openai_rgba`: True where alpha is 0 (fully transparent)."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise InvalidTileError(f"an RGBA mask must have shape (H, W, 4), got {rgba.shape}")
    return np.asarray(rgba[..., 3] == 0)


def window_mask(tile_window: Window, keep: Iterable[Window]) -> np.ndarray:
    """Return a *generate* mask over ``tile_window``: True everywhere except on the ``keep`` windows.

    All windows are in the same (world) coordinates; the parts of ``keep`` outside
    ``tile_window`` are ignored.

    >>> window_mask(Window(10, 10, 2, 3), [Window(10, 12, 5, 5)]).astype(int).tolist()
    [[1, 1, 0], [1, 1, 0]]
    """
    mask = np.ones(tile_window.shape, dtype=bool)
    origin = (tile_window.row_off, tile_window.col_off)
    for w in keep:
        part = intersection(w, tile_window)
        if part is not None:
            mask[part.slices(origin)] = False
    return mask
