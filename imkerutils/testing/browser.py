"""Driving the viewer in a headless Chromium (Playwright) from tests and benchmarks.

One set of launch flags and one way to find the browser, so that the end-to-end
tests and ``benchmarks/bench_ui.py`` measure the same thing.  Playwright itself is
imported by the caller (it is an optional test dependency).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM_ARGS", "MISSING_CHROMIUM", "SETTLED", "chromium_path", "screenshot", "settle", "wait_until"]

#: Flags for a headless Chromium in a container: no sandbox or GPU, nothing fetched in the background.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
MISSING_CHROMIUM = "no Chromium executable (apt-get install chromium, or set IMKERUTILS_CHROMIUM)"


def chromium_path() -> str | None:
    """Return the Chromium to launch: ``$IMKERUTILS_CHROMIUM``, ``chromium`` on ``PATH`` or ``/usr/bin/chromium``."""
    for candidate in (os.environ.get("IMKERUTILS_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def wait_until(page: Any, expression: str, timeout_s: float = 60.0) -> Any:
    """Poll a JavaScript expression until it is truthy and return its value.

    The deadline guards against hangs; it is not a timed assertion.  (The page's
    content security policy forbids ``eval``, so Playwright's own ``wait_for_function``
    cannot be used.)
    """
    deadline = time.monotonic() + timeout_s
    while not (value := page.evaluate(expression)):
        if time.monotonic() >= deadline:
            raise AssertionError(f"never true within {timeout_s} s: {expression}")
        page.wait_for_timeout(50)
    return value


def screenshot(page: Any, path: Path) -> None:
    """Save a screenshot of ``page`` to ``path``, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))


#: True once the viewer has stopped moving (zoom and centre at their targets) and drawn every tile of the view.
SETTLED = """(() => {
    const v = imkerUI.viewer.viewport, c = v.getCenter(true), t = v.getCenter(false);
    return Math.abs(v.getZoom(true) / v.getZoom(false) - 1) < 1e-6 && Math.abs(c.x - t.x) + Math.abs(c.y - t.y) < 1e-3
        && imkerUI.item.getFullyLoaded();
})()"""


def settle(page: Any) -> None:
    """Wait until the viewer has stopped moving and drawn every tile of the view (twice in a row)."""
    for _ in range(2):
        wait_until(page, SETTLED)
        page.wait_for_timeout(250)
    wait_until(page, SETTLED)
