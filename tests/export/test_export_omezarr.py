"""OME-Zarr 0.5 export: read back with zarr, metadata checked against the 0.5 specification's MUST rules."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import zarr

from imkerutils.tiling import Window
from imkerutils.tiling.export import export_region
from imkerutils.tiling.export._plan import level_window

if TYPE_CHECKING:
    from pathlib import Path


def check_ome_zarr_05(root: Path) -> dict[str, Any]:
    """Assert the requirements of OME-Zarr 0.5 ("multiscales", "axes", "coordinateTransformations") hold.

    From https://ngff.openmicroscopy.org/0.5/: Zarr v3; attributes.ome.version "0.5"; each multiscale has
    2-5 axes with unique names, 2-3 of type space, at most one channel (or custom) and one time axis, ordered
    time, channel, space; datasets (at least one) each with a path and coordinateTransformations holding
    exactly one scale, optionally one translation after it, both as long as the axes; paths ordered from the
    highest resolution; every array as many dimensions as axes and dimension_names equal to the axis names.
    """
    group_json = json.loads((root / "zarr.json").read_text())
    assert group_json["zarr_format"] == 3
    assert group_json["node_type"] == "group"
    ome = group_json["attributes"]["ome"]
    assert ome["version"] == "0.5"
    assert isinstance(ome["multiscales"], list)
    assert ome["multiscales"]
    for ms in ome["multiscales"]:
        axes = ms["axes"]
        names = [a["name"] for a in axes]
        assert 2 <= len(axes) <= 5
        assert len(set(names)) == len(names)
        types = [a.get("type") for a in axes]
        assert 2 <= types.count("space") <= 3
        assert types.count("time") <= 1
        assert sum(t not in ("space", "time") for t in types) <= 1
        rank = [0 if t == "time" else 2 if t == "space" else 1 for t in types]
        assert rank == sorted(rank), f"axes out of order: {types}"
        assert ms["datasets"]
        sizes = []
        for ds in ms["datasets"]:
            transforms = ds["coordinateTransformations"]
            kinds = [t["type"] for t in transforms]
            assert kinds in (["scale"], ["scale", "translation"]), kinds
            for t in transforms:
                assert len(t[t["type"]]) == len(axes)
            arr_json = json.loads((root / ds["path"] / "zarr.json").read_text())
            assert arr_json["zarr_format"] == 3
            assert arr_json["node_type"] == "array"
            assert len(arr_json["shape"]) == len(axes)
            assert arr_json["dimension_names"] == names
            sizes.append(int(np.prod(arr_json["shape"])))
        assert sizes == sorted(sizes, reverse=True), "paths must go from the highest resolution down"
    return ome


def read_level(root: Path, path: str) -> np.ndarray:
    return np.moveaxis(np.asarray(zarr.open_array(root / path, mode="r")[:]), 0, 2)  # (c, y, x) -> (y, x, c)


@pytest.mark.parametrize(("mode", "compression"), [("RGB", None), ("RGBA", "deflate:1"), ("RGB", "none")])
def test_omezarr_matches_canvas_read_and_places_the_region_in_world(
    make_canvas, out_dir: Path, mode: str, compression: str | None
) -> None:
    canvas, _ = make_canvas(mode)
    region = Window(-100, -150, 350, 430)
    out = export_region(canvas, out_dir / "r.ome.zarr", region=region, compression=compression, progress=False)
    ome = check_ome_zarr_05(out)
    ms = ome["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["c", "y", "x"]
    assert [a["type"] for a in ms["axes"]] == ["channel", "space", "space"]
    (ds,) = ms["datasets"]
    assert ds["coordinateTransformations"] == [
        {"type": "scale", "scale": [1.0, 1.0, 1.0]},
        {"type": "translation", "translation": [0.0, -100.0, -150.0]},
    ]
    assert [c["label"] for c in ome["omero"]["channels"]] == list(mode)
    arr = zarr.open_array(out / "0", mode="r")
    assert arr.shape == (len(mode), 350, 430)
    assert arr.chunks == (1, 64, 64)
    assert arr.dtype == np.uint8
    np.testing.assert_array_equal(read_level(out, "0"), canvas.read(region))


def test_omezarr_pyramid_levels_sit_on_the_canvas_grid(make_canvas, out_dir: Path, box_mean) -> None:
    canvas, _ = make_canvas("RGBA", row=-70, col=-131)
    out = export_region(canvas, out_dir / "p.ome.zarr", pyramid=True, progress=False)
    ome = check_ome_zarr_05(out)
    datasets = ome["multiscales"][0]["datasets"]
    assert [d["path"] for d in datasets] == ["0", "1", "2", "3"]
    for level, ds in enumerate(datasets):
        lw = level_window(canvas.bounds, level)
        s = 2.0**level
        half = (s - 1) / 2  # pixel centres: level L's first pixel centre in world coordinates
        assert ds["coordinateTransformations"] == [
            {"type": "scale", "scale": [1.0, s, s]},
            {"type": "translation", "translation": [0.0, lw.row_off * s + half, lw.col_off * s + half]},
        ]
        np.testing.assert_array_equal(
            read_level(out, ds["path"]), box_mean(canvas, lw, level), err_msg=f"level {level}"
        )


def test_background_chunks_are_not_written(make_canvas, out_dir: Path) -> None:
    canvas, _ = make_canvas("RGB", height=64, width=64, row=0, col=0)
    out = export_region(canvas, out_dir / "sparse.ome.zarr", region=Window(0, 0, 64, 640), progress=False)
    chunk_files = [p for p in (out / "0").rglob("*") if p.is_file() and p.name != "zarr.json"]
    assert len(chunk_files) == 3  # one tile of content, one chunk per channel; the 9 empty tiles cost nothing
    assert not read_level(out, "0")[:, 64:].any()
