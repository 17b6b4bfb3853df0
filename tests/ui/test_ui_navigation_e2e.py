"""Finding your way, the keyboard, accessibility and small screens, in a real headless Chromium (issue 15
points 5 to 7).  Screenshots go to ``test-artifacts/ui/``: checkerboard.png, history-flyto.png, shortcuts.png,
dark.png, narrow-390.png."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from imkerutils.testing.browser import settle, wait_until
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

playwright_api = pytest.importorskip("playwright.sync_api")
axe_api = pytest.importorskip("axe_playwright_python.sync_playwright")

TILE = 1024
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"


@pytest.fixture
def far_paste(tmp_path: Path) -> Path:
    """Grey-and-black 1024² at (0, 0), a white tile at (0, 3072), never-written tiles between them."""
    path = tmp_path / "far.zarr"
    c = Canvas.create(path)
    first = np.full((TILE, TILE, 3), 128, np.uint8)
    first[:, 512:] = 0
    c.paste(first, 0, 0, extend=True)
    c.paste(np.full((TILE, TILE, 3), 255, np.uint8), 0, 3 * TILE, extend=True)
    return path


def open_page(browser: Any, url: str, **context: Any) -> Any:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(**{"viewport": {"width": 1400, "height": 900}, **context})
    page = ctx.new_page()
    page.goto(url)
    wait_until(page, "document.body.dataset.renders >= 1")
    settle(page)
    return page


def screen_pixel(page: Any, shot: bytes, x: float, y: float) -> tuple[int, ...]:
    """The screenshot's colour at world point (x, y) (viewport coordinates are world coordinates)."""
    p = page.evaluate(
        f"(() => {{ const p = imkerUI.viewer.viewport.pixelFromPoint(new OpenSeadragon.Point({x}, {y}), true);"
        " const r = document.getElementById('viewer').getBoundingClientRect();"
        " return [p.x + r.left, p.y + r.top]; })()"
    )
    with Image.open(io.BytesIO(shot)) as im:
        return tuple(im.convert("RGB").getpixel((round(p[0]), round(p[1]))))


def test_unwritten_areas_are_a_checkerboard_not_black(browser: Any, serve, far_paste: Path) -> None:
    with serve(far_paste) as server:
        page = open_page(browser, server.url)
        page.click("#exact")  # PNG tiles: exact colours to compare
        settle(page)
        shot = page.screenshot(path=str(ARTIFACTS / "checkerboard.png"))
        black, grey = screen_pixel(page, shot, 700, 500), screen_pixel(page, shot, 200, 500)
        checker = {screen_pixel(page, shot, x, 500) for x in range(1200, 2900, 37)}  # the never-written gap
        page.context.close()
    assert black == (0, 0, 0)
    assert grey == (128, 128, 128)
    assert checker <= {(0x4B, 0x50, 0x5C), (0x3A, 0x3E, 0x48)}
    assert len(checker) == 2


def test_history_flies_to_its_region_and_undo_of_the_first_image_asks(browser: Any, serve, far_paste: Path) -> None:
    expect = playwright_api.expect
    with serve(far_paste) as server:
        page = open_page(browser, server.url)
        page.click("#history button.entry[data-step='1']")
        page.click("#history button.entry[data-step='2']")
        expect(page.locator("body")).to_have_attribute("data-outlined", "2")
        settle(page)
        view = page.evaluate(
            "(() => { const b = imkerUI.viewer.viewport.getBounds(); return [b.x, b.y, b.width, b.height]; })()"
        )
        assert view[0] <= 3 * TILE
        assert view[0] + view[2] >= 4 * TILE
        assert view[2] < 2 * TILE
        outline = page.locator(".region-outline").bounding_box()
        box = page.locator("#viewer").bounding_box()
        assert outline["width"] > box["width"] / 3  # the outline is drawn around it
        page.screenshot(path=str(ARTIFACTS / "history-flyto.png"))

        # 1:1 from a view of the never-written gap lands on content, not on the empty canvas
        page.evaluate("imkerUI.viewer.viewport.panTo(new OpenSeadragon.Point(2000, 500), true)")
        page.click("#actual")
        settle(page)
        cx, cy = page.evaluate("(() => { const c = imkerUI.viewer.viewport.getCenter(); return [c.x, c.y]; })()")
        assert 0 <= cx <= TILE or 3 * TILE <= cx <= 4 * TILE
        assert 0 <= cy <= TILE
        assert float(page.evaluate("document.body.dataset.zoom")) == pytest.approx(1, rel=1e-3)

        # the redo list names its steps; undoing the first image needs a confirmation
        page.click("#undo")
        expect(page.locator("body")).to_have_attribute("data-head", "1")
        expect(page.locator("#redo-list li")).to_have_text(["#2  paste"])
        page.click("#undo")
        expect(page.locator("#confirm-first")).to_be_visible()
        page.click("#confirm-first-cancel")
        expect(page.locator("#confirm-first")).to_be_hidden()
        assert server.state()["head"] == 1
        page.click("#undo")
        page.click("#confirm-first-ok")
        expect(page.locator("body")).to_have_attribute("data-head", "0")
        expect(page.locator("#redo-list li")).to_have_text(
            ["#2  paste", "#1  paste"]
        )  # newest on top, like the history
        page.context.close()


def test_keyboard_grow_undo_redo_and_shortcut_list(browser: Any, serve, small_canvas: Path) -> None:
    expect = playwright_api.expect
    before = Canvas.open(small_canvas, read_only=True).read(Window(0, 0, 256, 256))
    with serve(small_canvas) as server:
        page = open_page(browser, server.url)
        page.select_option("#generator", "mock")
        page.locator("#viewer [role=application]").focus()
        page.keyboard.press("g")
        expect(page.locator("#key-hint")).to_contain_text("Grow which edge")
        page.keyboard.press("ArrowRight")
        expect(page.locator("body")).to_have_attribute("data-head", "2", timeout=60_000)
        expect(page.locator("body")).to_have_attribute("data-busy", "false")
        assert Canvas.open(small_canvas, read_only=True).bounds == Window(0, 0, 256, 768)

        page.keyboard.press("Control+z")
        expect(page.locator("body")).to_have_attribute("data-head", "1")
        canvas = Canvas.open(small_canvas, read_only=True)
        assert (canvas.head, canvas.redoable, canvas.bounds) == (1, 1, Window(0, 0, 256, 256))
        np.testing.assert_array_equal(canvas.read(Window(0, 0, 256, 256)), before)
        page.keyboard.press("Control+Shift+Z")
        expect(page.locator("body")).to_have_attribute("data-head", "2")
        assert Canvas.open(small_canvas, read_only=True).head == 2

        # in the prompt field, Ctrl+Z is the text's own undo: the canvas is left alone
        page.fill("#prompt", "sky")
        page.locator("#prompt").press("Control+z")
        assert server.state()["head"] == 2

        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("?")
        expect(page.locator("#shortcuts")).to_be_visible()
        expect(page.locator("#shortcuts")).to_contain_text("Ctrl")
        page.screenshot(path=str(ARTIFACTS / "shortcuts.png"))
        page.keyboard.press("Escape")
        expect(page.locator("#shortcuts")).to_be_hidden()
        page.context.close()


FOCUS = """(() => { const e = document.activeElement, s = getComputedStyle(e);
    return { id: e.id || e.className, tag: e.tagName, outline: s.outlineStyle, width: parseFloat(s.outlineWidth),
             name: e.getAttribute('aria-label') || e.textContent.trim()
                   || (e.labels && e.labels[0] ? e.labels[0].textContent.trim() : '') }; })()"""


def test_tab_reaches_every_control_with_a_ring_and_a_name_and_axe_passes(
    browser: Any, serve, small_canvas: Path, gate
) -> None:
    expect = playwright_api.expect
    with serve(small_canvas, generators={"gated": gate.factory()}) as server:
        page = open_page(browser, server.url)
        seen = []
        page.locator("body").focus()
        for _ in range(40):
            page.keyboard.press("Tab")
            f = page.evaluate(FOCUS)
            if f["tag"] == "BODY" or (seen and f == seen[0]):
                break
            seen.append(f)
        ids = [f["id"] for f in seen]
        for wanted in (
            "shortcuts-open",
            "openseadragon-canvas",
            "zoom-in",
            "zoom-out",
            "fit",
            "actual",
            "map-toggle",
            "exact",
            "prompt",
            "generator",
            "extend-up",
            "extend-down",
            "entry",
        ):
            assert wanted in ids, (wanted, ids)
        assert all(f["outline"] != "none" and f["width"] >= 2 for f in seen), seen
        assert all(f["name"] for f in seen), seen

        # the progress bar while a step runs: a progressbar with live values
        page.click("#extend-right")
        expect(page.locator("#progress")).to_be_visible()
        bar = page.locator("[role=progressbar]")
        expect(bar).to_have_attribute("aria-valuenow", "0")
        expect(bar).to_have_attribute("aria-valuetext", re.compile("Step 1 of 1 · tile 0 of 1"))

        results = axe_api.Axe().run(page)
        bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert bad == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in bad]
        gate.open()
        expect(page.locator("body")).to_have_attribute("data-head", "2", timeout=60_000)
        page.context.close()


def test_dark_scheme_changes_the_colours_and_passes_axe(browser: Any, serve, sample_canvas: Path) -> None:
    with serve(sample_canvas) as server:
        colours = {}
        for scheme in ("light", "dark"):
            page = open_page(browser, server.url, color_scheme=scheme)
            colours[scheme] = page.evaluate(
                "[getComputedStyle(document.body).backgroundColor,"
                " getComputedStyle(document.querySelector('.card')).color]"
            )
            if scheme == "dark":
                page.screenshot(path=str(ARTIFACTS / "dark.png"))
                bad = [
                    v for v in axe_api.Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")
                ]
                assert bad == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in bad]
            page.context.close()
    assert colours["light"][0] != colours["dark"][0]
    assert colours["light"][1] != colours["dark"][1]
    assert colours["dark"][0] == "rgb(15, 17, 21)"


TARGETS = """[...document.querySelectorAll('button, select, input, textarea, [tabindex="0"]')]
    .filter(e => e.offsetParent !== null && !e.closest('dialog'))
    .map(e => { const t = e.type === 'checkbox' ? e.closest('label') || e : e, r = t.getBoundingClientRect();
                return [e.id || e.className || e.value, r.width, r.height]; })"""


def touch(cdp: Any, kind: str, points: list[tuple[float, float]]) -> None:
    cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y} for x, y in points]})


def test_narrow_screen_no_overflow_big_targets_pinch_and_drag(browser: Any, serve, sample_canvas: Path) -> None:
    with serve(sample_canvas) as server:
        page = open_page(browser, server.url, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        small = [t for t in page.evaluate(TARGETS) if t[1] < 40 or t[2] < 40]
        assert small == []
        page.screenshot(path=str(ARTIFACTS / "narrow-390.png"), full_page=True)

        box = page.locator("#viewer").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        cdp = page.context.new_cdp_session(page)
        zoom = float(page.evaluate("document.body.dataset.zoom"))
        touch(cdp, "touchStart", [(cx - 20, cy), (cx + 20, cy)])
        for d in range(20, 120, 10):
            touch(cdp, "touchMove", [(cx - d, cy), (cx + d, cy)])
        touch(cdp, "touchEnd", [])
        wait_until(page, f"Number(document.body.dataset.zoom) > {zoom * 2}")  # pinched open: zoomed in
        settle(page)

        centre = page.evaluate("imkerUI.viewer.viewport.getCenter(true).x")
        touch(cdp, "touchStart", [(cx, cy)])
        for d in range(0, 100, 10):
            touch(cdp, "touchMove", [(cx + d, cy)])
        touch(cdp, "touchEnd", [])
        wait_until(page, f"imkerUI.viewer.viewport.getCenter(true).x < {centre}")  # dragged right: view moves left
        page.context.close()
