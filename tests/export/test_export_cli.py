"""``imkerutils export``: argument order (X Y W H), messages, exit codes."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import tifffile

from imkerutils.cli import export as export_cli
from imkerutils.cli._common import EXIT_BAD_INPUT, run_guarded
from imkerutils.tiling import Window


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="imkerutils")
    export_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", *argv])
    return run_guarded("imkerutils", args.func, args)


def test_region_is_x_y_width_height(make_canvas, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    canvas, _ = make_canvas()
    out = out_dir / "r.tif"
    assert run([str(canvas.path), str(out), "--region", "-150", "-100", "430", "350", "--compression", "zstd"]) == 0
    np.testing.assert_array_equal(tifffile.imread(out), canvas.read(Window(-100, -150, 350, 430)))
    line = capsys.readouterr().out
    assert f"wrote {out} (TIFF" in line and "x=-150, y=-100, 430x350 px, level 0" in line


def test_whole_bounds_pyramid_and_level(make_canvas, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    canvas, _ = make_canvas()
    assert run([str(canvas.path), str(out_dir / "p.ome.zarr"), "--pyramid", "-q"]) == 0
    assert (out_dir / "p.ome.zarr" / "3" / "zarr.json").is_file()
    assert run([str(canvas.path), str(out_dir / "l1.png"), "--level", "1", "-q"]) == 0
    assert "level 1" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["r.bmp"], "cannot tell the export format of 'r.bmp'"),
    (["r.png", "--region", "5000", "0", "10", "10"], "entirely outside the canvas bounds"),
    (["r.png", "--region", "0", "0", "-1", "10"], "window size must not be negative"),
    (["r.tif", "--compression", "lzma"], "TIFF cannot use compression 'lzma'"),
    (["r.webp", "--region", "0", "0", "20000", "10"], "too large for WebP"),
])
def test_bad_input_is_one_line_and_exit_2(make_canvas, out_dir: Path, capsys: pytest.CaptureFixture[str],
                                          argv: list[str], message: str) -> None:
    canvas, _ = make_canvas()
    assert run([str(canvas.path), str(out_dir / argv[0]), *argv[1:]]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("imkerutils: error: ") and message in err and err.count("\n") == 1
    assert list(out_dir.iterdir()) == []


def test_existing_output(make_canvas, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    canvas, _ = make_canvas()
    (out_dir / "r.png").write_bytes(b"keep me")
    assert run([str(canvas.path), str(out_dir / "r.png"), "-q"]) == EXIT_BAD_INPUT
    assert "already exists (pass overwrite=True, or --overwrite" in capsys.readouterr().err
    assert (out_dir / "r.png").read_bytes() == b"keep me"
    assert run([str(canvas.path), str(out_dir / "r.png"), "-q", "--overwrite"]) == 0
    assert (out_dir / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
