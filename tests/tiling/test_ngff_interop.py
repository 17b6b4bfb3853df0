"""Independent OME-Zarr 0.5 readers open a canvas, and its export, at their world place (issue 13).

Each reader (ome-zarr-models, ngff-zarr, ome-zarr-py, dask) opens the subject on
its own; the pixels it returns for every pyramid level, placed by that level's
``scale`` and ``translation``, must equal ``Canvas.read(window, level)``.

Subjects: ``export`` is ``canvas.export(..., pyramid=True)`` (holds the bounds
region only), ``canvas`` is the canvas folder itself, and ``reference`` is the
canvas's pixels written beside it in the layout issue 13 asks for (margins, own
bookkeeping inside a level folder), which shows the ``canvas`` cases can pass.  The ``canvas`` cases carry
the ``ngff_canvas`` marker (``pytest -m ngff_canvas``): they describe the layout
issue 13 introduces.  Each test first reads the metadata as plain JSON and checks
the arrays' extents, so a canvas with a huge virtual extent fails at once instead
of making a reader walk its chunk grid.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pytest
import zarr
from PIL import Image

from imkerutils.testing import ngff
from imkerutils.tiling import Canvas
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

TILE = 64


def _noise(rng: np.random.Generator, h: int, w: int, c: int) -> np.ndarray:
    return rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)


@dataclass
class Grown:
    """A canvas and, independently of it, every paste it received (world row, col, pixels), in order."""

    canvas: Canvas
    pastes: list[tuple[int, int, np.ndarray]] = field(default_factory=list)

    def paste(self, pixels: np.ndarray, row: int, col: int, *, extend: bool = True) -> None:
        self.canvas.paste(pixels, row, col, extend=extend)
        self.pastes.append((row, col, pixels))

    def expected(self) -> np.ndarray:
        """The level-0 pixels of the bounds, ``(h, w, c)``, from the pastes alone (background 0)."""
        b = self.canvas.bounds
        out = np.zeros((b.height, b.width, self.canvas.channels), np.uint8)
        for row, col, pixels in self.pastes:
            out[Window(row, col, *pixels.shape[:2]).slices((b.row_off, b.col_off))] = pixels
        return out


def _rgb_far(root: Path) -> Grown:
    """An RGB canvas imported from a PNG, grown up-left, down-right and by far jumps both ways, with a pyramid."""
    rng = np.random.default_rng(13)
    seed = _noise(rng, 150, 200, 3)
    Image.fromarray(seed, "RGB").save(root / "seed.png")
    g = Grown(Canvas.from_image(root / "seed.png", root / "canvas", tile=TILE), [(0, 0, seed)])
    g.paste(_noise(rng, 60, 50, 3), -90, -70)  # up and left
    g.canvas.update_pyramid()  # a pyramid exists before the far growth moves the arrays
    g.paste(_noise(rng, 40, 50, 3), 170, 230)  # down and right
    g.paste(_noise(rng, 30, 30, 3), -700, -600)  # far up-left: past any 8-tile margin
    g.paste(_noise(rng, 20, 20, 3), 400, 900)  # far down-right
    g.paste(_noise(rng, 60, 60, 3), -20, -20, extend=False)  # across old and newly grown content
    g.canvas.update_pyramid()
    assert g.canvas.bounds == Window(-700, -600, 1120, 1520)
    return g


def _rgba_small(root: Path) -> Grown:
    """An RGBA canvas created empty and grown a little in all four directions."""
    rng = np.random.default_rng(5)
    g = Grown(Canvas.create(root / "canvas", mode="RGBA", tile=TILE, height=40, width=50))
    g.paste(_noise(rng, 40, 50, 4), 0, 0, extend=False)
    g.paste(_noise(rng, 20, 20, 4), -100, -80)
    g.paste(_noise(rng, 30, 30, 4), 50, 90)
    g.canvas.update_pyramid()
    assert g.canvas.bounds == Window(-100, -80, 180, 200)
    return g


BUILDERS: dict[str, Callable[[Path], Grown]] = {"rgb_far": _rgb_far, "rgba": _rgba_small}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def grown(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Grown:
    g = BUILDERS[request.param](tmp_path_factory.mktemp(request.param))
    assert g.canvas.levels >= 3
    return g


@dataclass(frozen=True)
class Subject:
    kind: str  # "export", "reference" or "canvas"
    root: Path  # the Zarr group readers open
    canvas: Canvas  # what every reader's pixels are compared with
    expected: np.ndarray  # level-0 pixels of the bounds, (h, w, c), from the pastes alone


@pytest.fixture(scope="module", params=["export", "reference", pytest.param("canvas", marks=pytest.mark.ngff_canvas)])
def subject(request: pytest.FixtureRequest, grown: Grown, tmp_path_factory: pytest.TempPathFactory) -> Subject:
    canvas = grown.canvas
    if request.param == "canvas":
        return Subject("canvas", canvas.path, canvas, grown.expected())
    if request.param == "reference":  # issue 13's layout written beside the canvas: the canvas cases can pass
        root = ngff.write_reference(canvas, tmp_path_factory.mktemp("reference") / "canvas")
        return Subject("reference", root, canvas, grown.expected())
    out = canvas.export(tmp_path_factory.mktemp("export") / "x.ome.zarr", pyramid=True, progress=False)
    return Subject("export", out, canvas, grown.expected())


def checked_layout(s: Subject) -> ngff.Layout:
    """The subject's metadata, its levels and every array's extent checked before any reader runs."""
    layout = ngff.read_layout(s.root)
    canvas = s.canvas
    assert [p.level for p in layout.placements] == list(range(canvas.levels))
    for p in layout.placements:
        shape = layout.shapes[p.path]
        assert len(shape) == 3, f"level {p.level} shape {shape} is not (C, H, W)"
        assert shape[0] == canvas.channels, f"level {p.level} shape {shape} is not (C, H, W)"
        have, need = p.window(shape), canvas.level_bounds(p.level)
        assert have.contains(need), f"level {p.level} array covers {have}, not the bounds {need}"
        for axis, (extent, content) in enumerate(zip(shape[1:], need.shape, strict=True)):
            assert extent <= ngff.max_extent(content, canvas.tile), (
                f"level {p.level} axis {'yx'[axis]}: {extent} px for {content} px of content"
            )
    return layout


# -- metadata ------------------------------------------------------------------------------------------------------


def test_metadata_describes_every_level(subject: Subject) -> None:
    layout = checked_layout(subject)
    ome = layout.attributes["ome"]
    assert [ch["label"] for ch in ome["omero"]["channels"]] == list(subject.canvas.mode)
    for p in layout.placements:
        z = zarr.open_array(subject.root / p.path, mode="r")
        assert z.dtype == np.uint8
        assert z.metadata.zarr_format == 3
        assert getattr(z.metadata, "dimension_names", None) in (None, ("c", "y", "x"))


def test_world_origin_is_coordinate_zero(subject: Subject) -> None:
    # placed by its translation alone, level 0 holds every pasted pixel at its world position (the seed image's
    # top-left at world (0, 0)) and background elsewhere: checked against the pastes, not against Canvas.read
    layout = checked_layout(subject)
    level0 = layout.placements[0]
    data = np.moveaxis(np.asarray(zarr.open_array(subject.root / level0.path, mode="r")[...]), 0, 2)
    bounds = subject.canvas.bounds
    inside = bounds.translate(-level0.row_off, -level0.col_off).slices()
    np.testing.assert_array_equal(data[inside], subject.expected)
    outside = np.ones(data.shape[:2], bool)
    outside[inside] = False
    assert not data[outside].any(), "pixels outside the bounds are not background"


def test_imkerutils_attributes_name_the_bounds(subject: Subject) -> None:
    canvas = subject.canvas
    ours = json.loads((subject.root / "zarr.json").read_text()).get("attributes", {}).get("imkerutils", {})
    if subject.kind != "export":  # mirrored at every commit, for tools that never heard of imkerutils
        assert ours.get("bounds") == canvas.bounds.to_dict(), f"group attributes imkerutils: {ours}"
        assert ours["mode"] == canvas.mode
        assert ours["tile"] == canvas.tile
    else:  # an export holds exactly the exported window (here the bounds) and names its world origin
        assert ours["world_origin"] == [canvas.bounds.row_off, canvas.bounds.col_off]
    layout = checked_layout(subject)
    level0 = layout.placements[0]
    if subject.kind == "export":
        assert level0.window(layout.shapes[level0.path]) == canvas.bounds


def test_listing_group_warns_nothing_and_holds_only_levels(subject: Subject) -> None:
    # zarr warns about every key in a group folder that is not a node (a folder without zarr.json, a file, a
    # dot-name: zarr 3.1 skips only "zarr.json").  Recorded rather than raised: a warning raised inside zarr's
    # event loop makes the failure report unreadable.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        group = zarr.open_group(subject.root, mode="r")
        members = dict(group.members())
    assert not caught, "listing warned: " + "; ".join(str(w.message) for w in caught)
    layout = checked_layout(subject)
    arrays = {k for k, m in members.items() if isinstance(m, zarr.Array)}
    assert sorted(arrays) == sorted(p.path for p in layout.placements)
    # Anything else is one of our bookkeeping folders, each an empty group that says what it is.
    others = {k: m for k, m in members.items() if k not in arrays}
    assert all(
        isinstance(m, zarr.Group) and k.startswith("_") and "imkerutils" in m.attrs for k, m in others.items()
    ), sorted(others)


def test_chunk_counts_finish_and_match_stored_files(subject: Subject) -> None:
    layout = checked_layout(subject)  # extents bounded: counting walks only a content-sized grid
    for p in layout.placements:
        z = zarr.open_array(subject.root / p.path, mode="r")
        files = ngff.stored_chunk_files(subject.root / p.path)
        assert files > 0
        assert z.nchunks == math.prod(math.ceil(n / c) for n, c in zip(z.shape, z.chunks, strict=True))
        assert z.nchunks_initialized == files
        assert ngff.chunks_initialized_from_info(z.info_complete()) == files


# -- independent readers -------------------------------------------------------------------------------------------


def test_ome_zarr_models_validates_and_places_every_level(subject: Subject) -> None:
    from ome_zarr_models.v05.image import Image as OmeImage

    layout = checked_layout(subject)
    group = zarr.open_group(subject.root, mode="r")
    image = OmeImage.from_zarr(group)  # validates the whole group against the 0.5 models
    (ms,) = image.attributes.ome.multiscales
    assert [a.name for a in ms.axes] == ["c", "y", "x"]
    assert len(ms.datasets) == subject.canvas.levels
    for ds, expected in zip(ms.datasets, layout.placements, strict=True):
        scale, translation = ngff.transform_vectors(ds.coordinateTransformations)
        where = ngff.placement(ds.path, scale, translation)
        assert where == expected
        array = group[ds.path]
        assert isinstance(array, zarr.Array)
        ngff.assert_level_matches(subject.canvas, where, array[...], "ome-zarr-models")


def test_ngff_zarr_reads_every_level_at_its_place(subject: Subject) -> None:
    from ngff_zarr import from_ngff_zarr

    layout = checked_layout(subject)
    multiscales = from_ngff_zarr(str(subject.root), validate=True)
    assert len(multiscales.images) == subject.canvas.levels
    for k, image in enumerate(multiscales.images):
        assert tuple(image.dims) == ("c", "y", "x")
        path = layout.placements[k].path  # ngff-zarr gives no dataset paths: the k-th dataset's
        where = ngff.placement(path, [image.scale[d] for d in image.dims], [image.translation[d] for d in image.dims])
        assert where == layout.placements[k]
        ngff.assert_level_matches(subject.canvas, where, image.data.compute(), "ngff-zarr")


def test_ome_zarr_py_reader_reads_every_level_at_its_place(subject: Subject) -> None:
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Multiscales, Reader

    layout = checked_layout(subject)
    location = parse_url(str(subject.root))
    assert location is not None, "ome-zarr-py does not recognise the folder as OME-Zarr"
    images = [node for node in Reader(location)() if node.load(Multiscales) is not None]
    assert len(images) == 1, f"ome-zarr-py found {len(images)} multiscale images"
    (node,) = images
    assert [a["name"] for a in node.metadata["axes"]] == ["c", "y", "x"]
    transforms = node.metadata["coordinateTransformations"]
    assert len(node.data) == len(transforms) == subject.canvas.levels
    for k, (data, level_transforms) in enumerate(zip(node.data, transforms, strict=True)):
        scale, translation = ngff.transform_vectors(level_transforms)
        where = ngff.placement(layout.placements[k].path, scale, translation)  # the k-th dataset's place
        assert where == layout.placements[k]
        ngff.assert_level_matches(subject.canvas, where, data.compute(), "ome-zarr-py")


def test_dask_from_zarr_reads_every_level_at_its_place(subject: Subject) -> None:
    import dask.array as da

    layout = checked_layout(subject)
    for where in layout.placements:
        arr = da.from_zarr(str(subject.root), component=where.path)
        assert arr.shape == layout.shapes[where.path]
        ngff.assert_level_matches(subject.canvas, where, arr.compute(), "dask.array.from_zarr")
