"""A worker lets go of each tile's outcome once the client has it: its memory does not grow with the batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from _cluster_helpers import HeldOutcomesGenerator, Reference, canvas_sha, make_canvas

from imkerutils.exquisite.geometry.batch import plan_batch
from imkerutils.exquisite.pipeline import GrowSettings, grow

if TYPE_CHECKING:
    from pathlib import Path

    from distributed import Client


def test_workers_keep_only_outcomes_another_tile_needs(client: Client, reference: Reference, tmp_path: Path) -> None:
    canvas = make_canvas(tmp_path / "c.zarr", reference.image)
    needed = {key for tile in plan_batch(canvas.bounds, list(reference.directions)).tiles for key in tile.depends_on}
    log = tmp_path / "held.txt"
    settings = GrowSettings(seed=reference.seed, save_artifacts=False)
    grow(canvas, reference.directions, HeldOutcomesGenerator(str(log)), settings, client=client)

    assert canvas_sha(canvas) == reference.sha  # the same bytes as the serial run
    calls = [{tuple(int(i) for i in pair.split(",")) for pair in line.split()} for line in log.read_text().splitlines()]
    assert len(calls) == reference.tiles == 9
    assert any(calls)  # some tile did wait for another's outcome on its worker
    # before, a worker kept every outcome it had made until the whole batch was done
    assert all(held <= needed for held in calls), (calls, needed)
