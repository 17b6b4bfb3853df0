"""Whole tiles straight from and to their stored chunks, without a zarr call per tile.

A level array (:func:`~imkerutils.tiling.layout.create_level`) stores world tile ``(i, j)`` as one chunk whose
codecs are transpose ``(1, 2, 0)``, bytes, zstd: the chunk file is the tile's chunky ``(t, t, C)`` C-order bytes
as one zstd frame.  So a tile is one file read and one ``zstd`` call (imagecodecs'), both of which release the
GIL, and many tiles go through threads (``verify`` and the pyramid) at the speed of the codec.  Writes encode with the
very codec zarr uses (``numcodecs.Zstd`` at :data:`~imkerutils.tiling.layout.ZSTD_LEVEL`, no checksum), so the
bytes are those zarr would have written, and an all-background tile deletes its chunk, as zarr's default
``write_empty_chunks=False`` does.  Tiles not wholly inside their array, and arrays with other codecs (a
canvas made elsewhere may use gzip, or a zstd checksum), go through zarr as before.
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

__all__ = ["ZSTD_DEFAULT_LEVEL", "read_tile", "write_tile", "zstd_level"]

ZSTD_DEFAULT_LEVEL = 3  # libzstd's ZSTD_CLEVEL_DEFAULT, which zstd level 0 stands for


@functools.cache
def _codec() -> Any:
    from numcodecs import Zstd

    return Zstd(level=ZSTD_LEVEL, checksum=False)


def zstd_level(z: zarr.Array[Any]) -> int | None:
    """Return the zstd level of ``z``'s chunks if each is one zstd frame of chunky bytes, else ``None``."""
    from zarr.codecs import BytesCodec, TransposeCodec, ZstdCodec

    meta: Any = z.metadata  # a canvas level is Zarr v3 (v2 metadata has no codecs: None below)
    codecs = tuple(getattr(meta, "codecs", ()))
    if (
        len(codecs) != 3
        or type(codecs[0]) is not TransposeCodec
        or tuple(codecs[0].order) != (1, 2, 0)
        or type(codecs[1]) is not BytesCodec
        or type(codecs[2]) is not ZstdCodec
        or tuple(getattr(meta, "storage_transformers", ()) or ())
    ):
        return None  # a checksum flag is fine: zstd readers (libtiff, imagecodecs) check or skip it
    level = int(codecs[2].level)
    return level if level else ZSTD_DEFAULT_LEVEL


def _encodes_as_zarr(z: zarr.Array[Any]) -> bool:
    """Whether :func:`_codec` makes the very bytes zarr writes for ``z`` (our zstd level, no checksum)."""
    meta: Any = z.metadata
    return zstd_level(z) == ZSTD_LEVEL and not meta.codecs[2].checksum


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
    if _whole(frame, z, level, i, j) is None or zstd_level(z) is None:
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
    whole = _whole(frame, z, level, i, j)
    empty = not (block.flat[0] or block.any())
    if whole is not None and not _encodes_as_zarr(z):
        # zarr's own codecs; its default compares every chunk with the fill value (4 of a 10 ms write), which
        # a block with a nonzero byte need not: that one goes through a write_empty_chunks=True handle
        target = z if empty else z.with_config({"write_empty_chunks": True})
        target[:, whole.row_off : whole.row_end, whole.col_off : whole.col_end] = block.transpose(2, 0, 1)
        return
    if whole is None or empty:
        raw.delete(key)
        return
    raw.put(key, _codec().encode(np.ascontiguousarray(block)))  # atomic: readers see old or new bytes
