"""Bad input gives our errors with clear messages; a failed or interrupted export leaves nothing under its name."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from imkerutils.errors import (
    ExportExistsError,
    ExportFormatError,
    ExportWriteError,
    ImkerError,
    InvalidWindowError,
    OutOfBoundsError,
)
from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.export import _atomic, export_region

FORMATS = ["r.png", "r.tif", "r.ome.zarr", "r.webp", "r.jpg"]


def test_unknown_extension(make_canvas, out_dir: Path) -> None:
    canvas, _ = make_canvas()
    with pytest.raises(ExportFormatError, match=r"'r\.bmp'.*use one of: \.png, \.tif, \.tiff, \.ome\.zarr"):
        export_region(canvas, out_dir / "r.bmp")
    with pytest.raises(ExportFormatError, match=r"must end in \.ome\.zarr"):
        export_region(canvas, out_dir / "r.zarr")
    assert list(out_dir.iterdir()) == []


def test_region_entirely_outside_the_bounds(make_canvas, out_dir: Path) -> None:
    canvas, _ = make_canvas()  # bounds rows -70..230, cols -130..270
    with pytest.raises(OutOfBoundsError, match=r"entirely outside the canvas bounds rows -70\.\.230"):
        export_region(canvas, out_dir / "r.png", region=Window(230, 0, 10, 10))
    with pytest.raises(InvalidWindowError, match="the region has no pixels"):
        export_region(canvas, out_dir / "r.png", region=Window(0, 0, 0, 10))
    with pytest.raises(InvalidWindowError, match="level must be a non-negative integer"):
        export_region(canvas, out_dir / "r.png", level=-1)
    assert list(out_dir.iterdir()) == []


def test_empty_canvas(tmp_path: Path, out_dir: Path) -> None:
    canvas = Canvas.create(tmp_path / "empty.zarr")
    with pytest.raises(InvalidWindowError, match="the canvas is empty"):
        export_region(canvas, out_dir / "r.tif")


@pytest.mark.parametrize(
    ("name", "spec", "message"),
    [
        ("r.png", "zstd", "PNG cannot use compression 'zstd'; choose one of: deflate"),
        ("r.png", "deflate:10", "deflate level for PNG must be in 0..9, got 10"),
        ("r.tif", "zstd:fast", "must be an integer"),
        ("r.tif", "none:3", "takes no level"),
        ("r.ome.zarr", "jpeg", "OME-Zarr cannot use compression 'jpeg'"),
        ("r.png", None, "PNG holds one image, not a pyramid"),
    ],
)
def test_bad_compression_or_pyramid(make_canvas, out_dir: Path, name: str, spec: str | None, message: str) -> None:
    canvas, _ = make_canvas()
    with pytest.raises(ExportFormatError, match=message):
        export_region(canvas, out_dir / name, compression=spec, pyramid=spec is None)
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("name", ["r.png", "r.ome.zarr"])
def test_existing_output_needs_overwrite(make_canvas, out_dir: Path, name: str) -> None:
    canvas, _pixels = make_canvas()
    first = export_region(canvas, out_dir / name, progress=False)
    with pytest.raises(ExportExistsError, match="already exists"):
        export_region(canvas, out_dir / name, region=Window(0, 0, 5, 5), progress=False)
    export_region(canvas, out_dir / name, region=Window(0, 0, 5, 5), progress=False, overwrite=True)
    assert sorted(p.name for p in out_dir.iterdir()) == [first.name]
    if name.endswith(".png"):
        from PIL import Image

        with Image.open(first) as im:
            assert im.size == (5, 5)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("name", ["r.png", "r.tif", "r.webp", "r.jpg"])
def test_full_disk(make_canvas, out_dir: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Every write of the export goes to /dev/full, which fails with ENOSPC like a full disk."""
    canvas, _ = make_canvas()
    full = out_dir / ".full-device"
    full.symlink_to("/dev/full")
    monkeypatch.setattr(_atomic, "partial_name", lambda final: full)
    with pytest.raises(ExportWriteError, match=r"could not write .*r\.\w+: the disk is full") as info:
        export_region(canvas, out_dir / name, progress=False)
    assert info.value.errno == errno.ENOSPC
    assert isinstance(info.value, OSError)
    assert list(out_dir.iterdir()) == []  # the partial output (here the link) is gone, no final name


def test_full_disk_omezarr(make_canvas, out_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zarr.storage import LocalStore

    canvas, _ = make_canvas()
    real_set = LocalStore.set
    calls = []

    async def set_until_full(self, key, value):  # type: ignore[no-untyped-def]
        calls.append(key)
        if len(calls) > 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        await real_set(self, key, value)

    monkeypatch.setattr(LocalStore, "set", set_until_full)
    with pytest.raises(ExportWriteError, match="the disk is full"):
        export_region(canvas, out_dir / "r.ome.zarr", progress=False)
    assert len(calls) > 5
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("name", FORMATS)
def test_interrupted_export_leaves_nothing(make_canvas, out_dir: Path, name: str) -> None:
    canvas, _ = make_canvas()

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_region(canvas, out_dir / name, progress=interrupt)
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("name", FORMATS)
def test_failing_read_leaves_nothing(make_canvas, out_dir: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    canvas, _ = make_canvas()
    reads = []

    def failing_read(window: Window, *level: int) -> np.ndarray:
        reads.append(window)
        if len(reads) > 2:
            raise RuntimeError("storage went away")
        return np.zeros((window.height, window.width, canvas.channels), np.uint8)

    monkeypatch.setattr(canvas, "read", failing_read)
    with pytest.raises(RuntimeError, match="storage went away"):
        export_region(canvas, out_dir / name, progress=False)
    assert list(out_dir.iterdir()) == []


def test_errors_share_the_imkerutils_root() -> None:
    for cls in (ExportExistsError, ExportFormatError, ExportWriteError):
        assert issubclass(cls, ImkerError)


@pytest.mark.parametrize("name", ["r.png", "r.ome.zarr"])
def test_killed_export_never_leaves_a_finished_looking_output(make_canvas, out_dir: Path, name: str) -> None:
    """``kill -9`` mid-export: only the ``.partial`` name exists, never the final one."""
    canvas, _ = make_canvas()
    started = out_dir.parent / "started"
    code = textwrap.dedent(f"""
        import pathlib, time
        from imkerutils.tiling import Canvas
        from imkerutils.tiling.export import export_region

        def stall(done, total):
            pathlib.Path({str(started)!r}).touch()
            time.sleep(60)

        export_region(Canvas.open({str(canvas.path)!r}, read_only=True), {str(out_dir / name)!r}, progress=stall)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert proc.poll() is None, "the export process died early"
            assert time.monotonic() < deadline, "the export never started"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    names = [p.name for p in out_dir.iterdir()]
    assert name not in names
    assert len(names) == 1
    assert names[0].startswith(f".{name}.")
    assert names[0].endswith(".partial")
    # Issue 17: killed exports left their .partial for good.  The next export to the name removes a dead
    # writer's leftover, and leaves one whose writer still runs (this process's id stands for a live one).
    live = out_dir / f".{name}.{os.getpid():08x}0123abcd.partial"
    live.write_bytes(b"")
    export_region(canvas, out_dir / name, progress=False)
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([name, live.name])


def test_our_own_os_errors_pass_through_unwrapped(make_canvas, out_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A locked canvas is a ``BlockingIOError`` too, but not a failure to write the output."""
    from imkerutils.errors import CanvasLockedError

    canvas, _ = make_canvas()

    def locked(*args: object) -> np.ndarray:
        raise CanvasLockedError("another process is writing to the canvas")

    monkeypatch.setattr(canvas, "read", locked)
    with pytest.raises(CanvasLockedError, match="another process"):
        export_region(canvas, out_dir / "r.tif", progress=False)
    assert list(out_dir.iterdir()) == []
