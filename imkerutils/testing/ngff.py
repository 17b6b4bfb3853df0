"""Read an OME-Zarr 0.5 image the way an independent tool does, and compare it with a canvas.

A canvas folder and an OME-Zarr export both describe each pyramid level with
one ``scale`` ``[1, s, s]`` (``s = 2**level``) followed by one ``translation``
``[0, ty, tx]`` on the axes ``c, y, x``.  Under the pixel-centre convention
array index ``i`` (along y or x) then sits at world coordinate ``i * s + t``,
and is the *level pixel* ``q = i + (t - (s - 1) / 2) / s`` (``world // s``,
what :meth:`Canvas.read(window, level) <imkerutils.tiling.Canvas.read>`
takes).  :func:`placements` turns the metadata into those offsets, checking
every rule on the way, so a reader's pixels can be compared with the canvas's
own.  Nothing here imports a reader: tests pass in what the reader returned.

>>> p = placement("1", [1.0, 2.0, 2.0], [0.0, -299.5, -21.5])
>>> p.level, p.row_off, p.col_off, p.window((3, 205, 366))
(1, -150, -11, Window(row_off=-150, col_off=-11, height=205, width=366))
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imkerutils.tiling.window import Window

__all__ = [
    "AXES",
    "Layout",
    "Placement",
    "assert_level_matches",
    "chunks_initialized_from_info",
    "level_pixels",
    "max_extent",
    "placement",
    "placements",
    "read_layout",
    "stored_chunk_files",
    "transform_vectors",
    "write_reference",
]

AXES = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one dataset's pixels sit: array index ``(i, j)`` is level pixel ``(row_off + i, col_off + j)``."""

    path: str
    level: int
    row_off: int
    col_off: int

    @property
    def scale(self) -> int:
        """World pixels per array pixel along y and x."""
        return 1 << self.level

    def window(self, shape: Sequence[int]) -> Window:
        """Return the level-pixel window a ``(c, h, w)`` array of this dataset covers."""
        return Window(self.row_off, self.col_off, int(shape[-2]), int(shape[-1]))


def _level_pixel_offset(s: float, t: float, what: str) -> int:
    q = (t - (s - 1) / 2) / s
    if q != int(q):
        raise AssertionError(
            f"{what}: translation {t} at scale {s} does not put array index 0 on a level pixel "
            f"(pixel centre of level pixel q is q * s + (s - 1) / 2)"
        )
    return int(q)


def placement(path: str, scale: Sequence[float], translation: Sequence[float]) -> Placement:
    """Return the :class:`Placement` of dataset ``path`` from its ``scale`` and ``translation`` vectors (c, y, x)."""
    if len(scale) != 3 or len(translation) != 3:
        raise AssertionError(f"dataset {path}: scale {scale} / translation {translation} must have 3 entries (c, y, x)")
    if scale[0] != 1 or translation[0] != 0:
        raise AssertionError(
            f"dataset {path}: the channel axis must have scale 1 and translation 0, got {scale[0]} / {translation[0]}"
        )
    sy, sx = scale[1], scale[2]
    level = int(np.log2(sy)) if sy >= 1 else -1
    if sy != sx or level < 0 or 2**level != sy:
        raise AssertionError(f"dataset {path}: scale {list(scale)} is not [1, 2**L, 2**L]")
    return Placement(
        path,
        level,
        _level_pixel_offset(sy, translation[1], f"dataset {path} y"),
        _level_pixel_offset(sx, translation[2], f"dataset {path} x"),
    )


def transform_vectors(transforms: Sequence[Any]) -> tuple[list[float], list[float]]:
    """``(scale, translation)`` of a dataset's transformations: exactly one scale, then one translation."""
    items = [
        t if isinstance(t, Mapping) else (t.model_dump() if hasattr(t, "model_dump") else vars(t)) for t in transforms
    ]
    kinds = [t["type"] for t in items]
    if kinds != ["scale", "translation"]:
        raise AssertionError(f"coordinateTransformations must be one scale then one translation, got {kinds}")
    return list(items[0]["scale"]), list(items[1]["translation"])


def placements(ome: Mapping[str, Any]) -> list[Placement]:
    """Check a group's ``ome`` attributes (0.5, one multiscale, axes c/y/x, levels 0, 1, ...) and place each dataset.

    ``ome`` is the group's ``attributes["ome"]``.  Raises AssertionError naming the first rule broken.
    """
    if ome.get("version") != "0.5":
        raise AssertionError(f"ome.version must be '0.5', got {ome.get('version')!r}")
    multiscales = ome.get("multiscales")
    if not isinstance(multiscales, list) or len(multiscales) != 1:
        raise AssertionError(f"ome.multiscales must hold exactly one entry, got {multiscales!r}")
    ms = multiscales[0]
    axes = [{"name": a["name"], "type": a.get("type")} for a in ms["axes"]]
    if axes != AXES:
        raise AssertionError(f"axes must be {AXES}, got {axes}")
    if "coordinateTransformations" in ms:
        raise AssertionError("a multiscale-wide coordinateTransformations would move every level; the canvas uses none")
    out = []
    for k, ds in enumerate(ms["datasets"]):
        scale, translation = transform_vectors(ds["coordinateTransformations"])
        p = placement(ds["path"], scale, translation)
        if p.level != k:
            raise AssertionError(f"dataset {k} ({ds['path']}) has scale {scale}; dataset k must be level k")
        out.append(p)
    return out


@dataclass(frozen=True, slots=True)
class Layout:
    """What a group's metadata files say, read as plain JSON (no Zarr): attributes and each dataset's shape."""

    attributes: dict[str, Any]
    placements: list[Placement]
    shapes: dict[str, tuple[int, ...]]


def read_layout(root: str | Path) -> Layout:
    """Read ``root/zarr.json`` and each dataset's ``zarr.json`` without opening any array.

    Fast whatever the arrays' extents, so a test can check them before a reader walks their chunk grid.
    """
    root = Path(root)
    meta = json.loads((root / "zarr.json").read_text())
    if meta.get("zarr_format") != 3 or meta.get("node_type") != "group":
        raise AssertionError(
            f"{root}/zarr.json is not a Zarr v3 group: {meta.get('zarr_format')}, {meta.get('node_type')}"
        )
    attributes = meta.get("attributes", {})
    if "ome" not in attributes:
        raise AssertionError(f"{root}/zarr.json has no 'ome' attributes (keys: {sorted(attributes)})")
    places = placements(attributes["ome"])
    shapes = {}
    for p in places:
        ameta = json.loads((root / p.path / "zarr.json").read_text())
        if ameta.get("node_type") != "array":
            raise AssertionError(f"dataset {p.path} is not an array")
        shapes[p.path] = tuple(ameta["shape"])
    return Layout(attributes, places, shapes)


def max_extent(content: int, tile: int) -> int:
    """Return the largest array extent issue 13 allows along an axis whose content spans ``content`` pixels."""
    return max(2 * content, content + 8 * tile)


def level_pixels(canvas: Any, where: Placement, shape: Sequence[int]) -> np.ndarray:
    """``canvas.read`` of the window a ``(c, h, w)`` dataset array covers, as ``(c, h, w)``."""
    return np.moveaxis(canvas.read(where.window(shape), where.level), 2, 0)


def assert_level_matches(canvas: Any, where: Placement, data: Any, reader: str) -> None:
    """Assert the ``(c, h, w)`` pixels a ``reader`` returned for one dataset equal the canvas's, pixel for pixel."""
    got = np.asarray(data)
    if got.dtype != np.uint8 or got.ndim != 3 or got.shape[0] != canvas.channels:
        raise AssertionError(
            f"{reader}: level {where.level} is {got.dtype} {got.shape}, expected uint8 ({canvas.channels}, h, w)"
        )
    want = level_pixels(canvas, where, got.shape)
    if not np.array_equal(got, want):
        bad = np.argwhere(got != want)
        c, i, j = (int(v) for v in bad[0])
        raise AssertionError(
            f"{reader}: level {where.level} differs from Canvas.read at {len(bad)} values; first at c={c}, "
            f"level pixel ({where.row_off + i}, {where.col_off + j}): {got[c, i, j]} != {want[c, i, j]}"
        )


def stored_chunk_files(array_dir: str | Path) -> int:
    """Return the number of chunk files a local array's folder holds, by its own chunk key encoding.

    Files whose relative path is not a chunk key of the array (its ``zarr.json``, anything else kept in
    the folder) are not counted.
    """
    array_dir = Path(array_dir)
    meta = json.loads((array_dir / "zarr.json").read_text())
    ndim = len(meta["shape"])
    encoding = meta.get("chunk_key_encoding", {"name": "default"})
    sep = re.escape(encoding.get("configuration", {}).get("separator", "/" if encoding["name"] == "default" else "."))
    prefix = "c" + sep if encoding["name"] == "default" else ""
    key = re.compile(prefix + sep.join([r"\d+"] * ndim))
    return sum(
        1
        for p in array_dir.rglob("*")
        if p.is_file() and key.fullmatch(p.relative_to(array_dir).as_posix()) is not None
    )


def chunks_initialized_from_info(info: Any) -> int:
    """Return the "Chunks Initialized" count of ``zarr.Array.info_complete()``'s report."""
    m = re.search(r"Chunks Initialized\s*:\s*(\d+)", str(info))
    if m is None:
        raise AssertionError(f"info_complete() reported no 'Chunks Initialized' line:\n{info}")
    return int(m.group(1))


def write_reference(canvas: Any, root: str | Path, *, margin: tuple[int, int] = (2, 3)) -> Path:
    """Write ``canvas``'s levels at ``root`` in the layout issue 13 asks of a canvas folder, as a reference.

    Each level's array covers that level's bounds plus ``margin`` (rows, cols) tiles before them and one tile
    after, on a tile-aligned grid of its own, chunks ``(C, tile, tile)``; the group attributes hold the
    ``ome`` metadata of the OME-Zarr export and ``imkerutils`` ``bounds``, ``mode`` and ``tile``.  A
    bookkeeping file inside the level-0 folder (not a chunk key) shows where zarr looks away: listing the
    group and counting chunks ignore it.  Used to check that the canvas tests can pass.
    """
    import zarr

    from imkerutils.tiling.export._plan import LevelRegion
    from imkerutils.tiling.export.omezarr import ome_metadata

    root = Path(root)
    t = canvas.tile
    regions = []
    for level in range(canvas.levels):
        b = canvas.level_bounds(level)
        top, left = (b.row_off // t - margin[0]) * t, (b.col_off // t - margin[1]) * t
        bottom, right = (-(-b.row_end // t) + 1) * t, (-(-b.col_end // t) + 1) * t
        regions.append(LevelRegion(level, Window.from_bounds(top, left, bottom, right)))
    group = zarr.create_group(
        root,
        zarr_format=3,
        attributes={
            "ome": ome_metadata(regions, canvas.mode, root.name),
            "imkerutils": {"bounds": canvas.bounds.to_dict(), "mode": canvas.mode, "tile": t},
        },
    )
    for region in regions:
        array = group.create_array(
            str(region.level),
            shape=(canvas.channels, *region.window.shape),
            chunks=(canvas.channels, t, t),
            dtype="uint8",
            fill_value=0,
            dimension_names=("c", "y", "x"),
        )
        array[...] = np.moveaxis(canvas.read(region.window, region.level), 2, 0)
    (root / "0" / "_bookkeeping").mkdir()
    (root / "0" / "_bookkeeping" / "state.json").write_text("{}")
    return root
