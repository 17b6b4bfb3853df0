"""Issue 15, points 1-3 in a real headless Chromium: draw a box, see the plan, stage 3 candidates, accept the
second; cancel a run midway.  Screenshots: ``test-artifacts/ui/draw-plan.png``, ``candidates.png``,
``progress.png`` (and ``accepted.png``, ``cancelled.png``)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.pipeline.staging import STAGED, candidate_pieces, list_proposals
from imkerutils.testing.browser import screenshot, wait_until
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

playwright_api = pytest.importorskip("playwright.sync_api")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"


def shot(page: Any, name: str) -> None:
    screenshot(page, ARTIFACTS / name)


def digest(path: Path) -> tuple[str, str]:
    c = Canvas.open(path, read_only=True)
    return c.state_token, hashlib.sha256(c.read(c.bounds).tobytes()).hexdigest()


def screen_point(page: Any, x: float, y: float) -> tuple[float, float]:
    """Where world pixel (x, y) is on the screen now."""
    p = page.evaluate(
        f"""(() => {{
        const r = document.getElementById("viewer").getBoundingClientRect();
        const p = imkerUI.viewer.viewport.viewportToViewerElementCoordinates(new OpenSeadragon.Point({x}, {y}));
        return [r.left + p.x, r.top + p.y];
    }})()"""
    )
    return p[0], p[1]


def open_page(browser: Any, url: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1400, "height": 860})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.goto(url)
    wait_until(page, "document.body.dataset.renders >= 1 && imkerUI.item && imkerUI.item.getFullyLoaded()")
    # room around the canvas to draw in: zoom out to a third of the home zoom
    page.evaluate("(() => { const v = imkerUI.viewer.viewport; v.zoomTo(v.getHomeZoom() / 3, null, true); })()")
    wait_until(page, "imkerUI.viewer.viewport.getZoom(true) < imkerUI.viewer.viewport.getHomeZoom() * 0.6")
    return context, page, problems


def test_draw_plan_three_candidates_accept_the_second(browser: Any, serve, small_canvas: Path) -> None:
    expect = playwright_api.expect
    with serve(small_canvas, generators={"mock": MockGenerator}) as server:
        context, page, problems = open_page(browser, server.url)

        # draw a box right of the canvas: it snaps to x 256..448, the plan is shown, nothing runs
        page.click("#draw")
        expect(page.locator("#draw")).to_have_attribute("aria-pressed", "true")
        x0, y0 = screen_point(page, 262, 6)
        x1, y1 = screen_point(page, 450, 250)
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=3)
        page.mouse.move(x1, y1, steps=3)
        page.mouse.up()
        expect(page.locator("#plan")).to_be_visible()
        expect(page.locator("#region-box")).to_have_attribute("data-region", "256,0,192,256")
        expect(page.locator("#plan-facts")).to_contain_text("192\u00a0\u00d7\u00a0256 px at (256, 0)")
        expect(page.locator("#plan-facts")).to_contain_text("Worst-case cost$0.00")
        expect(page.locator("#generate")).to_have_text("Generate 3 candidates")
        assert server.state()["head"] == 1
        assert server.state()["staged"] == []
        shot(page, "draw-plan.png")

        # generate 3 candidates: each shown in the strip with its seam score and cost; the first on the canvas
        page.click("#generate")
        cands = page.locator("#staged .cand")
        expect(cands).to_have_count(3, timeout=60_000)
        expect(cands.nth(1)).to_contain_text("seam ")
        expect(cands.nth(1)).to_contain_text("$0.00")
        expect(page.locator("#candidate-overlay")).to_have_attribute("data-candidate", "0")
        cands.nth(1).click()
        expect(page.locator("#candidate-overlay")).to_have_attribute("data-candidate", "1")
        wait_until(page, "[...document.querySelectorAll('#staged img, #candidate-overlay')].every(i => i.complete)")
        shot(page, "candidates.png")

        # staged proposals survive a reload
        page.reload()
        expect(page.locator("#staged .cand")).to_have_count(3, timeout=30_000)
        (proposal,) = list_proposals(Canvas.open(small_canvas, read_only=True))
        second = candidate_pieces(Canvas.open(small_canvas, read_only=True), proposal, 1)
        assert [w for w, _ in second] == [Window(0, 256, 256, 192)]

        # accept the second: one more history entry, and the canvas holds exactly that candidate's pixels
        page.click("#staged button.accept[data-candidate='1']")
        expect(page.locator("body")).to_have_attribute("data-head", "2", timeout=60_000)
        expect(page.locator("#history li[data-step]")).to_have_count(2)
        expect(page.locator("#staged-card")).to_be_hidden()
        expect(page.locator("#candidate-overlay")).to_have_count(0)
        expect(page.locator("#canvas-size")).to_have_text("448 \u00d7 256 px")
        shot(page, "accepted.png")
        context.close()
    canvas = Canvas.open(small_canvas, read_only=True)
    assert canvas.head == 2
    assert np.array_equal(canvas.read(Window(0, 256, 256, 192)), second[0][1])
    assert list(canvas.list_artifacts(f"{STAGED}/")) == []
    assert problems == []


class Slow:
    """The mock generator: its first call runs, the next ones wait until the test releases them (events)."""

    def __init__(self) -> None:
        self.calls = 0
        self.started = threading.Event()
        self.release = threading.Event()

    def factory(self) -> type[MockGenerator]:
        slow = self

        class SlowMock(MockGenerator):
            def generate(self, request: Any) -> Any:
                slow.calls += 1  # one call at a time here: each candidate of a one-tile region is one call
                if slow.calls == 1:
                    return super().generate(request)
                slow.started.set()
                if not slow.release.wait(120):
                    raise TimeoutError("the test never released the generator")
                return super().generate(request)

        return SlowMock


def test_progress_and_cancel_mid_run_leave_the_canvas_unchanged(browser: Any, serve, small_canvas: Path) -> None:
    expect = playwright_api.expect
    slow = Slow()
    before = digest(small_canvas)
    try:
        with serve(small_canvas, generators={"mock": slow.factory()}) as server:
            context, page, problems = open_page(browser, server.url)
            # a stretch of the right edge, planned from the shortcut form
            page.click("#stretch summary")
            page.select_option("#stretch-dir", "right")
            page.fill("#stretch-by", "128")
            page.fill("#stretch-start", "64")
            page.fill("#stretch-length", "128")
            page.click("#plan-stretch")
            expect(page.locator("#region-box")).to_have_attribute("data-region", "256,64,128,128")
            page.click("#generate")
            assert slow.started.wait(60)
            expect(page.locator("#progress")).to_be_visible()
            # one tile measured, two to go: the ETA comes from that tile's time
            expect(page.locator("#progress-text")).to_contain_text("tile 1 of 3")
            expect(page.locator("#progress-text")).to_contain_text(" left")
            expect(page.locator("#cancel-job")).to_be_visible()
            shot(page, "progress.png")
            page.click("#cancel-job")
            expect(page.locator("body")).to_have_attribute("data-phase", "cancelling")
            slow.release.set()
            expect(page.locator("body")).to_have_attribute("data-busy", "false", timeout=60_000)
            expect(page.locator("#progress")).to_be_hidden()
            expect(page.locator("#staged-card")).to_be_hidden()
            expect(page.locator("#cancel-note")).to_have_text("Cancelled: nothing was written to the canvas.")
            shot(page, "cancelled.png")
            assert server.state()["jobs"][0]["status"] == "cancelled"
            context.close()
        assert problems == []
    finally:
        slow.release.set()
    assert digest(small_canvas) == before
    assert list(Canvas.open(small_canvas, read_only=True).list_artifacts(f"{STAGED}/")) == []
