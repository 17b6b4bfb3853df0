"""A generator that fails or breaks the contract: the step raises our error and the canvas is untouched."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
import pytest
from _generators import BrokenGenerator, PatternGenerator, canvas_sha, make_canvas, noise_image

from imkerutils.errors import (
    GeneratorError,
    GeneratorOutputError,
    ImkerError,
    PermanentGeneratorError,
    RetryableGeneratorError,
)
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.pipeline import GrowSettings, grow_step, step_records
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from pathlib import Path


def tree(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root``."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def state(canvas: Canvas) -> tuple:
    """What a caller can observe of a canvas: bounds, head, token, history, pixels around the bounds."""
    b = canvas.bounds
    around = Window(b.row_off - 600, b.col_off - 600, b.height + 1200, b.width + 1200)
    return (b, canvas.head, canvas.state_token, [s.number for s in canvas.history()], canvas_sha(canvas, around))


@pytest.fixture
def canvas(tmp_path: Path) -> Canvas:
    """1100 rows: growing right takes two tiles, the second depending on the first."""
    return make_canvas(tmp_path / "c.zarr", noise_image(1100, 400, seed=2))


BAD_OUTPUTS = [
    ("size", GeneratorOutputError),
    ("dtype", GeneratorOutputError),
    ("float", GeneratorOutputError),
    ("channels", GeneratorOutputError),
    ("flat", GeneratorOutputError),
    ("retryable", RetryableGeneratorError),
    ("permanent", PermanentGeneratorError),
]


SECOND_TILE = {"size", "channels", "permanent"}  # fail after a tile succeeded (the others fail at once)
CASES = [
    pytest.param(
        kind, error, int(kind in SECOND_TILE), id=f"{kind}-on-{'second' if kind in SECOND_TILE else 'first'}-tile"
    )
    for kind, error in BAD_OUTPUTS
]


@pytest.mark.parametrize(("kind", "error", "good"), CASES)
def test_a_bad_tile_fails_the_step_and_leaves_the_canvas_byte_identical(
    canvas: Canvas, kind: str, error: type[Exception], good: int
) -> None:
    """The failure comes after ``good`` tiles succeeded: none of their work may reach the canvas."""
    files, seen = tree(canvas.path), state(canvas)
    generator = BrokenGenerator(kind, good=good)
    with pytest.raises(error) as info:
        grow_step(canvas, "right", generator, GrowSettings(seed=1))
    assert isinstance(info.value, GeneratorError)
    assert isinstance(info.value, ImkerError)
    if error is GeneratorOutputError:
        assert "expected (1024, 1024, 3) uint8" in str(info.value)
    assert generator.attempted == good + 1  # the pipeline retries no generator error (adapters retry their calls)
    assert tree(canvas.path) == files
    reopened = Canvas.open(canvas.path)
    assert state(reopened) == seen == state(canvas)
    assert reopened.verify().ok


def test_after_a_failed_step_the_next_step_is_the_one_an_untouched_canvas_would_take(
    canvas: Canvas, tmp_path: Path
) -> None:
    with pytest.raises(PermanentGeneratorError):
        grow_step(canvas, "right", BrokenGenerator("permanent", good=1), GrowSettings(seed=1))
    fresh = make_canvas(tmp_path / "fresh.zarr", noise_image(1100, 400, seed=2))
    for c in (canvas, fresh):
        grow_step(c, "right", PatternGenerator(), GrowSettings(seed=1, save_artifacts=False))
    assert canvas.bounds == fresh.bounds == Window(0, 0, 1100, 400 + 512)
    assert canvas.head == fresh.head
    np.testing.assert_array_equal(canvas.read(canvas.bounds), fresh.read(fresh.bounds))


def test_a_generator_that_redraws_the_band_cannot_change_it(canvas: Canvas) -> None:
    band = canvas.bounds
    before = canvas_sha(canvas, band)
    record = grow_step(canvas, "right", MockGenerator(band_drift=3), GrowSettings(seed=1))
    assert canvas_sha(canvas, band) == before
    assert len(record.tiles) == 2
    assert all(t.band_drift is not None and t.band_drift > 0 for t in record.tiles)
    assert record.qc["band_drift"] == max(t.band_drift for t in record.tiles)
    # the drift is in the raw output, which the artifacts keep; the canvas has the real band
    (saved,) = step_records(canvas)
    assert saved.tiles == record.tiles
    assert canvas.verify().ok


def test_an_exact_generator_records_zero_band_drift(canvas: Canvas) -> None:
    record = grow_step(canvas, "right", PatternGenerator(), GrowSettings(seed=1, save_artifacts=False))
    assert [t.band_drift for t in record.tiles] == [0.0, 0.0]
    np.testing.assert_array_equal(canvas.read(Window(0, 0, 1100, 400)), noise_image(1100, 400, seed=2))
