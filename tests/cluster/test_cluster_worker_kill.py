"""A worker killed (SIGKILL) during a batch: the batch completes with the serial bytes, or fails leaving no trace."""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

import dask
import numpy as np
import pytest
from _cluster_helpers import KillerGenerator, Reference, canvas_sha, local_cluster, make_canvas

from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.pipeline import GrowSettings, grow
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from distributed import Client

    from imkerutils.exquisite.pipeline.tile import TileOutcome


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """Two workers; a task may be on ONE dying worker and still be retried (on the second it is given up)."""
    # distributed first: it adds its defaults to dask's config, and leaving config.set must restore them, not
    # drop the whole "distributed" section it found missing (the next cluster of the run failed with KeyError)
    import distributed  # noqa: F401

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), local_cluster() as c:
        yield c


def test_a_worker_killed_mid_batch_is_replaced_and_the_bytes_are_the_serial_runs(
    client: Client, reference: Reference, tmp_path: Path
) -> None:
    canvas = make_canvas(tmp_path / "c.zarr", reference.image)
    pids: dict[str, int] = client.run(os.getpid)
    assert len(pids) == 2
    killed: list[int] = []

    def kill_a_busy_worker(_outcome: TileOutcome) -> None:
        """After the first tile arrives, SIGKILL a worker that is running a tile (both are: 4 are ready)."""
        if killed:
            return
        busy = [address for address, keys in client.processing().items() if keys and address in pids]
        victim = pids[busy[0] if busy else sorted(pids)[0]]
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)

    records = grow(
        canvas,
        reference.directions,
        MockGenerator(sleep_s=0.5),
        GrowSettings(seed=reference.seed, save_artifacts=False),
        client=client,
        on_tile=kill_a_busy_worker,
    )

    assert len(killed) == 1
    assert sum(len(r.tiles) for r in records) == reference.tiles == 9
    assert canvas.head == 2
    assert canvas.bounds == reference.bounds
    assert canvas_sha(canvas) == reference.sha
    assert canvas.verify().ok


def test_a_batch_whose_workers_keep_dying_raises_and_leaves_the_canvas_unchanged(
    client: Client, reference: Reference, tmp_path: Path
) -> None:
    """Every tile of the down edge kills the worker running it: the scheduler gives up and nothing is written."""
    from distributed import KilledWorker

    from imkerutils.errors import ClusterError

    canvas = make_canvas(tmp_path / "c.zarr", reference.image)
    with pytest.raises(ClusterError, match="nothing was written") as raised:
        grow(
            canvas,
            reference.directions,
            KillerGenerator(direction="down"),
            GrowSettings(seed=reference.seed, save_artifacts=False),
            client=client,
        )
    assert isinstance(raised.value.__cause__, KilledWorker)
    h, w = reference.image.shape[:2]
    assert canvas.refresh().head == 1
    assert canvas.bounds == Window(0, 0, h, w)
    assert np.array_equal(canvas.read(canvas.bounds), reference.image)
    assert canvas.verify().ok
    assert len(canvas.history()) == 1
    assert len(list((canvas.path / "_journal" / "entries").iterdir())) == 1  # no entry left by the failed step
