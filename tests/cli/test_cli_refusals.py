"""Refused means unchanged, in one line: grow's step count and generator options, outputs inside a canvas,
and an API key echoed by the endpoint (never printed)."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

import numpy as np
import pytest
from cli_helpers import clean_error, imkerutils_cmd, run, run_all
from openai_fake_server import TEST_KEY, FakeOpenAI, Reply
from PIL import Image

from imkerutils.tiling import Canvas

if TYPE_CHECKING:
    from pathlib import Path


def noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def snapshot(root: Path) -> dict[Path, tuple[int, int]]:
    return {p.relative_to(root): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def canvas(tmp_path):
    Image.fromarray(noise(40, 50)).save(tmp_path / "img.png")
    Canvas.from_image(tmp_path / "img.png", tmp_path / "C", tile=16)
    return tmp_path / "C"


def test_grow_steps_below_one_are_usage_errors(tmp_path, canvas):
    before = snapshot(canvas)
    procs = run_all(
        [imkerutils_cmd("grow", canvas, "-d", "right", "-g", "mock", "--steps", n) for n in (0, -1)]
        + [imkerutils_cmd("grow", tmp_path / "img.png", "-d", "right", "-g", "mock", "--steps", 0)]
    )
    for proc, n in zip(procs, (0, -1, 0), strict=True):
        assert proc.returncode == 2, proc
        assert "Traceback" not in proc.stderr, proc
        assert proc.stderr.splitlines()[-1] == f"imkerutils grow: error: argument --steps: must be at least 1, got {n}"
        assert proc.stdout == ""
    assert snapshot(canvas) == before
    assert not (tmp_path / "img.zarr").exists()


def test_generator_options_it_does_not_take_are_one_line(tmp_path, canvas):
    before = snapshot(canvas)
    model, quality, image = run_all(
        [
            imkerutils_cmd("grow", canvas, "-d", "right", "-g", "mock", "--model", "x"),
            imkerutils_cmd("grow", canvas, "-d", "right", "-g", "local", "--quality", "high", "--model", "x"),
            imkerutils_cmd("grow", tmp_path / "img.png", "-d", "right", "-g", "mock", "--model", "x"),
        ]
    )
    assert "the mock generator takes no --model" in clean_error(model, "imkerutils")
    assert "the local generator takes no --model and --quality" in clean_error(quality, "imkerutils")
    clean_error(image, "imkerutils", "--model")
    assert snapshot(canvas) == before
    assert not (tmp_path / "img.zarr").exists()


@pytest.mark.parametrize("out", ["x.png", "0/x.ome.zarr", "_journal/steps/a.tif", "0/c/0/x.png"])
def test_export_refuses_outputs_inside_the_canvas(canvas, out):
    before = snapshot(canvas)
    clean_error(run(imkerutils_cmd("export", canvas, canvas / out)), "imkerutils", "canvas")
    assert snapshot(canvas) == before
    assert Canvas.open(canvas, read_only=True).verify().ok


def test_export_refuses_an_output_holding_the_canvas(tmp_path):
    Image.fromarray(noise(20, 20)).save(tmp_path / "img.png")
    Canvas.from_image(tmp_path / "img.png", tmp_path / "holder.ome.zarr" / "C", tile=16)
    before = snapshot(tmp_path / "holder.ome.zarr")
    proc = run(
        imkerutils_cmd("export", tmp_path / "holder.ome.zarr" / "C", tmp_path / "holder.ome.zarr", "--overwrite")
    )
    clean_error(proc, "imkerutils", "holds")
    assert snapshot(tmp_path / "holder.ome.zarr") == before


def test_export_and_extract_refuse_outputs_inside_another_canvas(tmp_path, canvas):
    Canvas.create(tmp_path / "other.zarr", height=8, width=8)
    before = snapshot(tmp_path / "other.zarr")
    export, extract = run_all(
        [
            imkerutils_cmd("export", canvas, tmp_path / "other.zarr" / "x.png"),
            imkerutils_cmd("extract", canvas, tmp_path / "other.zarr" / "0" / "x.png", "--x", 0, "--y", 0),
        ]
    )
    clean_error(export, "imkerutils", "other.zarr")
    clean_error(extract, "imkerutils", "other.zarr")
    assert snapshot(tmp_path / "other.zarr") == before


def test_an_api_key_echoed_by_the_endpoint_is_never_printed(tmp_path, canvas):
    fake = FakeOpenAI()
    fake.start()
    try:
        echo = {
            "error": {
                "message": f"Invalid value for 'user': {TEST_KEY} looks like an API key, not a user id",
                "type": "invalid_request_error",
                "code": "invalid_value",
            }
        }
        fake.push(*[Reply(status=400, json=echo)] * 8)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_") and "proxy" not in k.lower()}
        env.update(OPENAI_API_KEY=TEST_KEY, OPENAI_BASE_URL=fake.base_url, NO_PROXY="127.0.0.1,localhost")
        proc = subprocess.run(
            imkerutils_cmd("grow", canvas, "-d", "right", "-g", "openai", "--no-artifacts", "-q"),
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
    finally:
        fake.stop()
    assert TEST_KEY not in proc.stdout + proc.stderr
    line = clean_error(proc, "imkerutils")
    assert "[redacted] looks like an API key" in line
    assert Canvas.open(canvas).head == 1


def test_an_unexpected_error_is_one_line_without_the_key(tmp_path, monkeypatch, capsys):
    """A bug (or an error no layer maps yet) quoting the key: one line, exit 1; -v adds the traceback, redacted."""
    from imkerutils.cli import info
    from imkerutils.cli.main import main

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"server said: bad key {TEST_KEY}\nsecond line")

    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setattr(info.Canvas, "open", broken)
    assert main(["info", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "imkerutils: error: unexpected RuntimeError: server said: bad key [redacted] second "
        "line (this is a bug; -v shows the traceback)\n"
    )
    assert main(["info", str(tmp_path), "-v"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "[redacted]" in err
    assert TEST_KEY not in err
