"""Damaged canvases and impossible levels are one-line errors (issue 17), never a codec traceback.

Found by an adversarial pass: a truncated chunk made ``extract`` print a ~110-line zstd traceback, and
``export --level 99`` died with ``OverflowError`` (after rewriting a pyramid chunk).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from cli_helpers import imkerutils_cmd, run

from imkerutils.tiling import Canvas

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def canvas(tmp_path: Path) -> Canvas:
    c = Canvas.create(tmp_path / "c.zarr", tile=64)
    c.paste(np.random.default_rng(1).integers(0, 256, (150, 150, 3), dtype=np.uint8), 0, 0, extend=True)
    return c


@pytest.mark.parametrize("damage", [b"", b"\x28\xb5\x2f\xfd" + b"\x00" * 20], ids=["empty", "truncated"])
def test_a_damaged_chunk_is_one_line_naming_the_damage(canvas: Canvas, tmp_path: Path, damage: bytes) -> None:
    (canvas.path / canvas.frame.chunk_key(0, 0, 0)).write_bytes(damage)
    for cmd in (
        imkerutils_cmd("extract", canvas.path, tmp_path / "x.png", "--x", 0, "--y", 0, "--width", 10, "--height", 10),
        imkerutils_cmd("paste", canvas.path, _png(tmp_path), "--x", 5, "--y", 5),
    ):
        done = run(cmd)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1
        assert "damaged" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.png").exists()
    done = run(imkerutils_cmd("verify", canvas.path))
    assert done.returncode == 1
    assert "tile (0, 0)" in done.stdout + done.stderr


def test_a_level_past_the_coarsest_is_refused_before_anything_is_written(
    canvas: Canvas, tmp_path: Path, tree_digest
) -> None:
    before = tree_digest(canvas.path)
    done = run(imkerutils_cmd("export", canvas.path, tmp_path / "x.png", "--level", 99))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "level 99" in done.stderr, done.stderr
    assert tree_digest(canvas.path) == before
    assert not (tmp_path / "x.png").exists()


def _png(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "tile.png"
    Image.fromarray(np.full((8, 8, 3), 7, np.uint8)).save(path)
    return path
