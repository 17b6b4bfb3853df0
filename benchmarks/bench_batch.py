"""Batch growth on threads and on a Dask cluster (issue 5): speed-up with concurrency, and what a tile costs.

A batch's tiles form a DAG (``plan_batch``): its levels are waves of tiles that may run together, so the
concurrency that helps is bounded by the widest level, and no schedule beats the critical path (one
generator call per level).  The questions:

1. **Speed-up.** One batch of 16 tiles, :class:`MockGenerator` with ``sleep_s`` (1.0 s; a stand-in for a
   remote image API, whose wait releases the GIL), at k = 1, 2, 4 and 8 tiles at once: on local threads
   (``GrowSettings(workers=k)``) and on a ``LocalCluster`` with k threads in total (1 worker of 1 thread
   for k = 1, else 2 worker processes of k/2 threads).  The batch grows the right edge of a canvas
   12,288 px high and 1024 px wide: 16 tiles in two levels of 8 (phase A tiles, then the phase B tiles
   between them), so the critical path is 2 generator calls.  The ideal wall time at k is
   ``sum over levels of ceil(level width / k) * sleep_s``; overhead = wall - ideal, per tile = / 16.
2. **The same batch with ``sleep_s=0``:** what everything but the generator's wait costs per tile
   (reads, reference, mock painting, seam scores, records, transfers, the one commit), locally and on
   the cluster.
3. **A right+down batch** on a 5,888 px square canvas: 16 tiles in levels 8, 7, 1 (the corner tile
   waits for both edges), so k = 8 cannot beat 3 generator calls.
4. **The scheduler alone:** ``client.map`` of a no-op over 1,000 items on the 2-worker cluster, seconds
   per task.

Every run starts from a fresh copy of the canvas (a new location, so no task key is ever reused) and
must give the same bytes as the serial run; the script checks this.

Usage::

    python benchmarks/bench_batch.py            # full run (about 5.5 min on 2 quiet cores)
    python benchmarks/bench_batch.py --quick    # smoke run: sleep_s 0.2, one repeat, fewer k (about 1 min)

Markdown goes to stdout, JSON to ``benchmarks/results/batch.json`` (``--quick``: ``batch-quick.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _util import RESULTS_DIR, fmt_seconds, logger, machine_info, markdown_table, photo_like, publish, run_parts

if TYPE_CHECKING:
    from collections.abc import Iterator

RESULTS = RESULTS_DIR / "batch.json"
QUICK_RESULTS = RESULTS_DIR / "batch-quick.json"

STRIP = (12288, 1024)  # right edge: 16 tiles in levels of 8 and 8
SQUARE = (5888, 5888)  # right + down: 16 tiles in levels of 8, 7 and 1
KS = (1, 2, 4, 8)
SEED = 5


_log = logger("bench_batch")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def plan_facts(shape: tuple[int, int], directions: list[str]) -> dict[str, Any]:
    """Tiles, level widths and critical path (in tiles) of one batch on a canvas of ``shape``."""
    from imkerutils.exquisite.geometry.batch import plan_batch
    from imkerutils.tiling.window import Window

    levels = [len(level) for level in plan_batch(Window(0, 0, *shape), directions).levels()]
    return {
        "shape": list(shape),
        "directions": directions,
        "tiles": sum(levels),
        "levels": levels,
        "critical_path_tiles": len(levels),
        "max_width": max(levels),
    }


def ideal_seconds(levels: list[int], k: int, sleep_s: float) -> float:
    """Generator wait of the best level-by-level schedule with ``k`` slots."""
    return sum(math.ceil(n / k) for n in levels) * sleep_s


# -- canvases ------------------------------------------------------------------------------------------------
def build_template(path: Path, shape: tuple[int, int]) -> Path:
    from imkerutils.tiling.canvas import Canvas

    canvas = Canvas.create(path)
    canvas.paste(photo_like(*shape, seed=1), 0, 0, extend=True)
    return path


@contextlib.contextmanager
def fresh_copy(template: Path, tmp: Path) -> Iterator[Any]:
    """A new copy of the template canvas at a new location, removed afterwards."""
    from imkerutils.tiling.canvas import Canvas

    fresh_copy.n = getattr(fresh_copy, "n", 0) + 1  # type: ignore[attr-defined]
    path = tmp / f"run-{fresh_copy.n}.zarr"  # type: ignore[attr-defined]
    shutil.copytree(template, path)
    try:
        yield Canvas.open(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_batch(
    template: Path, tmp: Path, directions: list[str], sleep_s: float, *, workers: int = 1, client: Any = None
) -> dict[str, Any]:
    """One batch on a fresh copy; wall seconds, the step's own timings and the sha of the result."""
    from imkerutils.exquisite.api.mock import MockGenerator
    from imkerutils.exquisite.pipeline import GrowSettings, grow

    def cpu() -> float:  # this process (all its threads) plus every worker process
        workers_cpu = 0.0 if client is None else sum(client.run(time.process_time).values())
        return time.process_time() + workers_cpu

    with fresh_copy(template, tmp) as canvas:
        settings = GrowSettings(seed=SEED, workers=workers, save_artifacts=False)
        cpu0 = cpu()
        start = time.perf_counter()
        records = grow(canvas, directions, MockGenerator(sleep_s=sleep_s), settings, client=client)
        wall = time.perf_counter() - start
        cpu_s = cpu() - cpu0
        sha = hashlib.sha256(canvas.read(canvas.bounds).tobytes()).hexdigest()
    timings = records[0].timings
    return {
        "wall_s": wall,
        "cpu_s": cpu_s,
        "generate_s": timings["generate"],
        "commit_s": timings["commit"],
        "tiles": sum(len(r.tiles) for r in records),
        "sha256": sha,
    }


@contextlib.contextmanager
def cluster(k: int) -> Iterator[Any]:
    """A LocalCluster with ``k`` threads in total, warmed up (imports done on every worker)."""
    from distributed import Client, LocalCluster

    n_workers = 1 if k == 1 else 2
    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=k // n_workers, processes=True, dashboard_address=":0"
        ) as lc,
        Client(lc) as client,
    ):
        client.run(lambda: __import__("imkerutils.exquisite.pipeline.executor"))
        yield client


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall_s"] for r in runs]
    return {
        "wall_s": statistics.median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
        "repeats": len(runs),
        "commit_s": statistics.median(r["commit_s"] for r in runs),
        "runs": runs,
    }


# -- 1 + 2. the strip: speed-up and cost without the wait -------------------------------------------------------
def bench_strip(
    tmp: Path, sleep_s: float, repeats: int, local_ks: tuple[int, ...], cluster_ks: tuple[int, ...]
) -> dict[str, Any]:
    facts = plan_facts(STRIP, ["right"])
    template = build_template(tmp / "strip.zarr", STRIP)
    out: dict[str, Any] = {
        "plan": facts,
        "sleep_s": sleep_s,
        "load_before": _load(),
        "local": {},
        "cluster": {},
        "no_wait": {},
    }
    run_batch(template, tmp, ["right"], 0.0, workers=2)  # warm-up (imports, first reads)
    serial = run_batch(template, tmp, ["right"], 0.0, workers=1)
    out["no_wait"]["local k=1"] = serial
    out["no_wait"]["local k=2"] = run_batch(template, tmp, ["right"], 0.0, workers=2)
    for k in local_ks:
        _log(f"strip: local threads k={k}")
        out["local"][k] = summarize([run_batch(template, tmp, ["right"], sleep_s, workers=k) for _ in range(repeats)])
    for k in cluster_ks:
        _log(f"strip: LocalCluster k={k}")
        with cluster(k) as client:
            run_batch(template, tmp, ["right"], 0.0, client=client)  # warm-up: workers open the canvas
            if k == 2 or len(cluster_ks) == 1:
                out["no_wait"][f"cluster k={k}"] = run_batch(template, tmp, ["right"], 0.0, client=client)
            out["cluster"][k] = summarize(
                [run_batch(template, tmp, ["right"], sleep_s, client=client) for _ in range(repeats)]
            )
    out["load_after"] = _load()
    shas = {r["sha256"] for where in ("local", "cluster") for s in out[where].values() for r in s["runs"]}
    shas |= {r["sha256"] for r in out["no_wait"].values()}
    if shas != {serial["sha256"]}:
        raise AssertionError(f"runs disagree on the result bytes: {sorted(shas)}")
    out["same_bytes"] = True
    return out


# -- 3. right + down: a level of one ------------------------------------------------------------------------
def bench_square(tmp: Path, sleep_s: float, repeats: int) -> dict[str, Any]:
    facts = plan_facts(SQUARE, ["right", "down"])
    template = build_template(tmp / "square.zarr", SQUARE)
    out: dict[str, Any] = {"plan": facts, "sleep_s": sleep_s, "load_before": _load()}
    serial = run_batch(template, tmp, ["right", "down"], 0.0, workers=1)
    _log("square: local threads k=8")
    out["local k=8"] = summarize(
        [run_batch(template, tmp, ["right", "down"], sleep_s, workers=8) for _ in range(repeats)]
    )
    _log("square: LocalCluster k=8")
    with cluster(8) as client:
        run_batch(template, tmp, ["right", "down"], 0.0, client=client)
        out["cluster k=8"] = summarize(
            [run_batch(template, tmp, ["right", "down"], sleep_s, client=client) for _ in range(repeats)]
        )
    shas = {r["sha256"] for key in ("local k=8", "cluster k=8") for r in out[key]["runs"]}
    if shas != {serial["sha256"]}:
        raise AssertionError(f"runs disagree on the result bytes: {sorted(shas)}")
    out["load_after"] = _load()
    return out


# -- 4. the scheduler alone ---------------------------------------------------------------------------------
def bench_noop(tasks: int) -> dict[str, Any]:
    with cluster(2) as client:
        client.gather(client.map(abs, range(-100, 0)))  # warm-up
        start = time.perf_counter()
        client.gather(client.map(abs, range(-tasks, 0), pure=False))
        wall = time.perf_counter() - start
    return {"tasks": tasks, "wall_s": wall, "per_task_s": wall / tasks}


# -- report ---------------------------------------------------------------------------------------------------
def report(res: dict[str, Any]) -> str:
    out = ["## Batch growth on a cluster (issue 5)\n"]
    strip = res.get("strip")
    if strip:
        p, s = strip["plan"], strip["sleep_s"]
        out.append(
            f"Right edge of a {p['shape'][0]:,} x {p['shape'][1]:,} canvas: {p['tiles']} tiles, levels "
            f"{'+'.join(map(str, p['levels']))}, critical path {p['critical_path_tiles']} tiles "
            f"({fmt_seconds(p['critical_path_tiles'] * s)} of generator wait); MockGenerator "
            f"sleep_s={s}. Median of {strip['local'][min(strip['local'])]['repeats']} run(s); "
            f"load average {strip['load_before'][0]} before, {strip['load_after'][0]} after.\n"
        )
        rows = []
        base = {w: strip[w][min(strip[w])]["wall_s"] for w in ("local", "cluster")}
        for where, label in (("local", "threads"), ("cluster", "LocalCluster")):
            for k, r in strip[where].items():
                ideal = ideal_seconds(p["levels"], int(k), s)
                rows.append(
                    [
                        label,
                        k,
                        fmt_seconds(r["wall_s"]),
                        f"{base[where] / r['wall_s']:.2f}x",
                        fmt_seconds(ideal),
                        f"{p['tiles'] * s / ideal:.0f}x",
                        fmt_seconds((r["wall_s"] - ideal) / p["tiles"]),
                        fmt_seconds(r["commit_s"]),
                    ]
                )
        out.append(
            markdown_table(
                [
                    "where",
                    "k",
                    "wall",
                    "speed-up (vs smallest k)",
                    "ideal",
                    "ideal speed-up",
                    "overhead / tile",
                    "commit",
                ],
                rows,
            )
        )
        nw = strip["no_wait"]
        out.append(
            "\nThe same batch with `sleep_s=0` (everything but the wait), per tile, wall / CPU (this "
            "process and the workers): "
            + ", ".join(
                f"{name} {fmt_seconds(r['wall_s'] / r['tiles'])} / {fmt_seconds(r['cpu_s'] / r['tiles'])}"
                for name, r in nw.items()
            )
            + ".\n"
        )
        out.append("Every run gave the serial run's bytes.\n" if strip.get("same_bytes") else "")
    sq = res.get("square")
    if sq:
        p, s = sq["plan"], sq["sleep_s"]
        ideal = ideal_seconds(p["levels"], 8, s)
        out.append(
            f"Right+down on a {p['shape'][0]:,} px square: {p['tiles']} tiles, levels "
            f"{'+'.join(map(str, p['levels']))}, critical path {p['critical_path_tiles']} tiles; at k=8 "
            f"the ideal is {fmt_seconds(ideal)}: threads {fmt_seconds(sq['local k=8']['wall_s'])}, "
            f"LocalCluster {fmt_seconds(sq['cluster k=8']['wall_s'])}.\n"
        )
    noop = res.get("noop")
    if noop:
        out.append(
            f"Scheduler alone: {noop['tasks']:,} no-op tasks on 2 workers, "
            f"{fmt_seconds(noop['per_task_s'])} per task.\n"
        )
    for key, err in res.get("errors", {}).items():
        out.append(f"### {key}: FAILED\n\n```\n{err}```\n")
    out.append(f"Total run time {fmt_seconds(res['total_s'])} (`{res['command']}`).\n")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="sleep_s 0.2, one repeat, threads k=1 and 8, cluster k=2, no square (smoke test)",
    )
    parser.add_argument("--sleep", type=float, help="generator seconds per tile (default 1.0; --quick 0.2)")
    parser.add_argument("--repeats", type=int, help="runs per configuration (default 3; --quick 1)")
    parser.add_argument("--json", help=f"where to write JSON (default {RESULTS})")
    args = parser.parse_args(argv)
    quick = args.quick
    sleep_s = args.sleep if args.sleep is not None else (0.2 if quick else 1.0)
    repeats = args.repeats or (1 if quick else 3)
    json_path = Path(args.json) if args.json else (QUICK_RESULTS if quick else RESULTS)
    start = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine_info(("numpy", "zarr", "dask", "distributed", "imkerutils")),
        "command": "python benchmarks/bench_batch.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""),
        "mode": "quick" if quick else "full",
    }
    jobs = {
        "strip": lambda tmp: bench_strip(tmp, sleep_s, repeats, (1, 8) if quick else KS, (2,) if quick else KS),
        "noop": lambda tmp: bench_noop(200 if quick else 1000),
    }
    if not quick:
        jobs["square"] = lambda tmp: bench_square(tmp, sleep_s, repeats)
    run_parts(jobs, results, json_path, start=start, log=_log, tmp_prefix="imker-bench-batch-")
    publish(results, report, json_path, _log)
    return 1 if results.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
