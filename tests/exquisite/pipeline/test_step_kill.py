"""``kill -9`` during a growth step: the canvas reopens as it was before the step, or as it is after it.

A child process grows a canvas; it is killed while a (slow) generator works,
on the k-th chunk write of the commit, just after the journal commit, or
while artifacts are saved (after the commit, so a refused step leaves none).  The parent then reopens the canvas.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from _generators import PatternGenerator, canvas_sha, make_canvas, noise_image

from imkerutils.exquisite.pipeline import GrowSettings, grow, step_records
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

HERE = Path(__file__).parent
SETTINGS = dict(seed=5)
# 600 x 700 grown right: one tile; the strip (cols 700..1212) touches two chunks
AROUND = Window(-600, -600, 1800, 2400)

CHILD = r"""
import itertools, os, signal, sys, threading
sys.path.insert(0, sys.argv[1])
from _generators import PatternGenerator
from imkerutils.exquisite.pipeline import GrowSettings, grow
from imkerutils.tiling.canvas import Canvas

where, path, marker, k = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
counter, lock = itertools.count(1), threading.Lock()

def die_on_kth(original):
    def wrapper(*args, **kwargs):
        with lock:
            n = next(counter)
        if n == k:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)
    return wrapper

if where == "chunk":
    Canvas._store_tile = die_on_kth(Canvas._store_tile)  # a chunk write, after the pending mark
elif where == "artifact":
    Canvas.put_artifact = die_on_kth(Canvas.put_artifact)
elif where == "committed":
    from imkerutils.tiling.journal import Journal
    commit = Journal.commit
    def commit_then_die(*args, **kwargs):
        commit(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    Journal.commit = commit_then_die
generator = PatternGenerator(sleep_s=120 if where == "generate" else 0, marker=marker)
grow(Canvas.open(path), ["right"], generator, GrowSettings(seed=5))
print("finished")
"""


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@dataclass(frozen=True)
class State:
    bounds: Window
    head: int
    history: tuple[tuple[int, str], ...]
    records: int
    pixels: str

    @classmethod
    def of(cls, canvas: Canvas) -> State:
        return cls(
            canvas.bounds,
            canvas.head,
            tuple((s.number, s.kind) for s in canvas.history()),
            len(step_records(canvas)),
            canvas_sha(canvas, AROUND),
        )


@dataclass(frozen=True)
class Reference:
    base: Path  # the canvas before the step (copy it, never change it)
    before: State
    after: State


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    root = tmp_path_factory.mktemp("kill")
    base = make_canvas(root / "base.zarr", noise_image(600, 700, seed=8))
    before = State.of(base)
    shutil.copytree(base.path, root / "grown.zarr")
    grown = Canvas.open(root / "grown.zarr")
    grow(grown, ["right"], PatternGenerator(), GrowSettings(**SETTINGS))
    after = State.of(grown)
    assert after.bounds == Window(0, 0, 600, 1212)
    assert after.head == before.head + 1
    return Reference(base.path, before, after)


def run_child(canvas: Path, where: str, k: int, marker: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(HERE), where, str(canvas), str(marker), str(k)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, child: subprocess.Popen[str], limit_s: float = 120.0) -> None:
    """Wait until ``path`` exists (a safety limit, not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while not path.exists():
        if child.poll() is not None:
            pytest.fail(f"the child ended before generating: {child.communicate()}")
        if time.monotonic() > deadline:
            child.kill()
            child.communicate()
            pytest.fail("the child never started generating")
        time.sleep(0.05)


def check_recovered(path: Path, reference: Reference, *, grow_again: bool = False) -> State:
    canvas = Canvas.open(path)  # recovers a pending step
    state = State.of(canvas)
    assert state in (reference.before, reference.after)
    assert canvas.verify().ok
    assert state.records == state.head - reference.before.head
    if grow_again:  # the recovered canvas takes the step and ends exactly where an uninterrupted run ends
        grow(canvas, ["right"], PatternGenerator(), GrowSettings(**SETTINGS))
        assert State.of(Canvas.open(path)) == reference.after
    return state


def test_kill_during_generation_leaves_every_file_as_it_was(reference: Reference, tmp_path: Path) -> None:
    path = tmp_path / "c.zarr"
    shutil.copytree(reference.base, path)
    files = tree(path)
    marker = tmp_path / "generating"
    child = run_child(path, "generate", 0, marker)
    wait_for(marker, child)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert tree(path) == files
    assert check_recovered(path, reference, grow_again=True) == reference.before


@pytest.mark.parametrize(
    ("where", "k", "expected"),
    [
        ("artifact", 2, "after"),  # while saving the artifacts, which happens after the commit (issue 17)
        ("chunk", 1, "before"),  # pending in the journal, no chunk written yet
        ("chunk", 2, "before"),  # pending, one of the two chunks written
        ("committed", 0, "after"),  # the journal committed; the process dies before returning
    ],
)
def test_kill_during_the_commit_rolls_back_or_completes(
    reference: Reference, tmp_path: Path, where: str, k: int, expected: str
) -> None:
    path = tmp_path / "c.zarr"
    shutil.copytree(reference.base, path)
    child = run_child(path, where, k, tmp_path / "marker")
    out, err = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL, (out, err)
    assert "finished" not in out
    recovered = check_recovered(path, reference, grow_again=(where, k) == ("chunk", 2))
    assert recovered == (reference.before if expected == "before" else reference.after)


def test_the_reference_step_changed_the_canvas(reference: Reference) -> None:
    """Guards the tests above: before and after really differ, in pixels and in history."""
    assert reference.before.pixels != reference.after.pixels
    assert reference.after.records == reference.before.records + 1
    assert np.array_equal(np.array(reference.before.bounds.shape) + [0, 512], reference.after.bounds.shape)
