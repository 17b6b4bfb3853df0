"""Run the tiles of a batch: on local threads, or as tasks on a ``dask.distributed`` cluster.

Tile tasks are pure: they read the canvas (read-only) and return pixels, and
never write.  The process that planned the batch commits it, so a task that
is retried after a worker died, or runs twice, changes nothing on disk.  On a
cluster the generator object travels to the workers by pickling; generators
keep secrets (API keys) out of their pickled state and read them from each
worker's environment.
"""

from __future__ import annotations

import functools
import itertools
import json
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from imkerutils.errors import CanvasChangedError, ClusterError, ImkerError
from imkerutils.exquisite.api.base import TileGenerator
from imkerutils.exquisite.geometry.batch import TileKey
from imkerutils.exquisite.pipeline.cancel import Cancel
from imkerutils.exquisite.pipeline.tile import PlannedTile, TileOutcome, TileSettings, assemble_tile, run_tile
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.location import public_storage_options

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from distributed import Client

    from imkerutils.exquisite.api.base import TileGenerator
    from imkerutils.exquisite.geometry.batch import TileKey
    from imkerutils.exquisite.pipeline.cancel import Cancel

__all__ = ["run_batch_tiles"]

T = TypeVar("T")
R = TypeVar("R")


@functools.lru_cache(maxsize=8)
def _open_read_only(location: str, options_json: str) -> Canvas:
    return Canvas.open(location, read_only=True, storage_options=json.loads(options_json) or None)


def _tile_task(
    location: str,
    options_json: str,
    token: str,
    tile: PlannedTile,
    generator: TileGenerator,
    settings: TileSettings,
    *deps: TileOutcome,
) -> TileOutcome:
    """One tile, as a worker runs it (``token`` pins the canvas state the batch was planned on)."""
    canvas = _open_read_only(location, options_json).refresh()
    if canvas.state_token != token:
        raise CanvasChangedError(f"canvas {location} changed while the batch ran; nothing was written")
    pixels = assemble_tile(tile.plan, canvas.read(tile.plan.tile_window), list(deps))
    return run_tile(tile, pixels, generator, settings)


Levels = Sequence[Sequence[PlannedTile]]  # a batch's tiles, each level after the ones it depends on


def run_batch_tiles(
    canvas: Canvas,
    levels: Levels,
    generator: TileGenerator,
    settings: TileSettings,
    *,
    client: Client | None = None,
    workers: int = 1,
    on_tile: Callable[[TileOutcome], None] | None = None,
    keep: Callable[[TileKey, TileOutcome], TileOutcome] | None = None,
    cancel: Cancel | None = None,
    worker_timeout: float = 300.0,
) -> dict[TileKey, TileOutcome]:
    """Generate every tile of ``levels`` (a batch plan's levels), each after the tiles it depends on.

    Each planned tile carries its rendered prompt; ``settings`` are what all of them share.  A set
    ``cancel`` stops local tiles before their next generator call
    (:class:`~imkerutils.errors.StepCancelledError`).  Each finished outcome goes to ``on_tile``, then
    ``keep(key, outcome)`` says what of it to hold until the batch ends (the tiles depending on it
    need its ``plan`` and ``new_pixels``); by default all of it.
    """
    if client is not None:
        return _run_distributed(canvas, levels, generator, settings, client, on_tile, keep, worker_timeout)
    done: dict[TileKey, TileOutcome] = {}

    def one(tile: PlannedTile, pixels: Any) -> TileOutcome:
        return run_tile(tile, pixels, generator, settings, cancelled=None if cancel is None else cancel.is_set)

    workers = max(1, workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for level in levels:
            if cancel is not None:
                cancel.check()
            inputs = (
                (t, assemble_tile(t.plan, canvas.read(t.plan.tile_window), [done[d] for d in t.depends_on]))
                for t in level
            )
            for tile, outcome in zip(level, _map_ahead(pool, lambda tp: one(*tp), inputs, workers), strict=True):
                done[tile.key] = _finish(tile.key, outcome, on_tile, keep)
    return done


def _map_ahead(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[R]:
    """``pool.map(fn, items)``, but with at most ``ahead`` items taken and not yet yielded.

    ``Executor.map`` submits every item at once: a level of a long edge would hold every tile's
    input and finished images together.  Here memory stays at ``ahead`` tiles whatever the level's size.
    """
    it = iter(items)
    running: deque[Future[R]] = deque(pool.submit(fn, item) for item in itertools.islice(it, ahead))
    while running:
        result = running.popleft().result()
        for item in itertools.islice(it, 1):
            running.append(pool.submit(fn, item))
        yield result


def _run_distributed(
    canvas: Canvas,
    levels: Levels,
    generator: TileGenerator,
    settings: TileSettings,
    client: Client,
    on_tile: Callable[[TileOutcome], None] | None,
    keep: Callable[[TileKey, TileOutcome], TileOutcome] | None,
    worker_timeout: float = 300.0,
) -> dict[TileKey, TileOutcome]:

    _wait_for_workers(client, worker_timeout)
    location = canvas.location
    options_json = public_storage_options(canvas.storage_options)
    token = canvas.state_token
    # A fresh name per run: a batch run again after a failure must not meet its erred tasks on the scheduler.
    name = uuid.uuid4().hex
    futures: dict[TileKey, Any] = {}
    for level in levels:
        for tile in level:
            futures[tile.key] = client.submit(
                _tile_task,
                location,
                options_json,
                token,
                tile,
                generator,
                settings,
                *[futures[d] for d in tile.depends_on],
                key=f"exquisite-tile-{name}-{tile.key[0]}-{tile.key[1]}",
                pure=False,
                retries=2,
            )
    by_future = {f.key: k for k, f in futures.items()}
    done: dict[TileKey, TileOutcome] = {}
    # Each future is dropped once its outcome is here, so its worker frees the outcome (the tile-sized images
    # included) as soon as no dependent task needs it: a worker's memory does not grow with the edge's length.
    watch = _WorkerWatch(client, futures, worker_timeout)
    for future in _completed_while_workers_live(futures, watch):
        try:
            outcome = _result_while_workers_live(future, watch)
        except ImkerError:
            raise
        except Exception as exc:  # the cluster's own failures (e.g. KilledWorker), in our terms
            for f in futures.values():
                f.cancel()
            raise ClusterError(
                f"the cluster could not finish the batch ({type(exc).__name__}: {exc}); nothing was written"
            ) from exc
        key = by_future[future.key]
        del futures[key], future
        done[key] = _finish(key, outcome, on_tile, keep)
    return done


def _finish(
    key: TileKey,
    outcome: TileOutcome,
    on_tile: Callable[[TileOutcome], None] | None,
    keep: Callable[[TileKey, TileOutcome], TileOutcome] | None,
) -> TileOutcome:
    if on_tile is not None:
        on_tile(outcome)
    return outcome if keep is None else keep(key, outcome)


def _wait_for_workers(client: Client, timeout: float) -> None:
    """Wait up to ``timeout`` s for one worker; a clear :class:`ClusterError` instead of a hang."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        where = client.scheduler.address if client.scheduler is not None else "(unknown address)"
        raise ClusterError(
            f"the dask cluster at {where} has had no worker for {timeout:g} s (--worker-timeout); nothing was written"
        ) from None


class _WorkerWatch:
    """Notices a cluster that has had no worker for ``timeout`` s: it cancels ``futures`` and raises.

    With every worker gone the scheduler keeps the tasks waiting for ever; :meth:`check` is polled instead.
    """

    def __init__(self, client: Client, futures: dict[TileKey, Any], timeout: float) -> None:
        self._client, self._futures, self._timeout = client, futures, timeout
        self._gone_since: float | None = None

    def check(self) -> None:
        """Raise :class:`ClusterError` once no worker has been there for the timeout."""
        if self._client.scheduler_info().get("workers"):
            self._gone_since = None
            return
        now = time.monotonic()
        if self._gone_since is None:
            self._gone_since = now
        elif now - self._gone_since > self._timeout:
            for f in self._futures.values():
                f.cancel()
            raise ClusterError(
                f"every dask worker left and none came back within {self._timeout:g} s "
                "(--worker-timeout); nothing was written"
            )


def _completed_while_workers_live(futures: dict[TileKey, Any], watch: _WorkerWatch) -> Iterator[Any]:
    """``futures``' values as they complete, while ``watch`` sees workers.

    Only the caller's ``futures`` keep a future once it is yielded (the caller may drop it from there).
    """
    from distributed import as_completed

    pending = as_completed(list(futures.values()))
    while not pending.is_empty():
        batch = pending.next_batch(block=False)
        if batch:
            yield from batch
            continue
        watch.check()
        time.sleep(0.05)


def _result_while_workers_live(future: Any, watch: _WorkerWatch) -> Any:
    """``future``'s result, waited for while ``watch`` sees workers.

    A completed future can lose its result again when the worker holding it leaves; with no worker left,
    an unbounded ``result()`` then waited for ever (a test run hung there).
    """
    while True:
        try:
            return future.result(timeout=0.5)
        except TimeoutError:
            watch.check()
