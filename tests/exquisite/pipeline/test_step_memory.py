"""A growth step's memory grows with its new pixels only, not with its tiles' 1024² images (issue 15, point 9).

A whole-edge step over a long edge has dozens of tiles.  Each tile has a reference, a mask, a raw output
and a final tile (1024² each, about 12 MiB together); holding them all until the commit made the UI
server's memory grow with the canvas's size.  The step spools each tile's artifacts to files as the
tile finishes and re-reads its band to hash it, so it keeps only the new pixels (512 x 1024 x 3 bytes
= 1.5 MiB a tile at most).  Measured with :mod:`tracemalloc` (numpy reports its buffers to it).
"""

from __future__ import annotations

import tempfile
import tracemalloc
from io import BytesIO
from pathlib import Path

import numpy as np
from _generators import PatternGenerator, make_canvas, noise_image
from PIL import Image

from imkerutils.exquisite.api.base import TileRequest, TileResult
from imkerutils.exquisite.pipeline import GrowSettings, grow_step, step_records
from imkerutils.tiling.canvas import Canvas

MIB = 1024 * 1024


class ForgetfulPattern(PatternGenerator):
    """The pattern generator without its call log (which keeps every request's images)."""

    def generate(self, request: TileRequest) -> TileResult:
        return TileResult(image=self.paint(request), cost_usd=0.0, request_id="pattern")


def _peak_of_a_step(path: Path, width: int) -> tuple[float, int]:
    """Peak traced MiB of one ``down`` step over an edge ``width`` px long, and the step's tile count."""
    canvas = make_canvas(path, noise_image(64, 64, seed=1))
    canvas.paste(noise_image(64, 64, seed=2), 0, width - 64, extend=True)  # bounds: 64 x width
    tracemalloc.start()
    try:
        grow_step(canvas, "down", ForgetfulPattern(), GrowSettings(prompt="a quay", save_artifacts=True, workers=2))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / MIB, len(step_records(canvas)[-1].tiles)


def test_a_longer_edge_costs_only_its_new_pixels(tmp_path: Path) -> None:
    short_peak, short_tiles = _peak_of_a_step(tmp_path / "short.zarr", 6144)
    long_peak, long_tiles = _peak_of_a_step(tmp_path / "long.zarr", 18432)
    extra_tiles = long_tiles - short_tiles
    assert extra_tiles >= 10
    per_tile = (long_peak - short_peak) / extra_tiles
    # new pixels and their place in the commit's pieces: well under the 12 MiB of images a tile makes
    assert per_tile < 4.0, f"{per_tile:.1f} MiB more per extra tile ({short_peak:.0f} -> {long_peak:.0f} MiB)"


def test_artifacts_are_stored_and_the_spool_folder_is_gone(tmp_path: Path) -> None:
    canvas = make_canvas(tmp_path / "c.zarr", noise_image(300, 2500, seed=3))
    before = set(Path(tempfile.gettempdir()).glob("imkerutils-artifacts-*"))
    grow_step(canvas, "down", PatternGenerator(), GrowSettings(prompt="a quay"))
    record = step_records(canvas)[-1]
    assert len(record.tiles) >= 3
    reopened = Canvas.open(tmp_path / "c.zarr", read_only=True)
    for tile in record.tiles:
        assert set(tile.artifacts) == {"reference", "mask", "raw", "final"}
        for key in tile.artifacts.values():
            data = reopened.get_artifact(key)
            assert data is not None, key
            assert data.startswith(b"\x89PNG\r\n\x1a\n"), key
    assert set(Path(tempfile.gettempdir()).glob("imkerutils-artifacts-*")) == before
    # the final tile's new part is what the canvas holds there
    tile = record.tiles[0]
    final = np.asarray(Image.open(BytesIO(reopened.get_artifact(tile.artifacts["final"]) or b"")))
    w, t = tile.write_window, tile.tile_window
    np.testing.assert_array_equal(reopened.read(w), final[w.slices((t.row_off, t.col_off))])
