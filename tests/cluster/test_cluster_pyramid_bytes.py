"""The pyramid update writes the same bytes serially, on threads and on a dask cluster, and zarr's own bytes."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import numpy as np
import zarr
from _cluster_helpers import local_cluster

from imkerutils.tiling import Canvas
from imkerutils.tiling.layout import create_level

if TYPE_CHECKING:
    from pathlib import Path

    from distributed import Client


def _pyramid_files(root: Path, levels: int) -> dict[str, bytes]:
    c = Canvas.open(root)
    out = {}
    for level in range(1, levels):
        base = root / c.frame.path(level)
        out |= {str(p.relative_to(root)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}
    return out


def test_serial_threaded_and_distributed_pyramids_are_byte_identical(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    src = tmp_path / "src.zarr"
    c = Canvas.create(src, tile=64)
    c.paste(rng.integers(0, 256, (300, 420, 3), dtype=np.uint8), -40, -70, extend=True)
    c.paste(np.zeros((64, 64, 3), np.uint8), 0, 0)  # an all-background tile: its parent still has content
    for name in ("serial", "threads", "cluster"):
        shutil.copytree(src, tmp_path / f"{name}.zarr")
    Canvas.open(tmp_path / "serial.zarr").update_pyramid(workers=1)
    Canvas.open(tmp_path / "threads.zarr").update_pyramid(workers=4)
    client: Client
    with local_cluster() as client:
        Canvas.open(tmp_path / "cluster.zarr").update_pyramid(client=client)
    levels = Canvas.open(tmp_path / "serial.zarr").levels
    assert levels >= 3
    serial = _pyramid_files(tmp_path / "serial.zarr", levels)
    assert any("/c/" in k for k in serial)
    assert _pyramid_files(tmp_path / "threads.zarr", levels) == serial
    assert _pyramid_files(tmp_path / "cluster.zarr", levels) == serial
    # and each chunk holds the bytes zarr itself writes for those pixels
    s = Canvas.open(tmp_path / "serial.zarr")
    for level in range(1, levels):
        z = zarr.open_array(str(tmp_path / "serial.zarr"), path=s.frame.path(level), mode="r")
        store = zarr.storage.MemoryStore()
        ref = create_level(store, s.frame, level, z.shape[1:], 3)
        ref[:, :, :] = z[:, :, :]
        for key, data in serial.items():
            prefix = s.frame.path(level) + "/"
            if key.startswith(prefix + "c/"):
                stored = zarr.core.sync.sync(store.get(key, prototype=zarr.core.buffer.default_buffer_prototype()))
                assert stored is not None, key
                assert stored.to_bytes() == data, key
    assert s.verify().ok
