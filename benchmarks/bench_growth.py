"""Growth and outside-reader benchmarks (issue 13, the OME-Zarr layout): left costs what right costs; dask scales.

Two questions, each answered side by side in one run:

1. **Growth left vs right.** Two copies of the same 1024-px-high canvas (1024x1024 of photo-like pixels) are
   grown by ``--steps`` Exquisite steps each (512 px a step, ``grow_step`` with the mock generator, artifacts
   off: ``GrowSettings(save_artifacts=False)``), one LEFT and one RIGHT, alternating step by step (L R, R L,
   ...) so drift in the machine's load hits both alike.  Growing right resizes the arrays; growing left spends
   the margin and, when it runs out, rebases (``canvas.frame.generation`` counts them).  Target: total time
   left / right <= 1.3.  Reported: the slowest single step each way (and whether it rebased), the rebases,
   the generate / commit split of a step, the final frame and array extent, and a check that the first tile
   still holds its pixels.  The same race is run on the storage alone (``--paste-steps`` steps of
   ``canvas.paste(strip, row, col, grow=True)`` of a 1024x512 strip), which isolates the layout from the
   Exquisite pipeline (which works in RIGHT's orientation and mirrors LEFT's tiles).
2. **dask on a large canvas.** A canvas with 256x256 = 65,536 written tiles of 1024 px (the 16 encoded
   chunks of a 4096^2 photo-like block, hard-linked periodically to every tile's chunk key, as
   ``bench_canvas.py``'s ``_clone_chunks`` writes them, after ``canvas.grow`` to the bounds): an unaligned
   1024^2 window read by ``dask.array.from_zarr(canvas, component=frame.path(0))[:, window].compute()`` (the
   ``from_zarr`` call inside the timer, as a user would run it) against ``Canvas.read`` of the same window.
   Target: ratio <= 2.  Also timed once each: ``zarr.open_array(level 0).nchunks_initialized`` and
   ``info_complete()`` (no target: both list the stored chunks, so they scale with the content).

Usage::

    python benchmarks/bench_growth.py            # full run: 200 steps each way, 65,536 tiles (~3-5 min on 2 cores)
    python benchmarks/bench_growth.py --quick    # 60 Exquisite steps each way, 5 repeats (~3 min)
    python benchmarks/bench_growth.py --parts dask   # a subset of growth,dask

Markdown goes to stdout, JSON to ``benchmarks/results/growth.json`` (``--quick``: ``growth-quick.json``).
The large canvas goes to ``/dev/shm`` when it has room (65,536 directory entries; hard links cost no space),
else the temp folder; ``--scratch`` overrides this.
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

import numpy as np
from _util import (
    Timing,
    fmt_bytes,
    fmt_seconds,
    machine_info,
    markdown_table,
    photo_like,
    publish,
    run_parts,
    time_call,
    time_pair,
)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "growth.json"
RESULTS_QUICK = HERE / "results" / "growth-quick.json"
GROWTH_TARGET = 1.3
DASK_TARGET = 2.0
DASK_SIDE = 256  # tiles per side of the large canvas: 65,536 written tiles
BLOCK_TILES = 4  # the repeated block: 4x4 tiles of 1024 px


def _log(msg: str) -> None:
    print(f"[bench_growth {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- 1. growth left vs right -----------------------------------------------------------------------------------
def bench_growth(tmp: Path, steps: int, paste_steps: int) -> dict[str, Any]:
    """Both variants: Exquisite steps (the issue's benchmark) and the storage alone (a paste of the new strip)."""
    from imkerutils.exquisite.api.mock import MockGenerator
    from imkerutils.exquisite.pipeline import GrowSettings, grow_step
    from imkerutils.tiling import Canvas

    start_pixels = photo_like(1024, 1024, seed=13)
    start = Canvas.create(tmp / "start.zarr", height=1024, width=1024)
    start.paste(start_pixels, 0, 0)
    gen = MockGenerator()
    settings = GrowSettings(seed=1, save_artifacts=False)

    def exquisite_step(canvas: Any, d: str, _i: int) -> dict[str, float]:
        record = grow_step(canvas, d, gen, settings)
        return {k: record.timings[k] for k in ("generate", "commit")}

    strips = [photo_like(1024, 512, seed=30 + k) for k in range(4)]

    def paste_step(canvas: Any, d: str, i: int) -> dict[str, float]:
        b = canvas.bounds
        canvas.paste(strips[i % 4], 0, b.col_off - 512 if d == "left" else b.col_end, grow=True)
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
    for i in range(steps):
        for d in ("left", "right") if i % 2 == 0 else ("right", "left"):
            canvas = canvases[d]
            gen0 = canvas.frame.generation
            t0 = time.perf_counter()
            parts[d].append(step(canvas, d, i))
            steps_s[d].append(time.perf_counter() - t0)
            if canvas.frame.generation != gen0:
                rebased_at[d].append(i)
    out: dict[str, Any] = {"steps": steps, "ways": {}}
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
            "step": Timing(tuple(steps_s[d])).to_dict(),
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
    canvas.paste(photo_like(n, n, seed=21), 0, 0, grow=True)
    canvas.grow(Window(0, 0, side * canvas.tile, side * canvas.tile))
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


def bench_dask(scratch: Path, side: int, repeat: int) -> dict[str, Any]:
    import dask
    import dask.array as da
    import zarr

    from imkerutils.tiling import Canvas, Window

    _log(f"  building {side}x{side} tiles in {scratch}")
    path, build_s = build_large(scratch, side)
    canvas = Canvas.open(path, read_only=True)
    frame = canvas.frame
    tile = canvas.tile
    files = _count_files(path / frame.path(0) / "c")
    mid = (side // 2) * tile
    window = Window(mid + 300, mid + 500, 1024, 1024)  # unaligned: 2x2 chunks
    aw = frame.to_array(window)
    sel = (slice(None), slice(aw.row_off, aw.row_end), slice(aw.col_off, aw.col_end))
    component = frame.path(0)

    def via_dask() -> np.ndarray:
        return da.from_zarr(str(path), component=component)[sel].compute()

    def via_canvas() -> np.ndarray:
        return canvas.read(window)

    expect = canvas.read(window)
    assert np.array_equal(via_dask().transpose(1, 2, 0), expect), "dask and Canvas.read disagree"
    tile_block = canvas.read(Window(0, 0, BLOCK_TILES * tile, BLOCK_TILES * tile))
    r0, c0 = window.row_off % (BLOCK_TILES * tile), window.col_off % (BLOCK_TILES * tile)
    assert np.array_equal(expect, tile_block[r0 : r0 + 1024, c0 : c0 + 1024]), "linked chunks do not repeat the block"

    def via_dask_inline() -> np.ndarray:  # the zarr array inlined into each task: no per-block graph keys
        return da.from_zarr(str(path), component=component, inline_array=True)[sel].compute()

    td, tc = time_pair(via_dask, via_canvas, repeat=repeat, warmup=1)
    tdi, tci = time_pair(via_dask_inline, via_canvas, repeat=repeat, warmup=1)
    arr = da.from_zarr(str(path), component=component)
    prebuilt = time_call(lambda: arr[sel].compute(), repeat=repeat, warmup=1)
    prebuilt_sync = time_call(lambda: arr[sel].compute(scheduler="sync"), repeat=repeat, warmup=1)
    open_only = time_call(lambda: da.from_zarr(str(path), component=component), repeat=repeat, warmup=1)
    z = zarr.open_array(str(path / component), mode="r")
    zarr_slice = time_call(lambda: z[sel], repeat=repeat, warmup=1)
    t0 = time.perf_counter()
    initialized = z.nchunks_initialized
    nchunks_initialized_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    info = z.info_complete()
    info_complete_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    shutil.rmtree(path, ignore_errors=True)
    remove_s = time.perf_counter() - t0
    return {
        "scratch": str(scratch),
        "tiles_side": side,
        "chunk_files": files,
        "build_s": build_s,
        "remove_s": remove_s,
        "array_shape": list(z.shape),
        "nchunks": z.nchunks,
        "dask_chunks": int(np.prod(arr.numblocks)),
        "window": window.to_dict(),
        "array_window": aw.to_dict(),
        "dask_version": dask.__version__,
        "dask": td.to_dict(),
        "canvas": tc.to_dict(),
        "ratio": td.median / tc.median,
        "ratio_best": td.best / tc.best,
        "dask_inline": tdi.to_dict(),
        "canvas_2": tci.to_dict(),
        "ratio_inline": tdi.median / tci.median,
        "ratio_inline_best": tdi.best / tci.best,
        "dask_prebuilt_compute": prebuilt.to_dict(),
        "from_zarr_only": open_only.to_dict(),
        "dask_prebuilt_compute_sync": prebuilt_sync.to_dict(),
        "zarr_slice": zarr_slice.to_dict(),
        "nchunks_initialized": initialized,
        "nchunks_initialized_s": nchunks_initialized_s,
        "info_complete_s": info_complete_s,
        "info_stored_bytes": getattr(info, "_count_bytes_stored", None),
    }


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
        parts = ", ".join(f"{k} {fmt_seconds(v)}" for k, v in w["parts_median_s"].items()) or "-"
        rows.append(
            [
                d,
                fmt_seconds(w["total_s"]),
                fmt_seconds(w["step"]["median_s"]),
                parts,
                f"{fmt_seconds(s['seconds'])} (step {s['index'] + 1}{', a rebase' if s['rebased'] else ''})",
                str(w["rebases"])
                + (
                    f" (at steps {', '.join(str(k + 1) for k in w['rebased_at_steps'])}; "
                    f"{', '.join(fmt_seconds(t) for t in w['rebase_steps_s'])})"
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
        else "storage alone (`canvas.paste(strip, 0, col, grow=True)` of a 1024x512 photo-like strip)"
    )
    return [
        "",
        f"### Growth, {title}: {g['steps']} steps LEFT vs {g['steps']} RIGHT, alternating",
        "",
        markdown_table(
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
        markdown_table(
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
    m = results["machine"]
    lines = [
        "## Growth and outside readers (issue 13)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {fmt_bytes(m['ram_bytes'])} RAM, {m['os']}, Python "
        f"{m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + ".",
        f"Command: `{results['command']}` ({results['mode']} mode; total {results['total_s']:.0f} s). Code: "
        f"{results['git']}. Load average (1 min) {results['load_before']:.1f} at the start, "
        f"{results.get('load_after', float('nan')):.1f} at the end.",
    ]
    if "growth" in results:
        for name, g in results["growth"].items():
            lines += _report_race(name, g)
    if "dask" in results:
        k = results["dask"]
        lines += [
            "",
            f"### dask on {k['chunk_files']:,} written tiles: `da.from_zarr` vs `Canvas.read`",
            "",
            f"Level-0 array {tuple(k['array_shape'])} ({k['nchunks']:,} chunks; the dask array has "
            f"{k['dask_chunks']:,} blocks), in `{k['scratch']}`, built in {k['build_s']:.0f} s (chunk files "
            f"hard-linked), removed in {k['remove_s']:.0f} s. Window: rows {k['window']['row_off']}.., cols "
            f"{k['window']['col_off']}.. (1024x1024, unaligned, 2x2 chunks); {k['dask']['repeats']} interleaved "
            f"repeats after a warm-up, medians. dask {k['dask_version']}.",
            "",
            markdown_table(
                ["operation", "time (median)", "best"],
                [
                    [
                        "`da.from_zarr(canvas, component=frame.path(0))[window].compute()`",
                        fmt_seconds(k["dask"]["median_s"]),
                        fmt_seconds(k["dask"]["min_s"]),
                    ],
                    ["`Canvas.read(window)`", fmt_seconds(k["canvas"]["median_s"]), fmt_seconds(k["canvas"]["min_s"])],
                    [
                        "`da.from_zarr(..., inline_array=True)[window].compute()`",
                        fmt_seconds(k["dask_inline"]["median_s"]),
                        fmt_seconds(k["dask_inline"]["min_s"]),
                    ],
                    [
                        "`Canvas.read(window)` (interleaved with the line above)",
                        fmt_seconds(k["canvas_2"]["median_s"]),
                        fmt_seconds(k["canvas_2"]["min_s"]),
                    ],
                    [
                        "(`from_zarr` alone)",
                        fmt_seconds(k["from_zarr_only"]["median_s"]),
                        fmt_seconds(k["from_zarr_only"]["min_s"]),
                    ],
                    [
                        "(compute of a prebuilt dask array's window)",
                        fmt_seconds(k["dask_prebuilt_compute"]["median_s"]),
                        fmt_seconds(k["dask_prebuilt_compute"]["min_s"]),
                    ],
                    [
                        '(the same, `scheduler="sync"`)',
                        fmt_seconds(k["dask_prebuilt_compute_sync"]["median_s"]),
                        fmt_seconds(k["dask_prebuilt_compute_sync"]["min_s"]),
                    ],
                    [
                        "(plain zarr: `zarr.open_array(level 0)[:, window]`)",
                        fmt_seconds(k["zarr_slice"]["median_s"]),
                        fmt_seconds(k["zarr_slice"]["min_s"]),
                    ],
                    [
                        f"`nchunks_initialized` (= {k['nchunks_initialized']:,}), once",
                        fmt_seconds(k["nchunks_initialized_s"]),
                        "-",
                    ],
                    ["`info_complete()`, once", fmt_seconds(k["info_complete_s"]), "-"],
                ],
            ),
            "",
            markdown_table(
                ["ratio", "measured", "met?"],
                [
                    [
                        f"dask / Canvas.read <= {DASK_TARGET}",
                        f"**{k['ratio']:.2f}** (bests {k['ratio_best']:.2f})",
                        _mark(k["ratio"] <= DASK_TARGET),
                    ],
                    [
                        "dask with `inline_array=True` / Canvas.read",
                        f"{k['ratio_inline']:.2f} (bests {k['ratio_inline_best']:.2f})",
                        "(reported)",
                    ],
                ],
            ),
        ]
    for key, tb in results.get("errors", {}).items():
        lines += ["", f"**{key} failed:**", "", "```", tb.strip(), "```"]
    return "\n".join(lines) + "\n"


PARTS = ("growth", "dask")


def main(argv: list[str] | None = None) -> int:
    from bench_canvas import _git_state

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 steps each way, 5 repeats")
    parser.add_argument("--steps", type=int, help="growth steps each way (default 200; quick 60)")
    parser.add_argument("--paste-steps", type=int, help="storage-only growth steps each way (default 200)")
    parser.add_argument("--repeat", type=int, help="timed repeats of the dask comparison (default 15; quick 5)")
    parser.add_argument("--side", type=int, default=DASK_SIDE, help=f"tiles per side of the dask canvas ({DASK_SIDE})")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset of growth,dask")
    parser.add_argument("--scratch", help="folder for the large canvas (default: /dev/shm if it has room)")
    args = parser.parse_args(argv)
    parts = [p for p in PARTS if p in args.parts.split(",")]
    steps = args.steps or (60 if args.quick else 200)
    paste_steps = args.paste_steps or 200
    repeat = args.repeat or (5 if args.quick else 15)
    start = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine_info(("numpy", "zarr", "dask", "imkerutils")),
        "command": "python benchmarks/bench_growth.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""),
        "mode": "quick" if args.quick else "full",
        "git": _git_state(),
        "load_before": os.getloadavg()[0],
        "targets": {"growth_ratio": GROWTH_TARGET, "dask_ratio": DASK_TARGET},
    }
    json_path = RESULTS_QUICK if args.quick else RESULTS
    jobs = {}
    if "growth" in parts:
        jobs["growth"] = lambda tmp: bench_growth(tmp, steps, paste_steps)
    if "dask" in parts:
        scratch = pick_scratch(args.scratch)
        jobs["dask"] = lambda _tmp: _in(scratch, lambda d: bench_dask(d, args.side, repeat))
    run_parts(jobs, results, json_path, start=start, log=_log, tmp_prefix="imker-growth-")
    results["load_after"] = os.getloadavg()[0]
    publish(results, report, json_path, _log)
    return 0


def _in(where: Path, fn: Any) -> Any:
    with tempfile.TemporaryDirectory(prefix="imker-growth-", dir=where) as d:
        return fn(Path(d))


if __name__ == "__main__":
    sys.exit(main())
