"""``imkerutils grow``, ``history``, ``undo`` and ``redo`` as a user runs them (subprocesses)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from imkerutils.cli.main import main
from imkerutils.exquisite.pipeline import step_records
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from pathlib import Path


def imker(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imkerutils.cli.main", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def pixels_sha(canvas: Canvas) -> str:
    b = canvas.bounds
    return hashlib.sha256(
        canvas.read(Window(b.row_off - 512, b.col_off - 512, b.height + 1024, b.width + 1024)).tobytes()
    ).hexdigest()


def step_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if "seam excess" in line]


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_grow_a_canvas_two_steps(tmp_path: Path) -> None:
    path = tmp_path / "c.zarr"
    canvas = Canvas.create(path)
    canvas.paste(image(300, 400), 0, 0, extend=True)
    result = imker("grow", path, "-d", "right", "-g", "mock", "--steps", "2", "--prompt", "x")
    assert result.returncode == 0, result.stderr
    lines = step_lines(result)
    assert len(lines) == 2
    assert all("cost" in line for line in lines)
    assert "912x300" in lines[0]
    assert "1424x300" in lines[1]
    grown = Canvas.open(path)
    assert grown.bounds == Window(0, 0, 300, 400 + 1024)
    records = step_records(grown)
    assert [(r.generator_name, r.user_prompt, r.direction.value) for r in records] == [("mock", "x", "right")] * 2
    np.testing.assert_array_equal(grown.read(Window(0, 0, 300, 400)), image(300, 400))
    assert grown.verify().ok


def test_grow_an_image_file_then_continue_list_undo_and_redo(tmp_path: Path) -> None:
    png = tmp_path / "photo.png"
    Image.fromarray(image(300, 400, seed=1)).save(png)
    beside = tmp_path / "photo.zarr"

    first = imker("grow", png, "-d", "down", "-g", "mock", "--prompt", "more sky")
    assert first.returncode == 0, first.stderr
    assert "created canvas" in first.stderr
    assert len(step_lines(first)) == 1
    canvas = Canvas.open(beside)
    assert canvas.bounds == Window(0, 0, 812, 400)
    np.testing.assert_array_equal(canvas.read(Window(0, 0, 300, 400)), image(300, 400, seed=1))
    after_first = pixels_sha(canvas)

    second = imker("grow", png, "-d", "down", "-g", "mock")
    assert second.returncode == 0, second.stderr
    assert "continuing" in second.stderr
    assert len(step_lines(second)) == 1
    canvas = Canvas.open(beside)
    assert canvas.bounds == Window(0, 0, 1324, 400)
    assert len(step_records(canvas)) == 2
    after_second = pixels_sha(canvas)

    history = imker("history", beside)
    assert history.returncode == 0, history.stderr
    grows = [line for line in history.stdout.splitlines() if "grow-down" in line]
    assert len(grows) == 2
    assert all("mock" in line for line in grows)
    assert "'more sky'" in grows[0]
    assert "''" in grows[1]

    for action, height, sha, steps in (("undo", 812, after_first, 1), ("redo", 1324, after_second, 2)):
        done = imker(action, beside)
        assert done.returncode == 0
        assert "grow-down" in done.stdout
        canvas = Canvas.open(beside)
        assert canvas.bounds == Window(0, 0, height, 400)
        assert pixels_sha(canvas) == sha
        assert len(step_records(canvas)) == steps
    assert canvas.verify().ok


@pytest.fixture
def canvas_path(tmp_path: Path) -> Path:
    canvas = Canvas.create(tmp_path / "c.zarr")
    canvas.paste(image(200, 200), 0, 0, extend=True)
    return canvas.path


# The error cases run ``main`` in this process (a subprocess each would only add start-up time):
# an exception escaping ``main`` is exactly what would print a traceback.
def run_main(capsys: pytest.CaptureFixture[str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def test_an_unknown_generator_is_one_line_and_creates_nothing(tmp_path: Path, capsys) -> None:
    png = tmp_path / "photo.png"
    Image.fromarray(image(50, 60)).save(png)
    line = one_error_line(run_main(capsys, "grow", png, "-d", "right", "-g", "no-such-generator"))
    assert "no-such-generator" in line
    assert not (tmp_path / "photo.zarr").exists()


def test_an_unknown_direction_is_a_usage_error(canvas_path: Path, capsys) -> None:
    result = run_main(capsys, "grow", canvas_path, "-d", "sideways", "-g", "mock")
    assert result.returncode == 2
    assert "invalid choice: 'sideways'" in result.stderr
    assert Canvas.open(canvas_path).head == 1


def test_a_missing_canvas_is_one_line(tmp_path: Path, capsys) -> None:
    line = one_error_line(run_main(capsys, "grow", tmp_path / "nowhere.zarr", "-d", "right", "-g", "mock"))
    assert "nowhere" in line
    assert not (tmp_path / "nowhere.zarr").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("--seam", "bogus"), "unknown seam strategy 'bogus'"),
        (("--candidates", "0"), "candidates must be an integer >= 1"),
    ],
    ids=["seam", "candidates"],
)
def test_a_bad_setting_is_one_line_and_leaves_the_canvas_alone(
    canvas_path: Path, capsys, option: tuple[str, str], message: str
) -> None:
    before = pixels_sha(Canvas.open(canvas_path))
    line = one_error_line(run_main(capsys, "grow", canvas_path, "-d", "right", "-g", "mock", *option))
    assert message in line
    canvas = Canvas.open(canvas_path)
    assert canvas.head == 1
    assert pixels_sha(canvas) == before
