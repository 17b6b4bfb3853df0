"""Exports from the browser UI: the whole canvas or a region as PNG or TIFF, written to a temporary file, downloaded.

``POST /api/export`` queues an export (one runs at a time, on its own thread, never on the canvas's writer
thread, so exports and grows do not wait for each other); ``GET /api/exports/{id}`` reports its progress
(pixels written of pixels in total); ``GET /api/exports/{id}/file`` streams the finished file.  The file is
written by :func:`imkerutils.tiling.export.export_region` (a band at a time: the server's memory stays bounded
whatever the region's size) into a private temporary folder, and sent in chunks by Starlette's
``FileResponse``.  The newest few finished files are kept for downloading again; the rest, and all of them when
the server stops, are deleted.

>>> parse_export({"format": "png", "region": {"x": -5, "y": 0, "width": 10, "height": 20}})
ExportRequest(fmt='png', region=Window(row_off=0, col_off=-5, height=20, width=10))
>>> parse_export({"format": "gif"})
Traceback (most recent call last):
...
imkerutils.errors.BadRequestError: format must be one of png, tiff; got 'gif'
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imkerutils.errors import BadRequestError, ExportBusyError, OutOfBoundsError
from imkerutils.exquisite.ui.messages import PlainError, explain, redact
from imkerutils.tiling.window import Window, intersection

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["EXPORT_FORMATS", "ExportJob", "ExportRequest", "Exports", "parse_export"]

log = logging.getLogger("imkerutils.ui")

#: Format name -> (file suffix, media type).
EXPORT_FORMATS = {"png": (".png", "image/png"), "tiff": (".tif", "image/tiff")}
MAX_EXTENT = 2**30
KEEP_FILES = 3
MAX_ACTIVE = 4


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """A validated ``POST /api/export`` body: a format and a world window (None: the whole canvas)."""

    fmt: str
    region: Window | None


def _int(data: Mapping[str, Any], name: str, least: int, most: int) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise BadRequestError(f"region.{name} must be a whole number from {least} to {most}, got {value!r}")
    return value


def parse_export(data: Mapping[str, Any]) -> ExportRequest:
    """Check an export body: ``format`` (``png`` or ``tiff``) and ``region`` (``{x, y, width, height}`` or null)."""
    unknown = sorted(set(data) - {"format", "region"})
    if unknown:
        raise BadRequestError(f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: format, region")
    fmt = data.get("format", "png")
    if not isinstance(fmt, str) or fmt not in EXPORT_FORMATS:
        raise BadRequestError(f"format must be one of {', '.join(EXPORT_FORMATS)}; got {fmt!r}")
    region = data.get("region")
    if region is None:
        return ExportRequest(fmt, None)
    if not isinstance(region, dict) or set(region) != {"x", "y", "width", "height"}:
        raise BadRequestError("region must be null or an object with exactly x, y, width and height")
    x, y = _int(region, "x", -MAX_EXTENT, MAX_EXTENT), _int(region, "y", -MAX_EXTENT, MAX_EXTENT)
    width, height = _int(region, "width", 1, MAX_EXTENT), _int(region, "height", 1, MAX_EXTENT)
    return ExportRequest(fmt, Window(y, x, height, width))


@dataclass
class ExportJob:
    """One export: queued, running, done or failed, with its progress and, once done, its file."""

    id: str
    request: ExportRequest
    region: Window
    filename: str
    status: str = "queued"
    done: int = 0
    total: int = 0
    path: Path | None = None
    size: int | None = None
    error: PlainError | None = None
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    @property
    def active(self) -> bool:
        """Return whether the export is queued or running."""
        return self.status in ("queued", "running")

    def to_dict(self) -> dict[str, Any]:
        """Return the job as the page shows it (JSON)."""
        r = self.region
        return {
            "id": self.id,
            "status": self.status,
            "format": self.request.fmt,
            "region": {"x": r.col_off, "y": r.row_off, "width": r.width, "height": r.height},
            "filename": self.filename,
            "done": self.done,
            "total": self.total,
            "progress": 1.0 if self.status == "done" else (self.done / self.total if self.total else 0.0),
            "bytes": self.size,
            "url": f"/api/exports/{self.id}/file" if self.status == "done" else None,
            "error": None if self.error is None else self.error.to_dict(),
        }


class Exports:
    """The exports of one canvas (see the module docstring).

    Parameters
    ----------
    location
        The canvas; each export opens it read-only (the last committed state) and never takes its lock.
    bounds
        Returns the canvas bounds the page shows (a region must overlap them).
    keep
        Finished files kept for downloading again; older ones are deleted.
    """

    def __init__(
        self, location: str, bounds: Callable[[], Window], *, keep: int = KEEP_FILES, max_active: int = MAX_ACTIVE
    ) -> None:
        self.location = location
        self._bounds = bounds
        self.keep = keep
        self.max_active = max_active
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, ExportJob] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imkerutils-ui-export")
        self._dir: Path | None = None  # made on the first export, removed by close()
        self._closed = False

    def _folder(self) -> Path:
        with self._lock:
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="imkerutils-ui-export-"))
            return self._dir

    def submit(self, request: ExportRequest) -> ExportJob:
        """Queue an export of ``request.region`` (default: the bounds); refused if it misses the canvas."""
        bounds = self._bounds()
        region = request.region or bounds
        if region.is_empty:
            raise OutOfBoundsError("the canvas is empty: there is nothing to export")
        if intersection(region, bounds) is None:
            raise OutOfBoundsError(
                f"the region x={region.col_off}, y={region.row_off}, {region.width} x {region.height} px lies "
                f"outside the canvas (x={bounds.col_off}, y={bounds.row_off}, {bounds.width} x {bounds.height} px)"
            )
        name = os.path.basename(self.location.rstrip("/\\")).removesuffix(".zarr") or "canvas"
        suffix = EXPORT_FORMATS[request.fmt][0]
        filename = f"{name}_x{region.col_off}_y{region.row_off}_{region.width}x{region.height}{suffix}"
        with self._lock:
            if self._closed:
                raise ExportBusyError("the server is stopping")
            active = sum(1 for j in self._jobs.values() if j.active)
            if active >= self.max_active:
                raise ExportBusyError(f"{active} exports are already waiting or running; wait for them to finish")
            job = ExportJob(uuid.uuid4().hex, request, region, filename, total=region.size)
            self._jobs[job.id] = job
        self._pool.submit(self._run, job)
        return job

    def _run(self, job: ExportJob) -> None:
        from imkerutils.tiling.canvas import Canvas
        from imkerutils.tiling.export import export_region

        with self._lock:
            job.status = "running"

        def progress(done: int, total: int) -> None:
            with self._lock:
                if self._closed:  # the server is stopping: the export leaves nothing behind
                    raise ExportBusyError("the server stopped before the export was finished")
                job.done, job.total = done, total

        out = self._folder() / (job.id + EXPORT_FORMATS[job.request.fmt][0])
        try:
            canvas = Canvas.open(self.location, read_only=True)
            export_region(canvas, out, region=job.region, progress=progress)
        except Exception as exc:  # every failure becomes a plain message on the job
            error = explain(exc)
            log.warning("export %s failed: %s", job.id, redact(repr(exc)))
            with self._lock:
                job.status, job.error, job.finished_at = "failed", error, time.time()
            return
        with self._lock:
            job.status, job.path, job.size, job.finished_at = "done", out, out.stat().st_size, time.time()
            job.done = job.total
            self._prune()

    def _prune(self) -> None:
        """Forget the oldest finished exports past ``keep`` (and delete their files); under the lock."""
        finished = [k for k, j in self._jobs.items() if not j.active]
        for k in finished[: max(0, len(finished) - self.keep)]:
            job = self._jobs.pop(k)
            if job.path is not None:
                job.path.unlink(missing_ok=True)

    def get(self, job_id: str) -> dict[str, Any] | None:
        """Return export job ``job_id`` as JSON, or ``None`` if there is none."""
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.to_dict()

    def file(self, job_id: str) -> tuple[Path, str, str] | None:
        """``(path, download name, media type)`` of a finished export; None if unknown; busy if not finished."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.status != "done" or job.path is None:
                raise ExportBusyError(f"export {job_id} is {job.status}, not done: there is no file to download yet")
            return job.path, job.filename, EXPORT_FORMATS[job.request.fmt][1]

    def close(self) -> None:
        """Stop: cancel queued exports, stop a running one at its next band, delete every file."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            folder, self._dir = self._dir, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
