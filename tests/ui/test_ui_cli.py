"""``imkerutils ui`` and ``python -m imkerutils.exquisite.ui`` as a user runs them (subprocesses on loopback)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

import httpx
import numpy as np
import pytest
from PIL import Image

from imkerutils.tiling.canvas import Canvas

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path


def start(args: Sequence[str | Path]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, err


def error_lines(argv: Sequence[str | Path], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run ``python -m imkerutils.exquisite.ui`` in this process; it must fail with exit code 2."""
    from imkerutils.cli.ui import main

    assert main([str(a) for a in argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    return err.strip().splitlines()


def one_error_line(argv: Sequence[str | Path], capsys: pytest.CaptureFixture[str]) -> str:
    (line,) = error_lines(argv, capsys)
    assert line.startswith("python -m imkerutils.exquisite.ui: error: ")
    return line


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 300, 3), np.uint8)).save(path)
    return path


def test_module_serves_an_image_file(image: Path) -> None:
    proc = start(["-m", "imkerutils.exquisite.ui", image, "--port", "0"])
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("Exquisite UI for "), line
        assert "http://127.0.0.1:" in line, line
        url = line.split()[-4]
        state = httpx.get(url + "api/state", trust_env=False, timeout=60).json()
        page = httpx.get(url, trust_env=False, timeout=60)
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert "created canvas" in err
    assert state["canvas"]["name"] == "photo.zarr"
    assert (state["canvas"]["width"], state["canvas"]["height"]) == (
        300,
        200,
    )
    assert page.status_code == 200
    assert "Exquisite" in page.text
    assert Canvas.open(image.with_suffix(".zarr")).head == 1


def test_imkerutils_ui_serves_an_existing_canvas(sample_canvas: Path) -> None:
    proc = start(["-m", "imkerutils.cli.main", "ui", sample_canvas, "--port", "0", "--budget-usd", "2.5"])
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = line.split()[-4]
        state = httpx.get(url + "api/state", trust_env=False, timeout=60).json()
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert state["canvas"]["name"] == "landscape.zarr"
    assert state["cost"]["budget"] == "$2.50"


def test_other_hosts_need_an_explicit_flag(image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_error_line([image, "--host", "0.0.0.0", "--port", "0"], capsys)
    assert "refusing to listen on 0.0.0.0" in line
    assert "--allow-remote" in line
    assert not image.with_suffix(".zarr").exists()


def test_bad_arguments_are_one_line(image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "missing.png" in one_error_line([tmp_path / "missing.png", "--port", "0"], capsys)
    assert "budget" in one_error_line([image, "--budget-usd", "-1"], capsys)
    assert "--port" in one_error_line([image, "--port", "70000"], capsys)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_error_line([image, "--port", str(port)], capsys)
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert not image.with_suffix(".zarr").exists()


def test_remote_host_prints_a_warning(image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --allow-remote another address is tried, after a warning (192.0.2.1 is a documentation address)."""
    warning, error = error_lines([image, "--host", "192.0.2.1", "--allow-remote", "--port", "0"], capsys)
    assert warning.startswith("warning: listening on 192.0.2.1")
    assert "secret token" in warning
    assert "cannot listen on 192.0.2.1:0" in error
    assert not image.with_suffix(".zarr").exists()
