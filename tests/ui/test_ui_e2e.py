"""The page end to end in a real headless Chromium (Playwright): view, zoom, grow, undo, redo, errors.

Screenshots go to ``test-artifacts/ui/`` under the repository root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from imkerutils.testing.browser import screenshot, settle, wait_until

playwright_api = pytest.importorskip("playwright.sync_api")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"


def shot(page: Any, name: str) -> None:
    screenshot(page, ARTIFACTS / name)


def clip(page: Any) -> list[float]:
    """The canvas bounds as the viewer clips its image: [x, y, width, height] in image pixels."""
    return page.evaluate("(() => { const c = imkerUI.item.getClip(); return [c.x, c.y, c.width, c.height]; })()")


def test_page_end_to_end(browser: Any, serve, sample_canvas: Path) -> None:
    expect = playwright_api.expect
    with serve(sample_canvas) as server:
        context = browser.new_context(viewport={"width": 1400, "height": 860})
        page, other = context.new_page(), context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
        page.goto(server.url)
        other.goto(server.url)  # a second tab on the same canvas

        # open: the viewer renders the canvas from pyramid tiles
        wait_until(page, "document.body.dataset.renders >= 1")
        settle(page)
        expect(page.locator("#canvas-size")).to_have_text("1024 \u00d7 1024 px")
        expect(page.locator("#canvas-name")).to_have_text("landscape.zarr")
        assert clip(page) == [0, 0, 1024, 1024]
        shot(page, "01-opened.png")

        # zoom in with the mouse wheel, then back to the whole canvas
        start = float(page.evaluate("document.body.dataset.zoom"))
        box = page.locator("#viewer").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for _ in range(4):
            page.mouse.wheel(0, -300)
            page.wait_for_timeout(80)
        wait_until(page, f"Number(document.body.dataset.zoom) > {start * 2}")
        settle(page)
        shot(page, "02-zoomed.png")
        # all the way down to single pixels: 32 screen pixels per canvas pixel, drawn crisp (no smoothing)
        page.evaluate("imkerUI.viewer.viewport.zoomTo(imkerUI.viewer.viewport.getMaxZoom(), null, true)")
        wait_until(page, "Number(document.body.dataset.zoom) >= 16 && imkerUI.smooth === false")
        settle(page)
        shot(page, "02b-pixels.png")
        page.click("#fit")

        # type a prompt, choose the mock generator, extend in each direction
        page.locator("#prompt").press_sequentially("more meadow under the mountains")
        page.select_option("#generator", "mock")
        sizes = {"right": (1536, 1024), "left": (2048, 1024), "up": (2048, 1536), "down": (2048, 2048)}
        for head, (direction, (w, h)) in enumerate(sizes.items(), start=2):
            renders = int(page.evaluate("document.body.dataset.renders"))
            page.click(f"#extend-{direction}")
            expect(page.locator("body")).to_have_attribute("data-head", str(head), timeout=60_000)
            expect(page.locator("#canvas-size")).to_have_text(f"{w} \u00d7 {h} px")
            wait_until(page, f"document.body.dataset.renders > {renders}")  # the grown canvas is on screen
            assert clip(page)[2:] == [w, h]
        expect(page.locator("body")).to_have_attribute("data-busy", "false")
        page.click("#fit")
        settle(page)
        shot(page, "03-grown.png")
        history = page.locator("#history li[data-step]")
        expect(history).to_have_count(5)
        expect(history.first).to_contain_text("#5")
        expect(history.first).to_contain_text("down")
        expect(history.first).to_contain_text("more meadow under the mountains")
        wait_until(page, "[...document.querySelectorAll('#history img')].every(i => i.complete && i.naturalWidth > 0)")
        # the other tab sees the same canvas
        expect(other.locator("#canvas-size")).to_have_text("2048 \u00d7 2048 px", timeout=30_000)
        expect(other.locator("#history li[data-step]")).to_have_count(5)

        # undo: the canvas shrinks back; redo: it grows again
        renders = int(page.evaluate("document.body.dataset.renders"))
        page.click("#undo")
        expect(page.locator("body")).to_have_attribute("data-head", "4")
        expect(page.locator("#canvas-size")).to_have_text("2048 \u00d7 1536 px")
        wait_until(page, f"document.body.dataset.renders > {renders}")
        assert clip(page)[2:] == [2048, 1536]
        expect(page.locator("#redo")).to_have_text("Redo (1)")
        settle(page)
        shot(page, "04-undone.png")
        page.click("#redo")
        expect(page.locator("#canvas-size")).to_have_text("2048 \u00d7 2048 px")
        expect(page.locator("#redo")).to_be_disabled()

        # an error in plain words: openai without a key; the prompt and the canvas are kept
        page.select_option("#generator", "openai")
        expect(page.locator("#generator-note")).to_contain_text("OPENAI_API_KEY")
        page.click("#extend-right")
        expect(page.locator("#error")).to_be_visible()
        expect(page.locator("#error-title")).to_have_text("Missing or invalid API key")
        expect(page.locator("#error-detail")).to_contain_text("no API key for the 'openai' generator")
        expect(page.locator("#prompt")).to_have_value("more meadow under the mountains")
        expect(page.locator("#canvas-size")).to_have_text("2048 \u00d7 2048 px")
        settle(page)
        shot(page, "05-error.png")
        page.click("#error-close")
        expect(page.locator("#error")).to_be_hidden()
        context.close()
        assert server.state()["head"] == 5
    # the refused request is logged by the browser as a failed resource; nothing else may go wrong
    assert [p for p in problems if "status of 400" not in p] == []


def test_download_a_region(browser: Any, serve, sample_canvas: Path, tmp_path: Path) -> None:
    """Issue 15 point 4: the Download control exports a region; the file's pixels equal Canvas.read."""
    import numpy as np
    from PIL import Image

    from imkerutils.tiling.canvas import Canvas
    from imkerutils.tiling.window import Window

    with serve(sample_canvas) as server:
        context = browser.new_context(viewport={"width": 1400, "height": 860}, accept_downloads=True)
        page = context.new_page()
        page.goto(server.url)
        wait_until(page, "document.body.dataset.renders >= 1")
        page.evaluate("imkerExport.setRegion(100, 200, 300, 250)")
        with page.expect_download() as info:
            page.click("#export-download")
        target = tmp_path / info.value.suggested_filename
        info.value.save_as(target)
        playwright_api.expect(page.locator("#export-status")).to_contain_text("Downloaded")
        shot(page, "export.png")
        context.close()
    expected = Canvas.open(sample_canvas, read_only=True).read(Window(200, 100, 250, 300))
    with Image.open(target) as im:
        assert np.array_equal(np.asarray(im), expected)
    assert target.name == "landscape_x100_y200_300x250.png"
