"""A fast, deterministic, offline generator for tests and benchmarks.

:class:`MockGenerator` paints the *generate* region of a request with a pattern
that depends only on the seed, the prompt and the kept pixels (a SHA-256 digest of
them), and that continues each row's colour from the last kept column, so seams
look plausible.  It works in the RIGHT-mapped frame, which makes it equivariant:
a LEFT request gives the mirror of the RIGHT request on the mirrored tile.

Optional knobs make pipeline behaviour testable: ``band_drift`` redraws the kept
pixels slightly (as real models do), ``sleep_s`` simulates a remote call, and
``fail_times``/``failure`` make the first calls fail.

>>> import numpy as np
>>> from imkerutils.exquisite.api.base import TileRequest
>>> from imkerutils.exquisite.geometry.direction import Direction
>>> ref = np.full((64, 64, 3), 100, np.uint8)
>>> gen = np.zeros((64, 64), bool); gen[:, 32:] = True
>>> req = TileRequest(ref, gen, "moss", seed=1, direction=Direction.RIGHT, size=64)
>>> out = MockGenerator().generate(req).image
>>> out.shape, bool((out[:, :32] == ref[:, :32]).all())
((64, 64, 3), True)
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from typing import Any, ClassVar, Literal

import numpy as np

from imkerutils.errors import (
    GeneratorOutputError,
    InvalidGeneratorParamsError,
    PermanentGeneratorError,
    RetryableGeneratorError,
)
from imkerutils.exquisite.api._checks import check_request
from imkerutils.exquisite.api.base import GeneratorBase, TileRequest, TileResult, check_param
from imkerutils.exquisite.geometry.direction import to_right

__all__ = ["MockGenerator"]

FailureKind = Literal["retryable", "permanent", "output"]
_FAILURES: dict[str, type[Exception]] = {
    "retryable": RetryableGeneratorError,
    "permanent": PermanentGeneratorError,
    "output": GeneratorOutputError,
}


class MockGenerator(GeneratorBase):
    """Deterministic pattern generator (name ``"mock"``).

    Parameters
    ----------
    band_drift
        When > 0, every kept colour value moves by a seeded amount in
        ``[-band_drift, band_drift]`` (alpha is never changed).  0 keeps them exact.
    noise
        Amplitude of the seeded noise and stripes painted over the continued colour.
    sleep_s
        Seconds to sleep per call, to stand in for a remote API in benchmarks.
    fail_times
        The first ``fail_times`` calls on this instance raise ``failure``.
    failure
        ``"retryable"``, ``"permanent"`` or ``"output"`` (GeneratorOutputError).
    """

    name: ClassVar[str] = "mock"
    version: ClassVar[str] = "1"
    deterministic: ClassVar[bool] = True
    max_concurrency: ClassVar[int] = 16

    def __init__(
        self,
        *,
        band_drift: int = 0,
        noise: int = 6,
        sleep_s: float = 0.0,
        fail_times: int = 0,
        failure: FailureKind = "retryable",
    ) -> None:
        self.band_drift = check_param("band_drift", band_drift, 0, 255, integer=True)
        self.noise = check_param("noise", noise, 0, 64, integer=True)
        self.sleep_s = check_param("sleep_s", sleep_s, 0, math.inf)
        self.fail_times = check_param("fail_times", fail_times, 0, math.inf, integer=True)
        if failure not in _FAILURES:
            raise InvalidGeneratorParamsError(f"failure must be one of {sorted(_FAILURES)}; got {failure!r}")
        self.failure: FailureKind = failure
        self._calls = 0
        self._lock = threading.Lock()

    @property
    def calls(self) -> int:
        """How many times :meth:`generate` was called on this instance."""
        return self._calls

    def params(self) -> dict[str, Any]:
        """Return the settings that shape the output (timing and failure script excluded)."""
        return {"band_drift": self.band_drift, "noise": self.noise}

    def __repr__(self) -> str:
        return (
            f"MockGenerator(band_drift={self.band_drift}, noise={self.noise}, sleep_s={self.sleep_s}, "
            f"fail_times={self.fail_times}, failure={self.failure!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def generate(self, request: TileRequest) -> TileResult:
        """Paint the generate region; see the module docstring."""
        channels = check_request(request)
        with self._lock:
            self._calls += 1
            call = self._calls
        if call <= self.fail_times:
            raise _FAILURES[self.failure](f"mock failure {call} of {self.fail_times} (scripted)")
        if self.sleep_s:
            time.sleep(self.sleep_s)

        # Work plane by plane in the RIGHT frame through views: channel-last copies and
        # transposes of whole tiles cost several times more than these 2-D views.
        gen = np.ascontiguousarray(to_right(request.generate, request.direction))
        out = request.reference.copy()
        src = [to_right(request.reference[..., c], request.direction) for c in range(channels)]
        dst = [to_right(out[..., c], request.direction) for c in range(channels)]
        digest = _digest(src, gen, request.prompt, request.seed)
        pattern_seq, drift_seq = np.random.SeedSequence(int.from_bytes(digest[:16], "little")).spawn(2)
        _paint(dst, src, gen, np.random.default_rng(pattern_seq), self.noise)
        if self.band_drift:
            _drift(dst[:3], gen, np.random.default_rng(drift_seq), self.band_drift)
        return TileResult(
            image=out,
            usage=None,
            cost_usd=0.0,
            request_id=f"mock-{digest.hex()[:16]}",
            metadata={"pattern_digest": digest.hex()},
        )


def _digest(planes: list[np.ndarray], gen: np.ndarray, prompt: str, seed: int) -> bytes:
    """SHA-256 over the seed, the prompt, the mask and the kept pixels (RIGHT frame)."""
    h = hashlib.sha256(b"imker-mock-v1")
    h.update(repr((int(seed), prompt, len(planes), gen.shape)).encode())
    h.update(np.packbits(gen).tobytes())
    keep = ~gen
    keep_cols = np.flatnonzero(keep.any(axis=0))
    if keep_cols.size:  # only columns up to the last kept one can hold kept pixels
        c1 = int(keep_cols[-1]) + 1
        k = keep[:, :c1]
        whole = bool(k.all())
        for plane in planes:
            box = plane[:, :c1]
            h.update(np.ascontiguousarray(box if whole else box * k).tobytes())
    return h.digest()


def _paint(dst: list[np.ndarray], src: list[np.ndarray], gen: np.ndarray, rng: np.random.Generator, noise: int) -> None:
    """Fill the generate region of each ``dst`` plane (RIGHT-frame views).

    Colour = the row's seam colour (last kept column), drifting towards a seeded
    colour away from the seam, plus seeded stripes and noise; alpha continues the
    seam's alpha without texture.  Integer arithmetic on 2-D planes keeps this fast.
    """
    h, w = gen.shape
    gen_cols = np.flatnonzero(gen.any(axis=0))
    if gen_cols.size == 0:
        return
    c0 = int(gen_cols[0])
    keep = ~gen
    has_kept = keep.any(axis=1)
    last_kept = np.where(has_kept, w - 1 - np.argmax(keep[:, ::-1], axis=1), -1)  # per row
    rows = np.arange(h)
    orphan = ~has_kept

    target = rng.integers(30, 226, size=3).astype(np.int32)
    period_c, period_r = rng.uniform(12, 80, size=2)
    phase = rng.uniform(0, 2 * np.pi)
    box_cols = np.arange(c0, w, dtype=np.int32)
    # blend weight towards the target colour: 0 at the seam, 64/128 at the far edge
    t = box_cols[None, :].astype(np.float32) - last_kept[:, None].astype(np.float32)
    t *= np.float32(64 / w)
    np.clip(t, 0, 64, out=t)
    t = t.astype(np.int16)
    stripes = np.sin(
        np.float32(2 * np.pi / period_c) * box_cols[None, :].astype(np.float32)
        + (np.float32(2 * np.pi / period_r) * rows.astype(np.float32) + np.float32(phase))[:, None]
    )
    stripes *= np.float32(0.5 * noise)
    texture = stripes.astype(np.int16)
    lut = (np.arange(256) % (2 * noise + 1) - noise).astype(np.int16)
    texture += lut[np.frombuffer(rng.bytes(t.size), np.uint8).reshape(t.shape)]
    g = gen[:, c0:]
    everywhere = bool(g.all())
    for c, (out_plane, in_plane) in enumerate(zip(dst, src, strict=True)):
        seam = in_plane[rows, np.maximum(last_kept, 0)].astype(np.int16)
        if orphan.any():  # rows with nothing kept take the mean kept value (or mid-grey)
            seam[orphan] = round(float(in_plane[keep].mean())) if keep.any() else 128
        if c < 3:
            value = (target[c] - seam)[:, None] * t
            value >>= 7
            value += seam[:, None]
            value += texture
            np.clip(value, 0, 255, out=value)
            plane = value.astype(np.uint8)
        else:
            plane = np.broadcast_to(seam.astype(np.uint8)[:, None], g.shape)
        box = out_plane[:, c0:]
        if everywhere:
            box[...] = plane
        else:
            np.copyto(box, plane, where=g)


def _drift(planes: list[np.ndarray], gen: np.ndarray, rng: np.random.Generator, amplitude: int) -> None:
    """Move every kept value of the colour ``planes`` by a seeded amount in ``[-amplitude, amplitude]``."""
    keep = ~gen
    keep_cols = np.flatnonzero(keep.any(axis=0))
    if keep_cols.size == 0:
        return
    c1 = int(keep_cols[-1]) + 1
    k = keep[:, :c1]
    whole = bool(k.all())
    lut = (np.arange(256) % (2 * amplitude + 1) - amplitude).astype(np.int16)
    for plane in planes:
        box = plane[:, :c1]
        moved = lut[np.frombuffer(rng.bytes(k.size), np.uint8).reshape(k.shape)]
        moved += box
        np.clip(moved, 0, 255, out=moved)
        if whole:
            box[...] = moved
        else:
            np.copyto(box, moved, where=k, casting="unsafe")
