"""Only an OSError (or an error raised from one) is reported as a failure to write the output."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

import pytest

from imkerutils.errors import ExportWriteError
from imkerutils.tiling.export import export_region

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from imkerutils.tiling import Window


def test_an_error_raised_while_handling_an_oserror_is_not_a_write_error(
    make_canvas, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canvas, _ = make_canvas()

    def read(window: Window, *level: int) -> np.ndarray:
        try:
            raise FileNotFoundError(errno.ENOENT, "no such chunk")
        except FileNotFoundError:
            raise KeyError("level 3")  # noqa: B904 (an implicit context is the point)

    monkeypatch.setattr(canvas, "read", read)
    with pytest.raises(KeyError, match="level 3"):
        export_region(canvas, out_dir / "r.png", progress=False)
    assert list(out_dir.iterdir()) == []


def test_an_error_raised_from_an_oserror_is_a_write_error(
    make_canvas, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canvas, _ = make_canvas()

    def read(window: Window, *level: int) -> np.ndarray:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("codec failed") from exc

    monkeypatch.setattr(canvas, "read", read)
    with pytest.raises(ExportWriteError, match="the disk is full"):
        export_region(canvas, out_dir / "r.png", progress=False)
    assert list(out_dir.iterdir()) == []
