"""Whole tiles straight from and to their stored chunks, without a zarr call per tile.

A level array (:func:`~imkerutils.tiling.layout.create_level`) stores world tile ``(i, j)`` as one chunk whose
codecs are transpose ``(1, 2, 0)``, bytes, zstd: the chunk file is the tile's chunky ``(t, t, C)`` C-order bytes
as one zstd frame.  So a tile is one file read and one ``zstd`` call (imagecodecs'), both of which release the
GIL, and many tiles go through threads (``verify`` and the pyramid) at the speed of the codec.  Writes encode with the
very codec zarr uses (``numcodecs.Zstd`` at :data:`~imkerutils.tiling.layout.ZSTD_LEVEL`, no checksum), so the
bytes are those zarr would have written, and an all-background tile deletes its chunk, as zarr's default
``write_empty_chunks=False`` does.  Tiles not wholly inside their array go through zarr as before.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import imagecodecs
import numpy as np

from imkerutils.errors import CanvasCorruptError
from imkerutils.tiling.layout import ZSTD_LEVEL, read_window
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    import zarr

    from imkerutils.tiling.frame import Frame
    from imkerutils.tiling.rawstore import RawStore

__all__ = ["read_tile", "write_tile"]


@functools.cache
def _codec() -> Any:
    from numcodecs import Zstd

    return Zstd(level=ZSTD_LEVEL, checksum=False)


def _whole(frame: Frame, z: zarr.Array[Any], level: int, i: int, j: int) -> Window | None:
    """Return the array window of world tile ``(i, j)`` of ``level`` when it lies wholly inside ``z``, else ``None``."""
    t = frame.tile
    a = frame.to_array(Window(i * t, j * t, t, t), level)
    if a.row_off < 0 or a.col_off < 0 or a.row_end > z.shape[1] or a.col_end > z.shape[2]:
        return None
    return a


def read_tile(raw: RawStore, frame: Frame, z: zarr.Array[Any], level: int, i: int, j: int) -> np.ndarray:
    """World tile ``(i, j)`` of ``level`` (array ``z``) as ``(t, t, C)`` uint8; background where nothing is stored.

    Raises :class:`CanvasCorruptError` when the stored bytes do not decode to one tile.  The result may be
    read-only (it is the decoded buffer itself).
    """
    t, channels = frame.tile, z.shape[0]
    if _whole(frame, z, level, i, j) is None:
        return read_window(z, frame.to_array(Window(i * t, j * t, t, t), level))
    key = frame.chunk_key(level, i, j)
    data = raw.get(key)
    if data is None:
        return np.zeros((t, t, channels), np.uint8)
    try:
        pixels = imagecodecs.zstd_decode(data)  # faster than numcodecs' decode, and releases the GIL throughout
    except Exception as exc:  # imagecodecs' own error type
        raise CanvasCorruptError(f"chunk {key} cannot be decoded ({type(exc).__name__}: {exc})") from None
    if len(pixels) != t * t * channels:
        raise CanvasCorruptError(f"chunk {key} decodes to {len(pixels)} bytes, not one {t}x{t}x{channels} tile")
    return np.frombuffer(pixels, np.uint8).reshape(t, t, channels)


def write_tile(raw: RawStore, frame: Frame, z: zarr.Array[Any], level: int, i: int, j: int, block: np.ndarray) -> None:
    """Store ``block`` (``(t, t, C)`` uint8) as world tile ``(i, j)`` of ``level`` (array ``z``), as zarr would.

    A tile outside the array, or all background, has no chunk: its file is deleted.
    """
    key = frame.chunk_key(level, i, j)
    if _whole(frame, z, level, i, j) is None or not (block.flat[0] or block.any()):
        raw.delete(key)
        return
    raw.put(key, _codec().encode(np.ascontiguousarray(block)))  # atomic: readers see old or new bytes
