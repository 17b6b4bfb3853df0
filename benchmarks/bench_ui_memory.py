"""UI server memory (issue 15, point 9): is the server's RSS bounded on a 60000x60000 canvas?

Target: the server's resident memory stays under 400 MiB over 20 grows, 20 undo/redo and 2,000 tile
requests on a 60000² canvas.

The canvas is built cheaply: two 1024x1024 photo-like tiles pasted (``Canvas.paste(extend=True)``) at
opposite corners, (0, 0) and (58976, 58976), so its bounds span 60000x60000 while only two chunks hold
pixels; then its pyramid.  The real server (``python -m imkerutils.exquisite.ui CANVAS --port 0``, on
127.0.0.1, mock generator) is then driven over HTTP like the page drives it:

1. ``--grows`` grows (``POST /api/grow``, one direction each, cycling right/down/left/up; the job is polled
   until done),
2. as many undo then redo (``POST /api/undo`` / ``/api/redo``),
3. ``--tiles`` tile requests (``GET /api/tiles/L/C/R.jpg``) spread over every level and over each level's
   grid (a fixed-seed random sample of addresses, 8 concurrent clients).

The server's RSS (psutil) is sampled after start and after each phase, and while the phases run (every
0.2 s); its peak is the kernel's high-water mark ``VmHWM`` from ``/proc/<pid>/status``.  A benchmark
reports, it does not assert: the last line says whether the target was met.  Usage::

    python benchmarks/bench_ui_memory.py                       # full: 20 grows, 2,000 tiles
    python benchmarks/bench_ui_memory.py --quick               # 3 grows, 200 tiles (~1 min)
    python benchmarks/bench_ui_memory.py --grows 5 --tiles 500

Markdown goes to stdout, JSON to ``benchmarks/results/ui_memory.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from _util import (
    CACHE,
    RESULTS_DIR,
    UIServer,
    ensure_ignored_dir,
    fetch_all,
    logger,
    machine_info,
    markdown_table,
    photo_like,
    publish,
    vm_hwm,
)

if TYPE_CHECKING:
    from pathlib import Path

RESULTS = RESULTS_DIR / "ui_memory.json"
SIDE = 60000
TILE = 1024
TARGET_MIB = 400.0
MIB = 1024 * 1024
DIRECTIONS = ("right", "down", "left", "up")


_log = logger("bench_ui_memory")


def build_canvas(side: int = SIDE) -> Path:
    """A canvas whose bounds are ``side`` x ``side``: two photo-like 1024² tiles at opposite corners."""
    from imkerutils.tiling.canvas import Canvas

    ensure_ignored_dir(CACHE)
    path = CACHE / f"ui-memory-{side}.zarr"
    if path.exists():  # grows change it: start from the same canvas every run
        shutil.rmtree(path)
    start = time.perf_counter()
    canvas = Canvas.create(path)
    canvas.paste(photo_like(TILE, TILE, seed=1), 0, 0, extend=True)
    canvas.paste(photo_like(TILE, TILE, seed=2), side - TILE, side - TILE, extend=True)
    canvas.update_pyramid()
    _log(f"built {path.name}: bounds {canvas.bounds}, {canvas.levels} levels, in {time.perf_counter() - start:.1f} s")
    return path


class Server(UIServer):
    """The UI server (on 127.0.0.1) with an RSS sampler."""

    def __init__(self, canvas: Path) -> None:
        import psutil

        super().__init__(canvas, "--host", "127.0.0.1")
        self.ps = psutil.Process(self.proc.pid)
        self.max_sampled = self.rss()
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.max_sampled = max(self.max_sampled, self.rss())
            except Exception:  # the process ended
                return

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def hwm(self) -> int:
        return vm_hwm(self.proc.pid)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.client.post(path, json=body)
        if r.status_code >= 400:
            self.fail(f"POST {path} {body}: HTTP {r.status_code} {r.text}")
        return dict(r.json())

    def stop(self) -> None:
        if hasattr(self, "_stop"):
            self._stop.set()
        super().stop()


def grow(server: Server, direction: str, seed: int) -> dict[str, Any]:
    job = server.post("/api/grow", {"directions": [direction], "generator": "mock", "seed": seed})["job"]
    while job["status"] in ("queued", "running"):
        time.sleep(0.1)
        job = server.client.get(f"/api/jobs/{job['id']}").json()["job"]
    if job["status"] != "done":
        server.fail(f"grow {direction} ended {job['status']}: {job.get('error')}")
    return dict(job)


def tile_paths(state: dict[str, Any], count: int, seed: int = 0) -> list[str]:
    """``count`` tile addresses spread over every level: equal shares per level, random positions in each."""
    frame, tile = state["viewer"]["frame"], state["viewer"]["tile"]
    levels = int(state["viewer"].get("levels") or 0) or _levels(frame["width"], frame["height"], tile)
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        level = i % levels
        w, h = -(-frame["width"] // 2**level), -(-frame["height"] // 2**level)
        cols, rows = -(-w // tile), -(-h // tile)
        paths.append(f"/api/tiles/{level}/{rng.randrange(cols)}/{rng.randrange(rows)}.jpg?v={state['token']}")
    return paths


def _levels(width: int, height: int, tile: int) -> int:
    n = 1
    while max(width, height) > tile * 2 ** (n - 1):
        n += 1
    return n


def run(grows: int, tiles: int) -> dict[str, Any]:
    canvas = build_canvas()
    server = Server(canvas)
    phases: list[dict[str, Any]] = []

    def sample(name: str, seconds: float, detail: str) -> None:
        state = server.client.get("/api/state").json()
        frame = state["viewer"]["frame"]
        phases.append(
            {
                "phase": name,
                "seconds": seconds,
                "detail": detail,
                "rss": server.rss(),
                "max_sampled": server.max_sampled,
                "hwm": server.hwm(),
                "frame": f"{frame['width']}x{frame['height']}",
            }
        )
        _log(f"{name}: RSS {server.rss() / MIB:.0f} MiB, peak {server.hwm() / MIB:.0f} MiB ({seconds:.1f} s)")

    try:
        sample("started", 0.0, "GET /api/state")
        start = time.perf_counter()
        tiles_per_grow = []
        for i in range(grows):
            job = grow(server, DIRECTIONS[i % len(DIRECTIONS)], seed=i)
            tiles_per_grow.append(job["tiles_total"])
        sample("grows", time.perf_counter() - start, f"{grows} grows, {sum(tiles_per_grow)} generated tiles")
        start = time.perf_counter()
        for _ in range(grows):
            server.post("/api/undo", {})
        for _ in range(grows):
            server.post("/api/redo", {})
        sample("undo/redo", time.perf_counter() - start, f"{grows} undo + {grows} redo")
        state = server.client.get("/api/state").json()
        paths = tile_paths(state, tiles)
        start = time.perf_counter()
        size = asyncio.run(fetch_all(server.url, paths, 8))
        sample("tiles", time.perf_counter() - start, f"{tiles} JPEG tiles over all levels, {size / MIB:.1f} MiB")
    finally:
        server.stop()
    return {"phases": phases, "tiles_per_grow": tiles_per_grow}


def report(r: dict[str, Any]) -> str:
    rows = [
        [
            p["phase"],
            p["detail"],
            p["frame"],
            f"{p['seconds']:.1f} s",
            f"{p['rss'] / MIB:.0f} MiB",
            f"{p['max_sampled'] / MIB:.0f} MiB",
            f"{p['hwm'] / MIB:.0f} MiB",
        ]
        for p in r["phases"]
    ]
    peak = max(p["hwm"] for p in r["phases"]) / MIB
    verdict = "met" if peak < TARGET_MIB else "not met"
    m = r["machine"]
    return "\n".join(
        [
            f"### UI server memory, {SIDE}x{SIDE} canvas (two 1024² tiles at opposite corners), "
            f"{r['grows']} grows, {r['tiles']} tiles\n",
            markdown_table(["after", "what", "viewer frame", "time", "RSS", "max RSS sampled", "peak (VmHWM)"], rows),
            "",
            f"Peak RSS {peak:.0f} MiB; target < {TARGET_MIB:.0f} MiB: **{verdict}**.\n",
            f"Machine: {m['cpu']}, {m['cores']} cores; load average {r['load_before']:.1f} before, "
            f"{r['load_after']:.1f} after. Total {r['total_s']:.0f} s.\n",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 grows and 200 tiles (smoke test)")
    parser.add_argument("--grows", type=int, help="grows, and undo/redo pairs (default 20, quick 3)")
    parser.add_argument("--tiles", type=int, help="tile requests (default 2000, quick 200)")
    parser.add_argument("--json", default=str(RESULTS), help=f"where to write JSON (default {RESULTS})")
    args = parser.parse_args(argv)
    grows = args.grows if args.grows is not None else (3 if args.quick else 20)
    tiles = args.tiles if args.tiles is not None else (200 if args.quick else 2000)
    start = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine_info(("numpy", "zarr", "PIL", "starlette", "uvicorn", "psutil", "imkerutils")),
        "grows": grows,
        "tiles": tiles,
        "target_mib": TARGET_MIB,
        "load_before": os.getloadavg()[0],
    }
    results.update(run(grows, tiles))
    publish(results, report, args.json, _log, started=start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
