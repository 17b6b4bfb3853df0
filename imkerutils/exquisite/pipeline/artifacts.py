"""A step's artifact PNGs (each tile's reference, mask, raw output and final tile).

Artifacts reach the canvas's ``_generated/`` only after the step committed, so a refused, rejected or
cancelled step leaves none behind.  A step over a long edge has dozens of tiles, each with four
1024² images: :class:`ArtifactSpool` encodes them to PNG files in a private temporary folder as the
tiles finish, so the step holds no tile-sized images while it waits for its commit (the UI server's
memory stays bounded whatever the canvas's size).  :func:`store_artifacts` is the in-memory form, for
steps whose outcomes are kept anyway (a staged fill).
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from imkerutils.exquisite.geometry.mask import mask_to_openai_rgba
from imkerutils.exquisite.state.artifacts import TILE_ROLES, step_artifact_key
from imkerutils.tiling.imageio import encode_png

if TYPE_CHECKING:
    from types import TracebackType

    from imkerutils.tiling.canvas import Canvas

__all__ = ["ArtifactSpool", "artifact_jobs", "store_artifacts"]

ImageJob = tuple[str, Callable[[], np.ndarray]]


def _workers(jobs: int) -> int:
    return max(1, min(jobs, os.cpu_count() or 1))


def _as_is(image: np.ndarray) -> np.ndarray:
    return image


def tile_jobs(step_id: str, edge: int, index: int, outcome: Any) -> list[ImageJob]:
    """One tile's artifacts: ``(key in _generated/, image maker)`` per role.

    ``outcome`` (grow's or fill's) has ``reference``, ``generate``, ``raw`` and ``final``.  Each maker
    holds only its own image (not the outcome); the mask is made only when its job runs.
    """
    jobs: list[ImageJob] = []
    for role in TILE_ROLES:
        image = (
            functools.partial(mask_to_openai_rgba, outcome.generate)
            if role == "mask"
            else functools.partial(_as_is, getattr(outcome, role))
        )
        jobs.append((step_artifact_key(step_id, edge, index, role), image))
    return jobs


def artifact_jobs(
    step_id: str, outcomes: Sequence[tuple[int, int, Any]]
) -> tuple[list[ImageJob], dict[tuple[int, int], dict[str, str]]]:
    """Return the artifact jobs of ``outcomes`` ``(edge, index, outcome)`` and ``{(edge, index): {role: key}}``."""
    jobs: list[ImageJob] = []
    paths: dict[tuple[int, int], dict[str, str]] = {}
    for edge, index, o in outcomes:
        these = tile_jobs(step_id, edge, index, o)
        jobs.extend(these)
        paths[(edge, index)] = {role: key for role, (key, _) in zip(TILE_ROLES, these, strict=True)}
    return jobs, paths


def store_artifacts(canvas: Canvas, jobs: Sequence[ImageJob]) -> None:
    """Encode and store artifact PNGs (about 80 ms each) on a thread per core.

    Call it only after the step committed.  zlib releases the GIL, and on an object store the PUTs overlap.
    """
    if not jobs:
        return
    with ThreadPoolExecutor(_workers(len(jobs))) as pool:
        list(pool.map(lambda job: canvas.put_artifact(job[0], encode_png(job[1]())), jobs))


class ArtifactSpool:
    """Encode a step's artifacts as its tiles finish; store them in the canvas once it committed.

    :meth:`add` hands a finished tile's images to a thread per core and returns at once, unless
    ``max_pending`` images already wait to be encoded (then it waits: the images a step holds stay
    bounded).  :meth:`store` puts the files into the canvas; leaving the ``with`` block deletes the
    temporary folder, stored or not.  A killed process leaves the folder in the system's temporary
    directory, never in the canvas.
    """

    def __init__(self, step_id: str, *, max_pending: int | None = None) -> None:
        self.step_id = step_id
        workers = _workers(len(TILE_ROLES))
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="artifact")
        self._pending = threading.BoundedSemaphore(max_pending or 2 * workers)
        self._folder: Path | None = None  # made on the first add
        self._files: list[tuple[str, Future[Path]]] = []

    def __enter__(self) -> ArtifactSpool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def add(self, edge: int, index: int, outcome: Any) -> dict[str, str]:
        """Queue one tile's images for encoding; returns ``{role: key in _generated/}``."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="imkerutils-artifacts-"))
        keys: dict[str, str] = {}
        for role, (key, image) in zip(TILE_ROLES, tile_jobs(self.step_id, edge, index, outcome), strict=True):
            self._pending.acquire()
            path = self._folder / f"{len(self._files)}.png"
            self._files.append((key, self._pool.submit(self._encode, image, path)))
            keys[role] = key
        return keys

    def _encode(self, image: Callable[[], np.ndarray], path: Path) -> Path:
        try:
            path.write_bytes(encode_png(image()))
            return path
        finally:
            self._pending.release()

    def store(self, canvas: Canvas) -> None:
        """Wait for the encodings, then put every file into ``canvas`` (PUTs overlap on an object store)."""
        ready = [(key, future.result()) for key, future in self._files]
        if not ready:
            return
        with ThreadPoolExecutor(_workers(len(ready))) as pool:
            list(pool.map(lambda kp: canvas.put_artifact(kp[0], kp[1].read_bytes()), ready))

    def close(self) -> None:
        """Stop encoding (queued images are dropped) and delete the temporary folder."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
