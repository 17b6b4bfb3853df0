"""The UI's HTTP API over real HTTP on loopback: every endpoint, bad input, concurrency and undo/redo."""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from imkerutils.exquisite.pipeline import step_records
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from pathlib import Path

TILE = 1024


def noise(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return np.asarray(im)


@pytest.fixture
def two_piece_canvas(tmp_path: Path) -> tuple[Path, np.ndarray, Window]:
    """A canvas reaching into negative coordinates (two levels) and its pixels as a NumPy model."""
    path = tmp_path / "pieces.zarr"
    c = Canvas.create(path)
    a, b = noise(300, 400, 1), noise(200, 300, 2)
    c.paste(a, 0, 0, extend=True)
    c.paste(b, -1100, -700, extend=True)
    bounds = Window(-1100, -700, 1400, 1100)
    assert c.bounds == bounds
    model = np.zeros((bounds.height, bounds.width, 3), np.uint8)
    model[1100:1400, 700:1100] = a
    model[0:200, 0:300] = b
    return path, model, bounds


def world(model: np.ndarray, bounds: Window, w: Window) -> np.ndarray:
    """Model pixels of world window ``w`` (zeros outside the bounds)."""
    out = np.zeros((w.height, w.width, 3), np.uint8)
    inter = bounds.intersection(w)
    if inter is not None:
        out[inter.slices((w.row_off, w.col_off))] = model[inter.slices((bounds.row_off, bounds.col_off))]
    return out


# -- state and page ------------------------------------------------------------------------------------------


def test_state_describes_the_canvas(serve, sample_canvas: Path) -> None:
    with serve(sample_canvas) as page:
        s = page.state()
    assert s["canvas"] == {
        "name": "landscape.zarr",
        "mode": "RGB",
        "tile": 1024,
        "bounds": {"row_off": 0, "col_off": 0, "height": 1024, "width": 1024},
        "width": 1024,
        "height": 1024,
        "levels": 1,
    }
    assert s["head"] == 1
    assert s["redoable"] == 0
    assert s["history_total"] == 1
    assert s["viewer"] == {
        "frame": {"row_off": 0, "col_off": 0, "height": 1024, "width": 1024},
        "tile": 1024,
        "levels": 1,
        "formats": ["jpg", "png"],
    }
    (step,) = s["history"]
    assert (step["number"], step["kind"], step["source"], step["directions"]) == (1, "paste", "landscape.jpg", [])
    gens = {g["name"]: g for g in s["generators"]}
    assert gens["mock"]["available"]
    assert gens["local"]["available"]
    assert not gens["openai"]["available"]
    assert "OPENAI_API_KEY" in gens["openai"]["note"]
    assert s["default_generator"] == "local"
    assert s["seams"] == ["exact", "feather"]
    assert s["cost"] == {"spent_usd": 0.0, "spent": "$0.00", "budget_usd": None, "budget": None, "remaining_usd": None}
    assert s["job"] is None
    assert s["jobs"] == []
    assert s["queued"] == 0


def test_index_and_static_files(serve, sample_canvas: Path) -> None:
    with serve(sample_canvas) as page:
        index = page.get("/")
        assets = {
            p: page.get(p)
            for p in (
                "/static/app.js",
                "/static/app.css",
                "/static/vendor/openseadragon/openseadragon.min.js",
                "/static/vendor/openseadragon/LICENSE.txt",
                "/static/vendor/openseadragon/images/zoomin_rest.png",
            )
        }
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert '<div id="viewer"' in index.text
    assert "/static/app.js" in index.text
    for path, r in assets.items():
        assert r.status_code == 200, path
    assert "OpenSeadragon" in assets["/static/vendor/openseadragon/openseadragon.min.js"].text[:200]
    assert "Redistribution and use" in assets["/static/vendor/openseadragon/LICENSE.txt"].text
    for r in (index, *assets.values()):
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cross-origin-resource-policy"] == "same-origin"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-cache"


def test_empty_canvas_is_served(serve, tmp_path: Path) -> None:
    path = tmp_path / "empty.zarr"
    Canvas.create(path)
    with serve(path) as page:
        s = page.state()
        assert s["head"] == 0
        assert s["history"] == []
        assert s["canvas"]["width"] == 0
        assert s["viewer"]["frame"] == {"row_off": 0, "col_off": 0, "height": 1024, "width": 1024}
        blank = page.get("/api/tiles/0/0/0.png")
        undo = page.post("/api/undo", {})
        redo = page.post("/api/redo", {})
    assert png(blank.content).tolist() == [[[0, 0, 0, 0]]]
    assert undo.status_code == 409
    assert undo.json()["error"]["kind"] == "nothing_to_undo"
    assert redo.status_code == 409
    assert redo.json()["error"]["title"] == "Nothing to redo"


# -- tiles -----------------------------------------------------------------------------------------------------

#: The level-0 tiles the two pieces of ``two_piece_canvas`` fall in: (0, 0) for the first; rows -1100..-901 and
#: columns -700..-401 for the second (tile rows -2 and -1, tile column -1).
WRITTEN = {(0, 0), (-2, -1), (-1, -1)}


def written_alpha(world_window: Window, level: int, written: set[tuple[int, int]]) -> np.ndarray:
    """The alpha a viewer tile of ``level`` over ``world_window`` must have: 255 over written level-0 tiles."""
    alpha = np.zeros((world_window.height >> level, world_window.width >> level), np.uint8)
    for i, j in written:
        w = Window(i * TILE, j * TILE, TILE, TILE).intersection(world_window)
        if w is not None:
            r, c = (w.row_off - world_window.row_off) >> level, (w.col_off - world_window.col_off) >> level
            alpha[r : r + (w.height >> level), c : c + (w.width >> level)] = 255
    return alpha


def test_tiles_are_exact_pyramid_chunks(serve, two_piece_canvas) -> None:
    path, model, bounds = two_piece_canvas
    with serve(path) as page:
        s = page.state()
        f = Window.from_dict(s["viewer"]["frame"])
        levels = s["viewer"]["levels"]
        assert levels == 2
        step = TILE << (levels - 1)
        # the frame: the bounds snapped outward to the top level's tile grid
        assert all(v % step == 0 for v in (f.row_off, f.col_off, f.height, f.width))
        assert f.contains(bounds)
        assert f.row_off + step > bounds.row_off
        assert f.col_off + step > bounds.col_off
        assert f.row_end - step < bounds.row_end
        assert f.col_end - step < bounds.col_end
        canvas = Canvas.open(path, read_only=True)
        for level in range(levels):
            size = TILE << level
            for row in range(f.height // size):
                for col in range(f.width // size):
                    r = page.get(f"/api/tiles/{level}/{col}/{row}.png")
                    assert r.status_code == 200
                    assert r.headers["content-type"] == "image/png"
                    world_window = Window(f.row_off + row * size, f.col_off + col * size, size, size)
                    alpha = written_alpha(world_window, level, WRITTEN)
                    if bounds.intersection(world_window) is None or not alpha.any():
                        assert png(r.content).tolist() == [[[0, 0, 0, 0]]]  # 1x1 transparent
                        continue
                    got = png(r.content)
                    if level == 0:
                        expected = world(model, bounds, world_window)
                    else:
                        lw = Window(world_window.row_off >> level, world_window.col_off >> level, TILE, TILE)
                        expected = canvas.read(lw, level)
                    if alpha.all():
                        np.testing.assert_array_equal(got, expected)
                    else:  # never-written tiles are transparent, the rest exact
                        np.testing.assert_array_equal(got[..., 3], alpha)
                        np.testing.assert_array_equal(got[..., :3], expected)
            # the last tile of each axis exists, one more does not
            rows, cols = f.height // size, f.width // size
            assert page.get(f"/api/tiles/{level}/{cols}/0.png").status_code == 404
            assert page.get(f"/api/tiles/{level}/0/{rows}.png").status_code == 404
        jpg = page.get("/api/tiles/0/1/1.jpg")
    assert jpg.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(jpg.content)) as im:
        assert im.format == "JPEG"
        assert im.size == (TILE, TILE)
        got = np.asarray(im).astype(int)
    expected = world(model, bounds, Window(f.row_off + TILE, f.col_off + TILE, TILE, TILE)).astype(int)
    assert np.abs(got - expected).mean() < 12  # lossy but the same picture (noise is JPEG's worst case)


def test_tile_cache_headers(serve, sample_canvas: Path) -> None:
    with serve(sample_canvas) as page:
        token = page.state()["token"]
        fresh = page.get(f"/api/tiles/0/0/0.jpg?v={token}")
        stale = page.get("/api/tiles/0/0/0.jpg?v=old")
        again = page.get(f"/api/tiles/0/0/0.jpg?v={token}", headers={"if-none-match": fresh.headers["etag"]})
        other = page.get("/api/tiles/0/0/0.png", headers={"if-none-match": fresh.headers["etag"]})
    assert fresh.headers["etag"] == f'"{token}.0.0.0.jpg"'
    assert fresh.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert stale.headers["cache-control"] == "no-cache"
    assert stale.content == fresh.content
    assert again.status_code == 304
    assert again.content == b""
    assert other.status_code == 200
    assert other.headers["etag"] == f'"{token}.0.0.0.png"'


@pytest.mark.parametrize(
    "path",
    [
        "/api/tiles/1/0/0.png",  # level beyond the pyramid
        "/api/tiles/0/1/0.png",  # column beyond the frame
        "/api/tiles/0/0/1.jpg",  # row beyond the frame
        "/api/tiles/0/99999999999999999999999/0.png",
        "/api/tiles/-1/0/0.png",
        "/api/tiles/0/-1/0.png",
        "/api/tiles/0/0/0.gif",
        "/api/tiles/0/0/0.png.png",
        "/api/tiles/x/0/0.png",
        "/api/tiles/0/0/0",
        "/api/tiles/0/0.png",
        "/api/steps/0/thumb.png",
        "/api/steps/2/thumb.png",
        "/api/steps/-1/thumb.png",
        "/api/jobs/0123",
        "/api/jobs/" + "0" * 32,
        "/api/nothing",
    ],
)
def test_bad_addresses_are_not_found(shared, path: str) -> None:
    assert shared.get(path).status_code == 404


def test_jpeg_tiles_are_refused_for_rgba(serve, tmp_path: Path) -> None:
    path = tmp_path / "rgba.zarr"
    c = Canvas.create(path, mode="RGBA")
    c.paste(np.full((10, 10, 4), 7, np.uint8), 0, 0, extend=True)
    with serve(path) as page:
        assert page.state()["viewer"]["formats"] == ["png"]
        assert page.get("/api/tiles/0/0/0.jpg").status_code == 404
        for bad in ("9" * 5000 + "/0/0", "0/-1/0", "0/x/0", "0/0/" + "1" * 12):  # 500s before (issue 17)
            assert page.get(f"/api/tiles/{bad}.png").status_code == 404, bad
        tile = png(page.get("/api/tiles/0/0/0.png").content)
    assert tile.shape == (TILE, TILE, 4)
    assert (tile[:10, :10] == 7).all()
    assert (tile[10:] == 0).all()


# -- grow, jobs, undo, redo -------------------------------------------------------------------------------------


def test_grow_undo_redo_over_http(serve, sample_canvas: Path) -> None:
    with serve(sample_canvas) as page:
        before = page.state()
        job = page.grow(["right"], prompt="more meadow", seed=3)
        assert job["status"] == "done"
        assert job["error"] is None
        assert (job["steps_done"], job["tiles_done"], job["tiles_total"], job["progress"]) == (1, 1, 1, 1.0)
        assert (job["head_before"], job["head_after"]) == (1, 2)
        grown = page.state()
        assert grown["canvas"]["bounds"] == {"row_off": 0, "col_off": 0, "height": 1024, "width": 1536}
        assert grown["viewer"]["frame"] == {"row_off": 0, "col_off": 0, "height": 2048, "width": 2048}
        assert grown["token"] != before["token"]
        assert grown["head"] == 2
        step = grown["history"][-1]
        assert (step["number"], step["directions"], step["prompt"], step["generator"]) == (
            2,
            ["right"],
            "more meadow",
            "mock",
        )
        assert step["cost"] == "$0.00"
        assert isinstance(step["seam_excess"], float)
        assert grown["jobs"][0]["id"] == job["id"]
        canvas = Canvas.open(sample_canvas, read_only=True)
        (record,) = step_records(canvas)[-1:]
        assert record.user_prompt == "more meadow"
        assert record.generator_name == "mock"
        new_tile = png(page.get("/api/tiles/0/1/0.png").content)
        np.testing.assert_array_equal(new_tile, canvas.read(Window(0, 1024, 1024, 1024)))
        assert new_tile[:, :512].any()  # the new strip has content
        thumb = page.get(step["thumb"])
        assert thumb.headers["cache-control"] == "private, max-age=31536000, immutable"
        with Image.open(io.BytesIO(thumb.content)) as im:
            assert im.format == "PNG"
            assert im.size == (80, 160)
        pixels = hashlib.sha256(page.get("/api/tiles/0/1/0.png").content).hexdigest()

        undo = page.post("/api/undo", {"head": 2})
        assert undo.status_code == 200
        assert undo.json() == {"step": {"number": 2, "kind": "grow-right"}, "head": 1}
        shrunk = page.state()
        assert shrunk["canvas"]["width"] == 1024
        assert shrunk["head"] == 1
        assert shrunk["redoable"] == 1
        assert page.get("/api/tiles/0/1/0.png").status_code == 404  # the frame shrank back
        assert page.get("/api/steps/2/thumb.png").status_code == 404

        redo = page.post("/api/redo", {"head": 1})
        assert redo.status_code == 200
        assert redo.json()["head"] == 2
        again = page.state()
        assert again["canvas"]["width"] == 1536
        assert again["redoable"] == 0
        assert hashlib.sha256(page.get("/api/tiles/0/1/0.png").content).hexdigest() == pixels
    assert Canvas.open(sample_canvas).verify().ok


def test_stale_undo_changes_nothing(serve, sample_canvas: Path) -> None:
    with serve(sample_canvas) as page:
        token = page.state()["token"]
        r = page.post("/api/undo", {"head": 5})
        assert r.status_code == 409
        assert r.json()["error"]["kind"] == "changed"
        assert page.state()["token"] == token


def wait_state(page, predicate, timeout_s: float = 60.0) -> dict:
    """Poll /api/state until ``predicate(state)`` holds."""
    import time

    deadline = time.monotonic() + timeout_s
    while not predicate(s := page.state()):
        assert time.monotonic() < deadline, s
        time.sleep(0.02)
    return s


def test_concurrent_grows_are_serialised(serve, small_canvas: Path, gate) -> None:
    with serve(small_canvas, generators={"mock": gate.factory()}) as page:
        replies: dict[str, object] = {}
        start = threading.Barrier(2)

        def post(direction: str) -> None:
            start.wait()
            replies[direction] = page.post("/api/grow", {"directions": [direction], "generator": "mock"})

        threads = [threading.Thread(target=post, args=(d,)) for d in ("right", "down")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r.status_code == 202 for r in replies.values())  # type: ignore[attr-defined]
        ids = {d: r.json()["job"]["id"] for d, r in replies.items()}  # type: ignore[attr-defined]
        waiting = wait_state(page, lambda s: s["job"] is not None)
        assert waiting["queued"] == 1
        assert waiting["job"]["status"] == "running"
        gate.open()
        jobs = {d: page.wait_job(i) for d, i in ids.items()}
    assert all(j["status"] == "done" for j in jobs.values())
    first, second = sorted(jobs.values(), key=lambda j: j["head_before"])
    assert (first["head_before"], first["head_after"], second["head_before"], second["head_after"]) == (1, 2, 2, 3)
    assert second["started_at"] >= first["finished_at"]  # one after the other, never interleaved
    canvas = Canvas.open(small_canvas)
    steps = canvas.history()[1:]
    assert [s.kind for s in steps] == [f"grow-{first['directions'][0]}", f"grow-{second['directions'][0]}"]
    assert steps[1].bounds_before == steps[0].bounds_after
    assert canvas.bounds == Window(0, 0, 768, 768)
    assert canvas.verify().ok


def test_undo_waits_for_running_job_and_queue_is_bounded(serve, small_canvas: Path, gate) -> None:
    with serve(small_canvas, generators={"mock": gate.factory()}, max_queued=1) as page:
        first = page.post("/api/grow", {"directions": ["left"], "generator": "mock"})
        assert first.status_code == 202
        busy = page.post("/api/undo", {})
        redo = page.post("/api/redo", {})
        full = page.post("/api/grow", {"directions": ["up"], "generator": "mock"})
        gate.open()
        done = page.wait_job(first.json()["job"]["id"])
        after = page.post("/api/grow", {"directions": ["up"], "generator": "mock"})
        assert after.status_code == 202
        assert page.wait_job(after.json()["job"]["id"])["status"] == "done"
    assert busy.status_code == 409
    assert busy.json()["error"]["kind"] == "busy"
    assert redo.status_code == 409
    assert redo.json()["error"]["kind"] == "busy"
    assert full.status_code == 429
    assert full.json()["error"]["kind"] == "queue_full"
    assert done["status"] == "done"
    assert [s.kind for s in Canvas.open(small_canvas).history()] == ["paste", "grow-left", "grow-up"]


def test_batch_growth_of_two_edges(serve, small_canvas: Path) -> None:
    with serve(small_canvas) as page:
        job = page.grow(["right", "down"])
        s = page.state()
    assert job["status"] == "done"
    assert job["steps_done"] == 1
    assert (job["head_before"], job["head_after"]) == (1, 2)
    assert job["tiles_total"] >= 2
    assert job["tiles_done"] == job["tiles_total"]
    assert s["canvas"]["bounds"] == {"row_off": 0, "col_off": 0, "height": 768, "width": 768}
    assert s["history"][-1]["directions"] == ["right", "down"]
    assert [s.kind for s in Canvas.open(small_canvas).history()] == ["paste", "grow-right-down"]


def test_a_grow_keeps_at_most_four_tiles_in_flight(serve, tmp_path: Path) -> None:
    """The mock declares 16 parallel calls; the server runs 4 at a time, which bounds its memory (issue 15 point 9)."""
    from imkerutils.exquisite.api.mock import MockGenerator
    from imkerutils.exquisite.ui.jobs import SERVER_TILES_IN_FLIGHT

    lock, running, most = threading.Lock(), [0], [0]
    # one more party than the cap: capped, the first calls wait together until the barrier times out
    # (then it stays broken and lets everyone through); uncapped, a fifth call arrives and most > 4
    one_too_many = threading.Barrier(SERVER_TILES_IN_FLIGHT + 1, timeout=2)

    class CountingMock(MockGenerator):
        def generate(self, request):  # type: ignore[no-untyped-def]
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            try:
                with contextlib.suppress(threading.BrokenBarrierError):
                    one_too_many.wait()
                return super().generate(request)
            finally:
                with lock:
                    running[0] -= 1

    assert CountingMock.max_concurrency > SERVER_TILES_IN_FLIGHT
    path = tmp_path / "long.zarr"
    Canvas.create(path).paste(np.random.default_rng(1).integers(0, 256, (256, 12000, 3), np.uint8), 0, 0, extend=True)
    with serve(path, generators={"mock": CountingMock}) as page:
        job = page.grow(["down"])
    assert job["status"] == "done"
    assert job["tiles_total"] >= 12
    assert most[0] == SERVER_TILES_IN_FLIGHT


def test_several_steps_and_a_change_by_another_program(serve, small_canvas: Path) -> None:
    import time

    with serve(small_canvas) as page:
        job = page.grow(["up"], steps=2)
        assert (job["steps_done"], job["head_before"], job["head_after"]) == (2, 1, 3)
        s = page.state()
        assert s["head"] == 3
        assert s["canvas"]["bounds"]["row_off"] == -1024
        assert [h["directions"] for h in s["history"][1:]] == [["up"], ["up"]]
        Canvas.open(small_canvas).undo()  # e.g. `imkerutils undo` in a terminal
        deadline = time.monotonic() + 30
        while (s := page.state())["head"] != 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert s["canvas"]["height"] == 768
        assert s["redoable"] == 1
        assert page.get(f"/api/tiles/0/0/0.png?v={s['token']}").status_code == 200


# -- validation ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "directions"),
        ({"directions": []}, "directions"),
        ({"directions": "right"}, "directions"),
        ({"directions": ["north"]}, "directions"),
        ({"directions": ["right", "right"]}, "repeat"),
        ({"directions": [1]}, "directions"),
        ({"directions": ["right"], "steps": 0}, "steps"),
        ({"directions": ["right"], "steps": 33}, "steps"),
        ({"directions": ["right"], "steps": True}, "steps"),
        ({"directions": ["right"], "steps": 1.5}, "steps"),
        ({"directions": ["right"], "steps": "2"}, "steps"),
        ({"directions": ["right"], "seed": -1}, "seed"),
        ({"directions": ["right"], "seed": 2**40}, "seed"),
        ({"directions": ["right"], "prompt": 7}, "prompt"),
        ({"directions": ["right"], "prompt": "x" * 4001}, "4000"),
        ({"directions": ["right"], "prompt": "a\x00b"}, "NUL"),
        ({"directions": ["right"], "generator": "dalle"}, "generator"),
        ({"directions": ["right"], "generator": None}, "generator"),
        ({"directions": ["right"], "seam": "blur"}, "seam"),
        ({"directions": ["right"], "path": "/etc/passwd"}, "unknown field"),
        ([], "JSON object"),
        ("not json", "not valid JSON"),
        ('"right"', "JSON object"),
    ],
)
def test_grow_bodies_are_validated(shared, body: object, words: str) -> None:
    r = shared.post("/api/grow", body)
    s = shared.state()
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["kind"] == "bad_request"
    assert words in err["detail"]
    assert s["head"] == 1
    assert s["jobs"] == []


def test_undo_body_is_validated(shared) -> None:
    bad = [shared.post("/api/undo", b) for b in ({"head": "1"}, {"head": -1}, {"steps": 1}, [1], "x")]
    assert shared.state()["head"] == 1
    assert [r.status_code for r in bad] == [400] * 5


def test_body_size_and_type_limits(serve, sample_canvas: Path) -> None:
    with serve(sample_canvas) as page:
        huge = page.post("/api/grow", {"directions": ["right"], "prompt": "x" * 20_000})
        form = page.post("/api/grow", "directions=right", headers={"content-type": "application/x-www-form-urlencoded"})
        text = page.post("/api/undo", "{}", headers={"content-type": "text/plain"})
        none = page.http.post("/api/undo", headers={"origin": page.url})
        wrong_method = [page.get("/api/grow"), page.get("/api/undo"), page.http.post("/api/state")]
        assert page.state()["head"] == 1
    assert huge.status_code == 413
    assert huge.json()["error"]["kind"] == "too_large"
    assert form.status_code == 415
    assert text.status_code == 415
    assert none.status_code == 415
    assert [r.status_code for r in wrong_method] == [405, 405, 405]


# -- plain-words errors --------------------------------------------------------------------------------------------


def test_openai_without_key_is_refused_in_plain_words(serve, sample_canvas: Path) -> None:
    with serve(sample_canvas) as page:
        r = page.post("/api/grow", {"directions": ["right"], "generator": "openai", "prompt": "keep me"})
        s = page.state()
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["kind"] == "api_key"
    assert err["title"] == "Missing or invalid API key"
    assert "no API key for the 'openai' generator" in err["detail"]
    assert "OPENAI_API_KEY" in err["detail"]
    assert s["head"] == 1
    assert s["jobs"] == []


def test_listing_generators_does_not_import_the_openai_sdk(sample_canvas: Path) -> None:
    """The page's state names openai (and whether its key is set) without importing the SDK (0.5 s, 42 MiB)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "import httpx\n"
        "from imkerutils.exquisite.ui.jobs import CanvasSession\n"
        "from imkerutils.exquisite.ui.serve import background\n"
        "from imkerutils.exquisite.ui.server import create_app\n"
        f"session = CanvasSession({str(sample_canvas)!r})\n"
        "with background(create_app(session)) as url:\n"
        "    generators = httpx.get(url + 'api/state', trust_env=False).json()['generators']\n"
        "print('openai' in str(generators), 'openai' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["True", "False"], out.stdout + out.stderr
