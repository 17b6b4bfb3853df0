"""Export benchmarks (issue 4): streaming PNG and tiled BigTIFF against Pillow, pyvips and tifffile.

Side by side in one run, on the same N x N RGB region of photo-like pixels (N = 16384 in full mode):

1. **PNG.** ``export_region(canvas, "x.png")`` (deflate level 6, two cores) against Pillow's
   ``Image.fromarray(a).save("x.png")`` of the same pixels held in memory (level 6, one core).  Targets:
   throughput ratio (Pillow time / ours) >= 1.5 and peak RSS ratio (ours / Pillow) <= 0.25.  Ours with the
   fast ``rle`` compression is shown too.
2. **TIFF.** ``export_region(canvas, "x.tif", compression=...)`` against pyvips ``tiffsave`` (tiled 1024,
   same compression and level, no predictor, BigTIFF) of the same pixels in memory, and against tifffile
   writing the same 1024 tiles from memory (``maxworkers`` = cores).  Both ratios are reported; the target
   is to be at least as fast as pyvips.  Run for zstd (level 3) and deflate (level 6).  At zstd 3 (the
   canvas's own codec) ours copies the stored chunks as TIFF tiles; two more rows show ours forced to decode
   and re-encode them ("forced re-encode", zstd only: deflate always does) and ours reading through
   ``Canvas.read`` as a region off the chunk grid does ("via Canvas.read").
3. **Large.** A 65536 x 65536 export to TIFF (zstd) and PNG (rle) completes with peak RSS under 1 GiB.  The
   65536^2 canvas holds a 4096^2 photo-like block repeated: its chunk files are hard links to the 16 chunks
   of that block, so it costs no disk (the exports read 12 GiB of pixels all the same).

Every approach runs in a fresh subprocess (its own peak RSS, ``VmHWM``), approaches interleaved, median of
``--repeat`` runs, after the inputs were read once into the page cache (a warm-up run of each approach
would add many minutes: Pillow alone takes minutes per 16384^2 PNG).  Ours reads the pixels from the canvas
(Zarr chunks) as a real export does; the baselines get them from memory, loaded before their timer starts.

Usage::

    python benchmarks/bench_export.py            # full run (~30-60 min on 2 cores; cached inputs)
    python benchmarks/bench_export.py --quick    # smoke run (2048^2 and 4096^2, one repeat, ~1-2 min)
    python benchmarks/bench_export.py --parts tiff   # re-run one part, keeping the others' last results

Markdown goes to stdout, JSON to ``benchmarks/results/export.json`` (``export-quick.json`` in quick
mode).  Inputs are cached in ``benchmarks/.cache/`` (the 16384^2 pixels: 768 MiB .npy plus the canvas);
outputs go to ``--scratch`` (default: the system temp folder) and are deleted after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import _util
import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

HERE = Path(__file__).resolve().parent
RESULTS = _util.RESULTS_DIR / "export.json"
RESULTS_QUICK = _util.RESULTS_DIR / "export-quick.json"
PNG_SPEED_TARGET = 1.5
PNG_RSS_TARGET = 0.25
BIG_RSS_LIMIT = 1 << 30
BLOCK = 4096  # the repeated block of the large canvas


_log = _util.logger("bench_export")


# -- inputs ------------------------------------------------------------------------------------------------
def ensure_pixels(n: int) -> Path:
    """``n x n x 3`` photo-like pixels as a cached ``.npy`` (built a 1024-row strip at a time)."""
    path = _util.CACHE / f"export-photo-{n}.npy"
    if path.exists():
        return path
    _util.ensure_ignored_dir(_util.CACHE)
    tmp = path.with_suffix(".partial.npy")
    arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, n, 3))
    for i, top in enumerate(range(0, n, 1024)):
        arr[top : top + 1024] = _util.photo_like(min(1024, n - top), n, seed=100 + i)
    arr.flush()
    del arr
    os.replace(tmp, path)
    return path


def ensure_canvas(n: int, pixels: Path) -> Path:
    """A canvas holding the cached pixels at world (0, 0) (rebuilt if cached in an older canvas format)."""
    from imkerutils.tiling import Canvas
    from imkerutils.tiling.layout import CANVAS_FORMAT

    path = _util.CACHE / f"export-canvas-{n}.zarr"
    if (path / "zarr.json").exists():
        attrs = json.loads((path / "zarr.json").read_text()).get("attributes", {})
        if attrs.get("imkerutils", {}).get("format") == CANVAS_FORMAT:
            return path
    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    canvas = Canvas.create(tmp)
    arr = np.load(pixels, mmap_mode="r")
    for top in range(0, n, 1024):
        canvas.paste(np.ascontiguousarray(arr[top : top + 1024]), top, 0, extend=True)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)
    return path


def build_big_canvas(side: int, where: Path) -> Path:
    """A ``side x side`` canvas tiled with one photo-like BLOCK x BLOCK block, by hard-linking its chunks."""
    from imkerutils.tiling import Canvas, Window

    path = where / f"export-big-{side}.zarr"
    shutil.rmtree(path, ignore_errors=True)
    canvas = Canvas.create(path)
    canvas.paste(_util.photo_like(BLOCK, BLOCK, seed=7), 0, 0, extend=True)
    canvas.extend(Window(0, 0, side, side))
    frame = canvas.frame  # after the grow: a grow past the margin would have moved the chunks
    period = BLOCK // canvas.tile
    for i in range(side // canvas.tile):
        for j in range(side // canvas.tile):
            if i < period and j < period:
                continue
            src = path / frame.chunk_key(0, i % period, j % period)
            dst = path / frame.chunk_key(0, i, j)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(src, dst)
    return path


# -- one approach in a fresh process -------------------------------------------------------------------------
OURS_SETUP = """
from imkerutils.tiling import Canvas
from imkerutils.tiling.export import export_region
canvas = Canvas.open({canvas!r}, read_only=True)
"""
CPU_START = "import os as _os\n_c0 = _os.times()\n"
CPU_END = """
_c1 = _os.times()
result = {{"bytes": _os.path.getsize({out!r}), "cpu_s": _c1.user + _c1.system - _c0.user - _c0.system}}
"""
# TIFF: how whole-chunk tiles are read ("pass": stored zstd bytes copied when the level matches, else decoded by
# imagecodecs; "decode": always decoded and re-encoded; "zarr": through Canvas.read, as regions off the chunk grid).
OURS_TIFF_SETUP = (
    OURS_SETUP
    + """
from imkerutils.tiling.export import tiff
tiff._CHUNKS = {chunks!r}
"""
)
OURS_STMT = (
    CPU_START
    + """
export_region(canvas, {out!r}, compression={compression!r}, progress=False)
"""
    + CPU_END
)
ARRAY_SETUP = """
import numpy as np
arr = np.load({pixels!r})
"""
PILLOW_STMT = (
    CPU_START
    + """
from PIL import Image
Image.fromarray(arr).save({out!r}, format="PNG", compress_level=6)
"""
    + CPU_END
)
# The PyPI pyvips-binary wheel bundles a libvips whose libtiff has no zstd ("ZSTD compression support is not
# configured"); when the system has its own libvips (scripts/install-bench-deps.sh installs Debian's), hide the
# wheel's module so pyvips loads that one (ABI mode) instead.
PYVIPS_IMPORT = """
import ctypes.util as _cu, sys as _sys
if _cu.find_library("vips"):
    _sys.modules["_libvips"] = None
import pyvips
"""
PYVIPS_SETUP = ARRAY_SETUP + PYVIPS_IMPORT
PYVIPS_STMT = (
    CPU_START
    + """
img = pyvips.Image.new_from_memory(arr.data, arr.shape[1], arr.shape[0], 3, "uchar")
img.tiffsave({out!r}, tile=True, tile_width=1024, tile_height=1024, compression={vips_compression!r},
             level={level}, predictor="none", bigtiff=True)
"""
    + CPU_END
)
TIFFFILE_SETUP = ARRAY_SETUP + "import tifffile\n"
TIFFFILE_STMT = (
    CPU_START
    + """
tifffile.imwrite({out!r}, arr, bigtiff=True, tile=(1024, 1024), photometric="rgb", compression={tf_compression!r},
                 compressionargs={{"level": {level}}}, maxworkers=len(_os.sched_getaffinity(0)))
"""
    + CPU_END
)


def _run(setup: str, stmt: str, out: Path, **fmt: Any) -> _util.ChildResult:
    try:
        return _util.run_measured(setup.format(out=str(out), **fmt), stmt.format(out=str(out), **fmt), timeout=7200)
    finally:
        if out.is_dir():
            shutil.rmtree(out, ignore_errors=True)
        else:
            out.unlink(missing_ok=True)


def warm_cache(*paths: Path) -> None:
    """Read every file under ``paths`` once, so no approach pays for the disk and the first pays no more."""
    for p in paths:
        for f in [p] if p.is_file() else (x for x in p.rglob("*") if x.is_file()):
            with open(f, "rb") as fh:
                while fh.read(64 << 20):
                    pass


def compare(approaches: dict[str, Callable[[], _util.ChildResult]], repeat: int) -> dict[str, Any]:
    """Run the approaches ``repeat`` times interleaved (inputs already in the page cache); medians, max RSS."""
    runs: dict[str, list[_util.ChildResult]] = {name: [] for name in approaches}
    for r in range(repeat):
        for name, fn in approaches.items():
            res = fn()
            _log(f"  run {r + 1}/{repeat}: {name}: {res.seconds:.1f} s, peak RSS {_util.fmt_bytes(res.peak_rss)}")
            runs[name].append(res)
    out = {}
    for name, results in runs.items():
        secs = sorted(x.seconds for x in results)
        out[name] = {
            "median_s": float(np.median(secs)),
            "min_s": secs[0],
            "max_s": secs[-1],
            "samples_s": [x.seconds for x in results],
            "peak_rss": max(x.peak_rss for x in results),
            "setup_rss": max(x.setup_rss for x in results),
            "bytes": results[-1].output["bytes"],
            "cpu_s": float(np.median([x.output["cpu_s"] for x in results])),
        }
    return out


def pyvips_version() -> str | None:
    """Which pyvips and libvips the baseline loads (asked of a child process: pyvips initialises at import)."""
    code = PYVIPS_IMPORT + (
        'print(f"pyvips {pyvips.__version__}, libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)} '
        "({'pyvips-binary wheel' if pyvips.API_mode else 'system library'})\")"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


# -- the three benchmarks ----------------------------------------------------------------------------------------
def bench_png(canvas: Path, pixels: Path, scratch: Path, repeat: int) -> dict[str, Any]:
    approaches = {
        "ours (deflate 6, 2 cores)": lambda: _run(
            OURS_SETUP, OURS_STMT, scratch / "ours.png", canvas=str(canvas), compression="deflate:6"
        ),
        "Pillow save (level 6)": lambda: _run(ARRAY_SETUP, PILLOW_STMT, scratch / "pillow.png", pixels=str(pixels)),
        "ours (rle, 2 cores)": lambda: _run(
            OURS_SETUP, OURS_STMT, scratch / "ours-rle.png", canvas=str(canvas), compression="rle"
        ),
    }
    res = compare(approaches, repeat)
    ours, pil = res["ours (deflate 6, 2 cores)"], res["Pillow save (level 6)"]
    return {
        "approaches": res,
        "speed_ratio": pil["median_s"] / ours["median_s"],
        "rss_ratio": ours["peak_rss"] / pil["peak_rss"],
    }


TIFF_VARIANTS = {"ours, forced re-encode": "decode", "ours, via Canvas.read": "zarr"}


def bench_tiff(
    canvas: Path, pixels: Path, scratch: Path, repeat: int, compression: str, level: int, with_pyvips: bool
) -> dict[str, Any]:
    tf_name = {"zstd": "zstd", "deflate": "zlib"}[compression]

    def ours(chunks: str) -> Callable[[], _util.ChildResult]:
        return lambda: _run(
            OURS_TIFF_SETUP,
            OURS_STMT,
            scratch / f"ours-{chunks}.tif",
            canvas=str(canvas),
            compression=f"{compression}:{level}",
            chunks=chunks,
        )

    approaches = {
        "ours": ours("pass"),
        "tifffile from memory": lambda: _run(
            TIFFFILE_SETUP,
            TIFFFILE_STMT,
            scratch / "tifffile.tif",
            pixels=str(pixels),
            tf_compression=tf_name,
            level=level,
        ),
    }
    if with_pyvips:
        approaches["pyvips tiffsave"] = lambda: _run(
            PYVIPS_SETUP,
            PYVIPS_STMT,
            scratch / "vips.tif",
            pixels=str(pixels),
            vips_compression=compression,
            level=level,
        )
    for name, chunks in TIFF_VARIANTS.items():
        if compression == "zstd" or chunks != "decode":  # deflate always re-encodes: "ours" is that already
            approaches[name] = ours(chunks)
    res = compare(approaches, repeat)
    ours_s = res["ours"]["median_s"]
    out: dict[str, Any] = {
        "compression": compression,
        "level": level,
        "approaches": res,
        "ratio_vs_tifffile": res["tifffile from memory"]["median_s"] / ours_s,
    }
    if with_pyvips:
        out["ratio_vs_pyvips"] = res["pyvips tiffsave"]["median_s"] / ours_s
        out["variant_ratios_vs_pyvips"] = {
            name: res["pyvips tiffsave"]["median_s"] / res[name]["median_s"] for name in TIFF_VARIANTS if name in res
        }
    return out


def bench_big(side: int, scratch: Path) -> dict[str, Any]:
    _log(f"building the {side}^2 canvas (hard-linked chunks) in {scratch}")
    start = time.perf_counter()
    canvas = build_big_canvas(side, scratch)
    build_s = time.perf_counter() - start
    out: dict[str, Any] = {"side": side, "build_s": build_s}
    try:
        for name, compression in (("tif", "zstd:3"), ("png", "rle")):
            _log(f"  {side}^2 -> .{name} ({compression})")
            res = _run(OURS_SETUP, OURS_STMT, scratch / f"big.{name}", canvas=str(canvas), compression=compression)
            out[name] = {
                "compression": compression,
                "seconds": res.seconds,
                "peak_rss": res.peak_rss,
                "bytes": res.output["bytes"],
                "cpu_s": res.output["cpu_s"],
                "under_limit": res.peak_rss < BIG_RSS_LIMIT,
            }
            _log(
                f"    {res.seconds:.0f} s, peak RSS {_util.fmt_bytes(res.peak_rss)}, "
                f"{_util.fmt_bytes(res.output['bytes'])}"
            )
    finally:
        shutil.rmtree(canvas, ignore_errors=True)
    return out


# -- report ----------------------------------------------------------------------------------------------------
def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _rows(res: dict[str, Any], raw: int) -> list[list[str]]:
    return [
        [
            name,
            _util.fmt_seconds(r["median_s"]),
            f"{raw / r['median_s'] / 2**20:.0f} MiB/s",
            _util.fmt_seconds(r["cpu_s"]) if "cpu_s" in r else "-",
            _util.fmt_bytes(r["peak_rss"]),
            _util.fmt_bytes(r["bytes"]),
            f"{r['bytes'] / raw:.3f}",
        ]
        for name, r in res["approaches"].items()
    ]


def report(results: dict[str, Any]) -> str:
    m = results["machine"]
    n = results["size"]
    raw = n * n * 3
    headers = ["approach", "time (median)", "throughput (raw)", "CPU time (median)", "peak RSS", "file", "size / raw"]
    lines = [
        "## Export (issue 4)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {_util.fmt_bytes(m['ram_bytes'])} RAM, {m['os']}, Python "
        f"{m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items())
        + "; "
        + (results["pyvips"] or "pyvips not installed")
        + ".",
    ]
    for run in results["runs"]:
        lines.append("")
        lines.append(
            f"Command: `{run['command']}` ({', '.join(run['parts'])}; {run['mode']} mode; every approach in a fresh "
            f"process, {run['repeat']} interleaved runs, inputs in the page cache, median time and CPU time "
            f"(user + system, all threads), highest peak RSS; {run['total_s']:.0f} s). "
            + _util.load_note(
                run, m["cores"], "a busy, shared machine: wall times are inflated and noisy; CPU times are steadier"
            )
        )
    lines += [
        "",
        f"Region: {n}x{n} RGB ({_util.fmt_bytes(raw)} raw), photo-like pixels (`photo_like` in `benchmarks/_util.py`). "
        "Ours reads them from the canvas (its Zarr chunks, decoded, or for TIFF zstd 3 copied as stored); "
        "the baselines get them from memory, loaded "
        "before their timer starts (their peak RSS includes the array, which they need whole).",
        "",
    ]
    if "png" in results:
        png = results["png"]
        lines += [
            "### PNG: streaming export vs Pillow",
            "",
            _util.markdown_table(headers, _rows(png, raw)),
            "",
            _util.markdown_table(
                ["target", "measured", "met?"],
                [
                    [
                        f"throughput: Pillow time / ours >= {PNG_SPEED_TARGET}",
                        f"**{png['speed_ratio']:.2f}**",
                        _mark(png["speed_ratio"] >= PNG_SPEED_TARGET),
                    ],
                    [
                        f"peak RSS: ours / Pillow <= {PNG_RSS_TARGET}",
                        f"**{png['rss_ratio']:.3f}**",
                        _mark(png["rss_ratio"] <= PNG_RSS_TARGET),
                    ],
                ],
            ),
            "",
        ]
    for t in results.get("tiff", []):
        lines += [
            f"### TIFF ({t['compression']} level {t['level']}, tiles 1024, BigTIFF): ours vs pyvips and tifffile",
            "",
            _util.markdown_table(headers, _rows(t, raw)),
            "",
        ]
        ours_cpu = t["approaches"]["ours"].get("cpu_s")
        rows = [["tifffile time / ours", f"**{t['ratio_vs_tifffile']:.2f}**", "(reported)"]]
        if "ratio_vs_pyvips" in t:
            rows.insert(
                0,
                [
                    "pyvips time / ours >= 1 (at least as fast)",
                    f"**{t['ratio_vs_pyvips']:.2f}**",
                    _mark(t["ratio_vs_pyvips"] >= 1),
                ],
            )
            for k, (name, ratio) in enumerate(t.get("variant_ratios_vs_pyvips", {}).items()):
                rows.insert(1 + k, [f"pyvips time / {name}", f"{ratio:.2f}", "(reported)"])
        if ours_cpu:
            for name in ("pyvips tiffsave", "tifffile from memory"):
                if name in t["approaches"] and "cpu_s" in t["approaches"][name]:
                    rows.append(
                        [
                            f"CPU time: {name.split()[0]} / ours",
                            f"{t['approaches'][name]['cpu_s'] / ours_cpu:.2f}",
                            "(reported)",
                        ]
                    )
        lines += [_util.markdown_table(["ratio", "measured", "met?"], rows), ""]
    if "big" in results:
        big = results["big"]
        lines += [
            f"### {big['side']}x{big['side']} exports (memory)",
            "",
            f"The canvas repeats one {BLOCK}x{BLOCK} photo-like block (chunk files hard-linked, built in "
            f"{big['build_s']:.0f} s); the PNG export still decodes and encodes all "
            f"{_util.fmt_bytes(big['side'] ** 2 * 3)} of pixels, the TIFF one (zstd 3) copies every stored chunk "
            "into the file.",
            "",
            _util.markdown_table(
                ["format", "compression", "time", "throughput (raw)", "CPU time", "peak RSS", "< 1 GiB?", "file"],
                [
                    [
                        f".{fmt}",
                        r["compression"],
                        _util.fmt_seconds(r["seconds"]),
                        f"{big['side'] ** 2 * 3 / r['seconds'] / 2**20:.0f} MiB/s",
                        _util.fmt_seconds(r["cpu_s"]) if "cpu_s" in r else "-",
                        _util.fmt_bytes(r["peak_rss"]),
                        _mark(r["under_limit"]),
                        _util.fmt_bytes(r["bytes"]),
                    ]
                    for fmt, r in ((k, big[k]) for k in ("tif", "png"))
                ],
            ),
            "",
        ]
    return "\n".join(lines)


def _git() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


PARTS = ("png", "tiff", "big")
RUN_KEYS = ("command", "mode", "repeat", "total_s", "load_before", "load_after")


def _old_run(previous: dict[str, Any]) -> dict[str, Any]:
    """The run record of a results file written before runs were recorded separately (all parts at once)."""
    return {**{k: previous[k] for k in RUN_KEYS if k in previous}, "parts": list(PARTS)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat (a smoke test)")
    parser.add_argument("--repeat", type=int, help="runs per approach (default 3; quick 1)")
    parser.add_argument("--scratch", help="folder for outputs and the large canvas (default: the temp folder)")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="comma-separated subset of png,tiff,big; other parts are kept from the last run of "
        "the same mode in the results JSON",
    )
    args = parser.parse_args(argv)
    results_path = RESULTS_QUICK if args.quick else RESULTS
    parts = [p for p in PARTS if p in args.parts.split(",")]
    n, big = (2048, 4096) if args.quick else (16384, 65536)
    repeat = args.repeat or (1 if args.quick else 3)
    scratch = Path(args.scratch) if args.scratch else Path(tempfile.mkdtemp(prefix="bench-export-"))
    scratch.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(scratch).free
    if "big" in parts and not args.quick and free < 40 * 2**30:
        _log(f"warning: only {_util.fmt_bytes(free)} free in {scratch}; the large exports write up to ~12 GiB each")
    start = time.perf_counter()
    load_before = os.getloadavg()[0]
    _log(f"inputs: {n}^2 pixels and canvas (cached in {_util.CACHE})")
    pixels = ensure_pixels(n)
    canvas = ensure_canvas(n, pixels)
    warm_cache(pixels, canvas)
    vips = pyvips_version()
    if vips is None:
        _log("pyvips is not installed (pip install pyvips, plus a libvips): TIFF compares with tifffile only")
    results: dict[str, Any] = {}
    if set(parts) != set(PARTS) and results_path.exists():
        previous = json.loads(results_path.read_text())
        if previous.get("size") == n:
            results = {k: v for k, v in previous.items() if k in PARTS and k not in parts}
            kept = [p for p in PARTS if p in results]
            results["runs"] = [
                {**r, "parts": [p for p in r["parts"] if p in kept]}
                for r in previous.get("runs") or [_old_run(previous)]
            ]
            results["runs"] = [r for r in results["runs"] if r["parts"]]
    results.update(
        {
            "machine": _util.machine_info(("numpy", "zarr", "PIL", "tifffile", "imkerutils")),
            "size": n,
            "pyvips": vips,
            "git": _git(),
        }
    )
    try:
        if "png" in parts:
            _log("PNG")
            results["png"] = bench_png(canvas, pixels, scratch, repeat)
        if "tiff" in parts:
            results["tiff"] = []
            for compression, level in (("zstd", 3), ("deflate", 6)):
                _log(f"TIFF {compression}")
                results["tiff"].append(
                    bench_tiff(canvas, pixels, scratch, repeat, compression, level, vips is not None)
                )
        if "big" in parts:
            results["big"] = bench_big(big, scratch)
    finally:
        if not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    results.setdefault("runs", []).append(
        {
            "command": " ".join(["python benchmarks/bench_export.py", *(argv if argv is not None else sys.argv[1:])]),
            "parts": parts,
            "mode": "quick" if args.quick else "full",
            "repeat": repeat,
            "total_s": time.perf_counter() - start,
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
        }
    )
    _util.write_json(results_path, results)
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
