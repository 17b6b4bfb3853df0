"""Issue 15, points 1-3 over real HTTP: draw a region and see its plan, stage candidates, accept, cancel, progress.

Every expectation is checked against the library itself (``Estimate.of`` of ``plan_fill_step``'s or
``plan_grow_region``'s plans, ``staging.candidate_pieces``, ``Canvas.read``) on a canvas opened independently of
the server.
"""

from __future__ import annotations

import hashlib
import io
import threading
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.exquisite.pipeline import Estimate, GrowSettings, plan_fill_step, plan_grow_region
from imkerutils.exquisite.pipeline.staging import STAGED, candidate_pieces, list_proposals, load_proposal
from imkerutils.exquisite.ui.jobs import Job
from imkerutils.exquisite.ui.requests import SNAP_PX, GenerateRequest, GrowRequest, snap_region
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from imkerutils.exquisite.api.base import TileGenerator

RIGHT_OF_SMALL = {"x": 256, "y": 0, "width": 200, "height": 256}  # snaps to x 256..448: 192 x 256


def digest(path: Path) -> tuple[str, str]:
    """The canvas's state token and a hash of all its pixels, read by an independent reader."""
    c = Canvas.open(path, read_only=True)
    return c.state_token, hashlib.sha256(c.read(c.bounds).tobytes()).hexdigest()


def finished(page: Any, job_id: str) -> dict[str, Any]:
    """Poll a job until it is done, failed or cancelled (the fixture's ``wait_job`` knows only the first two)."""
    for _ in range(2400):
        job = page.get(f"/api/jobs/{job_id}").json()["job"]
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        threading.Event().wait(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


class Slow:
    """A mock generator that lets ``free`` calls through, then signals ``started`` and waits for ``release``."""

    def __init__(self, free: int = 0) -> None:
        self.free = free
        self.calls = 0
        self.started = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    def factory(self) -> Callable[[], TileGenerator]:
        slow = self

        class SlowMock(MockGenerator):
            def generate(self, request: Any) -> Any:
                with slow.lock:
                    slow.calls += 1
                    wait = slow.calls > slow.free
                if wait:
                    slow.started.set()
                    if not slow.release.wait(120):
                        raise TimeoutError("the test never released the generator")
                return super().generate(request)

        return SlowMock


@pytest.fixture
def slow() -> Iterator[Slow]:
    s = Slow()
    yield s
    s.release.set()  # never leave a job blocked


class PricedMock(MockGenerator):
    """The mock with a price: every call may cost $0.25 at worst."""

    max_cost: ClassVar[float] = 0.25

    def max_cost_per_tile_usd(self) -> float:
        return self.max_cost


# -- point 1: draw the region, see the plan ---------------------------------------------------------------------


def test_snap_region_puts_edges_on_the_grid_or_the_canvas_edges() -> None:
    bounds = Window(0, 0, 1000, 1000)
    assert snap_region(Window(10, 1000, 300, 200), bounds) == Window(0, 1000, 320, 216)
    assert snap_region(Window(-40, 990, 30, 5), bounds) == Window(-64, 1000, 64, 24)  # never empty


coords = st.integers(-5000, 5000)


@given(x=coords, y=coords, w=st.integers(1, 600), h=st.integers(1, 600), bx=coords, by=coords)
def test_a_snapped_box_has_its_edges_on_the_grid_or_the_canvas_near_the_drawn_ones(
    x: int, y: int, w: int, h: int, bx: int, by: int
) -> None:
    bounds = Window(by, bx, 1000, 777)
    r = snap_region(Window(y, x, h, w), bounds)
    for start, end, d0, d1, edges in (
        (r.col_off, r.col_end, x, x + w, (bounds.col_off, bounds.col_end)),
        (r.row_off, r.row_end, y, y + h, (bounds.row_off, bounds.row_end)),
    ):
        assert start < end
        assert all(e % SNAP_PX == 0 or e in edges for e in (start, end))
        assert abs(start - d0) <= SNAP_PX // 2
        # the far edge is the one nearest the drawn one, or (a box too thin to snap) the next line after start
        assert abs(end - d1) <= SNAP_PX // 2 or end == min(
            e for e in ((start // SNAP_PX + 1) * SNAP_PX, *edges) if e > start
        )
    assert snap_region(r, bounds) == r  # snapping is idempotent


def test_plan_of_a_drawn_box_is_the_librarys_estimate_and_runs_nothing(serve, small_canvas: Path) -> None:
    before = digest(small_canvas)
    with serve(small_canvas, generators={"mock": MockGenerator}) as page:
        r = page.post("/api/plan", {"region": RIGHT_OF_SMALL, "candidates": 3, "generator": "mock"})
        assert r.status_code == 200, r.text
        plan = r.json()["plan"]
    region = Window(0, 256, 256, 192)
    settings = GrowSettings()
    plan_ = plan_fill_step(Canvas.open(small_canvas, read_only=True), region, settings)
    expected = Estimate.of([plan_], MockGenerator(), settings, candidates=3)
    assert plan["region"] == {"x": 256, "y": 0, "width": 192, "height": 256}
    assert (plan["tiles"], plan["generator_calls"], plan["candidates"]) == (
        expected.tiles,
        expected.calls,
        expected.candidates,
    )
    assert plan["tiles_total"] == expected.tiles * 3
    assert plan["worst_case_usd"] == 0.0
    assert plan["budget"]["fits"] is True
    assert plan["bounds_after"] == {"row_off": 0, "col_off": 0, "height": 256, "width": 448}
    assert digest(small_canvas) == before
    assert list_proposals(Canvas.open(small_canvas, read_only=True)) == []


def test_plan_of_an_along_stretch_is_grow_regions_estimate(serve, small_canvas: Path) -> None:
    with serve(small_canvas, generators={"mock": MockGenerator}) as page:
        body = {"directions": ["right"], "by": 128, "along": [64, 128], "candidates": 1}
        plan = page.post("/api/plan", body).json()["plan"]
    settings = GrowSettings()
    plans = plan_grow_region(
        Canvas.open(small_canvas, read_only=True), [Direction.RIGHT], settings, by=128, along=(64, 128)
    )
    expected = Estimate.of(plans, MockGenerator(), settings)
    assert plan["region"] == {"x": 256, "y": 64, "width": 128, "height": 128}
    assert (plan["tiles"], plan["generator_calls"]) == (expected.tiles, expected.calls)


def test_budget_set_in_the_page_is_shown_checked_by_the_plan_and_enforced(serve, small_canvas: Path) -> None:
    before = digest(small_canvas)
    with serve(small_canvas, generators={"mock": PricedMock}) as page:
        assert page.state()["cost"]["budget_usd"] is None
        r = page.post("/api/budget", {"budget_usd": 0.5})
        assert r.status_code == 200, r.text
        assert r.json()["cost"]["budget"] == "$0.50"
        assert page.state()["cost"]["budget_usd"] == 0.5
        plan = page.post("/api/plan", {"region": RIGHT_OF_SMALL, "candidates": 3}).json()["plan"]
        assert plan["worst_case_usd"] == plan["generator_calls"] * 0.25 > 0.5
        assert plan["worst_case"] == f"${plan['worst_case_usd']:.2f}"
        assert plan["budget"] == {"budget_usd": 0.5, "remaining_usd": 0.5, "fits": False}
        r = page.post("/api/generate", {"region": RIGHT_OF_SMALL, "candidates": 3})
        job = page.wait_job(r.json()["job"]["id"])
        assert job["status"] == "failed"
        assert job["error"]["kind"] == "budget"
        assert page.post("/api/budget", {"budget_usd": None}).json()["cost"]["budget_usd"] is None
    assert digest(small_canvas) == before


def test_a_region_with_nothing_next_to_it_is_refused_in_plain_words(serve, small_canvas: Path) -> None:
    with serve(small_canvas, generators={"mock": MockGenerator}) as page:
        r = page.post("/api/plan", {"region": {"x": 5000, "y": 5000, "width": 256, "height": 256}})
    assert r.status_code == 400
    assert r.json()["error"]["kind"] == "no_content"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "either region"),
        ({"region": RIGHT_OF_SMALL, "directions": ["right"]}, "either region"),
        ({"region": {"x": 0, "y": 0, "width": 10}}, "region must be"),
        ({"region": {"x": 0, "y": 0, "width": 9000, "height": 10}}, "width"),
        ({"region": RIGHT_OF_SMALL, "by": 5}, "by and along"),
        ({"region": RIGHT_OF_SMALL, "candidates": 0}, "candidates"),
        ({"region": RIGHT_OF_SMALL, "candidates": True}, "candidates"),
        ({"directions": ["right", "up"], "along": [0, 10]}, "ONE edge"),
        ({"directions": ["right"], "along": [0]}, "along must be"),
        ({"directions": ["right"], "by": 0}, "by must be"),
    ],
)
def test_bad_plan_bodies_are_refused_naming_the_field(shared, body: dict[str, Any], needle: str) -> None:
    for path in ("/api/plan", "/api/generate"):
        r = shared.post(path, body)
        assert r.status_code == 400, r.text
        assert needle in r.json()["error"]["detail"]


def test_budget_and_cancel_refuse_bad_input_and_other_origins(shared) -> None:
    for value in (-1, "1", True, float("inf")):
        body = b'{"budget_usd": Infinity}' if value == float("inf") else {"budget_usd": value}
        assert shared.post("/api/budget", body).status_code == 400
    assert shared.post("/api/budget", {}).status_code == 400
    assert shared.post("/api/budget", {"budget_usd": 1}, origin="http://evil.example").status_code == 403
    assert shared.post("/api/generate", {"region": RIGHT_OF_SMALL}, origin="http://evil.example").status_code == 403
    assert shared.post("/api/jobs/" + "0" * 32 + "/cancel", {}).status_code == 404
    assert shared.post("/api/jobs/" + "0" * 32 + "/cancel", {}, origin="http://evil.example").status_code == 403
    assert shared.post("/api/staged/abc123/accept", {"candidate": 0}).status_code == 404
    assert shared.post("/api/staged/abc123/discard", {}).status_code == 404
    assert shared.post("/api/staged/..%2F/accept", {"candidate": 0}).status_code == 404
    assert shared.get("/api/staged/abc123/0.png").status_code == 404
    assert shared.state()["cost"]["budget_usd"] is None


# -- point 2: candidates in place ------------------------------------------------------------------------------------


def test_three_candidates_staged_shown_in_place_survive_a_restart_and_the_second_is_accepted(
    serve, small_canvas: Path
) -> None:
    before = digest(small_canvas)
    with serve(small_canvas, generators={"mock": MockGenerator}) as page:
        r = page.post("/api/generate", {"region": RIGHT_OF_SMALL, "candidates": 3, "prompt": "sea", "seed": 7})
        assert r.status_code == 202, r.text
        job = page.wait_job(r.json()["job"]["id"])
        assert job["status"] == "done", job
        assert job["kind"] == "generate"
        assert job["proposal"]
        assert digest(small_canvas) == before  # staged: nothing committed
    # a new server (a page reload after a restart) still offers the proposal
    with serve(small_canvas, generators={"mock": MockGenerator}) as page:
        (proposal,) = page.state()["staged"]
        assert proposal["id"] == job["proposal"]
        assert page.get("/api/staged").json()["staged"] == [proposal]
        assert proposal["region"] == {"x": 256, "y": 0, "width": 192, "height": 256}
        assert proposal["box"] == proposal["region"]
        assert proposal["canvas_unchanged"] is True
        assert proposal["prompt"] == "sea"
        assert [c["seed"] for c in proposal["candidates"]] == [7, 8, 9]
        reader = Canvas.open(small_canvas, read_only=True)
        staged = load_proposal(reader, proposal["id"])
        for c in proposal["candidates"]:
            record = staged.records()[c["candidate"]]
            assert c["seam_excess"] == record.qc["seam_excess"]
            assert c["cost_usd"] == record.cost_usd == 0.0
            assert c["cost"] == "$0.00"
            r = page.get(c["image"])
            assert r.status_code == 200
            assert r.headers["content-type"] == "image/png"
            with Image.open(io.BytesIO(r.content)) as im:
                shown = np.asarray(im)
            ((w, pixels),) = candidate_pieces(reader, staged, c["candidate"])
            assert w == Window(0, 256, 256, 192)
            assert np.array_equal(shown[..., :3], pixels)
            assert (shown[..., 3] == 255).all()
        assert page.get(f"/api/staged/{proposal['id']}/3.png").status_code == 404
        assert page.post(f"/api/staged/{proposal['id']}/accept", {"candidate": 3}).status_code == 404
        second = candidate_pieces(reader, staged, 1)[0][1]
        head = page.state()["head"]

        r = page.post(f"/api/staged/{proposal['id']}/accept", {"candidate": 1})
        assert r.status_code == 202, r.text
        accepted = page.wait_job(r.json()["job"]["id"])
        assert accepted["status"] == "done"
        assert accepted["kind"] == "accept"
        assert "committing" in accepted["phases"]
        s = page.state()
        assert s["head"] == head + 1
        assert s["staged"] == []
        assert s["history"][-1]["kind"] == "fill"
    after = Canvas.open(small_canvas, read_only=True)
    assert after.head == head + 1
    assert np.array_equal(after.read(Window(0, 256, 256, 192)), second)
    assert list(after.list_artifacts(f"{STAGED}/")) == []
    # one undoable step: undo gives back the canvas as it was
    with serve(small_canvas, generators={"mock": MockGenerator}) as page:
        assert page.post("/api/undo", {"head": head + 1}).status_code == 200
    assert digest(small_canvas)[1] == before[1]


def test_a_candidate_overlay_is_transparent_where_the_canvas_keeps_its_pixels(serve, small_canvas: Path) -> None:
    # a box over the canvas's lower-right corner: the fill writes an L (right of and below the content)
    box = {"x": 192, "y": 192, "width": 192, "height": 128}
    with serve(small_canvas, generators={"mock": MockGenerator}) as page:
        job = page.wait_job(page.post("/api/generate", {"region": box, "candidates": 1}).json()["job"]["id"])
        assert job["status"] == "done", job
        (proposal,) = page.state()["staged"]
        assert proposal["region"] == box
        assert proposal["box"] == {"x": 192, "y": 192, "width": 192, "height": 128}
        with Image.open(io.BytesIO(page.get(proposal["candidates"][0]["image"]).content)) as im:
            shown = np.asarray(im)
    reader = Canvas.open(small_canvas, read_only=True)
    pieces = candidate_pieces(reader, load_proposal(reader, proposal["id"]), 0)
    expected = np.zeros((128, 192, 4), np.uint8)
    for w, a in pieces:
        expected[w.slices((192, 192))] = np.dstack([a, np.full(a.shape[:2], 255, np.uint8)])
    assert np.array_equal(shown, expected)
    assert (shown[:64, :64, 3] == 0).all()
    assert (shown[64:, :, 3] == 255).all()


def test_try_more_then_discard_leaves_the_canvas_alone(serve, small_canvas: Path) -> None:
    before = digest(small_canvas)
    with serve(small_canvas, generators={"mock": MockGenerator}) as page:
        ids = []
        for seed in (0, 2):  # "try more": the same region, the next seeds
            r = page.post("/api/generate", {"region": RIGHT_OF_SMALL, "candidates": 2, "seed": seed})
            ids.append(page.wait_job(r.json()["job"]["id"])["proposal"])
        assert [p["id"] for p in page.state()["staged"]] == ids
        for pid in ids:
            r = page.post(f"/api/staged/{pid}/discard", {})
            assert r.status_code == 200
            assert r.json() == {"discarded": pid}
        assert page.state()["staged"] == []
    assert digest(small_canvas) == before
    assert list(Canvas.open(small_canvas, read_only=True).list_artifacts(f"{STAGED}/")) == []


def test_accepting_after_the_canvas_changed_under_the_candidates_is_refused(serve, small_canvas: Path) -> None:
    with serve(small_canvas, generators={"mock": MockGenerator}) as page:
        job = page.wait_job(page.post("/api/generate", {"region": RIGHT_OF_SMALL, "candidates": 1}).json()["job"]["id"])
        assert page.grow(["right"])["status"] == "done"  # writes the very pixels the candidates would fill
        after_grow = digest(small_canvas)
        (proposal,) = page.state()["staged"]
        assert proposal["id"] == job["proposal"]
        assert proposal["canvas_unchanged"] is False
        r = page.post(f"/api/staged/{proposal['id']}/accept", {"candidate": 0})
        failed = page.wait_job(r.json()["job"]["id"])
        assert failed["status"] == "failed"
        assert failed["error"]["kind"] == "stale"
        assert failed["error"]["title"] == "The canvas changed under these candidates"
        assert page.state()["head"] == 2
        assert len(page.state()["staged"]) == 1
    assert digest(small_canvas) == after_grow


def test_an_edge_stretch_can_be_staged_too(serve, small_canvas: Path) -> None:
    with serve(small_canvas, generators={"mock": MockGenerator}) as page:
        body = {"directions": ["down"], "by": 64, "along": [0, 128], "candidates": 1}
        job = page.wait_job(page.post("/api/generate", body).json()["job"]["id"])
        assert job["status"] == "done", job
        (proposal,) = page.state()["staged"]
    assert proposal["region"] == {"x": 0, "y": 256, "width": 128, "height": 64}


# -- point 3: progress you can trust, cancel --------------------------------------------------------------------------


def test_cancel_mid_run_leaves_the_canvas_unchanged_and_stages_nothing(serve, small_canvas: Path, slow: Slow) -> None:
    before = digest(small_canvas)
    with serve(small_canvas, generators={"mock": slow.factory()}) as page:
        r = page.post("/api/generate", {"region": RIGHT_OF_SMALL, "candidates": 3})
        job_id = r.json()["job"]["id"]
        assert slow.started.wait(60)  # the generator is in its first call
        assert page.get(f"/api/jobs/{job_id}").json()["job"]["status"] == "running"
        r = page.post(f"/api/jobs/{job_id}/cancel", {})
        assert r.status_code == 200
        assert r.json()["job"]["phase"] == "cancelling"
        slow.release.set()
        job = finished(page, job_id)
        assert job["status"] == "cancelled"
        assert job["phases"][-2:] == ["cancelling", "cancelled"]
        assert job["proposal"] is None
        assert page.state()["staged"] == []
    assert digest(small_canvas) == before
    assert list(Canvas.open(small_canvas, read_only=True).list_artifacts(f"{STAGED}/")) == []


def test_cancel_a_queued_job_and_a_running_grow(serve, small_canvas: Path, slow: Slow) -> None:
    before = digest(small_canvas)
    with serve(small_canvas, generators={"mock": slow.factory()}) as page:
        running = page.post("/api/grow", {"directions": ["right"], "generator": "mock"}).json()["job"]["id"]
        queued = page.post("/api/generate", {"region": RIGHT_OF_SMALL}).json()["job"]["id"]
        assert slow.started.wait(60)
        assert page.state()["queued"] == 1
        r = page.post(f"/api/jobs/{queued}/cancel", {})
        assert r.json()["job"]["status"] == "cancelled"  # at once: it never runs
        page.post(f"/api/jobs/{running}/cancel", {})
        slow.release.set()
        assert finished(page, running)["status"] == "cancelled"
        assert finished(page, queued)["started_at"] is None
        s = page.state()
        assert s["head"] == 1
        assert s["job"] is None
        assert s["queued"] == 0
        # a finished job cannot be cancelled after the fact
        assert page.post(f"/api/jobs/{running}/cancel", {}).json()["job"]["status"] == "cancelled"
    assert digest(small_canvas) == before


def test_progress_counts_tiles_gives_an_eta_and_shows_the_committing_phase(serve, small_canvas: Path) -> None:
    slow = Slow(free=1)  # the first tile finishes, the second waits: the job is mid-run with one measured tile
    try:
        with serve(small_canvas, generators={"mock": slow.factory()}) as page:
            r = page.post("/api/generate", {"region": RIGHT_OF_SMALL, "candidates": 2})
            job_id = r.json()["job"]["id"]
            assert slow.started.wait(60)
            job = page.get(f"/api/jobs/{job_id}").json()["job"]
            assert (job["status"], job["phase"], job["tiles_done"], job["tiles_total"]) == (
                "running",
                "generating",
                1,
                2,
            )
            assert job["tile_seconds_mean"] is not None
            assert job["eta_s"] == pytest.approx(job["tile_seconds_mean"])
            assert page.state()["job"]["id"] == job_id
            slow.release.set()
            job = page.wait_job(job_id)
            assert job["phases"] == ["queued", "generating", "staging", "done"]
            assert job["eta_s"] is None
            assert job["progress"] == 1.0
            grown = page.grow(["right"])
        assert grown["status"] == "done"
        assert grown["phases"] == ["queued", "generating", "committing", "done"]
        assert grown["tiles_done"] == grown["tiles_total"] > 0
    finally:
        slow.release.set()


def test_eta_is_the_mean_measured_tile_time_times_the_tiles_left() -> None:
    grow = Job("a" * 32, GrowRequest(("right",), 3, "", "mock", 0, "exact"))
    grow.status, grow.started_at, grow.tiles_total = "running", 100.0, 4
    assert grow.eta_s() is None  # nothing measured yet
    grow.tile_finished(102.0)
    grow.tile_finished(106.0)
    assert grow.tile_seconds == [2.0, 4.0]
    assert grow.eta_s() == (2 + 2 * 4) * 3.0  # 2 tiles of this step, 2 more steps of 4 tiles
    region = Window(0, 0, 64, 64)
    gen = Job("b" * 32, GenerateRequest(region, (), 512, None, 2, "", "mock", 0, "exact"))
    assert gen.to_dict()["kind"] == "generate"
    assert gen.to_dict()["region"] == {
        "x": 0,
        "y": 0,
        "width": 64,
        "height": 64,
    }
