"""Checks that a canvas folder is the OME-Zarr image the layout promises (for tests of any canvas).

:func:`check_canvas_layout` reads the folder back with plain ``json`` and ``zarr`` (not through
:class:`~imkerutils.tiling.Canvas`) and asserts: the root group's ``ome`` metadata lists exactly the built
levels, each a ``(C, H, W)`` array at the frame's shape with ``(C, tile, tile)`` chunks and the frame's
scale and translation; every level obeys the layout rule (per axis at most ``max(2 * n, n + 8 tiles)`` for
content extent ``n``, content at non-negative indices); and nothing else lies in the folder but the
bookkeeping folders.
"""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any

import zarr

from imkerutils.tiling.frame import SLACK_TILES, level_window

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["check_canvas_layout", "recompress_level0"]

BOOKKEEPING = {"_journal", "_manifest", "_pyramid", "_generated", "_staged"}


def check_canvas_layout(path: Path, canvas: Any) -> None:
    """Assert the layout promises for the canvas folder ``path`` (``canvas`` gives bounds and frame)."""
    root = json.loads((path / "zarr.json").read_text())
    assert root["zarr_format"] == 3
    assert root["node_type"] == "group"
    ome = root["attributes"]["ome"]
    assert ome["version"] == "0.5"
    ms = ome["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["c", "y", "x"]
    frame, bounds, t = canvas.frame, canvas.bounds, canvas.tile
    levels = len(ms["datasets"])
    assert levels == canvas._storage.pyramid.built_levels()
    paths = []
    for level, ds in enumerate(ms["datasets"]):
        assert ds["path"] == frame.path(level)
        assert ds["coordinateTransformations"] == frame.ngff_transforms(level)
        meta = json.loads((path / ds["path"] / "zarr.json").read_text())
        c, h, w = meta["shape"]
        assert c == canvas.channels, (level, meta["shape"])
        assert (h, w) == frame.shape(level, bounds), (level, meta["shape"])
        assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [c, t, t]
        lb = level_window(bounds, level)
        for extent, n, start, origin in (
            (h, lb.height, lb.row_off, frame.level_origin(level)[0]),
            (w, lb.width, lb.col_off, frame.level_origin(level)[1]),
        ):
            assert extent <= max(2 * n, n + SLACK_TILES * t), (level, extent, n)
            if n:
                assert origin * t + start >= 0
        paths.append(ds["path"])
    names = {p.name for p in path.iterdir()}
    assert names <= {"zarr.json", *paths, *BOOKKEEPING}, sorted(names - {"zarr.json", *paths, *BOOKKEEPING})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        members = dict(zarr.open_group(zarr.storage.LocalStore(path, read_only=True), mode="r").members())
    assert {k for k, v in members.items() if isinstance(v, zarr.Array)} == set(paths)


def recompress_level0(path: Path, compressor: Any) -> None:
    """Recreate the (empty) level 0 of the canvas at ``path`` with ``compressor`` instead of our zstd.

    Such a canvas stands for one made or edited by another tool: its chunks are whatever zarr writes with
    that codec (gzip, a zstd checksum), in the canvas's own chunking and axis order.
    """
    import zarr
    from zarr.codecs import TransposeCodec

    group = zarr.open_group(str(path), mode="r+")
    old = group["0"]
    if not isinstance(old, zarr.Array):
        raise TypeError(f"{path}/0 is not an array")
    group.create_array(
        "0",
        shape=old.shape,
        chunks=old.chunks,
        dtype="uint8",
        fill_value=0,
        overwrite=True,
        filters=[TransposeCodec(order=(1, 2, 0))],
        compressors=compressor,
        dimension_names=("c", "y", "x"),
    )
