"""``imkerutils export``: argument order (X Y W H), messages, exit codes."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image

from imkerutils.cli import export as export_cli
from imkerutils.cli._common import EXIT_BAD_INPUT, run_guarded
from imkerutils.tiling import Window
from imkerutils.tiling.export._plan import level_window


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
    assert f"wrote {out} (TIFF" in line
    assert "x=-150, y=-100, 430x350 px, level 0" in line


def test_whole_bounds_pyramid_and_level(make_canvas, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    canvas, _ = make_canvas()
    assert run([str(canvas.path), str(out_dir / "p.ome.zarr"), "--pyramid", "-q"]) == 0
    assert (out_dir / "p.ome.zarr" / "3" / "zarr.json").is_file()
    assert run([str(canvas.path), str(out_dir / "l1.png"), "--level", "1", "-q"]) == 0
    assert "level 1" in capsys.readouterr().out


def test_ome_zarr_holds_the_pyramid_by_default_and_no_pyramid_writes_one_level(
    make_canvas, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 17: ``export X.ome.zarr`` wrote one level unless ``--pyramid`` was given."""
    import zarr

    canvas, _ = make_canvas()
    assert run([str(canvas.path), str(out_dir / "d.ome.zarr"), "-q", "--json"]) == 0
    assert '"pyramid": true' in capsys.readouterr().out
    group = zarr.open_group(out_dir / "d.ome.zarr", mode="r")
    assert [d["path"] for d in group.attrs["ome"]["multiscales"][0]["datasets"]] == ["0", "1", "2", "3"]
    np.testing.assert_array_equal(np.moveaxis(group["2"][:], 0, 2), canvas.read(canvas.level_bounds(2), level=2))
    assert run([str(canvas.path), str(out_dir / "one.ome.zarr"), "-q", "--no-pyramid"]) == 0
    group = zarr.open_group(out_dir / "one.ome.zarr", mode="r")
    assert [d["path"] for d in group.attrs["ome"]["multiscales"][0]["datasets"]] == ["0"]
    assert run([str(canvas.path), str(out_dir / "flat.tif"), "-q"]) == 0  # other formats: one level by default
    with tifffile.TiffFile(out_dir / "flat.tif") as tif:
        assert len(tif.series[0].levels) == 1
    parser = argparse.ArgumentParser(prog="imkerutils")
    export_cli.add_parser(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit):
        parser.parse_args(["export", "--help"])
    assert "default for .ome.zarr" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["r.bmp"], "cannot tell the export format of 'r.bmp'"),
        (["r.png", "--region", "5000", "0", "10", "10"], "entirely outside the canvas bounds"),
        (["r.png", "--region", "0", "0", "-1", "10"], "window size must not be negative"),
        (["r.tif", "--compression", "lzma"], "TIFF cannot use compression 'lzma'"),
        (["r.webp", "--region", "0", "0", "20000", "10"], "too large for WebP"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    make_canvas, out_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    canvas, _ = make_canvas()
    assert run([str(canvas.path), str(out_dir / argv[0]), *argv[1:]]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("imkerutils: error: ")
    assert message in err
    assert err.count("\n") == 1
    assert list(out_dir.iterdir()) == []


def test_existing_output(make_canvas, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    canvas, _ = make_canvas()
    (out_dir / "r.png").write_bytes(b"keep me")
    assert run([str(canvas.path), str(out_dir / "r.png"), "-q"]) == EXIT_BAD_INPUT
    assert "already exists (pass overwrite=True, or --overwrite" in capsys.readouterr().err
    assert (out_dir / "r.png").read_bytes() == b"keep me"
    assert run([str(canvas.path), str(out_dir / "r.png"), "-q", "--overwrite"]) == 0
    assert (out_dir / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def pil_read(path: Path) -> tuple[np.ndarray, str, str]:
    with Image.open(path) as im:
        return np.asarray(im), im.mode, im.format


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_default_output_is_outputs_name_step_png_in_the_cwd(make_canvas, tmp_path: Path, mode: str) -> None:
    canvas, _ = make_canvas(mode)  # <tmp_path>/<mode>-0.zarr, step 1: a paste
    canvas.extend(Window(-100, -160, 10, 10))  # step 2: up and left, background
    canvas.paste(np.full((5, 5, len(mode)), 7, np.uint8), -98, -158)  # step 3
    canvas.undo()  # head 2, one step to redo: N is the head, not the number of steps recorded
    assert canvas.head == 2
    proc = subprocess.run(
        [sys.executable, "-m", "imkerutils.cli.main", "export", str(canvas.path) + "/", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    expected = tmp_path / "outputs" / f"{mode}-0-step2.png"
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == [expected.name]
    line = proc.stdout.strip()
    assert line.startswith("wrote "), proc.stdout
    assert line.count("\n") == 0, proc.stdout
    printed = Path(line.removeprefix("wrote ").split(" (PNG, ")[0])
    assert (tmp_path / printed).resolve() == expected.resolve()  # relative to the cwd, or absolute
    b = canvas.bounds
    assert b == Window(-100, -160, 330, 430)
    assert f"x={b.col_off}, y={b.row_off}, {b.width}x{b.height} px, level 0" in line
    back, pil_mode, fmt = pil_read(expected)
    assert (fmt, pil_mode) == ("PNG", mode)
    np.testing.assert_array_equal(back, canvas.read(canvas.bounds))


@pytest.mark.parametrize("ext", ["png", "webp"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
@pytest.mark.parametrize("level", [1, 2])
def test_png_and_webp_at_a_coarser_level_match_the_canvas_level(
    make_canvas, out_dir: Path, ext: str, mode: str, level: int
) -> None:
    canvas, _ = make_canvas(mode, row=-70, col=-131)  # odd world corner, left of and above world (0, 0)
    canvas.extend(Window(-203, -261, 20, 20))  # grown further up and left: background there
    decode = imagecodecs.png_decode if ext == "png" else imagecodecs.webp_decode
    for name, region in (("all", None), ("part", Window(-151, -203, 197, 263))):
        out = out_dir / f"{name}-{level}.{ext}"
        argv = [str(canvas.path), str(out), "--level", str(level), "-q"]
        if region is not None:
            argv += ["--region", str(region.col_off), str(region.row_off), str(region.width), str(region.height)]
        assert run(argv) == 0
        lw = level_window(canvas.bounds if region is None else region, level)
        expected = canvas.read(lw, level=level)
        back, pil_mode, fmt = pil_read(out)
        assert (fmt, pil_mode) == (ext.upper(), mode)
        assert back.shape == (lw.height, lw.width, len(mode)), name
        np.testing.assert_array_equal(back, expected, err_msg=name)
        np.testing.assert_array_equal(decode(out.read_bytes()), expected, err_msg=name)


def test_level_export_while_a_writer_holds_the_lock_reads_exact_levels(tmp_path: Path) -> None:
    """A coarser-level export cannot freshen a locked canvas's pyramid, yet exports it exactly."""
    from imkerutils.tiling import Canvas
    from imkerutils.tiling.pyramid import downsample2

    canvas = Canvas.create(tmp_path / "c.zarr", height=64, width=64, tile=16)
    canvas.paste(np.full((64, 64, 3), 100, np.uint8), 0, 0)
    canvas.update_pyramid()
    canvas.paste(np.random.default_rng(3).integers(0, 256, (20, 20, 3), dtype=np.uint8), 10, 30)  # dirty tiles
    expected = downsample2(canvas.read(Window(0, 0, 64, 64)))
    out = tmp_path / "l1.png"
    with canvas._journal.lock():  # what a running step holds
        proc = subprocess.run(
            [sys.executable, "-m", "imkerutils.cli.main", "export", str(canvas.path), str(out), "--level", "1", "-q"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as im:
        np.testing.assert_array_equal(np.asarray(im), expected)
    assert canvas._storage.pyramid.dirty(), "the locked canvas was not written"
