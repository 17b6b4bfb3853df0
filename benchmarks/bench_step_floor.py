"""A growth step against the storage floor (issue 16, point 2): per-step overhead <= 3x raw zarr, wall and CPU.

One round, in alternating order:

* **ours**: ``grow_step(canvas, "right", MockGenerator(), GrowSettings(save_artifacts=False))`` on a canvas
  1024 px high, so a step is one tile; *overhead* = the step minus the generator's own time (wall seconds,
  and CPU seconds of the whole process minus the generator thread's);
* **the floor**: on a plain zarr v3 array with the canvas's codecs (``layout.create_level``: ``(C, H, W)``,
  1024² chunks, transpose + zstd 3), ``resize`` by the same 512 columns and assign the same new pixels
  (the strip the step wrote, read back from the canvas before the floor's timer starts) at the same place.

Both grow from 2048 px wide by 512 px a round, so both do the same read-modify-write of a half-filled chunk
on every other round.  When the floor goes first in a round it pastes the previous strip's pixels (the
step's are not made yet); the step's own pixels are then assigned untimed, so the floor array ends equal to
the canvas, which the script checks.  Targets: median overhead / median floor <= 3, in wall time and in CPU time.  The
per-round ratios' median is reported too (drift of the machine's load hits both halves of a round alike).

Usage::

    python benchmarks/bench_step_floor.py [--rounds N] [--quick]

Markdown goes to stdout, JSON to ``benchmarks/results/step_floor.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _util import RESULTS_DIR, ensure_ignored_dir, fmt_seconds, machine_info, markdown_table, photo_like, write_json
from bench_exquisite import TimedGenerator, timed_step

RESULTS = RESULTS_DIR / "step_floor.json"
TARGET = 3.0
HEIGHT, START, STRIP = 1024, 2048, 512


def run(rounds: int, scratch: str | None) -> dict[str, Any]:
    import zarr

    from imkerutils.exquisite.api.mock import MockGenerator
    from imkerutils.tiling.canvas import Canvas
    from imkerutils.tiling.frame import Frame
    from imkerutils.tiling.layout import create_level
    from imkerutils.tiling.window import Window

    tmp = Path(tempfile.mkdtemp(prefix="imker-floor-", dir=scratch))
    edge = photo_like(HEIGHT, START, seed=0)
    canvas = Canvas.create(tmp / "c.zarr", height=HEIGHT, width=START)
    canvas.paste(edge, 0, 0)
    store = zarr.storage.LocalStore(str(tmp / "floor.zarr"))
    z = create_level(store, Frame(1024, (0, 0)), 0, (HEIGHT, START), 3)
    z[:, :, :] = edge.transpose(2, 0, 1)
    gen = TimedGenerator(MockGenerator())
    width = START
    rows: list[dict[str, float]] = []
    load = [os.getloadavg()[0]]

    def ours(seed: int) -> dict[str, float]:
        t = timed_step(canvas, gen, seed, artifacts=False)  # the same timing as bench_exquisite's, renamed
        return {"step": t["wall"], "step_cpu": t["cpu"], "gen": t["gen_wall"]} | {
            k: t[k] for k in ("gen_cpu", "overhead", "overhead_cpu")
        }

    def floor(col: int, strip: np.ndarray) -> dict[str, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        z.resize((3, HEIGHT, col + STRIP))
        z[:, :, col : col + STRIP] = strip.transpose(2, 0, 1)
        return {"floor": time.perf_counter() - w0, "floor_cpu": time.process_time() - c0}

    warm = 3
    for r in range(warm + rounds):
        row: dict[str, float] = {}
        if r % 2 == 0:
            row |= ours(1000 + r)
            strip = canvas.read(Window(0, width, HEIGHT, STRIP))
            row |= floor(width, strip)
        else:  # the floor first, with the previous round's pixels; the step's own go in after, untimed
            row |= floor(width, strip)
            row |= ours(1000 + r)
            strip = canvas.read(Window(0, width, HEIGHT, STRIP))
            z[:, :, width : width + STRIP] = strip.transpose(2, 0, 1)
        width += STRIP
        if r >= warm:
            rows.append(row)
    got = np.asarray(z[:, :, :]).transpose(1, 2, 0)
    want = canvas.read(Window(0, 0, HEIGHT, got.shape[1]))
    load.append(os.getloadavg()[0])
    med = {k: statistics.median(x[k] for x in rows) for k in rows[0]}
    return {
        "rounds": rounds,
        "load_1min": load,
        "median": med,
        "best": {k: min(x[k] for x in rows) for k in rows[0]},
        "ratio_wall": med["overhead"] / med["floor"],
        "ratio_cpu": med["overhead_cpu"] / med["floor_cpu"],
        "ratio_wall_per_round": statistics.median(x["overhead"] / x["floor"] for x in rows),
        "ratio_cpu_per_round": statistics.median(x["overhead_cpu"] / x["floor_cpu"] for x in rows),
        "floor_matches_canvas": bool(np.array_equal(got[:, : width - STRIP], want[:, : width - STRIP])),
        "rows": rows,
    }


def _median_row(label: str, m: dict[str, float], suffix: str, ratio: float, per_round: float) -> list[str]:
    """A table row of the medians ``m[<name><suffix>]`` (wall: no suffix, CPU: ``_cpu``) and the ratio to the target."""
    times = [fmt_seconds(m[name + suffix]) for name in ("step", "gen", "overhead", "floor")]
    return [label, *times, f"**{ratio:.2f}**", f"{per_round:.2f}", "yes" if ratio <= TARGET else "**no**"]


def report(res: dict[str, Any]) -> str:
    m, b = res["median"], res["best"]
    lines = [
        f"Rounds: {res['rounds']} (after 3 warm-up rounds), load average (1 min) "
        f"{res['load_1min'][0]:.1f} -> {res['load_1min'][1]:.1f}.",
        "",
        markdown_table(
            [
                "",
                "step",
                "generator",
                "overhead",
                "floor (zarr resize + paste)",
                "overhead / floor",
                "per round",
                "<= 3?",
            ],
            [
                _median_row("wall (median)", m, "", res["ratio_wall"], res["ratio_wall_per_round"]),
                _median_row("CPU (median)", m, "_cpu", res["ratio_cpu"], res["ratio_cpu_per_round"]),
                [
                    "wall (best)",
                    fmt_seconds(b["step"]),
                    fmt_seconds(b["gen"]),
                    fmt_seconds(b["overhead"]),
                    fmt_seconds(b["floor"]),
                    f"{b['overhead'] / b['floor']:.2f}",
                    "",
                    "",
                ],
            ],
        ),
        "",
        f"The floor array holds the canvas's pixels at the end: {res['floor_matches_canvas']}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 rounds")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 40)")
    parser.add_argument("--scratch", help="folder for the canvases (default: the temp folder)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (10 if args.quick else 40)
    res = {"machine": machine_info(), "command": "python benchmarks/bench_step_floor.py " + " ".join(sys.argv[1:])}
    res |= run(rounds, args.scratch)
    res["markdown"] = report(res)
    ensure_ignored_dir(RESULTS.parent)
    write_json(RESULTS, res)
    sys.stdout.write(res["markdown"])
    ok = res["ratio_wall"] <= TARGET and res["ratio_cpu"] <= TARGET and res["floor_matches_canvas"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
