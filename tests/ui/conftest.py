"""Fixtures for the browser UI tests: sample canvases, a UI server on loopback, an HTTP client as the page."""

from __future__ import annotations

import shutil
import threading
from contextlib import contextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from imkerutils.exquisite.ui.jobs import CanvasSession
from imkerutils.exquisite.ui.serve import background
from imkerutils.exquisite.ui.server import create_app
from imkerutils.tiling.canvas import Canvas

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from imkerutils.exquisite.api.base import TileGenerator


@pytest.fixture(autouse=True)
def _no_real_openai(no_real_openai: None) -> None:
    """Every test here runs without the outside's OPENAI_* settings and proxies (tests/conftest.py)."""


@pytest.fixture(scope="session")
def _sample_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled 1024x1024 sample as a canvas, built once (tests get copies)."""
    root = tmp_path_factory.mktemp("ui-sample")
    image = root / "landscape.jpg"
    image.write_bytes((resources.files("imkerutils") / "data" / "samples" / "landscape.jpg").read_bytes())
    Canvas.from_image(image, root / "landscape.zarr")
    return root / "landscape.zarr"


@pytest.fixture
def sample_canvas(_sample_template: Path, tmp_path: Path) -> Path:
    """A private copy of the sample canvas (1024x1024 RGB, one step: the import)."""
    target = tmp_path / "landscape.zarr"
    shutil.copytree(_sample_template, target)
    return target


@pytest.fixture
def small_canvas(tmp_path: Path) -> Path:
    """A 256x256 RGB canvas of noise (one step), quick to grow: each edge is one generator tile."""
    import numpy as np

    path = tmp_path / "small.zarr"
    Canvas.create(path).paste(np.random.default_rng(5).integers(0, 256, (256, 256, 3), np.uint8), 0, 0, extend=True)
    return path


class Page:
    """An HTTP client that behaves like the UI's own page (same Origin on writes)."""

    def __init__(self, url: str, session: CanvasSession) -> None:
        self.url = url.rstrip("/")
        self.session = session
        self.http = httpx.Client(base_url=self.url, trust_env=False, timeout=60)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(
        self, path: str, body: Any = None, *, headers: Mapping[str, str] | None = None, origin: str | None = "same"
    ) -> httpx.Response:
        h = {"content-type": "application/json"}
        if origin == "same":
            h["origin"] = self.url
        elif origin is not None:
            h["origin"] = origin
        h.update(headers or {})
        content = body if isinstance(body, (bytes, str)) else httpx.Request("POST", "/", json=body).content
        return self.http.post(path, content=content, headers=h)

    def state(self) -> dict[str, Any]:
        r = self.get("/api/state")
        assert r.status_code == 200, r.text
        return r.json()

    def wait_job(self, job_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
        """Poll a job until it has finished (done or failed)."""
        import time

        deadline = time.monotonic() + timeout_s
        while True:
            job = self.get(f"/api/jobs/{job_id}").json()["job"]
            if job["status"] in ("done", "failed"):
                return job
            assert time.monotonic() < deadline, f"job {job_id} did not finish: {job}"
            time.sleep(0.05)

    def grow(self, directions: list[str], **fields: Any) -> dict[str, Any]:
        """Grow and wait; returns the finished job."""
        r = self.post("/api/grow", {"directions": directions, "generator": "mock", **fields})
        assert r.status_code == 202, r.text
        return self.wait_job(r.json()["job"]["id"])


@contextmanager
def running(location: Path, **session_kw: Any) -> Iterator[Page]:
    """A UI server for ``location`` on 127.0.0.1 (ephemeral port) on a background thread."""
    session = CanvasSession(location, **session_kw)
    with background(create_app(session)) as url:
        page = Page(url, session)
        try:
            yield page
        finally:
            page.http.close()


@pytest.fixture
def serve() -> Callable[..., Any]:
    """``with serve(canvas_path, budget_usd=..., generators=...) as page:`` a running UI server."""
    return running


@pytest.fixture(scope="module")
def shared(_sample_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """One server per test module for tests that only read or are refused (a copy of the sample canvas)."""
    path = tmp_path_factory.mktemp("ui-shared") / "landscape.zarr"
    shutil.copytree(_sample_template, path)
    with running(path) as page:
        yield page


class Gate:
    """Mock generators that wait until the test opens the gate (holds a job in flight without timing)."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def factory(self) -> Callable[[], TileGenerator]:
        from imkerutils.exquisite.api.mock import MockGenerator

        event = self.event

        class GatedMock(MockGenerator):
            def generate(self, request: Any) -> Any:
                if not event.wait(120):
                    raise TimeoutError("the test never opened the gate")
                return super().generate(request)

        return GatedMock

    def open(self) -> None:
        self.event.set()


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.open()  # never leave a job blocked


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (Playwright), one per test module; skips where Chromium or Playwright is missing."""
    from imkerutils.testing.browser import CHROMIUM_ARGS, MISSING_CHROMIUM, chromium_path

    playwright_api = pytest.importorskip("playwright.sync_api")
    path = chromium_path()
    if path is None:
        pytest.skip(MISSING_CHROMIUM)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))
        yield b
        b.close()
