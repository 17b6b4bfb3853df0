"""Small tile generators and helpers for the pipeline tests.

:class:`PatternGenerator` is deterministic, seed-dependent and direction-
equivariant: it works in the RIGHT-facing view and ignores the prompt (the
rendered prompt names the direction, so a prompt-dependent generator could not
obey the mirror law) and, unless asked, the hidden pixels of the reference (the
fill hint).
It records every request it receives and the image it returned, with the order
in which calls started and ended, so tests can check what the pipeline asked
for and in which order.  The other classes break the contract on purpose.

The kill tests import this module in a child process (the folder is put on
``sys.path``), so it must stay importable on its own.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from imkerutils.errors import PermanentGeneratorError, RetryableGeneratorError
from imkerutils.exquisite.api.base import GeneratorBase, TileRequest, TileResult
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.geometry.direction import from_right, to_right
from imkerutils.tiling.canvas import Canvas

if TYPE_CHECKING:
    from collections.abc import Iterator

    from imkerutils.exquisite.pipeline import Candidate, Verdict
    from imkerutils.tiling.window import Window

__all__ = [
    "BrokenGenerator",
    "Call",
    "PatternGenerator",
    "ProtocolOnly",
    "ScriptedQC",
    "canvas_sha",
    "make_canvas",
    "noise_image",
]


@dataclass(frozen=True)
class Call:
    """One request a generator received, what it returned, and when (a global counter) it started and ended."""

    request: TileRequest
    image: np.ndarray
    started: int
    ended: int


class ProtocolOnly:
    """A plug-in that satisfies :class:`TileGenerator` without subclassing :class:`GeneratorBase` (mock's tiles)."""

    name: ClassVar[str] = "protocol-only"
    version: ClassVar[str] = "1"
    deterministic: ClassVar[bool] = True
    needs_network: ClassVar[bool] = False
    max_concurrency: ClassVar[int] = 3

    def __init__(self) -> None:
        self._inner = MockGenerator()

    def params(self) -> dict[str, Any]:
        return {}

    def generate(self, request: TileRequest) -> TileResult:
        return self._inner.generate(request)


@dataclass(eq=False, kw_only=True)
class PatternGenerator(GeneratorBase):
    """Paint each generated pixel as its row's seam colour plus seeded noise (RIGHT-facing view).

    The noise depends on the seed, the mask and the kept pixels (with ``hint``,
    on the hidden fill pixels too), never on the prompt or the direction.
    ``cost_usd`` is charged per call and is also the declared worst case per
    tile; ``sleep_s`` and ``marker`` (a file touched when a call starts) let a
    test kill a process during generation.
    """

    name: ClassVar[str] = "pattern"
    version: ClassVar[str] = "1"
    deterministic: ClassVar[bool] = True
    max_concurrency: ClassVar[int] = 4

    amplitude: int = 24
    cost_usd: float = 0.0
    sleep_s: float = 0.0
    marker: str | Path | None = None
    hint: bool = False
    calls: list[Call] = field(default_factory=list, init=False)
    _clock: Iterator[int] = field(default_factory=itertools.count, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def params(self) -> dict[str, Any]:
        return {"amplitude": self.amplitude, "cost_usd": self.cost_usd, "hint": self.hint}

    def max_cost_per_tile_usd(self) -> float:
        return self.cost_usd

    @property
    def seeds(self) -> list[int]:
        """The seeds of every request so far, in the order the calls started."""
        return [c.request.seed for c in sorted(self.calls, key=lambda c: c.started)]

    def call_for_seed(self, seed: int) -> Call:
        (call,) = [c for c in self.calls if c.request.seed == seed]
        return call

    def paint(self, request: TileRequest) -> np.ndarray:
        """The output for ``request`` (pure: no recording, no sleeping)."""
        d = request.direction
        ref = to_right(request.reference, d)
        gen = to_right(request.generate, d)
        keep = ~gen
        h = hashlib.sha256(repr((int(request.seed), ref.shape, self.amplitude)).encode())
        h.update(np.packbits(gen).tobytes())
        visible = ref if self.hint else np.where(keep[..., None], ref, 0).astype(np.uint8)
        h.update(visible.tobytes())  # C order of the RIGHT view
        rng = np.random.default_rng(int.from_bytes(h.digest()[:8], "little"))
        rows = np.arange(ref.shape[0])
        last = ref.shape[1] - 1 - np.argmax(keep[:, ::-1], axis=1)
        seam = ref[rows, last].astype(np.int16)
        seam[~keep.any(axis=1)] = 128
        noise = rng.integers(-self.amplitude, self.amplitude + 1, size=ref.shape, dtype=np.int16)
        painted = np.clip(seam[:, None, :] + noise, 0, 255).astype(np.uint8)
        out = np.where(gen[..., None], painted, ref)
        return np.ascontiguousarray(from_right(out, d))

    def generate(self, request: TileRequest) -> TileResult:
        with self._lock:
            started = next(self._clock)
        if self.marker is not None:
            Path(self.marker).touch()
        if self.sleep_s:
            time.sleep(self.sleep_s)
        image = self.paint(request)
        with self._lock:
            self.calls.append(Call(request, image, started, next(self._clock)))
        return TileResult(image=image.copy(), cost_usd=self.cost_usd, request_id=f"pattern-{started}")


class BrokenGenerator(PatternGenerator):
    """Behaves like :class:`PatternGenerator` for ``good`` calls, then breaks the contract as ``kind`` says.

    ``kind``: ``"size"`` (1000 x 1000), ``"dtype"`` (uint16), ``"float"`` (float64),
    ``"channels"`` (one channel too many), ``"flat"`` (2-D), ``"retryable"`` or
    ``"permanent"`` (raise that generator error).
    """

    name: ClassVar[str] = "broken"

    def __init__(self, kind: str, *, good: int = 0) -> None:
        super().__init__()
        self.kind = kind
        self.good = good
        self.attempted = 0

    def generate(self, request: TileRequest) -> TileResult:
        with self._lock:
            self.attempted += 1
            n = self.attempted
        result = super().generate(request)
        if n <= self.good:
            return result
        image = result.image
        if self.kind == "retryable":
            raise RetryableGeneratorError("scripted: the service is busy")
        if self.kind == "permanent":
            raise PermanentGeneratorError("scripted: the request was refused")
        bad = {
            "size": lambda: image[:1000, :1000],
            "dtype": lambda: image.astype(np.uint16),
            "float": lambda: image.astype(np.float64),
            "channels": lambda: np.concatenate([image, image[..., :1]], axis=2),
            "flat": lambda: image[..., 0],
        }[self.kind]()
        return TileResult(image=bad, cost_usd=0.0)


class ScriptedQC:
    """A QC hook that answers with ``verdicts`` in turn (the last one repeats) and keeps what it saw."""

    def __init__(self, *verdicts: Verdict) -> None:
        self.verdicts = list(verdicts)
        self.seen: list[Candidate] = []

    def __call__(self, candidate: Candidate) -> Verdict:
        self.seen.append(candidate)
        return self.verdicts[min(len(self.seen), len(self.verdicts)) - 1]


def noise_image(height: int, width: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    """A smooth gradient plus noise: structure a seam strategy can see, no two rows alike."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([(xx * 7 + yy * 3) % 256, (yy * 5) % 256, (xx + 2 * yy) % 256, np.full_like(xx, 255)], axis=2)
    noisy = base[..., :channels] + rng.integers(-30, 31, size=(height, width, channels))
    out = np.clip(noisy, 0, 255).astype(np.uint8)
    if channels == 4:
        out[..., 3] = 255
    return out


def make_canvas(path: str | Path, image: np.ndarray, *, row: int = 0, col: int = 0) -> Canvas:
    """A new canvas at ``path`` holding ``image`` at world ``(row, col)``."""
    canvas = Canvas.create(path, mode="RGBA" if image.shape[2] == 4 else "RGB")
    canvas.paste(image, row, col, extend=True)
    return canvas


def canvas_sha(canvas: Canvas, window: Window) -> str:
    """SHA-256 of the canvas's pixels over ``window``."""
    return hashlib.sha256(canvas.read(window).tobytes()).hexdigest()
