"""OME-Zarr 0.5 (a Zarr v3 group) with axes (c, y, x), one array per pyramid level.

The group's ``ome`` attributes follow the 0.5 specification: ``version`` "0.5",
one ``multiscales`` entry with the axes ``c`` (channel), ``y`` and ``x``
(space) and one dataset per level, each with exactly one ``scale`` followed by
one ``translation``.  Level ``L`` has scale ``2**L`` on y and x.  The
translation puts the exported pixels at their world coordinates: level 0's is
the region's world origin ``(y0, x0)``; level ``L``'s is the world position of
its first pixel's *centre*, ``floor(y0 / 2**L) * 2**L + (2**L - 1) / 2``, so
the levels line up under the pixel-centre convention napari uses (viewers that
put coordinates at pixel corners see coarse levels shifted by under half of
one of their own pixels).  Arrays are ``(C, H, W)`` uint8 in chunks of
``(1, 1024, 1024)``; chunks that are pure background are not written.
An ``omero`` block names the channels and colours them red, green, blue
(and a hidden alpha), so viewers show the image in colour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from imkerutils.tiling.export._plan import Compression, Format, LevelRegion, parse_compression
from imkerutils.tiling.export._source import CanvasSource, LevelReader, Progress, bands, prefetched
from imkerutils.tiling.ngff import ome_attributes, pixel_centre_transforms

__all__ = ["COMPRESSIONS", "FORMAT", "SUFFIXES", "ome_metadata", "prepare", "write"]

SUFFIXES = (".ome.zarr",)
COMPRESSIONS: dict[str, tuple[int, int] | None] = {"zstd": (1, 22), "deflate": (0, 9), "none": None}
_BAND_TILES = 16


def prepare(mode: str, levels: list[LevelRegion], compression: str | None) -> Compression:
    """Return the compression to use (OME-Zarr has no size limit)."""
    return parse_compression(compression, COMPRESSIONS, default="zstd", fmt="OME-Zarr")


def ome_metadata(levels: list[LevelRegion], mode: str, name: str) -> dict[str, Any]:
    """Return the group's ``ome`` attribute for ``levels`` of a ``mode`` ("RGB"/"RGBA") image.

    >>> from imkerutils.tiling.window import Window
    >>> md = ome_metadata([LevelRegion(0, Window(-3, 5, 4, 4)), LevelRegion(1, Window(-2, 2, 2, 2))], "RGB", "x")
    >>> [t["translation"] for t in (d["coordinateTransformations"][1] for d in md["multiscales"][0]["datasets"])]
    [[0.0, -3.0, 5.0], [0.0, -3.5, 4.5]]
    """
    return ome_attributes(
        [(str(r.level - levels[0].level), pixel_centre_transforms(r.level, r.world_origin)) for r in levels], mode, name
    )


def _compressors(compression: Compression) -> Any:
    from zarr.codecs import GzipCodec, ZstdCodec

    if compression.name == "none":
        return None
    if compression.name == "deflate":
        return GzipCodec(level=6 if compression.level is None else compression.level)
    return ZstdCodec(level=3 if compression.level is None else compression.level)


def write(
    canvas: CanvasSource, tmp: Path, levels: list[LevelRegion], compression: Compression, progress: Progress
) -> None:
    """Write ``levels`` of ``canvas`` as an OME-Zarr 0.5 group in the (new) folder ``tmp``.

    Chunks are ``(1, tile, tile)`` with the canvas's tile size; the group is named after the canvas's folder.
    """
    import zarr
    from zarr.storage import LocalStore

    tile = canvas.tile
    name = Path(canvas.location.rstrip("/")).name or "canvas"  # a folder or a URL
    store = LocalStore(tmp)
    base = levels[0]
    group = zarr.create_group(
        store,
        zarr_format=3,
        attributes={
            "ome": ome_metadata(levels, canvas.mode, name),
            "imkerutils": {"source": name, "level": base.level, "world_origin": list(base.world_origin)},
        },
    )
    c = canvas.channels
    for region in levels:
        w = region.window
        arr = group.create_array(
            str(region.level - base.level),
            shape=(c, w.height, w.width),
            chunks=(1, tile, tile),
            dtype="uint8",
            fill_value=0,
            dimension_names=("c", "y", "x"),
            compressors=_compressors(compression),
        )
        reader = LevelReader(canvas, region.level, region.offset)
        for bw, band in prefetched(reader.read, bands(w, tile, _BAND_TILES * tile)):
            r0, c0 = bw.row_off - w.row_off, bw.col_off - w.col_off
            arr[:, r0 : r0 + bw.height, c0 : c0 + bw.width] = np.moveaxis(band, 2, 0)
            progress.advance(bw.size)


FORMAT = Format("OME-Zarr", SUFFIXES, prepare, write, directory=True, pyramid=True)
