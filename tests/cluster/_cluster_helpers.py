"""Helpers shared by the cluster tests; the cluster's worker processes import this module too.

Worker processes of a ``LocalCluster(processes=True)`` are spawned, and
``multiprocessing`` hands them the parent's ``sys.path``, which pytest has
extended with this folder: so generators defined here unpickle on the
workers by reference (``_cluster_helpers.JitterGenerator``).  Keep this
module importable on its own (no pytest, no fixtures, nothing at import).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from imkerutils.exquisite.api.base import GeneratorBase, TileRequest, TileResult
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.tiling.canvas import Canvas

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from distributed import Client

    from imkerutils.tiling.window import Window

__all__ = [
    "JitterGenerator",
    "KillerGenerator",
    "PricedGenerator",
    "Reference",
    "canvas_sha",
    "child_env",
    "local_cluster",
    "make_canvas",
    "moto_server",
    "photo_like",
    "recorded_requests",
    "s3_env",
    "storage_options",
]

MOTO_CHILD = """\
import logging, sys
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"http://{host}:{port}", flush=True)
sys.stdin.read()  # until the parent closes the pipe (or dies)
server.stop()
"""


@dataclass(frozen=True)
class Reference:
    """A source image and what a serial run (one thread, no cluster) of one batch makes of it."""

    image: np.ndarray
    seed: int
    directions: tuple[str, ...]
    bounds: Window
    sha: str
    tiles: int


class JitterGenerator:
    """:class:`MockGenerator`'s pixels, after a sleep drawn from the request's seed and ``salt``.

    Tasks then finish in an order that depends on ``salt``, while the pixels
    do not: two runs with different salts exercise different task orders and
    must give the same bytes.
    """

    name: ClassVar[str] = "jitter"
    version: ClassVar[str] = "1"
    deterministic: ClassVar[bool] = True
    needs_network: ClassVar[bool] = False
    max_concurrency: ClassVar[int] = 8

    def __init__(self, *, salt: int = 0, max_sleep_s: float = 0.3) -> None:
        self.salt = salt
        self.max_sleep_s = max_sleep_s
        self._inner = MockGenerator()

    def params(self) -> dict[str, Any]:
        return self._inner.params()

    def sleep_for(self, seed: int) -> float:
        """Seconds the call with ``seed`` sleeps."""
        return float(np.random.default_rng([self.salt, seed]).uniform(0.0, self.max_sleep_s))

    def generate(self, request: TileRequest) -> TileResult:
        time.sleep(self.sleep_for(request.seed))
        return self._inner.generate(request)


class HeldOutcomesGenerator(JitterGenerator):
    """:class:`MockGenerator`'s pixels; each call first notes which tile outcomes its worker holds.

    After ``sleep_s`` (time for the client's releases to arrive), the keys ``(edge, index)`` of the
    ``exquisite-tile-`` results in the calling worker's memory are appended to the file ``log`` as one line
    of space-separated ``edge,index`` pairs.
    """

    name: ClassVar[str] = "held-outcomes"

    def __init__(self, log: str, *, sleep_s: float = 0.5) -> None:
        super().__init__(max_sleep_s=0.0)
        self.log = log
        self.sleep_s = sleep_s

    def generate(self, request: TileRequest) -> TileResult:
        from distributed import get_worker

        time.sleep(self.sleep_s)
        keys = [str(k).rsplit("-", 2)[1:] for k in get_worker().data if str(k).startswith("exquisite-tile-")]
        with open(self.log, "a") as f:
            f.write(" ".join(f"{edge},{index}" for edge, index in keys) + "\n")
        return self._inner.generate(request)


class PricedGenerator(GeneratorBase):
    """:class:`MockGenerator`'s pixels at a price: ``cost_usd`` per call, also the declared worst case per tile."""

    name: ClassVar[str] = "priced"
    version: ClassVar[str] = "1"
    deterministic: ClassVar[bool] = True
    needs_network: ClassVar[bool] = True  # pretends to be a paid remote API
    max_concurrency: ClassVar[int] = 4

    def __init__(self, cost_usd: float) -> None:
        self.cost_usd = cost_usd
        self._inner = MockGenerator()

    @property
    def calls(self) -> int:
        return self._inner.calls

    def params(self) -> dict[str, Any]:
        return self._inner.params()

    def max_cost_per_tile_usd(self) -> float:
        return self.cost_usd

    def generate(self, request: TileRequest) -> TileResult:
        result = self._inner.generate(request)
        return TileResult(image=result.image, cost_usd=self.cost_usd, request_id=result.request_id)


class KillerGenerator:
    """:class:`MockGenerator`, except that a request towards ``direction`` SIGKILLs the worker process running it.

    Refuses to kill anything but a ``dask.distributed`` worker (raises instead),
    so a mistake cannot take down the test process.
    """

    name: ClassVar[str] = "killer"
    version: ClassVar[str] = "1"
    deterministic: ClassVar[bool] = True
    needs_network: ClassVar[bool] = False
    max_concurrency: ClassVar[int] = 4

    def __init__(self, direction: str) -> None:
        self.direction = direction
        self._inner = MockGenerator()

    def params(self) -> dict[str, Any]:
        return self._inner.params()

    def generate(self, request: TileRequest) -> TileResult:
        if request.direction.value == self.direction:
            import signal

            from distributed import get_worker

            get_worker()  # ValueError outside a worker
            os.kill(os.getpid(), signal.SIGKILL)
        return self._inner.generate(request)


def photo_like(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth, photograph-like RGB pixels with mild noise, uint8 ``(height, width, 3)``.

    A random colour grid (one cell per 256 px) enlarged bicubically, plus
    per-pixel noise: no two rows or tiles alike.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    grid = rng.integers(20, 236, (height // 256 + 2, width // 256 + 2, 3), dtype=np.uint8)
    box = (0.5, 0.5, 0.5 + width / 256, 0.5 + height / 256)
    out = np.array(Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC, box=box))
    noise = rng.integers(0, 16, out.shape, dtype=np.uint8)
    np.minimum(out, 255 - 16, out=out)
    out += noise
    return out


def make_canvas(
    location: str | os.PathLike[str], image: np.ndarray, storage_options: Mapping[str, Any] | None = None
) -> Canvas:
    """A new canvas at ``location`` holding ``image`` at world (0, 0)."""
    opts = None if storage_options is None else dict(storage_options)
    canvas = Canvas.create(location, mode="RGB", storage_options=opts)
    canvas.paste(image, 0, 0, extend=True)
    return canvas


def canvas_sha(canvas: Canvas, window: Window | None = None) -> str:
    """SHA-256 of the canvas's pixels over ``window`` (default: its bounds)."""
    return hashlib.sha256(canvas.read(canvas.bounds if window is None else window).tobytes()).hexdigest()


@contextlib.contextmanager
def moto_server(recording: str | os.PathLike[str] | None = None) -> Iterator[str]:
    """A moto S3 server on loopback, in a child process (off this process's GIL); yields its endpoint URL.

    ``recording`` is the file moto's request recorder writes to (see
    :func:`recorded_requests`).  The child exits when its standard input
    closes, so it cannot outlive the test process.
    """
    env = dict(os.environ)
    if recording is not None:
        env["MOTO_RECORDER_FILEPATH"] = os.fspath(recording)
    proc = subprocess.Popen(
        [sys.executable, "-c", MOTO_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        endpoint = proc.stdout.readline().strip()
        if not endpoint.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the moto server did not start (said {endpoint!r}, exit {proc.poll()})")
        yield endpoint
    finally:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@contextlib.contextmanager
def recorded_requests(endpoint: str) -> Iterator[list[dict[str, Any]]]:
    """Record every request the moto server at ``endpoint`` receives inside the block.

    Yields a list that holds, after the block, one ``{"method", "url",
    "headers", "body"}`` dict per request, in the order the server saw them.
    """
    import json
    import urllib.request

    def call(action: str, method: str = "POST") -> bytes:
        request = urllib.request.Request(f"{endpoint}/moto-api/recorder/{action}", method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    out: list[dict[str, Any]] = []
    call("reset-recording")
    call("start-recording")
    try:
        yield out
    finally:
        call("stop-recording")
    out.extend(json.loads(line) for line in call("download-recording", "GET").decode().splitlines() if line.strip())


@contextlib.contextmanager
def local_cluster(env: Mapping[str, str] | None = None) -> Iterator[Client]:
    """Two single-threaded worker processes (each nanny restarts its worker if killed) and a client.

    ``env`` is set in the workers' environment before they start.
    """
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", env=dict(env or {})
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def storage_options(endpoint: str) -> dict[str, Any]:
    """fsspec ``storage_options`` for the moto server at ``endpoint``."""
    return {"client_kwargs": {"endpoint_url": endpoint}, "key": "test", "secret": "test"}


def s3_env(endpoint: str, *, variable: str = "AWS_ENDPOINT_URL") -> dict[str, str]:
    """Environment for a process that should find the moto server with no ``storage_options``.

    ``variable`` names the endpoint: botocore's ``AWS_ENDPOINT_URL`` (or
    ``AWS_ENDPOINT_URL_S3``), or fsspec's ``FSSPEC_S3_ENDPOINT_URL``.  The
    instance-metadata lookup is disabled so nothing leaves loopback.
    """
    return {
        variable: endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus ``extra``, with this folder on ``PYTHONPATH``."""
    here = str(Path(__file__).parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}
