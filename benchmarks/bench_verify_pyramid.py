"""verify and the pyramid at disk speed (issue 16, point 3), side by side in one run.

* verify (level-0 tiles and the pyramid) against decoding the same stored chunks with numcodecs alone
  (serial ``numcodecs.Zstd().decode`` of every chunk file's bytes): throughput ratio, target >= 0.5;
* ``update_pyramid`` of the same level 0 on 1 thread and on 2: speed-up, target >= 1.7.

Usage: ``python benchmarks/bench_verify_pyramid.py [--side PX] [--repeat N]`` (default 6144, 3 repeats).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _util import photo_like


def main(argv: list[str] | None = None) -> int:
    import numcodecs

    from imkerutils.tiling import Canvas

    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--side", type=int, default=6144)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    side = 2048 if a.quick else a.side
    tmp = Path(tempfile.mkdtemp(prefix="imker-vp-"))
    load = [os.getloadavg()[0]]
    src = tmp / "src.zarr"
    c = Canvas.create(src, height=side, width=side)
    c.paste(photo_like(side, side), 0, 0)
    tv, tn, t1, t2 = [], [], [], []
    for r in range(a.repeat):
        for n, which in enumerate(("1", "2") if r % 2 == 0 else ("2", "1")):
            dst = tmp / f"p{which}.zarr"
            shutil.copytree(src, dst)
            cc = Canvas.open(dst)
            t = time.perf_counter()
            cc.update_pyramid(workers=int(which))
            (t1 if which == "1" else t2).append(time.perf_counter() - t)
            if which == "1" and n >= 0:
                keep = dst
            else:
                shutil.rmtree(dst)
        files = [f for f in keep.rglob("*") if "/c/" in str(f) and f.is_file()]
        mb = sum(f.stat().st_size for f in files) / 2**20
        for which in ("verify", "numcodecs") if r % 2 == 0 else ("numcodecs", "verify"):
            t = time.perf_counter()
            if which == "verify":
                assert Canvas.open(keep).verify().ok
                tv.append(time.perf_counter() - t)
            else:
                z = numcodecs.Zstd()
                for f in files:
                    z.decode(f.read_bytes())
                tn.append(time.perf_counter() - t)
        shutil.rmtree(keep)
    load.append(os.getloadavg()[0])
    m = statistics.median
    print(
        f"canvas {side}x{side}, {len(files)} chunk files ({mb:.0f} MiB stored), {a.repeat} interleaved repeats, "
        f"load {load[0]:.1f} -> {load[1]:.1f}"
    )
    print("| measure | time (median) | ratio | target |\n|---|---|---|---|")
    print(
        f"| verify (full) vs numcodecs decode of the same chunks | {m(tv):.2f} s vs {m(tn):.2f} s | "
        f"**{m(tn) / m(tv):.2f}** (throughput verify / numcodecs) | >= 0.5 |"
    )
    print(f"| update_pyramid, 1 thread vs 2 | {m(t1):.2f} s vs {m(t2):.2f} s | **{m(t1) / m(t2):.2f}x** | >= 1.7 |")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
