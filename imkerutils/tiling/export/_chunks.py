"""A canvas level's stored chunks, for exports whose tiles are whole chunks.

A canvas chunk is ``(C, tile, tile)`` uint8 whose codecs ``transpose(1, 2, 0)``,
``bytes`` and ``zstd`` store one zstd frame of its chunky ``(tile, tile, C)``
C-order bytes: exactly what a chunky TIFF tile of the same size holds under TIFF
compression 50000 (zstd).  Where world tiles sit is the canvas's ``frame``.
Where an export tile is one such chunk lying inside the bounds, the TIFF
writer can copy its stored bytes (when it writes zstd at the chunk's level), or
decode them with one imagecodecs call instead of zarr's per-chunk machinery.

The bytes are read through the store zarr itself uses (a local folder or any
fsspec store), without locks, as :meth:`Canvas.read` does: a chunk is replaced
whole (rename on a disk, one PUT on object storage), so a read sees the old
or the new chunk.

>>> from imkerutils.testing.source import ArraySource
>>> from imkerutils.tiling.export._plan import LevelRegion
>>> from imkerutils.tiling.window import Window
>>> source = ArraySource(np.zeros((64, 64, 3), np.uint8), tile=64)
>>> LevelChunks.find(source, LevelRegion(0, Window(0, 0, 64, 64)), 64) is None  # no Zarr arrays behind it
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from imkerutils.errors import CanvasCorruptError
from imkerutils.tiling.chunkio import zstd_level
from imkerutils.tiling.frame import ChunkProjection, Frame, project
from imkerutils.tiling.rawstore import RawStore

if TYPE_CHECKING:
    from collections.abc import Sequence

    from imkerutils.tiling.export._plan import LevelRegion
    from imkerutils.tiling.export._source import CanvasSource
    from imkerutils.tiling.window import Window

__all__ = ["ChunkStep", "LevelChunks"]

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True, slots=True)
class ChunkStep:
    """One step of :meth:`LevelChunks.walk`: a tile's projection, and its chunk's key when copied whole."""

    projection: ChunkProjection
    key: str | None


@dataclass(frozen=True, slots=True)
class LevelChunks:
    """The stored chunks behind one exported level, addressed by level-pixel windows."""

    array: Any
    raw: RawStore
    tile: int
    channels: int
    frame: Frame  # where world tiles sit
    level: int
    whole_area: Window  # level pixels inside both the export window and the bounds
    zstd_level: int
    fill: int

    @classmethod
    def find(cls, canvas: CanvasSource, region: LevelRegion, tile: int) -> LevelChunks | None:
        """Return the chunks of ``region`` if its pixels are a canvas level's and its tiles can be whole chunks."""
        window, level = region.window, region.level
        if (
            region.offset != (0, 0)
            or canvas.tile != tile
            or level >= canvas.levels
            or window.row_off % tile
            or window.col_off % tile
        ):
            return None  # pixels averaged from a finer level, or TIFF tiles off the chunk grid
        frame, array = canvas.frame, canvas.level_array(level)
        if frame is None or array is None or array.shards is not None:
            return None  # no stored arrays (a source that is not a Zarr canvas), or a level not built
        zlevel = zstd_level(array)
        channels = canvas.channels
        if zlevel is None or tuple(array.chunks) != (channels, tile, tile) or array.dtype != np.uint8:
            return None
        area = window.intersection(canvas.level_bounds(level))
        if area is None:
            return None
        return cls(array, RawStore(array.store), tile, channels, frame, level, area, zlevel, int(array.fill_value))

    def walk(self, band: Window) -> list[ChunkStep]:
        """Return the chunks level window ``band`` touches, row-major, through the frame's one iterator.

        Each step is :func:`~imkerutils.tiling.frame.project`'s projection of one world tile with the
        store key of its chunk when the whole chunk is the export tile (a complete projection inside the
        export window, the bounds and the array), else ``None``: that part is read through the canvas.
        """
        t, area, frame, level = self.tile, self.whole_area, self.frame, self.level
        oi, oj = frame.level_origin(level)
        rows, cols = self.array.shape[1] // t, self.array.shape[2] // t  # whole chunks in the array
        out = []
        for p in project(band, t):
            i, j = p.tile
            inside = p.is_complete and 0 <= i + oi < rows and 0 <= j + oj < cols and area.contains(p.piece)
            out.append(ChunkStep(p, frame.chunk_key(level, i, j) if inside else None))
        return out

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Return the stored bytes of the chunks under ``keys`` (``None``: never written, all background)."""
        data = self.raw.get_many(keys)
        for key, d in zip(keys, data, strict=True):
            if d is not None and not d.startswith(_ZSTD_MAGIC):
                raise CanvasCorruptError(f"chunk {key} is not a zstd frame: the canvas is damaged")
        return data

    @property
    def nbytes(self) -> int:
        """Bytes of one decoded chunk."""
        return self.tile * self.tile * self.channels

    def decode(self, data: bytes | None, out: bytearray | None = None) -> np.ndarray:
        """One chunk's pixels from its stored bytes (``None``: the fill value), in ``out`` if given."""
        shape = (self.tile, self.tile, self.channels)
        if data is None:
            return np.full(shape, self.fill, np.uint8)
        import imagecodecs

        try:
            flat = imagecodecs.zstd_decode(data, out=out)
        except imagecodecs.ZstdError as exc:
            raise CanvasCorruptError(
                f"a chunk of {self.array.path} does not decode ({exc}): the canvas is damaged"
            ) from None
        if len(flat) != self.nbytes:
            raise CanvasCorruptError(
                f"a chunk of {self.array.path} decodes to {len(flat)} bytes, not {self.nbytes}: the canvas is damaged"
            )
        return np.frombuffer(flat, np.uint8).reshape(shape)
