"""Exquisite growth-step benchmarks (issue 3): width-independent steps, flat memory, the seed's way, ``local``.

Four questions, each answered in one run:

1. **Step overhead vs canvas width.** A growth step RIGHT on a canvas 1024 px high costs one tile whatever
   the width, so everything but the generator (reads, reference, checks, seam scores, record, journal,
   commit) must cost the same on a 2048-px-wide canvas as on a 65,536-px-wide one.  Canvases: ``2k``
   (2 written tiles); ``64k-virtual`` (bounds 65,536 px wide, only the last tile written); ``64k-written``
   (all 64 tiles written).  All three get the same band pixels and the same seeds, so the generator does
   identical work; each round steps every canvas once, in alternating order.  Overhead = step wall time
   minus the generator's own wall time (the generator is wrapped in a timer); CPU overhead likewise with
   the process's CPU time minus the generator thread's.  Target: the median of the per-round overhead
   ratios 64k / 2k <= 1.2 (per-round ratios cancel slow drift of the machine's load).
   Also with artifacts on (4 PNGs per tile).
2. **Memory over 200 steps.** In a fresh process per canvas, 200 steps with the RSS (``psutil``) sampled
   after every step: start, max, end, and the least-squares slope per 100 steps.  Target: flat (the second
   half of the run never goes higher than the first, give or take 5 % of the start).
3. **The seed's way.** The seed decoded the whole canvas PNG, pasted the new tile and re-encoded the
   whole PNG every step (about 9.5 s a step at 13k px wide).  That baseline is written here with Pillow and
   the same mock generator output (same band, same tile seed; its final PNG is checked pixel-identical to
   our canvas); 24 steps each, alternating (ours, then the seed's), widths 1024 + 512 k, 2 runs.
4. **The ``local`` generator on photographs.** The photographs bundled in the scikit-image wheel
   (``skimage.data``; no network) plus the repository's sample landscape, each brought to 1024x1024
   (upscaled with Lanczos where smaller) and grown RIGHT by one step: seconds per tile and the seam scores.
   The grown images are saved as PNGs next to the JSON; the same scores measured on each photograph's own
   middle column show what a real continuation scores.

Usage::

    python benchmarks/bench_exquisite.py            # full run (~5 min idle, 13 min on a busy 2-core VM)
    python benchmarks/bench_exquisite.py --quick    # smoke run (~1-2 min)
    python benchmarks/bench_exquisite.py --parts seed,local   # a subset

Needs ``psutil`` and ``scikit-image`` (photographs; without it only the sample landscape is used).
Markdown goes to stdout, JSON to ``benchmarks/results/exquisite.json`` (``--quick``:
``exquisite-quick.json``), grown photographs to ``benchmarks/results/exquisite-local-<name>.png``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import _util
import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

HERE = Path(__file__).resolve().parent
RESULTS = _util.RESULTS_DIR / "exquisite.json"
QUICK_RESULTS = _util.RESULTS_DIR / "exquisite-quick.json"
SAMPLE = HERE.parent / "imkerutils" / "data" / "samples" / "landscape.jpg"

HEIGHT = 1024  # every canvas here is one tile high: a RIGHT step is one tile
STRIP = 512  # new pixels per step
SCALE_TARGET = 1.2
SEED_REFERENCE_S = 9.5  # the seed's seconds per step at about 13k px wide (issue 3)
FLAT_FRACTION = 0.05  # "flat": max RSS of the run's second half <= max of its first half + 5 % of the start


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- a timing wrapper around any generator -------------------------------------------------------------------
class TimedGenerator:
    """Delegates to ``inner`` and adds up the wall and thread-CPU seconds spent inside ``generate``."""

    deterministic: ClassVar[bool] = True
    needs_network: ClassVar[bool] = False

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.version = inner.version
        self.max_concurrency = inner.max_concurrency
        self.wall = 0.0
        self.cpu = 0.0
        self.calls = 0
        self._lock = threading.Lock()

    def params(self) -> dict[str, Any]:
        return self.inner.params()

    def generate(self, request: Any) -> Any:
        w0, c0 = time.perf_counter(), time.thread_time()
        result = self.inner.generate(request)
        dw, dc = time.perf_counter() - w0, time.thread_time() - c0
        with self._lock:
            self.wall += dw
            self.cpu += dc
            self.calls += 1
        return result

    def take(self) -> tuple[float, float]:
        """(wall, cpu) seconds since the last ``take``."""
        with self._lock:
            out = (self.wall, self.cpu)
            self.wall = self.cpu = 0.0
        return out


def timed_step(canvas: Any, gen: TimedGenerator, seed: int, *, artifacts: bool) -> dict[str, float]:
    """One RIGHT step; its wall / CPU seconds, the generator's, and the difference (the overhead)."""
    from imkerutils.exquisite.pipeline import GrowSettings, grow_step

    settings = GrowSettings(seed=seed, save_artifacts=artifacts)
    gen.take()
    w0, c0 = time.perf_counter(), time.process_time()
    record = grow_step(canvas, "right", gen, settings)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    gwall, gcpu = gen.take()
    return {
        "wall": wall,
        "cpu": cpu,
        "gen_wall": gwall,
        "gen_cpu": gcpu,
        "overhead": wall - gwall,
        "overhead_cpu": cpu - gcpu,
        "commit": record.timings["commit"],
        "width": canvas.bounds.width,
        "tile_seed": record.tiles[0].seed,
    }


# -- canvases ------------------------------------------------------------------------------------------------
def edge_pixels() -> np.ndarray:
    """The last 2048 columns every scale canvas shares (so every generator call sees the same band)."""
    return _util.photo_like(HEIGHT, 2048, seed=0)


def build_canvas(path: Path, kind: str, written_tiles: int = 64, edge: np.ndarray | None = None) -> Any:
    """``2k``: 2048 px wide, written; ``64k-virtual``: 65,536 wide, last tile written; ``64k-written``."""
    from imkerutils.tiling.canvas import Canvas

    edge = edge_pixels() if edge is None else edge
    if kind == "2k":
        c = Canvas.create(path, height=HEIGHT, width=edge.shape[1])
        c.paste(edge, 0, 0)
        return c
    width = 65536 if kind == "64k-virtual" else written_tiles * 1024
    c = Canvas.create(path, height=HEIGHT, width=width)
    if kind == "64k-written":
        filler = _util.photo_like(HEIGHT, 8192, seed=1)
        col = 0
        while col < width - edge.shape[1]:
            n = min(filler.shape[1], width - edge.shape[1] - col)
            c.paste(filler[:, :n], 0, col)
            col += n
        c.paste(edge, 0, width - edge.shape[1])
    else:
        c.paste(edge[:, -1024:], 0, width - 1024)
    return c


# -- 1. overhead vs width ------------------------------------------------------------------------------------
def bench_scale(tmp: Path, steps: int, artifact_steps: int, written_tiles: int) -> dict[str, Any]:
    from imkerutils.exquisite.api.mock import MockGenerator

    edge = edge_pixels()
    canvases, builds = {}, {}
    for kind in ("2k", "64k-virtual", "64k-written"):
        t0 = time.perf_counter()
        canvases[kind] = build_canvas(tmp / f"scale-{kind}.zarr", kind, written_tiles, edge)
        builds[kind] = {
            "seconds": time.perf_counter() - t0,
            "width": canvases[kind].bounds.width,
            "tiles_written": canvases[kind].written_tiles(),
        }
    gen = TimedGenerator(MockGenerator())
    kinds = list(canvases)
    load_before = _load()
    # warm-up: one step each (imports, thread pools, first zarr metadata reads)
    for kind in kinds:
        timed_step(canvases[kind], gen, 999, artifacts=False)
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    for k in range(steps):
        order = kinds if k % 2 == 0 else kinds[::-1]
        for kind in order:
            runs[kind].append(timed_step(canvases[kind], gen, 1000 + k, artifacts=False))
    art: dict[str, list[dict[str, float]]] = {k: [] for k in ("2k", "64k-virtual")}
    for k in range(artifact_steps):
        order = list(art) if k % 2 == 0 else list(art)[::-1]
        for kind in order:
            art[kind].append(timed_step(canvases[kind], gen, 5000 + k, artifacts=True))

    def summary(rows: list[dict[str, float]]) -> dict[str, Any]:
        return {
            key: _median([r[key] for r in rows])
            for key in ("wall", "cpu", "gen_wall", "gen_cpu", "overhead", "overhead_cpu", "commit")
        } | {"steps": len(rows), "width_first": rows[0]["width"], "width_last": rows[-1]["width"]}

    out: dict[str, Any] = {
        "steps": steps,
        "artifact_steps": artifact_steps,
        "builds": builds,
        "load_before": load_before,
        "load_after": _load(),
        "no_artifacts": {k: summary(v) for k, v in runs.items()},
        "artifacts": {k: summary(v) for k, v in art.items()},
        "raw": runs,
        "raw_artifacts": art,
    }
    for table, raw in (("no_artifacts", runs), ("artifacts", art)):
        for kind, rows in raw.items():
            if kind == "2k":
                continue
            s = out[table][kind]
            for key, name in (("overhead", "ratio"), ("overhead_cpu", "ratio_cpu")):
                # per-round ratios: each round runs every canvas once, back to back, so slow drift of
                # the machine's load cancels; the headline is their median
                s[name] = _median([a[key] / b[key] for a, b in zip(rows, raw["2k"], strict=True)])
                s[name + "_of_medians"] = s[key] / out[table]["2k"][key]
    return out


# -- 2. RSS over many steps (run in a fresh process) ---------------------------------------------------------
def rss_run(kind: str, steps: int) -> dict[str, Any]:
    """Build a ``kind`` canvas in a temporary folder and grow it ``steps`` times, sampling RSS each step."""
    import psutil

    from imkerutils.exquisite.api.mock import MockGenerator

    proc = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="imker-bench-rss-") as tmp:
        canvas = build_canvas(Path(tmp) / "c.zarr", kind)
        gen = TimedGenerator(MockGenerator())
        rss_before = proc.memory_info().rss
        rss, overhead, wall = [], [], []
        for k in range(steps):
            r = timed_step(canvas, gen, 1000 + k, artifacts=False)
            rss.append(proc.memory_info().rss)
            overhead.append(r["overhead"])
            wall.append(r["wall"])
        width = canvas.bounds.width
    return {
        "kind": kind,
        "rss_before": rss_before,
        "rss": rss,
        "overhead": overhead,
        "wall": wall,
        "final_width": width,
    }


def _slope_per_100(ys: list[float]) -> float:
    if len(ys) < 2:
        return 0.0
    return float(np.polyfit(np.arange(len(ys), dtype=float), np.asarray(ys, dtype=float), 1)[0] * 100)


def bench_rss(steps: int) -> dict[str, Any]:
    out = {}
    for kind in ("2k", "64k-virtual"):
        child = _util.run_measured(
            f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_exquisite as B",
            f"result = B.rss_run({kind!r}, {steps})",
        )
        r = child.output
        rss = r["rss"]
        warm = min(20, len(rss) // 2)
        edge = max(1, min(20, len(rss) // 4))
        out[kind] = {
            "steps": steps,
            "final_width": r["final_width"],
            "rss_before": r["rss_before"],
            "rss_start": rss[0],
            "rss_max": max(rss),
            "rss_end": rss[-1],
            "slope_per_100": _slope_per_100(rss),
            "slope_per_100_after_warmup": _slope_per_100(rss[warm:]),
            "warmup_steps": warm,
            "peak_rss_vmhwm": child.peak_rss,
            "overhead_first": _median(r["overhead"][:edge]),
            "overhead_last": _median(r["overhead"][-edge:]),
            "window": edge,
            "rss": rss,
            "overhead": r["overhead"],
            "wall": r["wall"],
            "seconds": child.seconds,
        }
        o = out[kind]
        half = len(rss) // 2
        o["rss_max_first_half"], o["rss_max_second_half"] = max(rss[:half] or rss), max(rss[half:])
        o["flat"] = o["rss_max_second_half"] <= o["rss_max_first_half"] + FLAT_FRACTION * o["rss_start"]
    return out


# -- 3. the seed's way ---------------------------------------------------------------------------------------
class SeedBaseline:
    """The seed's step: decode the whole canvas PNG, generate, paste, re-encode the whole PNG."""

    def __init__(self, png: Path, gen: TimedGenerator) -> None:
        self.png, self.gen = png, gen

    def step(self, seed: int, prompt: str) -> None:
        from PIL import Image

        from imkerutils.exquisite.api.base import TileRequest
        from imkerutils.exquisite.geometry.band import build_reference
        from imkerutils.exquisite.geometry.direction import Direction

        with Image.open(self.png) as im:
            img = np.asarray(im.convert("RGB"))
        h, w, _ = img.shape
        tile = np.zeros((h, 2 * STRIP, 3), np.uint8)
        tile[:, :STRIP] = img[:, w - STRIP :]
        generate = np.zeros((h, 2 * STRIP), bool)
        generate[:, STRIP:] = True
        reference = build_reference(tile, generate, fill="edge")
        raw = np.asarray(
            self.gen.generate(
                TileRequest(
                    reference=reference, generate=generate, prompt=prompt, seed=seed, direction=Direction.RIGHT, size=h
                )
            ).image
        )
        out = np.empty((h, w + STRIP, 3), np.uint8)
        out[:, :w] = img
        out[:, w:] = raw[:, STRIP:]
        tmp = self.png.with_name(self.png.name + ".partial")
        Image.fromarray(out).save(tmp, format="PNG")
        os.replace(tmp, self.png)


def bench_seed(tmp: Path, steps: int, repeat: int) -> dict[str, Any]:
    from PIL import Image

    from imkerutils.exquisite.api.mock import MockGenerator
    from imkerutils.exquisite.prompt.templates import get_template, render
    from imkerutils.tiling.canvas import Canvas

    start = _util.photo_like(HEIGHT, 1024, seed=2)
    prompt = render(get_template("extend"), "", "right").text
    ours: dict[int, list[dict[str, float]]] = {k: [] for k in range(1, steps + 1)}
    seed_runs: dict[int, list[dict[str, float]]] = {k: [] for k in range(1, steps + 1)}
    identical = []
    load_before = _load()
    for rep in range(repeat):
        canvas = Canvas.create(tmp / f"seed-ours-{rep}.zarr", height=HEIGHT, width=1024)
        canvas.paste(start, 0, 0)
        png = tmp / f"seed-{rep}.png"
        Image.fromarray(start).save(png, format="PNG")
        gen_ours = TimedGenerator(MockGenerator())
        gen_seed = TimedGenerator(MockGenerator())
        baseline = SeedBaseline(png, gen_seed)
        for k in range(1, steps + 1):
            # ours first: the seed's way reuses the tile seed our step recorded, so both draw the same pixels
            ours[k].append(timed_step(canvas, gen_ours, 7000 + k, artifacts=False))
            gen_seed.take()
            t0, c0 = time.perf_counter(), time.process_time()
            baseline.step(int(ours[k][-1]["tile_seed"]), prompt)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            gwall, gcpu = gen_seed.take()
            seed_runs[k].append(
                {
                    "wall": wall,
                    "cpu": cpu,
                    "gen_wall": gwall,
                    "overhead": wall - gwall,
                    "overhead_cpu": cpu - gcpu,
                    "png_bytes": png.stat().st_size,
                }
            )
        with Image.open(png) as im:
            final = np.asarray(im.convert("RGB"))
        identical.append(
            bool(final.shape == (HEIGHT, canvas.bounds.width, 3) and np.array_equal(final, canvas.read(canvas.bounds)))
        )
    rows = []
    for k in range(1, steps + 1):
        o, s = ours[k], seed_runs[k]
        row = {
            "step": k,
            "width": 1024 + STRIP * k,
            "ours_wall": _median([r["wall"] for r in o]),
            "ours_overhead": _median([r["overhead"] for r in o]),
            "seed_wall": _median([r["wall"] for r in s]),
            "seed_overhead": _median([r["overhead"] for r in s]),
            "ours_cpu": _median([r["cpu"] for r in o]),
            "seed_cpu": _median([r["cpu"] for r in s]),
            "gen_wall": _median([r["gen_wall"] for r in o + s]),
            "png_bytes": s[-1]["png_bytes"],
        }
        row["ratio_wall"] = row["seed_wall"] / row["ours_wall"]
        row["ratio_overhead"] = row["seed_overhead"] / row["ours_overhead"]
        row["ratio_cpu"] = row["seed_cpu"] / row["ours_cpu"]
        rows.append(row)
    return {
        "steps": steps,
        "repeat": repeat,
        "identical_pixels": identical,
        "rows": rows,
        "load_before": load_before,
        "load_after": _load(),
    }


# -- 4. the local generator on photographs -------------------------------------------------------------------
def _square(img: np.ndarray, side: int = 1024) -> tuple[np.ndarray, float]:
    """Centre crop to ``side`` x ``side``, upscaling (Lanczos) first if a side is shorter; returns the scale."""
    from PIL import Image

    if img.ndim == 2:
        img = np.stack([img] * 3, axis=2)
    img = np.ascontiguousarray(img[..., :3]).astype(np.uint8)
    h, w = img.shape[:2]
    scale = max(1.0, side / min(h, w))
    if scale > 1.0:
        nh, nw = max(side, round(h * scale)), max(side, round(w * scale))
        img = np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.LANCZOS))
        h, w = nh, nw
    r0, c0 = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(img[r0 : r0 + side, c0 : c0 + side]), scale


def load_photos(names: list[str]) -> tuple[list[tuple[str, np.ndarray, tuple[int, int], float]], str]:
    """(name, 1024x1024 pixels, source size, upscale) for each photograph that loads offline."""
    from PIL import Image

    photos = []
    note = ""
    try:
        import skimage
        import skimage.data as data
    except ImportError:
        names = []
        note = "scikit-image is not installed: only the sample landscape is used"
    else:
        note = f"scikit-image {skimage.__version__}: photographs bundled in the wheel (skimage/data)"
        bundled = Path(data.__file__).parent
        for name in names:
            if not any(p.stem == name for p in bundled.iterdir()):
                continue  # not shipped in the wheel: would need the network
            img = getattr(data, name)()
            sq, scale = _square(img)
            photos.append((name, sq, img.shape[:2], scale))
    with Image.open(SAMPLE) as im:
        img = np.asarray(im.convert("RGB"))
    sq, scale = _square(img)
    photos.append(("landscape.jpg (repository sample)", sq, img.shape[:2], scale))
    return photos, note


def bench_local(tmp: Path, names: list[str], out_dir: Path) -> dict[str, Any]:
    from PIL import Image

    from imkerutils.exquisite.api.local import LocalGenerator
    from imkerutils.exquisite.geometry.seam import seam_scores
    from imkerutils.exquisite.pipeline import step_records
    from imkerutils.tiling.canvas import Canvas

    photos, note = load_photos(names)
    gen = TimedGenerator(LocalGenerator())
    rows = []
    for n, (name, px, src_shape, scale) in enumerate(photos):
        canvas = Canvas.create(tmp / f"local-{n}.zarr", height=HEIGHT, width=1024)
        canvas.paste(px, 0, 0)
        r = timed_step(canvas, gen, 11, artifacts=False)
        record = step_records(canvas)[-1]
        grown = canvas.read(canvas.bounds)
        slug = name.split(" ")[0].replace(".", "-")
        png = out_dir / f"exquisite-local-{slug}.png"
        Image.fromarray(grown).save(png, format="PNG")
        natural = seam_scores(px, "right").to_dict()
        rows.append(
            {
                "photo": name,
                "source_shape": list(src_shape),
                "upscale": scale,
                "generator_s": r["gen_wall"],
                "generator_cpu_s": r["gen_cpu"],
                "step_s": r["wall"],
                "qc": record.qc,
                "tile_seam_scores": [t.seam_scores for t in record.tiles],
                "natural": {k: natural[k] for k in ("seam_excess", "detail_ratio", "colour_step")},
                "png": str(png.relative_to(HERE.parent)),
            }
        )
    return {
        "note": note,
        "generator": repr(gen.inner),
        "rows": rows,
        "median_generator_s": _median([r["generator_s"] for r in rows]),
    }


# -- report --------------------------------------------------------------------------------------------------
def report_scale(sc: dict[str, Any]) -> list[str]:
    out = [f"### 1. Step overhead vs canvas width (mock generator, {sc['steps']} interleaved steps per canvas)\n"]
    rows = []
    for kind, s in sc["no_artifacts"].items():
        b = sc["builds"][kind]
        rows.append(
            [
                kind,
                f"{b['width']:,} -> {s['width_last']:,}",
                b["tiles_written"],
                _util.fmt_seconds(b["seconds"]),
                _util.fmt_seconds(s["wall"]),
                _util.fmt_seconds(s["gen_wall"]),
                _util.fmt_seconds(s["overhead"]),
                _util.fmt_seconds(s["overhead_cpu"]),
                "-" if kind == "2k" else f"{s['ratio']:.2f}",
                "-" if kind == "2k" else f"{s['ratio_of_medians']:.2f}",
                "-" if kind == "2k" else f"{s['ratio_cpu']:.2f}",
                "-" if kind == "2k" else _mark(s["ratio"] <= SCALE_TARGET),
            ]
        )
    out.append(
        _util.markdown_table(
            [
                "canvas",
                "width (px)",
                "tiles written",
                "build",
                "step (median)",
                "generator",
                "overhead (wall)",
                "overhead (CPU)",
                "ratio (wall)",
                "ratio of medians",
                "ratio (CPU)",
                f"<= {SCALE_TARGET}",
            ],
            rows,
        )
    )
    out.append(
        "\nRatios are against `2k`: the median of the per-round ratios (each round steps every canvas "
        "once, back to back), then the ratio of the medians.  Overhead = step minus the generator's own "
        "time, in wall seconds and in this process's CPU seconds."
    )
    a = sc["artifacts"]
    out.append(
        f"\nWith artifacts on (4 PNGs per tile), {sc['artifact_steps']} interleaved steps each: overhead "
        f"{_util.fmt_seconds(a['2k']['overhead'])} (2k) vs {_util.fmt_seconds(a['64k-virtual']['overhead'])} "
        f"(64k-virtual), ratio {a['64k-virtual']['ratio']:.2f} (CPU {a['64k-virtual']['ratio_cpu']:.2f}); "
        f"without artifacts {_util.fmt_seconds(sc['no_artifacts']['2k']['overhead'])} on 2k, so the artifacts "
        f"add about {_util.fmt_seconds(a['2k']['overhead'] - sc['no_artifacts']['2k']['overhead'])} a step."
    )
    out.append(f"Load average (1, 5, 15 min) before / after: {sc['load_before']} / {sc['load_after']}.\n")
    return out


def report_rss(rs: dict[str, Any]) -> list[str]:
    n = next(iter(rs.values()))["steps"]
    out = [f"### 2. Resident memory over {n} steps (fresh process per canvas, RSS after every step)\n"]
    rows = []
    for kind, r in rs.items():
        rows.append(
            [
                kind,
                f"{r['final_width']:,}",
                _util.fmt_bytes(r["rss_start"]),
                _util.fmt_bytes(r["rss_max"]),
                _util.fmt_bytes(r["rss_end"]),
                _util.fmt_bytes(r["slope_per_100"]),
                _util.fmt_bytes(r["slope_per_100_after_warmup"]),
                _mark(r["flat"]),
                f"{_util.fmt_seconds(r['overhead_first'])} / {_util.fmt_seconds(r['overhead_last'])}",
            ]
        )
    out.append(
        _util.markdown_table(
            [
                "canvas",
                "final width",
                "RSS start",
                "RSS max",
                "RSS end",
                "slope / 100 steps",
                f"slope after {next(iter(rs.values()))['warmup_steps']} steps",
                "flat",
                f"overhead first / last {next(iter(rs.values()))['window']} steps",
            ],
            rows,
        )
    )
    out.append(
        f"\n'Flat' means no growth: the highest RSS of the second half of the run is at most the highest of "
        f"the first half plus {FLAT_FRACTION:.0%} of the starting RSS (the slopes are least-squares fits).\n"
    )
    return out


def report_seed(sd: dict[str, Any]) -> list[str]:
    out = [f"### 3. The seed's way vs ours ({sd['steps']} steps, median of {sd['repeat']} interleaved runs)\n"]
    rows = []
    for r in sd["rows"]:
        if r["step"] in (4, 8, 16, 24) or r["step"] == sd["steps"]:
            rows.append(
                [
                    r["step"],
                    f"{r['width']:,}",
                    _util.fmt_bytes(r["png_bytes"]),
                    _util.fmt_seconds(r["seed_wall"]),
                    _util.fmt_seconds(r["ours_wall"]),
                    f"{r['ratio_wall']:.1f}x",
                    _util.fmt_seconds(r["seed_overhead"]),
                    _util.fmt_seconds(r["ours_overhead"]),
                    f"{r['ratio_overhead']:.1f}x",
                    f"{r['ratio_cpu']:.1f}x",
                    _util.fmt_seconds(r["gen_wall"]),
                ]
            )
    out.append(
        _util.markdown_table(
            [
                "step",
                "width after (px)",
                "seed PNG",
                "seed step",
                "our step",
                "ratio",
                "seed overhead",
                "our overhead",
                "ratio (overhead)",
                "ratio (CPU)",
                "mock generator",
            ],
            rows,
        )
    )
    out.append(
        f"\nLoad average before / after: {sd['load_before']} / {sd['load_after']}. "
        f"Final seed PNG pixel-identical to our canvas: {sd['identical_pixels']}. The seed reported "
        f"about {SEED_REFERENCE_S} s a step at 13k px wide (its own machine and generator).\n"
    )
    return out


def report_local(lo: dict[str, Any]) -> list[str]:
    out = [f"### 4. `local` generator on photographs ({lo['generator']})\n", lo["note"] + ".\n"]
    rows = []
    for r in lo["rows"]:
        q, nat = r["qc"], r["natural"]
        src = f"{r['source_shape'][1]}x{r['source_shape'][0]}" + (f", x{r['upscale']:.2f}" if r["upscale"] > 1 else "")
        cpu = r.get("generator_cpu_s")
        rows.append(
            [
                r["photo"],
                src,
                _util.fmt_seconds(r["generator_s"]),
                "-" if cpu is None else _util.fmt_seconds(cpu),
                _util.fmt_seconds(r["step_s"]),
                f"{q['seam_excess']:.2f} ({nat['seam_excess']:.2f})",
                f"{q['detail_ratio']:.2f} ({nat['detail_ratio']:.2f})",
                f"{q['colour_step']:.2f} ({nat['colour_step']:.2f})",
                f"`{r['png']}`",
            ]
        )
    out.append(
        _util.markdown_table(
            [
                "photograph",
                "source (upscale)",
                "generator / tile",
                "generator CPU",
                "step",
                "seam excess (real)",
                "detail ratio (real)",
                "colour step (real)",
                "grown image",
            ],
            rows,
        )
    )
    out.append(
        f"\nMedian {_util.fmt_seconds(lo['median_generator_s'])} per tile. In brackets: the same metric on the "
        "photograph's own middle column (a real continuation).\n"
    )
    return out


PARTS = {
    "scale": ("1. step overhead vs width", report_scale),
    "rss": ("2. memory", report_rss),
    "seed": ("3. the seed's way", report_seed),
    "local": ("4. local generator", report_local),
}


def report(res: dict[str, Any]) -> str:
    out = []
    for key, (title, fn) in PARTS.items():
        if key in res:
            out += fn(res[key])
        elif key in res.get("errors", {}):
            out.append(f"### {title}: FAILED\n\n```\n{res['errors'][key]}```\n")
    out.append(f"Total run time {_util.fmt_seconds(res['total_s'])} (`{res['command']}`).\n")
    return "\n".join(out) + "\n"


PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "retina", "hubble_deep_field"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps, one photograph (smoke test)")
    parser.add_argument("--steps", type=int, help="interleaved steps per canvas for the width ratio (default 30)")
    parser.add_argument("--rss-steps", type=int, help="steps of the memory run (default 200)")
    parser.add_argument("--json", help=f"where to write JSON (default {RESULTS})")
    parser.add_argument("--parts", help="comma-separated subset of scale,rss,seed,local (default: all)")
    args = parser.parse_args(argv)
    quick = args.quick
    steps = args.steps or (4 if quick else 30)
    rss_steps = args.rss_steps or (20 if quick else 200)
    json_path = Path(args.json) if args.json else (QUICK_RESULTS if quick else RESULTS)
    out_dir = _util.ensure_ignored_dir(_util.RESULTS_DIR)
    start = time.perf_counter()
    results: dict[str, Any] = {
        "machine": _util.machine_info(("numpy", "zarr", "dask", "PIL", "psutil", "skimage", "imkerutils")),
        "command": "python benchmarks/bench_exquisite.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""),
        "mode": "quick" if quick else "full",
        "targets": {"scale_ratio": SCALE_TARGET, "rss_flat_fraction_per_100": FLAT_FRACTION},
    }
    jobs: dict[str, Callable[[Path], Any]] = {  # step overhead 2k vs 64k; RSS; the seed's way; local on photos
        "scale": lambda tmp: bench_scale(tmp, steps, 3 if quick else 10, 16 if quick else 64),
        "rss": lambda tmp: bench_rss(rss_steps),
        "seed": lambda tmp: bench_seed(tmp, 8 if quick else 24, 1 if quick else 2),
        "local": lambda tmp: bench_local(tmp, PHOTOS[:1] if quick else PHOTOS, out_dir),
    }
    parts = [p for p in args.parts.split(",") if p] if args.parts else list(jobs)
    unknown = sorted(set(parts) - set(jobs))
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from {sorted(jobs)}")
    _util.run_parts(
        {key: jobs[key] for key in parts}, results, json_path, start=start, log=_log, tmp_prefix="imker-bench-ex-"
    )
    _util.publish(results, report, json_path, _log)
    return 1 if results.get("errors") else 0


_log = _util.logger("bench_exquisite")


if __name__ == "__main__":
    sys.exit(main())
