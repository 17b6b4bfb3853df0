"""Habits every command shares: -q/-v, --json with width-first sizes, logging, python -m, completion.

Also the library habits that go with them: ``Window.from_xywh`` and ``Canvas`` as a context manager.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from cli_helpers import imkerutils_cmd, ok, run, run_all
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from imkerutils.cli.main import build_parser, main
from imkerutils.tiling import Canvas, Window

NOT_REPORTING = {"ui", "completion"}  # a server, and a script generator: nothing to report as JSON


def noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def call(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def as_json(capsys: pytest.CaptureFixture[str], *args: object) -> dict:
    code, out, err = call(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def width_first(size: dict) -> bool:
    return list(size) == ["width", "height"]


def region_keys(region: dict) -> bool:
    return list(region) == ["x", "y", "width", "height"]


# -- options ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_command_takes_quiet_and_verbose_and_json_when_it_reports(name):
    opts = options(subcommands()[name])
    assert {"-q", "--quiet", "-v", "--verbose"} <= opts
    assert ("--json" in opts) == (name not in NOT_REPORTING)


@pytest.mark.parametrize("name", ["accept", "export", "fill", "staged"])
def test_a_command_description_is_its_module_docstring_after_the_synopsis(name):
    synopsis, _, body = importlib.import_module(f"imkerutils.cli.{name}").__doc__.partition("\n\n")
    parser = subcommands()[name]
    assert parser.description == body.strip()
    assert " ".join(body.split()) in " ".join(parser.format_help().split())
    assert synopsis not in parser.format_help()


def test_the_seed_scripts_take_them_too(tmp_path):
    procs = run_all(
        [
            [sys.executable, "-c", f"from imkerutils.cli.tile_scripts import {f}; {f}(['--help'])"]
            for f in ("extract_tile_main", "paste_tile_main")
        ]
    )
    for proc in procs:
        assert proc.returncode == 0, proc
        assert all(o in proc.stdout for o in ("--json", "-q", "-v")), proc


# -- --json and the size order ---------------------------------------------------------------------------
def test_every_reporting_command_prints_json_with_width_first_sizes(tmp_path, capsys):
    Image.fromarray(noise(40, 50)).save(tmp_path / "img.png")
    Image.fromarray(noise(30, 20, seed=1)).save(tmp_path / "tile.png")
    c = tmp_path / "c.zarr"

    new = as_json(capsys, "new", c, "--from", tmp_path / "img.png")
    assert new["size"] == {"width": 50, "height": 40}
    assert width_first(new["size"])
    assert region_keys(new["bounds"])

    info = as_json(capsys, "info", c)
    assert info["size"] == {"width": 50, "height": 40}
    assert width_first(info["size"])
    assert info["bounds"] == {"x": 0, "y": 0, "width": 50, "height": 40}
    assert region_keys(info["bounds"])
    code, text, _ = call(capsys, "info", c)
    assert code == 0
    assert "size       50 x 40 px" in text
    assert "bounds     x 0..50, y 0..40" in text

    paste = as_json(capsys, "paste", c, tmp_path / "tile.png", "--x", -10, "--y", 30, "--extend")
    assert paste["step"] == 2
    assert paste["region"] == {"x": -10, "y": 30, "width": 20, "height": 30}
    assert paste["bounds"] == {"x": -10, "y": 0, "width": 60, "height": 60}

    extract = as_json(capsys, "extract", c, tmp_path / "e.png", "--x", -10, "--y", 30, "--width", 20, "--height", 30)
    assert extract["region"] == {"x": -10, "y": 30, "width": 20, "height": 30}
    with Image.open(extract["output"]) as im:
        np.testing.assert_array_equal(np.asarray(im), noise(30, 20, seed=1))

    export = as_json(capsys, "export", c, tmp_path / "x.png", "--region", 0, 0, 50, 40)
    assert export["format"] == "PNG"
    assert export["bytes"] == (tmp_path / "x.png").stat().st_size
    assert export["region"] == {"x": 0, "y": 0, "width": 50, "height": 40}
    assert export["level"] == 0

    history = as_json(capsys, "history", c)
    assert [s["number"] for s in history] == [1, 2]
    assert region_keys(history[1]["bounds_after"])

    undo = as_json(capsys, "undo", c)
    assert (undo["action"], undo["step"], undo["head"], undo["redoable"]) == ("undo", 2, 1, 1)
    assert undo["bounds"] == {"x": 0, "y": 0, "width": 50, "height": 40}
    redo = as_json(capsys, "redo", c)
    assert (redo["action"], redo["step"], redo["head"]) == ("redo", 2, 2)

    verify = as_json(capsys, "verify", c)
    assert verify["ok"] is True
    assert verify["problems"] == []
    assert verify["tiles_checked"] >= 1

    grow = as_json(capsys, "grow", c, "-d", "right", "-g", "mock")
    assert grow["head"] == 3
    assert grow["size"] == {"width": 60 + 512, "height": 60}
    assert width_first(grow["size"])
    (step,) = grow["steps"]
    assert step["step"] == 3
    assert step["directions"] == ["right"]
    assert width_first(step["size"])

    sample = as_json(capsys, "sample", tmp_path / "s.jpg")
    assert sample == {"output": str(tmp_path / "s.jpg")}
    assert (tmp_path / "s.jpg").is_file()


def test_verify_json_reports_problems_with_exit_1(tmp_path, capsys):
    c = Canvas.create(tmp_path / "c.zarr", tile=16)
    c.paste(noise(16, 16), 0, 0, extend=True)
    manifest = [p for p in (tmp_path / "c.zarr" / "_manifest").rglob("*") if p.is_file()]
    manifest[0].write_bytes(b"0" * 64)
    code, out, err = call(capsys, "verify", tmp_path / "c.zarr", "--json")
    report = json.loads(out)
    assert code == 1
    assert report["ok"] is False
    assert len(report["problems"]) == 1
    assert err == ""


# -- logging ---------------------------------------------------------------------------------------------
def test_messages_go_through_logging_and_obey_quiet_and_verbose(tmp_path, capsys, caplog):
    Image.fromarray(noise(40, 50)).save(tmp_path / "a.png")
    Image.fromarray(noise(40, 50)).save(tmp_path / "b.png")
    with caplog.at_level(logging.INFO, logger="imkerutils"):
        code, out, err = call(capsys, "grow", tmp_path / "a.png", "-d", "right", "-g", "mock")
    assert code == 0
    assert f"created canvas {tmp_path / 'a.zarr'}" in err
    assert any(
        r.name == "imkerutils.cli.grow" and r.levelno == logging.INFO and "created canvas" in r.getMessage()
        for r in caplog.records
    )

    code, out, err = call(capsys, "grow", tmp_path / "b.png", "-d", "right", "-g", "mock", "-q")
    assert code == 0
    assert err == ""
    assert "canvas" in out

    code, _, err = call(capsys, "info", tmp_path / "a.zarr", "-v")
    assert code == 0
    assert err.startswith("debug: imkerutils with ")
    code, _, err = call(capsys, "info", tmp_path / "a.zarr")
    assert code == 0
    assert err == ""
    # an in-process command leaves the logging set-up as it found it
    logging.getLogger("imkerutils.ui").warning("after the command")
    assert capsys.readouterr().err == ""


def test_quiet_and_verbose_exclude_each_other(capsys):
    code, _, err = call(capsys, "info", "x", "-q", "-v")
    assert code == 2
    assert "not allowed with argument" in err


# -- python -m imkerutils, completion --------------------------------------------------------------------
def test_python_dash_m_imkerutils_is_the_command(tmp_path):
    Canvas.create(tmp_path / "c.zarr", height=4, width=6)
    version, info = run_all(
        [
            [sys.executable, "-m", "imkerutils", "--version"],
            [sys.executable, "-m", "imkerutils", "info", tmp_path / "c.zarr", "--json"],
        ]
    )
    assert ok(version).stdout.startswith("imkerutils ")
    assert json.loads(ok(info).stdout)["size"] == {"width": 6, "height": 4}
    usage = run([sys.executable, "-m", "imkerutils"])
    assert usage.returncode == 2
    assert usage.stderr.startswith("usage: imkerutils ")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_script_is_valid_and_completes_subcommands(tmp_path):
    bash, zsh = run_all([imkerutils_cmd("completion", "bash"), imkerutils_cmd("completion", "zsh")])
    script = ok(bash).stdout
    (tmp_path / "c.bash").write_text(script)
    assert subprocess.run(["bash", "-n", str(tmp_path / "c.bash")], capture_output=True).returncode == 0
    probe = (
        f"source {tmp_path / 'c.bash'}; COMP_WORDS=(imkerutils ex); COMP_CWORD=1; "
        "COMP_LINE='imkerutils ex'; COMP_POINT=${#COMP_LINE}; _shtab_imkerutils; "
        "printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    words = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=60).stdout.split()
    assert set(words) == {"export", "extract"}
    assert ok(zsh).stdout.startswith("#compdef imkerutils")


# -- library habits --------------------------------------------------------------------------------------
@given(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6), st.integers(0, 10**6), st.integers(0, 10**6))
def test_window_from_xywh_names_every_field(x, y, width, height):
    w = Window.from_xywh(x=x, y=y, width=width, height=height)
    assert (w.col_off, w.row_off, w.width, w.height) == (x, y, width, height)
    assert w == Window(y, x, height, width)


def test_window_from_xywh_is_keyword_only_and_the_order_is_documented():
    with pytest.raises(TypeError):
        Window.from_xywh(1, 2, 3, 4)  # type: ignore[misc]
    assert "rasterio" in (Window.__doc__ or "")
    assert "from_xywh" in (Window.__doc__ or "")


def test_canvas_is_a_context_manager_that_leaves_no_lock(tmp_path):
    Canvas.create(tmp_path / "c.zarr", tile=16)
    with Canvas.open(tmp_path / "c.zarr") as c:
        assert isinstance(c, Canvas)
        c.paste(noise(16, 16), 0, 0, extend=True)
    fd = os.open(tmp_path / "c.zarr" / "_journal" / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nothing of the canvas holds it any more
    finally:
        os.close(fd)
    with pytest.raises(ZeroDivisionError), Canvas.open(tmp_path / "c.zarr", read_only=True) as r:
        1 / 0  # noqa: B018  (exceptions pass through)
    assert not r._store._is_open  # the store was closed on the way out
    again = Canvas.open(tmp_path / "c.zarr")
    assert again.head == 1
    np.testing.assert_array_equal(again.read(Window(0, 0, 16, 16)), noise(16, 16))
