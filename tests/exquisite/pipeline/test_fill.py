"""``pipeline.fill`` and ``grow_region``: generate exactly the empty pixels of a region, as one step."""

from __future__ import annotations

import fcntl
import hashlib
import os
from typing import TYPE_CHECKING

import numpy as np
import pytest
from _generators import PatternGenerator, noise_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imkerutils.errors import (
    BudgetExceededError,
    CanvasChangedError,
    CanvasLockedError,
    GeometryError,
    InvalidGrowSettingsError,
    NoContentNearError,
    StepCancelledError,
)
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.geometry.direction import Direction, from_right, to_right
from imkerutils.exquisite.geometry.fill import edge_region
from imkerutils.exquisite.pipeline import (
    Cancel,
    Estimate,
    GrowSettings,
    fill,
    grow,
    grow_batch,
    grow_region,
    plan_fill_step,
    plan_grow_region,
    step_records,
)
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window, intersection

if TYPE_CHECKING:
    from pathlib import Path

SMALL = GrowSettings(tile=128, save_artifacts=True)  # small reference tiles keep these tests fast


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def content_mask(canvas: Canvas, frame: Window, pastes: list[Window]) -> np.ndarray:
    """Independent of the pipeline: pixels in the bounds and in a storage tile a paste (or a write) touched."""
    t = canvas.tile
    out = np.zeros(frame.shape, bool)
    for w in pastes:
        for i in range(w.row_off // t, (w.row_end - 1) // t + 1):
            for j in range(w.col_off // t, (w.col_end - 1) // t + 1):
                part = intersection(
                    intersection(Window(i * t, j * t, t, t), canvas.bounds) or Window(0, 0, 0, 0), frame
                )
                if part is not None and not part.is_empty:
                    out[part.slices((frame.row_off, frame.col_off))] = True
    return out


def two_pastes(path: Path, gap: int = 640) -> Canvas:
    canvas = Canvas.create(path, tile=64)
    canvas.paste(noise_image(64, 64, seed=1), 0, 0, extend=True)
    canvas.paste(noise_image(64, 64, seed=2), 0, 64 + gap, extend=True)
    return canvas


def test_fill_a_hole_between_two_distant_pastes(tmp_path: Path) -> None:
    canvas = two_pastes(tmp_path / "c.zarr")
    frame = Window(0, 0, 64, 768)
    before = canvas.read(frame)
    head = canvas.head
    record = fill(canvas, canvas.bounds, MockGenerator(), SMALL)
    after = canvas.read(frame)
    assert canvas.head == head + 1
    assert canvas.bounds == Window(0, 0, 64, 768)
    assert np.array_equal(after[:, :64], before[:, :64])
    assert np.array_equal(after[:, 704:], before[:, 704:])
    hole = after[:, 64:704]
    assert hole.reshape(-1, 3).std(axis=0).min() > 1  # generated content, not background
    assert {w for w in canvas.written_tile_windows(frame)} == {Window(0, j * 64, 64, 64) for j in range(12)}
    assert step_records(canvas)[-1].step_id == record.step_id == canvas.history()[-1].id  # one id per step
    assert record.strip_window == canvas.bounds
    assert len(record.tiles) >= 2
    # the step's QC holds the worst tile's value of every score, band drift included (as grow's records do)
    drifts = [t.band_drift for t in record.tiles if t.band_drift is not None]
    assert drifts
    assert record.qc["band_drift"] == max(drifts)
    canvas.undo()
    assert np.array_equal(canvas.read(frame), before)


def test_fill_on_all_four_sides_at_once_keeps_every_pixel_that_held_content(tmp_path: Path) -> None:
    canvas = Canvas.create(tmp_path / "c.zarr", tile=64)
    image = noise_image(100, 150, seed=3)
    canvas.paste(image, 0, 0, extend=True)
    region = Window(-96, -96, 100 + 192, 150 + 192)
    held = content_mask(canvas, region, [Window(0, 0, 100, 150)])
    before = canvas.read(region)
    fill(canvas, region, MockGenerator(), SMALL)
    after = canvas.read(region)
    assert canvas.bounds == region
    assert canvas.verify().ok
    assert np.array_equal(after[held], before[held])
    assert np.array_equal(after[96:196, 96:246], image)
    # every pixel of the region now holds content: in the bounds and in a written tile
    assert content_mask(canvas, region, [region]).all()
    corners = [after[:96, :96], after[:96, -96:], after[-96:, :96], after[-96:, -96:]]
    assert all(c.reshape(-1, 3).std(axis=0).min() > 1 for c in corners)


def twins(tmp_path: Path) -> tuple[Canvas, Canvas]:
    out = []
    for name in ("a", "b"):
        c = Canvas.create(tmp_path / f"{name}.zarr", tile=64)
        c.paste(noise_image(320, 256, seed=4), 0, 0, extend=True)
        out.append(c)
    return out[0], out[1]


@pytest.mark.parametrize("direction", ["right", "left", "up", "down"])
def test_grow_along_part_of_an_edge_is_fill_of_that_strip(tmp_path: Path, direction: str) -> None:
    a, b = twins(tmp_path)
    span = (64, 150)
    records = grow_region(a, [direction], MockGenerator(), SMALL, by=100, along=span)
    region, _keep = edge_region(b.bounds, [direction], 100, along=span)
    direct = fill(b, region, MockGenerator(), SMALL, direction=direction)
    assert (
        a.bounds
        == b.bounds
        == edge_region(Window(0, 0, 320, 256), [direction], 100, along=span)[0].union(Window(0, 0, 320, 256))
    )
    frame = Window(-200, -200, 720, 656)
    assert np.array_equal(a.read(frame), b.read(frame))
    assert records[0].seed == direct.seed
    assert records[0].result_sha256 == direct.result_sha256
    # only the strip was written
    outside = a.read(frame).copy()
    outside[region.translate(200, 200).slices()] = 0
    reference = Canvas.create(tmp_path / "r.zarr", tile=64)
    reference.paste(noise_image(320, 256, seed=4), 0, 0, extend=True)
    assert np.array_equal(outside, reference.read(frame))


def test_a_region_with_no_content_next_to_it_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    canvas = two_pastes(tmp_path / "c.zarr")
    files = tree(canvas.path)
    gen = PatternGenerator()
    with pytest.raises(NoContentNearError, match="no content within"):
        fill(canvas, Window(5000, 5000, 64, 64), gen, SMALL)
    assert gen.calls == []
    assert tree(canvas.path) == files


def test_the_estimate_is_the_plan_and_calls_nothing(tmp_path: Path) -> None:
    canvas = two_pastes(tmp_path / "c.zarr")
    gen = PatternGenerator(cost_usd=0.25)
    s = GrowSettings(tile=128, candidates=2, max_retries=1)
    est = Estimate.of([plan_fill_step(canvas, canvas.bounds, s)], gen, s)
    assert gen.calls == []
    assert est.calls == est.tiles * 2 * 2
    assert est.worst_case_usd == pytest.approx(est.calls * 0.25)
    assert est.bounds_after == canvas.bounds
    assert est.tiles == len(est.plans[0].tiles)
    fill(canvas, canvas.bounds, gen, s)
    assert len(gen.calls) == est.tiles * 2  # no QC hook: one attempt per tile, two candidates
    grown = Estimate.of(plan_grow_region(canvas, [Direction.RIGHT], s, by=100, steps=3), gen, s)
    assert grown.bounds_after == Window(0, 0, 64, 768 + 300)
    assert len(grown.regions) == 3
    with pytest.raises(InvalidGrowSettingsError, match="plans no step"):
        Estimate.of([], gen, s)
    with pytest.raises(InvalidGrowSettingsError, match="steps must be"):
        plan_grow_region(canvas, [Direction.RIGHT], s, steps=0)
    with pytest.raises(InvalidGrowSettingsError, match="--by must be"):
        plan_grow_region(canvas, [Direction.RIGHT], s, by=0)


def test_a_budget_below_the_worst_case_is_refused_before_the_first_call(tmp_path: Path) -> None:
    canvas = two_pastes(tmp_path / "c.zarr")
    files = tree(canvas.path)
    gen = PatternGenerator(cost_usd=1.0)
    with pytest.raises(BudgetExceededError):
        fill(canvas, canvas.bounds, gen, SMALL, budget_usd=0.5)
    assert gen.calls == []
    assert tree(canvas.path) == files


@pytest.mark.parametrize("when", [0, 2])
def test_a_cancelled_fill_writes_nothing_and_leaves_the_lock_free(tmp_path: Path, when: int) -> None:
    canvas = two_pastes(tmp_path / "c.zarr")
    files = tree(canvas.path)
    cancel = Cancel()
    seen = []

    def on_tile(outcome: object) -> None:
        seen.append(outcome)
        if len(seen) > when:
            cancel.set()

    with pytest.raises(StepCancelledError, match="nothing was written"):
        fill(canvas, canvas.bounds, MockGenerator(), SMALL, cancel=cancel, on_tile=on_tile)
    assert tree(canvas.path) == files
    assert not (canvas.path / "_generated").exists()
    canvas.paste(noise_image(8, 8), 0, 0)  # the lock is free
    with pytest.raises(StepCancelledError):
        grow(canvas, ["right"], MockGenerator(), cancel=cancel)  # the whole-edge growth obeys it too


def test_a_refused_commit_leaves_no_artifacts(tmp_path: Path) -> None:
    """Issue 17: a step whose commit was refused left its ``_generated/`` PNGs behind."""
    canvas = two_pastes(tmp_path / "c.zarr")
    other = Canvas.open(canvas.location)
    changed = []

    def meddle(_outcome: object) -> None:  # another writer commits while the step generates
        if not changed:
            other.paste(noise_image(8, 8, seed=9), 0, 0)
            changed.append(True)

    with pytest.raises(CanvasChangedError):
        fill(canvas, canvas.bounds, MockGenerator(), SMALL, on_tile=meddle)
    changed.clear()
    with pytest.raises(CanvasChangedError):
        grow_batch(canvas, ["right"], MockGenerator(), GrowSettings(), on_tile=meddle)
    assert not (canvas.path / "_generated").exists()
    fd = os.open(canvas.path / "_journal" / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another writer would
        with pytest.raises(CanvasLockedError):
            fill(canvas, canvas.bounds, MockGenerator(), SMALL)
        with pytest.raises(CanvasLockedError):
            grow_batch(canvas, ["right"], MockGenerator(), GrowSettings())
    finally:
        os.close(fd)
    assert {f for f in tree(canvas.path) if f.startswith("_generated")} == set()


@st.composite
def canvases_and_regions(draw):
    pastes = draw(
        st.lists(
            st.tuples(st.integers(-40, 80), st.integers(-40, 80), st.integers(1, 40), st.integers(1, 40)),
            min_size=1,
            max_size=3,
        )
    )
    r = (draw(st.integers(-80, 100)), draw(st.integers(-80, 100)), draw(st.integers(1, 90)), draw(st.integers(1, 90)))
    return [Window(*p) for p in pastes], Window(*r)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(canvases_and_regions())
def test_fill_keeps_every_pixel_that_held_content_and_fills_every_one_that_did_not(tmp_path_factory, case) -> None:
    pastes, region = case
    path = tmp_path_factory.mktemp("p") / "c.zarr"
    canvas = Canvas.create(path, tile=16)
    for n, w in enumerate(pastes):
        canvas.paste(noise_image(w.height, w.width, seed=n), w.row_off, w.col_off, extend=True)
    frame = Window(-200, -200, 500, 500)
    held = content_mask(canvas, frame, pastes)
    before = canvas.read(frame)
    head = canvas.head
    try:
        record = fill(canvas, region, MockGenerator(), GrowSettings(tile=32, save_artifacts=False))
    except NoContentNearError:
        near = Window(region.row_off - 16, region.col_off - 16, region.height + 32, region.width + 32)
        assert not content_mask(canvas, near, pastes).any()
        assert canvas.head == head
        return
    except GeometryError as exc:  # everything in the region already held content
        if "already holds content" not in str(exc):
            raise
        assert content_mask(canvas, region, pastes).all()
        return
    after = canvas.read(frame)
    in_region = np.zeros(frame.shape, bool)
    in_region[region.translate(200, 200).slices()] = True
    assert np.array_equal(after[held], before[held])  # content kept byte for byte
    assert np.array_equal(after[~in_region], before[~in_region])  # nothing outside the region written
    # the whole region holds content now: inside the bounds, and in tiles the manifest lists as written
    assert canvas.bounds.contains(region)
    written = np.zeros(frame.shape, bool)
    for w in canvas.written_tile_windows(region):
        written[w.translate(200, 200).slices()] = True
    assert written[in_region].all()
    assert canvas.head == head + 1
    assert record.strip_window == region


@pytest.mark.parametrize("direction", ["left", "up", "down"])
def test_growing_part_of_an_edge_is_the_mirror_or_transpose_of_growing_right(tmp_path: Path, direction: str) -> None:
    """The design's guard against direction-only bugs, for ``grow_region`` (sugar over ``fill``)."""
    image = noise_image(192, 192, seed=8)  # whole storage tiles, so the written tiles mirror too
    right = Canvas.create(tmp_path / "r.zarr", tile=64)
    right.paste(image, 0, 0, extend=True)
    other = Canvas.create(tmp_path / "o.zarr", tile=64)
    other.paste(np.ascontiguousarray(from_right(image, Direction.parse(direction))), 0, 0, extend=True)
    s = GrowSettings(tile=128, seed=3, save_artifacts=False)
    grow_region(right, ["right"], PatternGenerator(), s, by=50, along=(30, 140))
    # the right-facing view keeps the along-edge coordinate, so the stretch is the same in both
    grow_region(other, [direction], PatternGenerator(), s, by=50, along=(30, 140))
    assert right.bounds.shape == to_right(np.zeros((*other.bounds.shape, 1)), Direction.parse(direction)).shape[:2]
    assert np.array_equal(to_right(other.read(other.bounds), Direction.parse(direction)), right.read(right.bounds))
