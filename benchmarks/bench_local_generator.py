"""The offline ``local`` generator on photographs: time per tile, banding and repetition.

Each photograph (the repository's ``landscape.jpg`` and six bundled in the
scikit-image wheel, loaded offline, each centre-cropped to 1024 x 1024 as in
``bench_exquisite.py``) is cut in two along the growth direction: the first
512 px are the band, the other 512 px are the photograph's own continuation.
The generator grows the band into the same 1024 x 512 region (seed 11), and
both the generated and the real region are scored against the band with
:func:`~imkerutils.exquisite.geometry.quality.banding_score` and
:func:`~imkerutils.exquisite.geometry.quality.repetition_score`.  A photograph
*passes* when the generated region scores at most the real one on both
measures.

``--baseline REV`` also runs the generator as it was at git revision ``REV``
(``local.py``, ``_quilting.py`` and, from version 3 on, ``_tone.py`` read with ``git show``), tile by tile
interleaved with the current one, so both times come from the same load.

Usage::

    python benchmarks/bench_local_generator.py [--baseline REV] [--directions right [down ...]] [--save DIR] [--quick]

Each direction is one run of about 2 minutes with ``--baseline`` (7 photographs, two generators).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _util import RESULTS_DIR, machine_info, markdown_table, write_json
from bench_exquisite import PHOTOS, load_photos

from imkerutils.exquisite.api.base import TileRequest
from imkerutils.exquisite.api.local import LocalGenerator
from imkerutils.exquisite.geometry.direction import Direction, from_right, to_right
from imkerutils.exquisite.geometry.quality import banding_score, repetition_score

HERE = Path(__file__).resolve().parent
SIZE, HALF = 1024, 512
SEED = 11
TIME_TARGET = 1.2


def request_for(photo: np.ndarray, direction: Direction) -> tuple[TileRequest, np.ndarray, np.ndarray]:
    """(request growing the photo's first half, band, real continuation), the last two right-facing."""
    right = to_right(photo, direction)
    band, real = right[:, :HALF], right[:, HALF:]
    ref = np.empty_like(right)
    ref[:, :HALF] = band
    ref[:, HALF:] = band[:, -1:]  # the pipeline's edge-replicate hint
    gen = np.zeros(right.shape[:2], bool)
    gen[:, HALF:] = True
    request = TileRequest(
        np.ascontiguousarray(from_right(ref, direction)),
        np.ascontiguousarray(from_right(gen, direction)),
        "continue the photograph",
        SEED,
        direction,
        SIZE,
    )
    return request, band, real


def baseline_generator(rev: str) -> Any:
    """A ``LocalGenerator`` built from ``local.py``, ``_quilting.py`` (and ``_tone.py``) as they were at ``rev``."""
    root = HERE.parent

    def show(path: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), "show", f"{rev}:{path}"], check=True, capture_output=True, text=True
        ).stdout

    tmp = Path(tempfile.mkdtemp(prefix="bench-local-baseline-"))
    files = {  # module name in the temporary folder: the file it is read from (in import order)
        "_baseline_tone": "imkerutils/exquisite/api/_tone.py",
        "_baseline_quilting": "imkerutils/exquisite/api/_quilting.py",
        "_baseline_local": "imkerutils/exquisite/api/local.py",
    }
    if "_tone.py" not in show("imkerutils/exquisite/api/").split():  # before version 3
        del files["_baseline_tone"]
    for name, path in files.items():
        text = show(path)
        for dep in ("_tone", "_quilting"):
            text = text.replace(f"imkerutils.exquisite.api.{dep}", f"_baseline{dep}")
        (tmp / f"{name}.py").write_text(text)
    modules = {}
    for name in files:
        spec = importlib.util.spec_from_file_location(name, tmp / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        modules[name] = module
    return modules["_baseline_local"].LocalGenerator()


def run_one(generator: Any, request: TileRequest, direction: Direction) -> tuple[np.ndarray, float, float]:
    """(right-facing generated region, wall s, CPU s)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    image = generator.generate(request).image
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return to_right(image, direction)[:, HALF:], wall, cpu


def scores(new: np.ndarray, band: np.ndarray) -> dict[str, float]:
    return {"banding": banding_score(new, band), "repetition": repetition_score(new, band)}


def passes(s: dict[str, float], own: dict[str, float]) -> bool:
    return s["banding"] <= own["banding"] and s["repetition"] <= own["repetition"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REV", help="also run the generator of this git revision")
    parser.add_argument("--directions", nargs="+", default=["right"], choices=["right", "left", "up", "down"])
    parser.add_argument("--photos", nargs="+", default=PHOTOS, help="scikit-image photographs (plus the sample)")
    parser.add_argument("--save", metavar="DIR", help="write band + real + generated regions as PNG")
    parser.add_argument("--quick", action="store_true", help="smoke run: one scikit-image photograph and the sample")
    args = parser.parse_args(argv)
    photos, note = load_photos(args.photos[:1] if args.quick else args.photos)
    versions: dict[str, Any] = {"new": LocalGenerator()}
    if args.baseline:
        versions = {"old": baseline_generator(args.baseline), **versions}
    rows = []
    start = time.perf_counter()
    for name, px, _shape, scale in photos:
        for d in args.directions:
            direction = Direction.parse(d)
            request, band, real = request_for(px, direction)
            row: dict[str, Any] = {
                "photo": name.split(" ")[0],
                "upscale": scale,
                "direction": d,
                "own": scores(real, band),
            }
            for key, gen in versions.items():
                new, wall, cpu = run_one(gen, request, direction)
                row[key] = {**scores(new, band), "wall_s": wall, "cpu_s": cpu}
                row[key]["pass"] = passes(row[key], row["own"])
                if args.save:
                    from PIL import Image

                    out = Path(args.save)
                    out.mkdir(parents=True, exist_ok=True)
                    strip = np.concatenate([band, real, band[:, :8] * 0, new], axis=1)
                    Image.fromarray(from_right(strip, direction)).save(out / f"{row['photo']}-{d}-{key}.png")
            rows.append(row)
            print(
                f"{row['photo']:<20} {d:<5} own b {row['own']['banding']:.2f} r {row['own']['repetition']:.3f} "
                + " ".join(
                    f"| {k} b {row[k]['banding']:.2f} r {row[k]['repetition']:.3f} "
                    f"{row[k]['cpu_s']:.2f}s {'pass' if row[k]['pass'] else 'FAIL'}"
                    for k in versions
                ),
                file=sys.stderr,
                flush=True,
            )
    summary = {
        k: {
            "median_wall_s": statistics.median(r[k]["wall_s"] for r in rows),
            "median_cpu_s": statistics.median(r[k]["cpu_s"] for r in rows),
        }
        for k in versions
    }
    results = {
        "machine": machine_info(("numpy", "scipy", "skimage", "imkerutils")),
        "note": note,
        "baseline": args.baseline,
        "generator": repr(versions["new"]),
        "rows": rows,
        "summary": summary,
        "total_s": time.perf_counter() - start,
    }
    write_json(RESULTS_DIR / f"local-generator-{'-'.join(args.directions)}.json", results)
    print(report(results, list(versions)))
    return 0


def report(results: dict[str, Any], keys: list[str]) -> str:
    headers = ["photo", "grow", "own banding", "own repetition"]
    for k in keys:
        headers += [f"{k} banding", f"{k} repetition", f"{k} CPU s / tile", f"{k} passes"]
    table = []
    for r in results["rows"]:
        line = [r["photo"], r["direction"], f"{r['own']['banding']:.2f}", f"{r['own']['repetition']:.3f}"]
        for k in keys:
            line += [
                f"{r[k]['banding']:.2f}",
                f"{r[k]['repetition']:.3f}",
                f"{r[k]['cpu_s']:.2f}",
                "yes" if r[k]["pass"] else "no",
            ]
        table.append(line)
    out = [markdown_table(headers, table), ""]
    for k in keys:
        s = results["summary"][k]
        n_pass = {
            d: sum(r[k]["pass"] for r in results["rows"] if r["direction"] == d)
            for d in dict.fromkeys(r["direction"] for r in results["rows"])
        }
        n_all = {d: sum(1 for r in results["rows"] if r["direction"] == d) for d in n_pass}
        out.append(
            f"{k}: median {s['median_cpu_s']:.2f} s CPU ({s['median_wall_s']:.2f} s wall) per tile; passes "
            + ", ".join(f"{n_pass[d]}/{n_all[d]} growing {d}" for d in n_pass)
        )
    if "old" in keys:
        ratio_cpu = results["summary"]["new"]["median_cpu_s"] / results["summary"]["old"]["median_cpu_s"]
        ratio_wall = results["summary"]["new"]["median_wall_s"] / results["summary"]["old"]["median_wall_s"]
        out.append(
            f"time per tile new / old: {ratio_cpu:.2f} (CPU), {ratio_wall:.2f} (wall); "
            f"target <= {TIME_TARGET}: {'met' if ratio_cpu <= TIME_TARGET else 'NOT met'}"
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
