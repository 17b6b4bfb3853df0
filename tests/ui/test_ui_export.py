"""Export and download from the browser UI (issue 15, point 4), over real HTTP; files read back by Pillow / tifffile."""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import tifffile
from PIL import Image

from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from pathlib import Path


def export(page: Any, body: dict[str, Any], timeout_s: float = 120) -> dict[str, Any]:
    r = page.post("/api/export", body)
    assert r.status_code == 202, r.text
    job = r.json()["export"]
    assert r.headers["location"] == f"/api/exports/{job['id']}"
    deadline = time.monotonic() + timeout_s
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = page.get(f"/api/exports/{job['id']}").json()["export"]
    return job


def download(page: Any, job: dict[str, Any]) -> tuple[bytes, Any]:
    r = page.get(job["url"])
    assert r.status_code == 200, r.text
    return r.content, r.headers


def read_back(data: bytes, fmt: str) -> np.ndarray:
    if fmt == "png":
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im)
    return tifffile.imread(io.BytesIO(data))


@pytest.mark.parametrize(
    ("fmt", "region"),
    [
        ("png", {"x": 100, "y": 200, "width": 700, "height": 500}),
        ("tiff", {"x": 100, "y": 200, "width": 700, "height": 500}),
        ("png", {"x": -40, "y": 700, "width": 300, "height": 100}),  # crosses the bounds: background outside
        ("tiff", None),  # the whole canvas
    ],
)
def test_exported_region_equals_canvas_read(serve, small_canvas: Path, fmt: str, region: dict[str, int] | None) -> None:
    with serve(small_canvas) as page:
        page.grow(["right", "down"])  # 768 x 768 over two steps
        job = export(page, {"format": fmt, "region": region})
        data, headers = download(page, job)
        again, _ = download(page, job)  # a finished file can be downloaded again
    canvas = Canvas.open(small_canvas, read_only=True)
    r = region or {"x": canvas.bounds.col_off, "y": canvas.bounds.row_off, **canvas.bounds.to_dict()}
    window = Window(r["y"], r["x"], r["height"], r["width"])
    expected = canvas.read(window)
    got = read_back(data, fmt)
    assert job["status"] == "done"
    assert job["progress"] == 1.0
    assert job["done"] == job["total"] == window.size
    assert job["bytes"] == len(data) == len(again)
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)
    assert headers["content-type"] == ("image/png" if fmt == "png" else "image/tiff")
    assert headers["content-disposition"].startswith("attachment;")
    assert job["filename"] in headers["content-disposition"]
    assert job["filename"] == f"small_x{window.col_off}_y{window.row_off}_{window.width}x{window.height}" + (
        ".png" if fmt == "png" else ".tif"
    )


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        ({"format": "gif"}, 400, "bad_request"),
        ({"format": "png", "region": {"x": 0, "y": 0, "width": 0, "height": 5}}, 400, "bad_request"),
        ({"format": "png", "region": {"x": 0, "y": 0, "width": True, "height": 5}}, 400, "bad_request"),
        ({"format": "png", "region": {"x": 0, "y": 0}}, 400, "bad_request"),
        ({"format": "png", "path": "/etc/passwd"}, 400, "bad_request"),
        ({"format": "png", "region": {"x": 5000, "y": 0, "width": 10, "height": 10}}, 400, "invalid"),
    ],
)
def test_bad_export_requests_are_refused(shared, body: dict[str, Any], status: int, kind: str) -> None:
    r = shared.post("/api/export", body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["kind"] == kind


def test_export_endpoints_refuse_unknown_and_cross_origin(shared) -> None:
    assert shared.get("/api/exports/" + "0" * 32).status_code == 404
    assert shared.get("/api/exports/" + "0" * 32 + "/file").status_code == 404
    assert shared.get("/api/exports/..%2f..%2fzarr.json/file").status_code == 404
    r = shared.post("/api/export", {"format": "png"}, origin="http://evil.example")
    assert r.status_code == 403


def test_file_is_refused_until_done_and_deleted_when_the_server_stops(serve, small_canvas: Path, gate) -> None:
    """A queued export has no file yet (409); the server's temporary files are gone after it stops."""
    from imkerutils.exquisite.ui import exports as exports_module

    started: list[Path] = []
    real_run = exports_module.Exports._run

    def held_run(self: Any, job: Any) -> None:
        gate.event.wait(60)
        real_run(self, job)
        if job.path is not None:
            started.append(job.path)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(exports_module.Exports, "_run", held_run)
        with serve(small_canvas) as page:
            job = page.post("/api/export", {"format": "png"}).json()["export"]
            r = page.get(f"/api/exports/{job['id']}/file")
            assert r.status_code == 409
            assert r.json()["error"]["kind"] == "export_busy"
            gate.open()
            deadline = time.monotonic() + 60
            while page.get(f"/api/exports/{job['id']}").json()["export"]["status"] != "done":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert page.get(f"/api/exports/{job['id']}/file").status_code == 200
            assert started
            assert started[0].is_file()
    assert not started[0].exists()
    assert not started[0].parent.exists()


def test_only_the_newest_files_are_kept(serve, small_canvas: Path) -> None:
    with serve(small_canvas) as page:
        jobs = [export(page, {"format": "png", "region": {"x": i, "y": 0, "width": 8, "height": 8}}) for i in range(5)]
        kept = [page.get(f"/api/exports/{j['id']}").status_code for j in jobs]
        files = [page.get(j["url"]).status_code for j in jobs]
    assert kept == [404, 404, 200, 200, 200]
    assert files == kept
