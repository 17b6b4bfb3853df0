"""Import benchmark (issue 16, point 1): ``Canvas.from_image`` against the plain pyvips -> zarr strip loop.

Both read the same photo-like PNG, each in a fresh interpreter (peak RSS = the child's own VmHWM), in
alternating order. The reference is the loop anyone would write: libvips in sequential access, one strip of
1024 rows fetched at a time, assigned to a zarr v3 array with 1024 x 1024 chunks (zarr's default codecs).
Ours is ``Canvas.from_image(png, path, trusted=True)``: the same decode plus the journal, the manifest
(a SHA-256 per chunk), and the pyramid; "ours, level 0" is the same import without the pyramid (the
strips written as one journaled step, ``importer.write_strips``), to show what the pyramid costs.

Targets (issue 16): time <= 1.0x the loop, peak RSS <= 300 MiB flat in size.

    python benchmarks/bench_import.py            # 12000^2 and 20000^2
    python benchmarks/bench_import.py --full     # also 60000 x 20000
    python benchmarks/bench_import.py --quick    # 4000^2, a smoke run
    python benchmarks/bench_import.py --baseline /path/to/other/checkout   # also "ours" from that checkout
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _util import (
    CACHE,
    RESULTS_DIR,
    fmt_bytes,
    fmt_seconds,
    machine_info,
    made_once,
    markdown_table,
    publish,
    run_measured,
    run_parts,
)

HERE = Path(__file__).parent
RESULTS = RESULTS_DIR / "bench_import.json"

MAKE_PNG = """
import sys
sys.path.insert(0, {here!r})
import pyvips
from _util import photo_like
h, w, out = {h}, {w}, {out!r}
rows = []
for r0 in range(0, h, 4096):  # built a band at a time, each band its own seed: never the whole image
    band = photo_like(min(4096, h - r0), w, seed=r0)
    rows.append(pyvips.Image.new_from_array(band, interpretation="srgb").copy_memory())
image = rows[0]
for band in rows[1:]:  # join, not arrayjoin: arrayjoin pads every band to the largest's size
    image = image.join(band, "vertical")
image.pngsave(out + ".partial.png", compression=1)
import os
os.replace(out + ".partial.png", out)
"""

REFERENCE = """
import numpy as np, pyvips, zarr
img = pyvips.Image.new_from_file(PNG, access="sequential")
h, w, c = img.height, img.width, img.bands
z = zarr.create_array(store=OUT, shape=(h, w, c), chunks=(1024, 1024, c), dtype="uint8", fill_value=0)
region = pyvips.Region.new(img)
for top in range(0, h, 1024):
    n = min(1024, h - top)
    z[top:top + n] = np.frombuffer(region.fetch(0, top, w, n), np.uint8).reshape(n, w, c)
result = [h, w]
"""

OURS = """
from imkerutils.tiling import Canvas
c = Canvas.from_image(PNG, OUT, trusted=True)
result = [c.bounds.height, c.bounds.width]
"""

OURS_LEVEL0 = """
from imkerutils.tiling import Canvas, Window
from imkerutils.tiling.decode import iter_strips, probe
from imkerutils.tiling.importer import write_strips
info = probe(PNG, trusted=True)
c = Canvas.create(OUT, mode=info.mode)
write_strips(c, iter_strips(info), Window(0, 0, info.height, info.width), {})
result = [c.bounds.height, c.bounds.width]
"""

APPROACHES = {"pyvips -> zarr loop": REFERENCE, "ours (Canvas.from_image)": OURS, "ours, level 0 only": OURS_LEVEL0}


def log(msg: str) -> None:
    print(f"[bench_import] {msg}", file=sys.stderr, flush=True)


def make_png(h: int, w: int) -> Path:
    out = CACHE / f"import_{h}x{w}.png"
    return made_once(out, MAKE_PNG.format(here=str(HERE), h=h, w=w, out=str(out)), log)


BASELINE = "ours, baseline checkout"


def measure(size: tuple[int, int], repeat: int, tmp: Path, baseline: str | None = None) -> dict[str, Any]:
    png = make_png(*size)
    approaches = dict(APPROACHES) if baseline is None else {**APPROACHES, BASELINE: OURS}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in approaches}
    names = list(approaches)
    for i in range(repeat):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            out = tmp / f"{len(runs[name])}-{names.index(name)}.zarr"
            setup = f"PNG, OUT = {str(png)!r}, {str(out)!r}\nimport numpy, zarr, pyvips"
            env = {"PYTHONPATH": baseline} if name == BASELINE and baseline is not None else None
            # ``python -c`` puts its working directory first on sys.path: each child runs in the checkout
            # it measures, or the baseline would import this checkout's imkerutils (as it did before).
            cwd = baseline if name == BASELINE and baseline is not None else str(HERE.parent)
            res = run_measured(setup, approaches[name], env=env, cwd=cwd)
            assert res.output == list(size), (name, res.output)
            runs[name].append(res.to_dict())
            log(f"{size[0]}x{size[1]} {name}: {res.seconds:.1f} s, peak {res.peak_rss / 2**20:.0f} MiB")
            import shutil

            shutil.rmtree(out, ignore_errors=True)
    return {"png": str(png), "png_bytes": png.stat().st_size, "runs": runs}


def median(xs: list[float]) -> float:
    import statistics

    return statistics.median(xs)


def report(results: dict[str, Any]) -> str:
    lines = [
        "## Import (issue 16)",
        "",
        f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores."
        + (f" Baseline: {results['baseline']['commit']}." if "baseline" in results else ""),
        "Each cell: median over the repeats, each run a fresh interpreter; *time* is the import alone, "
        "*peak RSS* the child's own VmHWM (imports included).",
        "",
    ]
    rows = []
    for key, data in results["sizes"].items():
        if not isinstance(data, dict) or "runs" not in data:
            continue
        ref = median([r["seconds"] for r in data["runs"]["pyvips -> zarr loop"]])
        for name, runs in data["runs"].items():
            t = median([r["seconds"] for r in runs])
            rows.append(
                [
                    key,
                    name,
                    fmt_seconds(t),
                    f"{t / ref:.2f}x",
                    fmt_bytes(max(r["peak_rss"] for r in runs)),
                    fmt_bytes(max(r["setup_rss"] for r in runs)),
                ]
            )
    lines.append(markdown_table(["image", "approach", "time", "time / loop", "peak RSS", "RSS after imports"], rows))
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one 4000^2 image, one repeat")
    ap.add_argument("--full", action="store_true", help="also 60000 x 20000")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each approach per size (alternating order)")
    ap.add_argument("--size", action="append", help="WxH instead of the default sizes (repeatable)")
    ap.add_argument("--baseline", help="a checkout whose Canvas.from_image runs as a fourth approach (before/after)")
    args = ap.parse_args()
    sizes = [(4000, 4000)] if args.quick else [(12000, 12000), (20000, 20000)]
    if args.full:
        sizes.append((20000, 60000))
    if args.size:
        sizes = [(int(s.split("x")[1]), int(s.split("x")[0])) for s in args.size]
    start = time.perf_counter()
    results: dict[str, Any] = {"machine": machine_info(("numpy", "zarr", "pyvips", "imkerutils")), "sizes": {}}
    jobs = {f"{w}x{h}": (lambda tmp, s=(h, w): measure(s, args.repeat, tmp, args.baseline)) for h, w in sizes}  # W x H
    if args.baseline:
        import subprocess

        head = subprocess.run(
            ["git", "-C", args.baseline, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        results["baseline"] = {"path": args.baseline, "commit": head.stdout.strip()}
    sized: dict[str, Any] = results["sizes"]
    run_parts(jobs, sized, RESULTS, start=start, log=log, tmp_prefix="bench_import_")
    publish(results, report, RESULTS, log)


if __name__ == "__main__":
    main()
