"""Issue 17: with every worker gone, ``grow --scheduler`` hung for ever with no message.

Now a cluster without workers for ``worker_timeout`` seconds (``--worker-timeout``) ends the batch with a
:class:`ClusterError` naming it, and nothing is written.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest
from _cluster_helpers import canvas_sha, make_canvas, photo_like

from imkerutils.errors import ClusterError
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.pipeline import GrowSettings, grow

if TYPE_CHECKING:
    from pathlib import Path


def test_a_cluster_with_no_worker_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    canvas = make_canvas(tmp_path / "c.zarr", photo_like(300, 300, seed=1))
    before = canvas_sha(canvas), canvas.head
    with (
        LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
        pytest.raises(ClusterError, match="no worker for 1 s"),
    ):
        grow(canvas, ["right"], MockGenerator(), GrowSettings(save_artifacts=False, worker_timeout=1.0), client=client)
    assert (canvas_sha(canvas.refresh()), canvas.head) == before


def test_workers_that_all_leave_mid_batch_end_it_with_a_clear_error(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    canvas = make_canvas(tmp_path / "c.zarr", photo_like(1024, 1024, seed=2))
    before = canvas_sha(canvas), canvas.head
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        timer = threading.Timer(1.0, lambda: cluster.scale(0))  # every worker leaves while tiles wait
        timer.start()
        try:
            with pytest.raises(ClusterError, match="every dask worker left"):
                grow(
                    canvas,
                    ["right", "down"],
                    MockGenerator(sleep_s=0.4),
                    GrowSettings(save_artifacts=False, worker_timeout=1.0),
                    client=client,
                )
        finally:
            timer.cancel()
    assert (canvas_sha(canvas.refresh()), canvas.head) == before
    assert before[1] == 1


def test_a_finished_tile_whose_worker_left_with_no_other_is_a_clear_error_not_a_hang() -> None:
    """A completed future loses its result when the worker holding it leaves; with no worker left,
    collecting it waited for ever (``future.result()``: the last test above hung in a whole-suite run)."""
    import time

    from distributed import Client, LocalCluster

    from imkerutils.exquisite.pipeline.executor import _result_while_workers_live, _WorkerWatch

    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        future = client.submit(sum, [1, 2], pure=False)
        assert future.result(timeout=30) == 3
        cluster.scale(0)
        deadline = time.monotonic() + 30
        while client.scheduler_info().get("workers") and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(TimeoutError):  # the result is gone with its worker: an unbounded wait never ends
            future.result(timeout=2)
        started = time.monotonic()
        with pytest.raises(ClusterError, match="every dask worker left"):
            _result_while_workers_live(future, _WorkerWatch(client, {(0, 0): future}, 1.0))
        assert time.monotonic() - started < 20
