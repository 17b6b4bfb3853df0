"""Growth benchmark (issue 13, the OME-Zarr layout): growing left costs what growing right costs.

**Growth left vs right.** Two copies of the same 1024-px-high canvas (1024x1024 of photo-like pixels) are
   grown by ``--steps`` Exquisite steps each (512 px a step, ``grow_step`` with the mock generator, artifacts
   off: ``GrowSettings(save_artifacts=False)``), one LEFT and one RIGHT, alternating step by step (L R, R L,
   ...) so drift in the machine's load hits both alike.  Growing right resizes the arrays; growing left spends
   the margin and, when it runs out, rebases (``canvas.frame.generation`` counts them).  Target: total time
   left / right <= 1.3.  Reported: the slowest single step each way (and whether it rebased), the rebases,
   the generate / commit split of a step, the final frame and array extent, and a check that the first tile
   still holds its pixels.  The same race is run on the storage alone (``--paste-steps`` steps of
   ``canvas.paste(strip, row, col, extend=True)`` of a 1024x512 strip), which isolates the layout from the
   Exquisite pipeline (which works in RIGHT's orientation and mirrors LEFT's tiles).

``build_large`` builds the large canvas ``bench_from_zarr.py`` (dask's ``from_zarr`` against ``Canvas.read``,
the issue's other benchmark) reads.

Usage::

    nice python benchmarks/bench_growth.py           # 200 Exquisite + 200 paste steps each way (~2-5 min on 2 cores)
    python benchmarks/bench_growth.py --quick        # 60 Exquisite steps each way

Markdown goes to stdout, JSON to ``benchmarks/results/growth.json`` (``--quick``: ``growth-quick.json``).
The load average (1 min) is sampled before and after each race and every 10 steps (reported: min / max).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _util
import numpy as np

RESULTS = _util.RESULTS_DIR / "growth.json"
RESULTS_QUICK = _util.RESULTS_DIR / "growth-quick.json"
GROWTH_TARGET = 1.3
BLOCK_TILES = 4  # the repeated block: 4x4 tiles of 1024 px


_log = _util.logger("bench_growth")


# -- 1. growth left vs right -----------------------------------------------------------------------------------
def bench_growth(tmp: Path, steps: int, paste_steps: int) -> dict[str, Any]:
    """Both variants: Exquisite steps (the issue's benchmark) and the storage alone (a paste of the new strip)."""
    from imkerutils.exquisite.api.mock import MockGenerator
    from imkerutils.exquisite.pipeline import GrowSettings, grow_step
    from imkerutils.tiling import Canvas

    start_pixels = _util.photo_like(1024, 1024, seed=13)
    start = Canvas.create(tmp / "start.zarr", height=1024, width=1024)
    start.paste(start_pixels, 0, 0)
    gen = MockGenerator()
    settings = GrowSettings(seed=1, save_artifacts=False)

    def exquisite_step(canvas: Any, d: str, _i: int) -> dict[str, float]:
        record = grow_step(canvas, d, gen, settings)
        return {k: record.timings[k] for k in ("generate", "commit")}

    strips = [_util.photo_like(1024, 512, seed=30 + k) for k in range(4)]

    def paste_step(canvas: Any, d: str, i: int) -> dict[str, float]:
        b = canvas.bounds
        canvas.paste(strips[i % 4], 0, b.col_off - 512 if d == "left" else b.col_end, extend=True)
        return {}

    out = {}
    for name, fn, n in (("exquisite", exquisite_step, steps), ("paste", paste_step, paste_steps)):
        _log(f"  {name}: {n} steps each way")
        out[name] = _race(tmp, name, fn, n, start_pixels)
    return out


def _race(tmp: Path, name: str, step: Any, steps: int, start_pixels: np.ndarray) -> dict[str, Any]:
    """``steps`` steps LEFT on one copy of the start canvas and RIGHT on another, alternating (L R, R L, ...)."""
    from imkerutils.tiling import Canvas, Window
    from imkerutils.tiling.frame import extent_ok

    canvases = {}
    for d in ("left", "right", "warm"):
        shutil.copytree(tmp / "start.zarr", tmp / f"{name}-{d}.zarr")
        canvases[d] = Canvas.open(tmp / f"{name}-{d}.zarr")
    warm = canvases.pop("warm")  # imports, thread pools, codecs
    for d in ("left", "right"):
        step(warm, d, 0)
    steps_s: dict[str, list[float]] = {"left": [], "right": []}
    parts: dict[str, list[dict[str, float]]] = {"left": [], "right": []}
    rebased_at: dict[str, list[int]] = {"left": [], "right": []}
    loads = [os.getloadavg()[0]]
    for i in range(steps):
        if i % 10 == 9:
            loads.append(os.getloadavg()[0])
        for d in ("left", "right") if i % 2 == 0 else ("right", "left"):
            canvas = canvases[d]
            gen0 = canvas.frame.generation
            t0 = time.perf_counter()
            parts[d].append(step(canvas, d, i))
            steps_s[d].append(time.perf_counter() - t0)
            if canvas.frame.generation != gen0:
                rebased_at[d].append(i)
    loads.append(os.getloadavg()[0])
    out: dict[str, Any] = {
        "steps": steps,
        "ways": {},
        "load": {"start": loads[0], "end": loads[-1], "min": min(loads), "max": max(loads)},
    }
    for d, canvas in canvases.items():
        frame, b = canvas.frame, canvas.bounds
        z = canvas.level_array(0)
        assert z is not None
        expect = (
            Window(0, -512 * steps, 1024, 1024 + 512 * steps) if d == "left" else Window(0, 0, 1024, 1024 + 512 * steps)
        )
        assert b == expect, f"{d}: bounds {b}, expected {expect}"
        assert np.array_equal(canvas.read(Window(0, 0, 1024, 1024)), start_pixels), f"{d}: the start tile moved"
        slowest = int(np.argmax(steps_s[d]))
        no_rebase = [t for k, t in enumerate(steps_s[d]) if k not in rebased_at[d]]
        out["ways"][d] = {
            "total_s": sum(steps_s[d]),
            "step": _util.Timing(tuple(steps_s[d])).to_dict(),
            "parts_median_s": {k: float(np.median([p[k] for p in parts[d]])) for k in (parts[d] or [{}])[0]},
            "slowest_step": {"index": slowest, "seconds": steps_s[d][slowest], "rebased": slowest in rebased_at[d]},
            "slowest_without_rebase_s": max(no_rebase) if no_rebase else None,
            "rebases": len(rebased_at[d]),
            "rebased_at_steps": rebased_at[d],
            "rebase_steps_s": [steps_s[d][k] for k in rebased_at[d]],
            "bounds": b.to_dict(),
            "frame": frame.to_dict(),
            "array_shape": list(z.shape),
            "extent_ok": extent_ok(frame, b, 1),
            "chunks_stored": _count_files(canvas.path / frame.path(0) / "c"),
        }
    left, right = out["ways"]["left"], out["ways"]["right"]
    out["ratio_total"] = left["total_s"] / right["total_s"]
    out["ratio_median_step"] = left["step"]["median_s"] / right["step"]["median_s"]
    return out


def _count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


# -- 2. dask.from_zarr vs Canvas.read on 65,536 tiles ----------------------------------------------------------
def build_large(where: Path, side: int) -> tuple[Path, float]:
    """A canvas of ``side x side`` written tiles: one 4x4-tile block's chunk files, hard-linked periodically."""
    from imkerutils.tiling import Canvas, Window

    t0 = time.perf_counter()
    path = where / "large.zarr"
    canvas = Canvas.create(path)
    n = BLOCK_TILES * canvas.tile
    canvas.paste(_util.photo_like(n, n, seed=21), 0, 0, extend=True)
    canvas.extend(Window(0, 0, side * canvas.tile, side * canvas.tile))
    frame = canvas.frame  # after the grow (right and down: a resize, the frame stays)
    for i in range(side):
        row = (path / frame.chunk_key(0, i, 0)).parent
        row.mkdir(parents=True, exist_ok=True)
        for j in range(side):
            if i < BLOCK_TILES and j < BLOCK_TILES:
                continue
            src = path / frame.chunk_key(0, i % BLOCK_TILES, j % BLOCK_TILES)
            dst = path / frame.chunk_key(0, i, j)
            try:
                os.link(src, dst)
            except OSError:  # no hard links on this file system: copy the bytes
                shutil.copyfile(src, dst)
    return path, time.perf_counter() - t0


def pick_scratch(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and os.statvfs(shm).f_bavail * os.statvfs(shm).f_frsize > 2 << 30:
        return shm
    return Path(tempfile.gettempdir())


# -- report ------------------------------------------------------------------------------------------------------
def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _report_race(name: str, g: dict[str, Any]) -> list[str]:
    rows = []
    for d in ("left", "right"):
        w = g["ways"][d]
        s = w["slowest_step"]
        parts = ", ".join(f"{k} {_util.fmt_seconds(v)}" for k, v in w["parts_median_s"].items()) or "-"
        rows.append(
            [
                d,
                _util.fmt_seconds(w["total_s"]),
                _util.fmt_seconds(w["step"]["median_s"]),
                parts,
                f"{_util.fmt_seconds(s['seconds'])} (step {s['index'] + 1}{', a rebase' if s['rebased'] else ''})",
                str(w["rebases"])
                + (
                    f" (at steps {', '.join(str(k + 1) for k in w['rebased_at_steps'])}; "
                    f"{', '.join(_util.fmt_seconds(t) for t in w['rebase_steps_s'])})"
                    if w["rebases"]
                    else ""
                ),
                f"{w['bounds']['width']} / {w['array_shape'][2]} px, origin {tuple(w['frame']['origin'])}"
                + ("" if w["extent_ok"] else " **(breaks the layout rule)**"),
            ]
        )
    title = (
        "Exquisite steps (`grow_step`, mock generator, `GrowSettings(save_artifacts=False)`)"
        if name == "exquisite"
        else "storage alone (`canvas.paste(strip, 0, col, extend=True)` of a 1024x512 photo-like strip)"
    )
    return [
        "",
        f"### Growth, {title}: {g['steps']} steps LEFT vs {g['steps']} RIGHT, alternating",
        "",
        f"Load average (1 min) during the race: {g['load']['start']:.1f} at the start, {g['load']['end']:.1f} at the "
        f"end, {g['load']['min']:.1f} to {g['load']['max']:.1f} sampled every 10 steps."
        if "load" in g
        else "",
        "",
        _util.markdown_table(
            [
                "direction",
                "total",
                "median step",
                "median parts",
                "slowest step",
                "rebases",
                "final width / level-0 array width, origin (tiles)",
            ],
            rows,
        ),
        "",
        _util.markdown_table(
            ["ratio", "measured", "met?"],
            [
                [
                    f"total time left / right <= {GROWTH_TARGET}",
                    f"**{g['ratio_total']:.2f}**",
                    _mark(g["ratio_total"] <= GROWTH_TARGET),
                ],
                ["median step left / right", f"{g['ratio_median_step']:.2f}", "(reported)"],
            ],
        ),
    ]


def report(results: dict[str, Any]) -> str:
    lines = [
        *_util.report_head("Growth left vs right (issue 13)", results),
        f"Command: `{results['command']}` ({results['mode']} mode; total {results['total_s']:.0f} s). Code: "
        f"{results['git']}. " + _util.load_note(results),
    ]
    if "growth" in results:
        for name, g in results["growth"].items():
            lines += _report_race(name, g)
    for key, tb in results.get("errors", {}).items():
        lines += ["", f"**{key} failed:**", "", "```", tb.strip(), "```"]
    return "\n".join(lines) + "\n"


PARTS = ("growth",)


def main(argv: list[str] | None = None) -> int:
    from bench_canvas import _git_state

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 steps each way, 5 repeats")
    parser.add_argument("--steps", type=int, help="growth steps each way (default 200; quick 60)")
    parser.add_argument("--paste-steps", type=int, help="storage-only growth steps each way (default 200)")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated parts (growth)")
    args = parser.parse_args(argv)
    parts = [p for p in PARTS if p in args.parts.split(",")]
    steps = args.steps or (60 if args.quick else 200)
    paste_steps = args.paste_steps or 200
    start = time.perf_counter()
    results: dict[str, Any] = {
        "machine": _util.machine_info(("numpy", "zarr", "dask", "imkerutils")),
        "command": "python benchmarks/bench_growth.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""),
        "mode": "quick" if args.quick else "full",
        "git": _git_state(),
        "load_before": os.getloadavg()[0],
        "targets": {"growth_ratio": GROWTH_TARGET},
    }
    json_path = RESULTS_QUICK if args.quick else RESULTS
    jobs = {}
    if "growth" in parts:
        jobs["growth"] = lambda tmp: bench_growth(tmp, steps, paste_steps)
    _util.run_parts(jobs, results, json_path, start=start, log=_log, tmp_prefix="imker-growth-")
    results["load_after"] = os.getloadavg()[0]
    _util.publish(results, report, json_path, _log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
