"""Browser UI benchmarks (issue 6): time to first render on a small and a gigapixel canvas; tile latency.

Two questions:

1. **Does the viewer open a gigapixel canvas as fast as a small one?**  Time to first render of the page
   (navigation start to the viewer's first complete image, ``performance.now()`` in the page, so Python
   and Playwright overheads are not counted) in headless Chromium on a 4096x4096 (16.8 MP) canvas and a
   32768x32768 (1.07 GP) one, each served by its own ``python -m imkerutils.exquisite.ui`` process, in a
   fresh browser context (empty cache) per load, interleaved.  Target: ratio <= 1.2.
2. **How fast are tiles served under load?**  50 concurrent HTTP clients on loopback fetching distinct
   level-0 tiles of the gigapixel canvas (JPEG, as the viewer asks for them; then PNG): latency median and
   p95, and throughput.

The canvases are built once and cached in ``benchmarks/.cache/``: photo-like pixels (``photo_like``) in
4096x4096 blocks, pasted until every chunk of the canvas is written (1024 chunks for the gigapixel one),
then the pyramid.  Usage::

    python benchmarks/bench_ui.py            # full run (~3 min to build the canvases once, then ~2 min)
    python benchmarks/bench_ui.py --quick    # 2048x2048 vs 8192x8192, few repeats (~1 min)

Markdown goes to stdout, JSON to ``benchmarks/results/ui.json``.  Needs Chromium (``/usr/bin/chromium``,
or ``IMKERUTILS_CHROMIUM``) and Playwright.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any

from _util import (
    CACHE,
    RESULTS_DIR,
    UIServer,
    ensure_ignored_dir,
    fmt_bytes,
    logger,
    machine_info,
    markdown_table,
    photo_like,
    publish,
)

from imkerutils.testing.browser import CHROMIUM_ARGS, MISSING_CHROMIUM, chromium_path

if TYPE_CHECKING:
    from pathlib import Path

RESULTS = RESULTS_DIR / "ui.json"
RENDER_TARGET = 1.2
VIEWPORT = {"width": 1400, "height": 860}


_log = logger("bench_ui")


def build_canvas(side: int, block: int = 4096) -> Path:
    """A ``side`` x ``side`` canvas of photo-like pixels with its pyramid, in ONE step, cached across runs.

    A ``block`` x ``block`` photo-like image repeated over the canvas (a lazy dask array, pasted as one
    step), so every chunk is written and both canvases have the same one-step history: the comparison
    is about the canvas's size alone.
    """
    import dask.array as da

    from imkerutils.tiling.canvas import Canvas

    path = CACHE / f"ui-canvas-{side}.zarr"
    done = path / ".complete"
    if done.exists():
        return path
    ensure_ignored_dir(CACHE)
    if path.exists():
        shutil.rmtree(path)
    start = time.perf_counter()
    block = min(block, side)
    pixels = da.from_array(photo_like(block, block, seed=side), chunks=(1024, 1024, 3))
    n = side // block
    canvas = Canvas.create(path)
    canvas.paste(da.tile(pixels, (n, n, 1)), 0, 0, extend=True)
    canvas.update_pyramid()
    done.write_text("")
    _log(f"built {path.name} ({side}x{side}, {canvas.levels} levels) in {time.perf_counter() - start:.0f} s")
    return path


def chromium() -> str:
    path = chromium_path()
    if path is None:
        raise SystemExit(f"bench_ui needs Chromium: {MISSING_CHROMIUM}")
    return path


def first_render_ms(browser: Any, url: str, timeout_s: float = 120.0) -> tuple[float, int]:
    """Milliseconds from navigation start to the viewer's first fully loaded image, in a fresh context."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(url)
        deadline = time.monotonic() + timeout_s
        while (ms := page.evaluate("window.imkerUI && window.imkerUI.firstRenderMs")) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url}: the viewer did not render within {timeout_s} s")
            page.wait_for_timeout(5)
        tiles = page.evaluate(
            "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/tiles/')).length"
        )
        return float(ms), int(tiles)
    finally:
        context.close()


def bench_render(small: Path, large: Path, repeat: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    servers = {"small": UIServer(small), "large": UIServer(large)}
    samples: dict[str, list[float]] = {"small": [], "large": []}
    tiles: dict[str, int] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=list(CHROMIUM_ARGS))
            for server in servers.values():  # warm-up: imports, page cache, the browser itself
                first_render_ms(browser, server.url)
            for i in range(repeat):
                order = ("small", "large") if i % 2 == 0 else ("large", "small")
                for name in order:
                    ms, tiles[name] = first_render_ms(browser, servers[name].url)
                    samples[name].append(ms)
            browser.close()
    finally:
        for server in servers.values():
            server.stop()
    med = {k: statistics.median(v) for k, v in samples.items()}
    return {
        "samples_ms": samples,
        "median_ms": med,
        "min_ms": {k: min(v) for k, v in samples.items()},
        "tiles_requested": tiles,
        "ratio": med["large"] / med["small"],
        "ratio_of_min": min(samples["large"]) / min(samples["small"]),
    }


async def _fetch_all(url: str, paths: list[str], concurrency: int) -> tuple[list[float], float, int, int]:
    """GET every path with ``concurrency`` clients; latencies, wall time, bytes, and connection retries.

    Like a browser, a request whose reused keep-alive connection the server had just closed is sent
    again once (its latency then includes both tries); the retries are counted and reported.
    """
    import httpx

    latencies: list[float] = []
    size = retries = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=600, limits=limits) as client:

        async def worker() -> None:
            nonlocal size, retries
            while True:
                try:
                    path = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t = time.perf_counter()
                try:
                    r = await client.get(path)
                except (httpx.ReadError, httpx.RemoteProtocolError):
                    retries += 1
                    r = await client.get(path)
                latencies.append(time.perf_counter() - t)
                if r.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {r.status_code}")
                size += len(r.content)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - start, size, retries


def bench_tiles(large: Path, concurrency: int, counts: dict[str, int]) -> dict[str, Any]:

    server = UIServer(large)
    out: dict[str, Any] = {"concurrency": concurrency}
    try:
        state = server.client.get("/api/state").json()
        frame, tile = state["viewer"]["frame"], state["viewer"]["tile"]
        rows, cols = frame["height"] // tile, frame["width"] // tile
        addresses = [(c, r) for r in range(rows) for c in range(cols)]
        asyncio.run(
            _fetch_all(server.url, [f"/api/tiles/0/{c}/{r}.jpg" for c, r in addresses[:concurrency]], concurrency)
        )  # warm-up: threads, connections
        offset = concurrency
        for fmt, count in counts.items():
            chosen = [addresses[(offset + i) % len(addresses)] for i in range(count)]
            offset += count
            paths = [f"/api/tiles/0/{c}/{r}.{fmt}?v={state['token']}" for c, r in chosen]
            try:
                lat, wall, size, retries = asyncio.run(_fetch_all(server.url, paths, concurrency))
            except Exception as exc:
                server.fail(f"{fmt} tiles failed: {exc!r}")
            lat.sort()
            out[fmt] = {
                "requests": count,
                "median_ms": 1e3 * statistics.median(lat),
                "p95_ms": 1e3 * lat[max(0, round(0.95 * len(lat)) - 1)],
                "max_ms": 1e3 * lat[-1],
                "tiles_per_s": count / wall,
                "mean_bytes": size / count,
                "retries": retries,
            }
    finally:
        server.stop()
    return out


def report(r: dict[str, Any]) -> str:
    rd, tl = r["render"], r["tiles"]
    small, large = r["sizes"]["small"], r["sizes"]["large"]
    verdict = "meets" if rd["ratio"] <= RENDER_TARGET else "misses"
    rows = [
        [
            f"{small}x{small} ({small * small / 1e6:.1f} MP)",
            f"{rd['median_ms']['small']:.0f} ms",
            f"{rd['min_ms']['small']:.0f} ms",
            rd["tiles_requested"]["small"],
        ],
        [
            f"{large}x{large} ({large * large / 1e9:.2f} GP)",
            f"{rd['median_ms']['large']:.0f} ms",
            f"{rd['min_ms']['large']:.0f} ms",
            rd["tiles_requested"]["large"],
        ],
    ]
    text = [
        f"### Time to first render ({r['repeat']} loads each, interleaved, fresh browser context per load)\n",
        markdown_table(["canvas", "median", "best", "tiles requested"], rows),
        "",
        f"Ratio large / small: **{rd['ratio']:.2f}** (of the best: {rd['ratio_of_min']:.2f}); target <= "
        f"{RENDER_TARGET}: {verdict}.\n",
        f"### Tile serving, {tl['concurrency']} concurrent clients on loopback ({large}x{large} canvas, level 0)\n",
    ]
    trows = [
        [
            fmt.upper(),
            v["requests"],
            f"{v['median_ms']:.0f} ms",
            f"{v['p95_ms']:.0f} ms",
            f"{v['max_ms']:.0f} ms",
            f"{v['tiles_per_s']:.1f}",
            fmt_bytes(v["mean_bytes"]),
            v["retries"],
        ]
        for fmt, v in tl.items()
        if fmt != "concurrency"
    ]
    text += [
        markdown_table(["format", "requests", "median", "p95", "max", "tiles/s", "mean size", "retried"], trows),
        "",
    ]
    m = r["machine"]
    text.append(
        f"Machine: {m['cpu']}, {m['cores']} cores; load average {r['load_before']:.1f} before, "
        f"{r['load_after']:.1f} after. Total {r['total_s']:.0f} s.\n"
    )
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats (smoke test)")
    parser.add_argument("--repeat", type=int, help="page loads per canvas (default 21, quick 3)")
    parser.add_argument("--json", default=str(RESULTS), help=f"where to write JSON (default {RESULTS})")
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 21)
    sizes = {"small": 2048, "large": 8192} if args.quick else {"small": 4096, "large": 32768}
    counts = {"jpg": 200, "png": 100} if args.quick else {"jpg": 1000, "png": 300}
    start = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine_info(("numpy", "zarr", "PIL", "starlette", "uvicorn", "imkerutils")),
        "mode": "quick" if args.quick else "full",
        "repeat": repeat,
        "sizes": sizes,
        "target_ratio": RENDER_TARGET,
        "load_before": os.getloadavg()[0],
    }
    _log("building (or reusing) the canvases")
    small, large = build_canvas(sizes["small"]), build_canvas(sizes["large"])
    _log("1. time to first render")
    results["render"] = bench_render(small, large, repeat)
    _log("2. tile latency under 50 concurrent requests")
    results["tiles"] = bench_tiles(large, 50, counts)
    publish(results, report, args.json, _log, started=start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
