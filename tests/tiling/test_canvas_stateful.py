"""Canvas against the NumPy reference model: random pastes, growth, reads, undo/redo and reopening.

After every step the folder must also be a valid OME-Zarr image whose arrays obey the layout rule
(issue 13): per axis and level at most ``max(2 * content, content + 8 tiles)``, exactly the frame's shape,
bounds mirrored into ``zarr.json``; far jumps in every direction force rebases.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from imkerutils.errors import CanvasReadOnlyError, ImkerError
from imkerutils.testing.layout import check_canvas_layout
from imkerutils.testing.model import CanvasModel
from imkerutils.testing.strategies import modes, pixel_arrays, windows, windows_inside
from imkerutils.tiling import Canvas, Window

if TYPE_CHECKING:
    from collections.abc import Callable

TILE = 16  # small tiles: every paste crosses chunk edges cheaply
REGION = Window(-32, -32, 112, 112)  # where the model keeps pixels: every paste and growth stays inside it
positions = st.integers(-28, 52)
MARGIN = 3  # background pixels checked around the bounds
sizes = dict(min_side=1, max_side=28)


def scratch_dir() -> Path:
    """A fresh temporary directory, in RAM where the system has one.

    Every example creates and deletes a canvas of a few hundred small files and folders; on a slow
    disk that, not the canvas code, would dominate the run time.  The files behave the same on tmpfs.
    """
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="imker-stateful-", dir=base))


class CanvasMachine(RuleBasedStateMachine):
    """Every operation runs on a real canvas (tile 16) and on :class:`CanvasModel`; they must agree."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = scratch_dir()
        self.path = self.tmp / "canvas"
        self.canvas: Canvas
        self.model: CanvasModel
        self.checked_token: str | None = None

    def both(self, on_canvas: Callable[[], object], on_model: Callable[[], object]) -> None:
        """Run an operation on the model, then on the canvas, which must raise the same error (or none)."""
        try:
            on_model()
        except ImkerError as exc:
            with pytest.raises(type(exc)):
                on_canvas()
        else:
            on_canvas()

    @initialize(mode=modes(), height=st.integers(0, 28), width=st.integers(0, 28))
    def create(self, mode: str, height: int, width: int) -> None:
        self.canvas = Canvas.create(self.path, mode=mode, height=height, width=width, tile=TILE)
        self.model = CanvasModel(mode, Window(0, 0, height, width), region=REGION)

    def pixels(self, arr: np.ndarray) -> np.ndarray:
        """Drop the alpha channel on an RGB canvas (strategies draw RGBA)."""
        return np.ascontiguousarray(arr[:, :, : self.model.channels])

    @rule(arr=pixel_arrays("RGBA", **sizes), row=positions, col=positions, extend=st.booleans())
    def paste(self, arr: np.ndarray, row: int, col: int, extend: bool) -> None:
        data = self.pixels(arr)
        self.both(
            lambda: self.canvas.paste(data, row, col, extend=extend),
            lambda: self.model.paste(data, row, col, extend=extend),
        )

    @precondition(lambda self: self.model.bounds.intersection(REGION) is not None)
    @rule(data=st.data())
    def paste_inside_bounds(self, data: st.DataObject) -> None:
        inside = self.model.bounds.intersection(REGION)  # far jumps grow the bounds past the model's region
        assert inside is not None
        target = data.draw(windows_inside(inside), label="target")
        arr = self.pixels(data.draw(pixel_arrays("RGBA", height=target.height, width=target.width), label="pixels"))
        step = self.canvas.paste(arr, target.row_off, target.col_off)
        self.model.paste(arr, target.row_off, target.col_off)
        assert step.tiles == self.canvas.grid.count(target)

    @rule(
        pieces=st.lists(st.tuples(pixel_arrays("RGBA", max_side=16), positions, positions), min_size=1, max_size=3),
        extend=st.booleans(),
    )
    def write_pieces(self, pieces: list[tuple[np.ndarray, int, int]], extend: bool) -> None:
        args = [(row, col, self.pixels(arr)) for arr, row, col in pieces]
        self.both(lambda: self.canvas.write(args, extend=extend), lambda: self.model.write(args, extend=extend))

    @rule(window=windows(min_offset=-32, max_offset=52, max_size=28))
    def extend(self, window: Window) -> None:
        self.canvas.extend(window)
        self.model.extend(window)

    @rule(direction=st.sampled_from(["left", "right", "up", "down"]), tiles=st.integers(1, 24))
    def extend_far(self, direction: str, tiles: int) -> None:
        """A jump of up to 24 tiles in any direction (bounds only: the model keeps no pixels there)."""
        b = self.model.bounds if not self.model.bounds.is_empty else Window(0, 0, 1, 1)
        d = tiles * TILE
        far = {
            "left": Window(b.row_off, b.col_off - d, 1, 1),
            "right": Window(b.row_off, b.col_end + d, 1, 1),
            "up": Window(b.row_off - d, b.col_off, 1, 1),
            "down": Window(b.row_end + d, b.col_off, 1, 1),
        }
        self.canvas.extend(far[direction])
        self.model.extend(far[direction])

    @rule()
    def update_pyramid(self) -> None:
        self.canvas.update_pyramid()

    @rule(window=windows(min_offset=-48, max_offset=80, max_size=48))
    def read(self, window: Window) -> None:
        np.testing.assert_array_equal(self.canvas.read(window), self.model.read(window))

    @rule()
    def undo(self) -> None:
        self.both(self.canvas.undo, self.model.undo)

    @rule()
    def redo(self) -> None:
        self.both(self.canvas.redo, self.model.redo)

    @rule(undos=st.integers(1, 4), redos=st.integers(1, 4))
    def walk_history(self, undos: int, redos: int) -> None:
        """Several undos then several redos: reaches deep into the history."""
        for _ in range(undos):
            self.both(self.canvas.undo, self.model.undo)
        for _ in range(redos):
            self.both(self.canvas.redo, self.model.redo)

    @rule()
    def reopen(self) -> None:
        self.canvas = Canvas.open(self.path)
        self.checked_token = None  # check the reopened canvas in full

    @rule(arr=pixel_arrays("RGBA", max_side=8))
    def reopen_read_only(self, arr: np.ndarray) -> None:
        ro = Canvas.open(self.path, read_only=True)
        assert ro.bounds == self.model.bounds
        with pytest.raises(CanvasReadOnlyError):
            ro.paste(self.pixels(arr), 0, 0, extend=True)
        with pytest.raises(CanvasReadOnlyError):
            ro.undo()

    @invariant()
    def layout_obeys_the_rule(self) -> None:
        check_canvas_layout(self.path, self.canvas)
        attrs = json.loads((self.path / "zarr.json").read_text())["attributes"]
        assert attrs["imkerutils"]["bounds"] == self.canvas.bounds.to_dict()

    @invariant()
    def agrees_with_model(self) -> None:
        assert self.canvas.bounds == self.model.bounds
        assert self.canvas.head == self.model.head
        # The pixels and verify() are checked whenever the committed state changed: damage that a
        # refused operation might do persists, so the next check (or a `read` rule) still sees it.
        if self.canvas.state_token == self.checked_token:
            return
        b = self.model.bounds  # the bounds and a margin beyond them: content inside, background outside
        view = Window(b.row_off - MARGIN, b.col_off - MARGIN, b.height + 2 * MARGIN, b.width + 2 * MARGIN)
        np.testing.assert_array_equal(self.canvas.read(view), self.model.read(view))
        report = self.canvas.verify()
        assert report.ok, report.problems
        self.checked_token = self.canvas.state_token

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


CanvasMachine.TestCase.settings = settings(stateful_step_count=20)
TestCanvasMachine = CanvasMachine.TestCase
