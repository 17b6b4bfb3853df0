"""Crash safety of canvas steps: ``kill -9`` at any moment leaves the canvas exactly before or after a step.

Writers run in processes forked from a zygote (``_crash_writer.py``) and die by
``SIGKILL``: either just before their N-th visible file-system mutation, for
every N (exhaustive, deterministic), or after a random delay from a seeded RNG
(real timing, writers on several threads).  The test process then opens the
canvas (which recovers) and demands one of the expected states of a NumPy
reference model: pixels of a region around everything ever written, bounds,
head, redoable steps, coarser pyramid levels, a clean ``verify()``, and that
one redo and one undo afterwards still agree with the model.

In-process failures (an exception in one chunk task) must roll back and
release the write lock.
"""

from __future__ import annotations

import copy
import functools
import itertools
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dask
import numpy as np
import pytest
from _crash_writer import Zygote, apply, apply_model, pixels  # beside this file (pytest puts it on sys.path)

from imkerutils.errors import CanvasLockedError, ImkerError, OutOfBoundsError
from imkerutils.testing.model import CanvasModel
from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.journal import Journal
from imkerutils.tiling.pyramid import downsample2, level_window

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

TILE = 64  # small chunks: one step touches 9-16 of them cheaply
REGION = Window(-128, -128, 512, 512)  # holds every write below, aligned for 7 pyramid levels

Op = dict[str, Any]


def paste(row: int, col: int, h: int, w: int, seed: int, extend: bool = False) -> Op:
    return {"op": "paste", "row": row, "col": col, "h": h, "w": w, "seed": seed, "extend": extend}


def grow(row: int, col: int, h: int, w: int) -> Op:
    return {"op": "grow", "window": [row, col, h, w]}


UNDO: Op = {"op": "undo"}
REDO: Op = {"op": "redo"}
BASE = [paste(0, 0, 150, 150, seed=1, extend=True)]  # step 1: 3 x 3 chunks
P9 = paste(-20, 40, 100, 100, seed=2, extend=True)  # 3 x 3 chunks, all partial, grows up and right
P4 = paste(-20, 100, 60, 60, seed=3, extend=True)  # 2 x 2 chunks, all partial, grows up and right
FAR = grow(-1500, -2500, 10, 10)  # far beyond the margin left and up: forces a rebase


# -- the reference ---------------------------------------------------------------
@dataclass
class Expected:
    """One state the canvas may be in: the model, and how many undone steps can be redone."""

    model: CanvasModel
    redoable: int

    def after(self, op: Op) -> Expected:
        nxt = Expected(copy.deepcopy(self.model), self.redoable)
        nxt.apply(op)
        return nxt

    def apply(self, op: Op) -> None:
        apply_model(self.model, op)
        self.redoable = {"undo": self.redoable + 1, "redo": self.redoable - 1}.get(op["op"], 0)

    def describe(self) -> str:
        return f"head {self.model.head}, redoable {self.redoable}, bounds {self.model.bounds}"


def expected_states(setup: Sequence[Op], ops: Sequence[Op]) -> list[Expected]:
    """The states before ``ops`` (after ``setup``) and after each of them."""
    state = Expected(CanvasModel("RGB", region=REGION), 0)
    for op in setup:
        state.apply(op)
    states = [state]
    for op in ops:
        states.append(states[-1].after(op))
    return states


@dataclass(frozen=True)
class Observed:
    """What a canvas shows: head, redoable steps, bounds, and the pixels of :data:`REGION`."""

    head: int
    redoable: int
    bounds: Window
    pixels: np.ndarray

    @classmethod
    def of(cls, canvas: Canvas) -> Observed:
        return cls(canvas.head, canvas.summary()["redoable"], canvas.bounds, canvas.read(REGION))

    def matches(self, exp: Expected) -> bool:
        return (self.head, self.redoable, self.bounds) == (
            exp.model.head,
            exp.redoable,
            exp.model.bounds,
        ) and np.array_equal(self.pixels, exp.model.read(REGION))

    def describe(self) -> str:
        return f"head {self.head}, redoable {self.redoable}, bounds {self.bounds}"


def assert_pyramid(canvas: Canvas, exp: Expected) -> None:
    """Every coarser level equals the 2x reductions of the expected level 0."""
    want = exp.model.read(REGION)
    for level in range(1, canvas.levels):
        want = downsample2(want)
        got = canvas.read(level_window(REGION, level), level=level)
        assert np.array_equal(got, want), f"pyramid level {level} disagrees with level 0 ({exp.describe()})"


def assert_state(canvas: Canvas, exp: Expected) -> None:
    seen = Observed.of(canvas)
    assert seen.describe() == exp.describe()
    np.testing.assert_array_equal(seen.pixels, exp.model.read(REGION))
    report = canvas.verify()
    assert report.ok, report.problems


def outcome(action: Callable[[], object]) -> type[ImkerError] | None:
    """The error type an operation raises (``None``: it succeeded)."""
    try:
        action()
    except ImkerError as exc:
        return type(exc)
    return None


def check_read_only(path: Path, candidates: Sequence[Expected], what: str, tree_digest: Callable) -> int:
    """Open ``path`` read-only, before any writer recovers it: it must show a candidate state and write nothing.

    A pending step's keys are read from its journal entry (the committed
    bytes), so the reader sees the last committed state, and ``verify``
    agrees with it.  Returns the index of the candidate it shows.
    """
    before = tree_digest(path)
    canvas = Canvas.open(path, read_only=True)
    seen = Observed.of(canvas)
    found = [i for i, exp in enumerate(candidates) if seen.matches(exp)]
    assert found, f"{what}: a read-only open ({seen.describe()}) shows none of the expected states"
    report = canvas.verify()
    assert report.ok, f"{what}: verify of a read-only open: {report.problems}"
    assert tree_digest(path) == before, f"{what}: a read-only open changed the canvas"
    return found[0]


def check_recovered(path: Path, candidates: Sequence[Expected], what: str) -> int:
    """Open ``path`` (recovering) and return the index of the candidate state it is in.

    Then checks verify, the pyramid, and that one redo and one undo agree
    with the model: the journal that makes them possible survived too.
    (Several candidates may look alike yet hold different undone steps; a
    probe keeps those that agree with the canvas.)
    """
    canvas = Canvas.open(path)
    seen = Observed.of(canvas)
    found = [i for i, exp in enumerate(candidates) if seen.matches(exp)]
    if not found:
        closest = [
            f"{np.count_nonzero((seen.pixels != exp.model.read(REGION)).any(axis=2))} px differ from "
            f"state {i} ({exp.describe()})"
            for i, exp in enumerate(candidates)
        ]
        pytest.fail(
            f"{what}: after recovery the canvas ({seen.describe()}) is in none of the expected "
            "states: " + "; ".join(closest)
        )
    report = canvas.verify()
    assert report.ok, f"{what}: verify after recovery: {report.problems}"
    assert_pyramid(canvas, candidates[found[0]])
    alive = {i: Expected(copy.deepcopy(candidates[i].model), candidates[i].redoable) for i in found}
    for probe in (REDO, UNDO):
        got = outcome(functools.partial(apply, canvas, probe))
        seen = Observed.of(canvas)
        alive = {
            i: exp
            for i, exp in alive.items()
            if outcome(functools.partial(exp.apply, probe)) is got and seen.matches(exp)
        }
        assert alive, (
            f"{what}: {probe['op']} after recovery ({'raised ' + got.__name__ if got else 'ok'}) "
            f"leaves {seen.describe()}: no expected state agrees"
        )
        report = canvas.verify()
        assert report.ok, f"{what}: verify after recovery and {probe['op']}: {report.problems}"
    return min(alive)


# -- fixtures --------------------------------------------------------------------
@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    z = Zygote()
    yield z
    z.close()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Sequence[Op]], Path]:
    """``prepared(setup)``: a canvas (tile 64, pyramid up to date) after the ``setup`` operations, cached."""
    root = tmp_path_factory.mktemp("prepared")
    cache: dict[str, Path] = {}

    def make(setup: Sequence[Op]) -> Path:
        key = repr(setup)
        if key not in cache:
            path = root / f"canvas{len(cache)}"
            canvas = Canvas.create(path, tile=TILE)
            for op in setup:
                apply(canvas, op)
            canvas.update_pyramid()
            cache[key] = path
        return cache[key]

    return make


def fresh_copy(src: Path, dst: Path) -> Path:
    """``src`` copied to ``dst`` as hard links (fast).

    Every canvas write replaces whole files by renaming (the journal's
    hard-link snapshots rely on it too), so the copy cannot change ``src``;
    the exhaustive tests check that it did not.
    """
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, copy_function=os.link)
    return dst


def run_clean(zygote: Zygote, src: Path, work: Path, ops: Sequence[Op]) -> list[int]:
    """Run ``ops`` without a kill; returns the mutation marks (after open, after each op)."""
    done = zygote.run(fresh_copy(src, work), list(ops))
    assert done["exit"] == 0, done["error"]
    return done["marks"]


# -- exhaustive: SIGKILL before every single file-system mutation ------------------
SCENARIOS = {
    "paste": (BASE, P9),
    "grow": (BASE, grow(-70, -70, 10, 10)),
    "undo": ([*BASE, P4], UNDO),
    "redo": ([*BASE, P4, UNDO], REDO),
    # A new step while a redo is waiting discards the waiting step's journal entry.
    "paste-with-redo-waiting": ([*BASE, paste(70, 70, 50, 50, seed=4), UNDO], paste(10, 10, 40, 100, seed=5)),
    # Past the margin left and up: the canvas is rebased (arrays of a new generation), then the step runs.
    "rebase": (BASE, FAR),
    # Undoing it leaves more margin than the layout rule allows: rebased back down; a redo rebases up again.
    "undo-rebase": ([*BASE, P4, FAR], UNDO),
    "redo-rebase": ([*BASE, P4, FAR, UNDO], REDO),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_kill_before_every_mutation_leaves_before_or_after(name, zygote, prepared, tmp_path, tree_digest):
    setup, op = SCENARIOS[name]
    src = prepared(setup)
    src_digest = tree_digest(src)
    states = expected_states(setup, [op])
    work = tmp_path / "canvas"
    marks = run_clean(zygote, src, work, [op])
    assert marks[0] == 0, "opening a clean canvas must not write"
    assert not Observed.of(Canvas.open(work)).matches(states[0]), "the step must change what a reader sees"
    total = marks[-1]
    assert total >= 2, marks  # at least the pending mark and the commit
    assert check_recovered(work, states, f"{name}, not killed") == 1
    outcomes, failures = [], []
    for n in range(1, total + 1):
        done = zygote.run(fresh_copy(src, work), [op], kill_at=n)
        assert done["signal"] == signal.SIGKILL, done
        what = f"killed before mutation {n} of {total}"
        try:
            seen_read_only = check_read_only(work, states, what, tree_digest)
            outcomes.append(check_recovered(work, states, what))
            assert seen_read_only <= outcomes[-1], f"{what}: read-only saw a later state than recovery gives"
        except (AssertionError, pytest.fail.Exception) as exc:
            failures.append(str(exc).splitlines()[0])
    assert not failures, f"{name}: {len(failures)} of {total} kill points broke the canvas:\n" + "\n".join(failures)
    # Killed before any change: before.  Once a kill point gives "after", every later one does.
    assert outcomes[0] == 0
    assert outcomes == sorted(outcomes), outcomes
    assert tree_digest(src) == src_digest, "a write changed a file in place (a hard-linked copy changed)"


# name: (setup, op, kill this many mutations before the writer's end, leaving the most work pending)
RECOVERIES = {
    "paste": (BASE, P4, 2),  # before the commit (then the mirror, the lock's marker): all chunks to roll back
    "undo": ([*BASE, P4], UNDO, 10),  # after the pending mark, before the 8 restores (4 chunks + 4 hashes)
}


@pytest.mark.slow
@pytest.mark.parametrize("name", RECOVERIES)
def test_kill_during_recovery_then_recover(name, zygote, prepared, tmp_path):
    """A writer dies with much work pending; recovery itself is killed at every point, then rerun."""
    setup, op, from_end = RECOVERIES[name]
    src = prepared(setup)
    states = expected_states(setup, [op])
    crashed = tmp_path / "crashed"
    total = run_clean(zygote, src, crashed, [op])[-1]
    done = zygote.run(fresh_copy(src, crashed), [op], kill_at=total - from_end)
    assert done["signal"] == signal.SIGKILL
    work = tmp_path / "canvas"
    recovery = run_clean(zygote, crashed, work, [])[0]
    assert recovery > from_end, "opening a canvas with a pending step must finish or roll it back"
    want = check_recovered(work, states, f"{name}, recovered once")
    for n in range(1, recovery + 1):
        done = zygote.run(fresh_copy(crashed, work), [], kill_at=n)
        assert done["signal"] == signal.SIGKILL
        got = check_recovered(work, states, f"{name}, recovery killed before mutation {n} of {recovery}")
        assert got == want, f"recovery killed at {n} reached state {got}, an unkilled recovery state {want}"


# -- random timing: SIGKILL after a seeded random delay, writers on threads ---------
SEQUENCE = [
    paste(-40, 30, 150, 170, seed=11, extend=True),  # grow + paste, 12 chunks
    grow(-100, -64, 64, 64),
    paste(10, -50, 130, 240, seed=12),  # 12 chunks inside the bounds
    UNDO,
    UNDO,
    REDO,
    paste(0, 0, 128, 128, seed=13),  # 4 whole chunks; drops the waiting redo
    UNDO,
    REDO,
    paste(150, 150, 100, 100, seed=14, extend=True),
]


KILLS = 25


def test_random_sigkill_during_a_sequence_of_steps(zygote, prepared, tmp_path):
    """Kill a writer running :data:`SEQUENCE` after a random delay (seeded), spread over its whole run.

    The delay is drawn up to 1.1 times an unkilled run's duration, so kills
    land before, during and after the sequence; each must leave one of its
    consecutive states.
    """
    src = prepared(BASE)
    states = expected_states(BASE, SEQUENCE)
    work = tmp_path / "canvas"

    def timed_run() -> float:
        started: list[float] = []
        done = zygote.run(fresh_copy(src, work), SEQUENCE, while_running=lambda pid: started.append(time.monotonic()))
        assert done["exit"] == 0, done["error"]
        return time.monotonic() - started[0]

    timed_run()  # warm caches
    span = min(timed_run(), timed_run())
    assert check_recovered(work, states, "sequence, not killed") == len(SEQUENCE)
    rng = np.random.default_rng(20240601)

    def kill_after(delay: float) -> Callable[[int], None]:
        def act(pid: int) -> None:
            time.sleep(delay)
            os.kill(pid, signal.SIGKILL)  # our own forked writer (not yet reaped, so the pid is still its)

        return act

    reached, failures = [], []
    for i, delay in enumerate(rng.uniform(0.0, 1.1 * span, size=KILLS)):
        zygote.run(fresh_copy(src, work), SEQUENCE, while_running=kill_after(float(delay)))
        try:
            reached.append(check_recovered(work, states, f"kill {i} after {delay * 1e3:.0f} of {span * 1e3:.0f} ms"))
        except (AssertionError, pytest.fail.Exception) as exc:
            failures.append(str(exc).splitlines()[0])
    assert not failures, f"{len(failures)} of {KILLS} kills broke the canvas (others reached {reached}): {failures}"


# -- in-process failures ---------------------------------------------------------
class ChunkFailed(RuntimeError):
    """Injected into a chunk task."""


def fresh_canvas(prepared: Callable[[Sequence[Op]], Path], setup: Sequence[Op], tmp_path: Path) -> Canvas:
    return Canvas.open(fresh_copy(prepared(setup), tmp_path / "canvas"))


def failing_on_call(n: int) -> Callable[..., None]:
    """A ``Canvas._store_tile`` that raises :class:`ChunkFailed` on its ``n``-th call (from any thread)."""
    original = Canvas._store_tile
    counter = itertools.count(1)
    lock = threading.Lock()

    def write(self: Canvas, *args: Any, **kwargs: Any) -> None:
        with lock:
            k = next(counter)
        if k == n:
            raise ChunkFailed("disk full")
        original(self, *args, **kwargs)

    return write


@pytest.mark.parametrize("setup", [BASE, [*BASE, P4, UNDO]], ids=["plain", "redo-waiting"])
def test_a_failing_chunk_task_rolls_back_and_releases_the_lock(setup, prepared, tmp_path, monkeypatch):
    """The 4th of 9 chunk tasks fails: the paste raises, the canvas (and its journal) is as before."""
    canvas = fresh_canvas(prepared, setup, tmp_path)
    before = expected_states(setup, [])[0]
    original = Canvas._store_tile
    monkeypatch.setattr(Canvas, "_store_tile", failing_on_call(4))
    op = P9
    with pytest.raises(ChunkFailed):
        apply(canvas, op)
    assert_state(canvas, before)
    monkeypatch.setattr(Canvas, "_store_tile", original)
    # On a copy (the probes undo and redo): the journal is intact too.
    check_recovered(fresh_copy(canvas.path, tmp_path / "probe"), [before], "after a failed paste")
    apply(canvas, op)  # the lock was released
    assert_state(canvas, before.after(op))


def test_a_failing_begin_releases_the_lock(prepared, tmp_path):
    """A step refused in ``begin`` (growing past the largest extent a canvas may have) writes nothing and unlocks."""
    canvas = fresh_canvas(prepared, BASE, tmp_path)
    before = expected_states(BASE, [])[0]
    with pytest.raises(OutOfBoundsError):
        canvas.extend(Window(-(2**30), 0, 1, 1))
    with pytest.raises(OutOfBoundsError):
        canvas.paste(pixels(5, 1, 1), -(2**30), 0, extend=True)
    assert_state(canvas, before)
    apply(canvas, P9)
    assert_state(canvas, before.after(P9))


def test_a_failing_pending_mark_writes_no_chunk_and_releases_the_lock(prepared, tmp_path, monkeypatch, tree_digest):
    """Chunk tasks read and merge while the journal snapshots; if that fails, none of them may write."""
    canvas = fresh_canvas(prepared, BASE, tmp_path)
    before = expected_states(BASE, [])[0]
    tree = tree_digest(canvas.path)
    original_begin = Journal.begin

    def failing_begin(self, *args, **kwargs):
        time.sleep(0.2)  # the chunk tasks have merged their chunks and wait to write
        raise ChunkFailed("journal disk full")

    monkeypatch.setattr(Journal, "begin", failing_begin)
    with pytest.raises(ChunkFailed):
        apply(canvas, P9)
    monkeypatch.setattr(Journal, "begin", original_begin)
    now = tree_digest(canvas.path)
    changed = {k for k in set(tree) | set(now) if tree.get(k) != now.get(k)}
    assert all(k.startswith("_pyramid/stale/") for k in changed), sorted(changed)  # markers only: no chunk
    assert_state(canvas, before)
    apply(canvas, P9)  # the lock was released
    assert_state(canvas, before.after(P9))


def test_a_failing_chunk_task_rolls_back_chunks_still_being_written(prepared, tmp_path, monkeypatch):
    """One chunk task fails while another is still writing: the failed step must still leave "before".

    dask raises the first task error at once, without waiting for tasks already
    running; the step's rollback must not run until they have stopped (else a
    late chunk lands after the rollback, and after the lock is released).  The
    first chunk task blocks until dask has raised, then (up to a second) until
    the rollback is done; the second chunk task fails.
    """
    canvas = fresh_canvas(prepared, BASE, tmp_path)
    before = expected_states(BASE, [])[0]
    original_write, original_rollback = Canvas._store_tile, Journal.rollback
    order: list[str] = []
    calls = itertools.count(1)
    lock = threading.Lock()

    def rollback(self, *args, **kwargs):
        order.append("rollback")
        return original_rollback(self, *args, **kwargs)

    def write(self, *args, **kwargs):
        with lock:
            n = next(calls)
        if n == 1:  # the slow writer, still running when another chunk fails
            time.sleep(0.5)
            original_write(self, *args, **kwargs)
            order.append("late chunk written")
            return
        if n == 2:
            raise ChunkFailed("disk full")
        original_write(self, *args, **kwargs)

    monkeypatch.setattr(Canvas, "_store_tile", write)
    monkeypatch.setattr(Journal, "rollback", rollback)
    with pytest.raises(ChunkFailed):
        apply(canvas, P9)
    assert order.index("late chunk written") < order.index("rollback"), order
    assert_state(Canvas.open(canvas.path), before)


def test_a_failing_lazy_paste_rolls_back_and_releases_the_lock(prepared, tmp_path, monkeypatch):
    """``paste(compute=False)``: the caller computes the step; a failing chunk must not leave it pending."""
    canvas = fresh_canvas(prepared, BASE, tmp_path)
    before = expected_states(BASE, [])[0]
    original = Canvas._store_tile
    monkeypatch.setattr(Canvas, "_store_tile", failing_on_call(2))
    lazy = canvas.paste(pixels(2, 100, 100), -20, 40, extend=True, compute=False)
    with pytest.raises(ChunkFailed):
        dask.compute(lazy, scheduler="threads")
    monkeypatch.setattr(Canvas, "_store_tile", original)
    problems = []
    if not Observed.of(Canvas.open(canvas.path, read_only=True)).matches(before):
        problems.append("a reader sees part of the failed step: it was neither rolled back nor committed")
    try:
        apply(canvas, P9)
    except CanvasLockedError:
        problems.append("the failed step still holds the write lock: no later write can start")
    assert not problems, problems
    assert_state(canvas, before.after(P9))
