"""``imkerutils fill``, ``grow --along/--by/--dry-run/--stage``, ``staged``, ``accept``, ``discard``, as run."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from imkerutils.cli.main import main
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.geometry.fill import edge_region
from imkerutils.exquisite.pipeline import GrowSettings, fill, step_records
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.imageio import read_image
from imkerutils.tiling.window import Window

sys.path.insert(0, str(Path(__file__).parents[1] / "exquisite" / "api"))
from openai_fake_server import TEST_KEY, FakeOpenAI

MOCK = ["-g", "mock", "--tile", "128"]


def noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def make(path: Path, tile: int = 64) -> Canvas:
    c = Canvas.create(path, tile=tile)
    c.paste(noise(150, 200, seed=7), 0, 0, extend=True)
    return c


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("imkerutils: error: "), err
    assert "Traceback" not in err[0], err
    return err[0]


def test_fill_a_hole_between_two_pastes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = Canvas.create(tmp_path / "c.zarr", tile=64)
    a, b = noise(64, 64, 1), noise(64, 64, 2)
    c.paste(a, 0, 0, extend=True)
    c.paste(b, 0, 900, extend=True)
    assert main(["fill", str(c.location), "--region", "0", "0", "964", "64", *MOCK]) == 0
    assert "step 3 fill:" in capsys.readouterr().out
    c.refresh()
    px = c.read(Window(0, 0, 64, 964))
    assert np.array_equal(px[:, :64], a)
    assert np.array_equal(px[:, 900:], b)
    assert px[:, 64:900].reshape(-1, 3).std(axis=0).min() > 1
    assert [s.kind for s in c.history()][-1] == "fill"
    c.undo()
    assert main(["fill", str(c.location), "--region", "0", "0", "964", "64", *MOCK, "--json", "-q"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["kind"] == "fill"
    assert done["region"] == {"x": 0, "y": 0, "width": 964, "height": 64}


@pytest.mark.parametrize("direction", ["right", "left", "up", "down"])
def test_grow_along_part_of_each_edge_is_the_fill_of_that_strip(tmp_path: Path, direction: str) -> None:
    a, b = make(tmp_path / "a.zarr"), make(tmp_path / "b.zarr")
    assert main(["grow", str(a.location), "-d", direction, "--along", "20", "90", "--by", "70", *MOCK]) == 0
    region, _ = edge_region(b.bounds, [direction], 70, along=(20, 90))
    fill(b, region, MockGenerator(), GrowSettings(tile=128), direction=direction)
    a.refresh()
    assert a.bounds == b.bounds == region.union(Window(0, 0, 150, 200))
    frame = Window(-100, -100, 350, 400)
    assert np.array_equal(a.read(frame), b.read(frame))
    assert step_records(a)[-1].result_sha256 == step_records(b)[-1].result_sha256


def test_grow_by_rejects_depths_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = make(tmp_path / "c.zarr")
    files = tree(c.path)
    for by in ("0", "100000"):
        assert main(["grow", str(c.location), "-d", "right", "--by", by, *MOCK]) == 2
        assert "--by must be between 1 and 8192" in one_error_line(capsys)
    assert main(["fill", str(c.location), "--region", "5000", "5000", "10", "10", *MOCK]) == 2
    assert "no content within" in one_error_line(capsys)
    assert tree(c.path) == files


def run_cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imkerutils.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def openai_env(fake: FakeOpenAI) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OPENAI_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update(OPENAI_API_KEY=TEST_KEY, OPENAI_BASE_URL=fake.base_url, NO_PROXY="127.0.0.1,localhost")
    return env


def test_dry_run_prints_the_plan_calls_nothing_and_changes_nothing(tmp_path: Path) -> None:
    c = make(tmp_path / "c.zarr", tile=1024)
    files = tree(c.path)
    fake = FakeOpenAI()
    fake.start()
    try:
        env = openai_env(fake)
        fill_run = run_cli(
            "fill",
            c.location,
            "--region",
            "-512",
            "0",
            "1224",
            "150",
            "-g",
            "openai",
            "--dry-run",
            "--budget-usd",
            "0.01",
            env=env,
        )
        grow_run = run_cli(
            "grow", c.location, "-d", "right", "-d", "down", "--steps", "2", "-g", "openai", "--dry-run", env=env
        )
        along_run = run_cli(
            "grow",
            c.location,
            "-d",
            "up",
            "--along",
            "0",
            "100",
            "--by",
            "700",
            "-g",
            "openai",
            "--model",
            "gpt-image-1",
            "--dry-run",
            env=env,
        )
        assert len(fake.requests) == 0
        assert tree(c.path) == files
        for r in (fill_run, grow_run, along_run):
            assert r.returncode == 0, r.stderr
            assert "dry run: nothing generated, nothing written" in r.stdout
        assert "tiles: 2" in fill_run.stdout  # one tile on each side, each one ring deep
        assert "generator calls (worst case): 6 = 2 tile(s) x 1 candidate(s) x 3 attempt(s)" in fill_run.stdout
        assert "new bounds: x -512 y 0 1224x150" in fill_run.stdout
        assert "worst-case cost: $" in fill_run.stdout
        assert "(generator openai, model " in fill_run.stdout
        assert "would be refused" in fill_run.stdout
        assert "steps: 2" in grow_run.stdout
        assert "new bounds: x 0 y 0 1224x1174" in grow_run.stdout
        assert "new bounds: x 0 y -700 200x850" in along_run.stdout
        assert "tiles: 2" in along_run.stdout
        assert "model gpt-image-1)" in along_run.stdout
        # the same command without --dry-run reaches the server: the count above could have seen calls
        real = run_cli(
            "fill", c.location, "--region", "200", "0", "100", "150", "-g", "openai", "--no-artifacts", env=env
        )
        assert real.returncode == 0, real.stderr
        assert len(fake.requests) == 1
    finally:
        fake.stop()


def test_stage_staged_preview_accept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c, twin = make(tmp_path / "a.zarr"), make(tmp_path / "b.zarr")
    files = tree(c.path)
    loc = str(c.location)
    assert (
        main(["fill", loc, "--region", "200", "0", "100", "150", *MOCK, "--seed", "3", "--stage", "--candidates", "3"])
        == 0
    )
    assert "staged proposal" in capsys.readouterr().out
    assert {k: v for k, v in tree(c.path).items() if not k.startswith("_staged")} == files
    assert main(["staged", loc, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert [x["seed"] for x in listed["candidates"]] == [3, 4, 5]
    assert listed["canvas_state"] == c.state_token
    assert listed["region"] == {"x": 200, "y": 0, "width": 100, "height": 150}
    assert all("seam_excess" in x["seam_scores"] and x["cost_usd"] == 0.0 for x in listed["candidates"])
    assert main(["staged", loc]) == 0
    assert f"{listed['id']}: region x 200 y 0 100x150" in capsys.readouterr().out
    out = tmp_path / "sheet.png"
    assert main(["staged", loc, listed["id"], "--preview", str(out)]) == 0
    sheet = read_image(out)
    assert sheet.shape[0] > 100
    assert sheet.shape[1] > 3 * sheet.shape[0] * 0.8
    capsys.readouterr()
    assert main(["accept", loc, listed["id"], "--candidate", "2", "--json"]) == 0
    accepted = json.loads(capsys.readouterr().out)  # --json is one JSON document, sizes width first
    assert accepted["candidate"] == 2
    assert accepted["size"] == {"width": 300, "height": 150}
    c.refresh()
    assert c.head == 2
    assert not (c.path / "_staged" / listed["id"]).exists()
    assert main(["fill", str(twin.location), "--region", "200", "0", "100", "150", *MOCK, "--seed", "5"]) == 0
    twin.refresh()  # a Canvas object shows the state of its last open or refresh
    frame = Window(-64, -64, 300, 400)
    assert np.array_equal(c.read(frame), twin.read(frame))
    assert main(["staged", loc]) == 0
    assert "no staged proposals" in capsys.readouterr().out


def test_accept_after_a_conflicting_change_is_exit_2_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = make(tmp_path / "a.zarr")
    loc = str(c.location)
    assert main(["grow", loc, "-d", "right", "--by", "80", *MOCK, "--stage", "--candidates", "2"]) == 0
    (listed,) = json.loads((capsys.readouterr(), main(["staged", loc, "--json"]), capsys.readouterr().out)[2])
    c.paste(noise(10, 10, 9), 50, 190)  # in the band the proposal was conditioned on
    files = tree(c.path)
    assert main(["accept", loc, listed["id"]]) == 2
    assert "changed since proposal" in one_error_line(capsys)
    assert tree(c.path) == files
    assert main(["discard", loc, listed["id"]]) == 0
    assert not (c.path / "_staged" / listed["id"]).exists()
    assert main(["accept", loc, listed["id"]]) == 2
    assert "no staged proposal" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("signum", "delay", "code"), [(signal.SIGINT, 0.2, 130), (signal.SIGINT, 1.7, 130), (signal.SIGTERM, 0.9, 143)]
)
def test_a_signal_during_a_multi_tile_fill_writes_nothing(tmp_path: Path, signum: int, delay: float, code: int) -> None:
    c = make(tmp_path / "c.zarr", tile=1024)
    c.paste(noise(1024, 1024, 3), 0, 0, extend=True)
    files = tree(c.path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "imkerutils.cli.main",
            "fill",
            str(c.location),
            "--region",
            "0",
            "0",
            "1500",
            "1024",
            "-g",
            "local",
            "--tile",
            "256",
            "--workers",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "Ctrl-C stops with nothing written" in line, line  # the handlers are in place, tiles are running
    time.sleep(delay)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, (out, err)
    lines = err.strip().splitlines()
    assert lines == [f"imkerutils: cancelled by {signal.Signals(signum).name}: nothing was written"], err
    assert tree(c.path) == files  # nothing committed, no _generated/ leftovers, no journal entry
    c.refresh().paste(noise(8, 8), 0, 0)  # the lock was released
