"""Artifact layout: paths under a user root, never inside the package; atomic PNG writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import imkerutils
from imkerutils.errors import InvalidTileError
from imkerutils.exquisite.geometry.direction import Direction, to_right
from imkerutils.exquisite.state.artifacts import (
    TILE_ROLES,
    ArtifactLayout,
    ArtifactPathError,
    ensure_dir,
    tile_artifact_name,
    write_png,
)
from imkerutils.exquisite.state.record import InvalidRecordError

PACKAGE = Path(imkerutils.__file__).resolve().parent


def test_layout_paths(tmp_path):
    layout = ArtifactLayout(tmp_path)
    assert layout.root == tmp_path.resolve()
    assert layout.generated_dir == tmp_path / "_generated"
    assert layout.outputs_dir == tmp_path / "outputs"
    assert layout.step_dir("000003-up") == tmp_path / "_generated" / "steps" / "000003-up"
    assert [layout.tile_artifact("s1", 2, role).name for role in TILE_ROLES] == [
        "tile-2-reference.png",
        "tile-2-mask.png",
        "tile-2-raw.png",
        "tile-2-final.png",
    ]
    assert layout.tile_artifact("s1", 2, "raw").parent == layout.step_dir("s1")


def test_constructing_a_layout_writes_nothing(tmp_path):
    root = tmp_path / "not" / "yet"
    layout = ArtifactLayout(root)
    layout.tile_artifact("s", 0, "final")
    assert not root.exists()
    assert list(tmp_path.iterdir()) == []


def test_relative_root_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert ArtifactLayout(Path("work")).root == tmp_path.resolve() / "work"
    assert ArtifactLayout("work").root == tmp_path.resolve() / "work"  # type: ignore[arg-type]


@pytest.mark.parametrize("inside", [PACKAGE, PACKAGE / "exquisite", PACKAGE / "_generated" / "x"])
def test_root_inside_the_package_is_refused(inside):
    with pytest.raises(ArtifactPathError, match="inside the installed imkerutils package"):
        ArtifactLayout(inside)


def test_root_that_reaches_the_package_through_dotdot_or_a_symlink_is_refused(tmp_path):
    with pytest.raises(ArtifactPathError, match="inside the installed imkerutils package"):
        ArtifactLayout(PACKAGE / "exquisite" / ".." / ".." / PACKAGE.name / "state")
    link = tmp_path / "link"
    link.symlink_to(PACKAGE, target_is_directory=True)
    with pytest.raises(ArtifactPathError, match="inside the installed imkerutils package"):
        ArtifactLayout(link / "runs")


def test_package_parent_is_allowed():
    # an editable checkout's root (beside the package, like the seed's outputs/) is fine
    assert ArtifactLayout(PACKAGE.parent).generated_dir == PACKAGE.parent / "_generated"


@pytest.mark.parametrize("step_id", ["../escape", "a/b", ""])
def test_unsafe_step_ids_never_become_paths(tmp_path, step_id):
    with pytest.raises(InvalidRecordError, match="step id must be"):
        ArtifactLayout(tmp_path).step_dir(step_id)


@pytest.mark.parametrize(("index", "role"), [(-1, "raw"), (True, "raw"), (1.0, "raw"), (0, "thumbnail")])
def test_bad_tile_index_or_role_is_refused(index, role):
    with pytest.raises(ArtifactPathError):
        tile_artifact_name(index, role)


def test_relative_and_resolve_are_inverse_and_stay_inside_the_root(tmp_path):
    layout = ArtifactLayout(tmp_path)
    path = layout.tile_artifact("s1", 0, "mask")
    rel = layout.relative(path)
    assert rel == "_generated/steps/s1/tile-0-mask.png"
    assert layout.relative(rel) == rel
    assert layout.resolve(rel) == path
    with pytest.raises(ArtifactPathError, match="not inside the artifact root"):
        layout.relative(tmp_path.parent / "elsewhere.png")
    with pytest.raises(ArtifactPathError, match="points outside the artifact root"):
        layout.resolve("../elsewhere.png")


def test_ensure_dir_creates_parents_and_is_idempotent(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    assert ensure_dir(target) == target
    assert ensure_dir(str(target)) == target
    assert target.is_dir()


# --- write_png -------------------------------------------------------------------------------------------


def pattern(shape: tuple[int, ...]) -> np.ndarray:
    return (np.arange(int(np.prod(shape)), dtype=np.uint64) * 2654435761 % 256).astype(np.uint8).reshape(shape)


@pytest.mark.parametrize(("shape", "mode"), [((5, 7), "L"), ((5, 7, 3), "RGB"), ((5, 7, 4), "RGBA")])
def test_write_png_round_trips_pixels_exactly(tmp_path, shape, mode):
    array = pattern(shape)
    path = write_png(tmp_path / "x.png", array)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == mode
        np.testing.assert_array_equal(np.asarray(im), array)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]  # no temp file left behind


def test_write_png_saves_a_bool_mask_as_0_and_255(tmp_path):
    mask = np.zeros((4, 6), dtype=bool)
    mask[:, 3:] = True
    with Image.open(write_png(tmp_path / "m.png", mask)) as im:
        np.testing.assert_array_equal(np.asarray(im), mask.astype(np.uint8) * 255)


def test_write_png_accepts_non_contiguous_views(tmp_path):
    array = pattern((6, 9, 3))
    view = to_right(array, Direction.UP)
    assert not view.flags.c_contiguous
    with Image.open(write_png(tmp_path / "v.png", view)) as im:
        np.testing.assert_array_equal(np.asarray(im), view)


def test_write_png_replaces_an_existing_file(tmp_path):
    path = tmp_path / "x.png"
    write_png(path, pattern((3, 3)))
    write_png(path, np.full((2, 2), 9, np.uint8))
    with Image.open(path) as im:
        np.testing.assert_array_equal(np.asarray(im), np.full((2, 2), 9, np.uint8))


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "x.png"
    old = pattern((4, 4))
    write_png(path, old)
    before = path.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_png(path, pattern((8, 8)))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((4, 4), np.uint16),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((4, 4, 3), bool),
        np.zeros((4,), np.uint8),
        np.zeros((0, 4), np.uint8),
        np.zeros((4, 4), np.float32),
    ],
)
def test_write_png_refuses_unsupported_arrays(tmp_path, array):
    with pytest.raises(InvalidTileError, match="write_png needs uint8"):
        write_png(tmp_path / "x.png", array)
    assert list(tmp_path.iterdir()) == []


def test_write_png_needs_an_existing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_png(tmp_path / "missing" / "x.png", pattern((2, 2)))
    assert not (tmp_path / "missing").exists()


def test_write_png_output_is_deterministic(tmp_path):
    array = pattern((16, 16, 3))
    a = write_png(tmp_path / "a.png", array).read_bytes()
    b = write_png(tmp_path / "b.png", array).read_bytes()
    assert a == b
