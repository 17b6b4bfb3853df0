"""Only an OSError (or an error raised from one) is reported as a failure to write the output."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

import pytest

from imkerutils.errors import ExportWriteError
from imkerutils.tiling.export import export_region

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import numpy as np

    from imkerutils.tiling import Window


def _raised_while_handling(window: Window, *level: int) -> np.ndarray:
    try:
        raise FileNotFoundError(errno.ENOENT, "no such chunk")
    except FileNotFoundError:
        raise KeyError("level 3")  # noqa: B904 (an implicit context is the point)


def _raised_from(window: Window, *level: int) -> np.ndarray:
    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError as exc:
        raise RuntimeError("codec failed") from exc


@pytest.mark.parametrize(
    ("read", "error", "match"),
    [
        pytest.param(_raised_while_handling, KeyError, "level 3", id="while-handling-an-oserror-is-not-a-write-error"),
        pytest.param(_raised_from, ExportWriteError, "the disk is full", id="from-an-oserror-is-a-write-error"),
    ],
)
def test_only_an_error_raised_from_an_oserror_is_a_write_error(
    make_canvas,
    out_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    read: Callable[..., np.ndarray],
    error: type[Exception],
    match: str,
) -> None:
    canvas, _ = make_canvas()
    monkeypatch.setattr(canvas, "read", read)
    with pytest.raises(error, match=match):
        export_region(canvas, out_dir / "r.png", progress=False)
    assert list(out_dir.iterdir()) == []
