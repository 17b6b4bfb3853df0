"""The threaded pyramid update reduces a parent as soon as its children are written (pyramid.run_as_ready)."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imkerutils.tiling.pyramid import run_as_ready


def levels_above(base: set[tuple[int, int]], count: int) -> list[list[tuple[int, int]]]:
    """``base`` and the parents of each level, as an update recomputes them."""
    levels = [sorted(base)]
    for _ in range(count - 1):
        levels.append(sorted({(i >> 1, j >> 1) for i, j in levels[-1]}))
    return levels


@settings(max_examples=40, deadline=None)
@given(
    base=st.sets(st.tuples(st.integers(-6, 9), st.integers(-6, 9)), min_size=1, max_size=30),
    count=st.integers(1, 5),
    threads=st.integers(1, 4),
)
def test_every_tile_runs_once_and_after_its_listed_children(base, count, threads):
    levels = levels_above(base, count)
    done: list[tuple[int, int, int]] = []
    lock = threading.Lock()
    rng = random.Random(0)

    def run(k: int, i: int, j: int) -> None:
        time.sleep(rng.random() / 2000)
        with lock:
            if k:
                kids = {(k - 1, 2 * i + di, 2 * j + dj) for di in (0, 1) for dj in (0, 1)}
                listed = {(k - 1, *ij) for ij in levels[k - 1]}
                assert kids & listed <= set(done), f"tile {(k, i, j)} ran before its children"
            done.append((k, i, j))

    with ThreadPoolExecutor(threads) as pool:
        run_as_ready(pool, levels, run)
    assert sorted(done) == sorted((k, i, j) for k, tiles in enumerate(levels) for i, j in tiles)


def test_a_parent_starts_before_its_level_is_finished():
    """A parent whose children are written starts while its level's last tile still runs: levels overlap.

    The last tile of level 0 waits (up to 10 s) for some level-1 tile to start; waiting for the whole level, as
    the old loop did, it would wait in vain.
    """
    levels = levels_above({(0, j) for j in range(16)}, 2)
    parent_started = threading.Event()
    waited: list[bool] = []

    def run(k: int, i: int, j: int) -> None:
        if k == 1:
            parent_started.set()
        elif (i, j) == (0, 15):
            waited.append(parent_started.wait(10))

    with ThreadPoolExecutor(2) as pool:
        run_as_ready(pool, levels, run)
    assert waited == [True]


def test_a_failing_tile_is_raised_and_nothing_above_it_runs():
    levels = levels_above({(0, 0), (0, 1), (0, 2), (0, 3)}, 3)
    ran: list[tuple[int, int, int]] = []

    def run(k: int, i: int, j: int) -> None:
        if (k, i, j) == (0, 0, 1):
            raise OSError("disk full")
        ran.append((k, i, j))

    with ThreadPoolExecutor(2) as pool, pytest.raises(OSError, match="disk full"):
        run_as_ready(pool, levels, run)
    assert (1, 0, 0) not in ran
    assert (2, 0, 0) not in ran
