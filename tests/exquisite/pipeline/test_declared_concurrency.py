"""The pipeline runs as many tiles at once as a generator declares, for a protocol-only plug-in too (issue 18 point 2).

Each generator here holds its first two calls at a barrier of two: they can only
both return if the pipeline had two calls in flight at once.  With one worker
the barrier breaks (after a guard timeout that a correct run never reaches) and
the step fails.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, ClassVar

import pytest
from _generators import ProtocolOnly, make_canvas, noise_image

from imkerutils.exquisite.pipeline import GrowSettings, fill, grow_step
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from imkerutils.exquisite.api.base import TileRequest, TileResult

HEIGHT, WIDTH = 2400, 700  # grows right as three tiles; 0 and 2 are independent


class Meeting(ProtocolOnly):
    """A protocol-only generator (no GeneratorBase) whose first two calls must overlap."""

    name: ClassVar[str] = "meeting"
    max_concurrency: ClassVar[int] = 2

    def __init__(self) -> None:
        super().__init__()
        self.barrier = threading.Barrier(2, timeout=30)  # a guard: a correct run meets at once
        self.calls = 0
        self._lock = threading.Lock()

    def generate(self, request: TileRequest) -> TileResult:
        with self._lock:
            self.calls += 1
            first_two = self.calls <= 2
        if first_two:
            self.barrier.wait()
        return super().generate(request)


@pytest.mark.parametrize("run", ["grow", "fill"])
def test_a_protocol_only_generators_max_concurrency_sets_the_workers(tmp_path, run: str) -> None:
    canvas = make_canvas(tmp_path / "c.zarr", noise_image(HEIGHT, WIDTH, seed=4))
    gen = Meeting()
    settings = GrowSettings(seed=1, save_artifacts=False)  # workers=None: the generator's declaration
    if run == "grow":
        record = grow_step(canvas, "right", gen, settings)
    else:
        record = fill(canvas, Window(0, WIDTH, HEIGHT, 512), gen, settings)
    assert gen.calls >= 3
    assert not gen.barrier.broken
    assert len(record.tiles) == gen.calls
