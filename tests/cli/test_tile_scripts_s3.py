"""``extract-tile`` and ``paste-tile`` on a canvas URL on S3 (a moto server on 127.0.0.1), as subprocesses."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import numpy as np
import pytest
from _cluster_helpers import child_env, moto_server, s3_env, storage_options
from cli_helpers import ok, script
from PIL import Image

from imkerutils.tiling import Canvas, Window

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

BUCKET = "tile-scripts"


def noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    s3fs = pytest.importorskip("s3fs")
    with moto_server() as url:
        s3fs.S3FileSystem(**storage_options(url)).mkdir(BUCKET)
        yield url


def test_extract_tile_and_paste_tile_work_on_an_s3_canvas(endpoint: str, tmp_path: Path) -> None:
    url, opts = f"s3://{BUCKET}/c.zarr", storage_options(endpoint)
    pixels = noise(40, 50)
    Image.fromarray(pixels).save(tmp_path / "img.png")
    Canvas.from_image(tmp_path / "img.png", url, tile=16, storage_options=opts)
    tile = noise(8, 8, seed=2)
    Image.fromarray(tile).save(tmp_path / "t.png")
    env = child_env(s3_env(endpoint))

    def cli(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*script(*map(str, args))], capture_output=True, text=True, timeout=300, env=env)

    ok(cli("extract-tile", url, tmp_path / "e.png", "--x", 49, "--y", 0, "--corner", "tr", "--tile", 8))
    with Image.open(tmp_path / "e.png") as im:
        np.testing.assert_array_equal(np.asarray(im), pixels[0:8, 42:50])
    ok(cli("paste-tile", url, tmp_path / "t.png", "--x", 3, "--y", 4, "--tile", 8))
    canvas = Canvas.open(url, storage_options=opts)
    assert canvas.head == 2
    assert canvas.verify().ok
    np.testing.assert_array_equal(canvas.read(Window(4, 3, 8, 8)), tile)
