"""Focused paste-vs-zarr ratio (issue 2 target <= 1.3): 120 interleaved rounds on a 4096^2 canvas.

The baseline assigns the same pixels to the same region of the canvas's own level-0 array with plain Zarr:
``zarr.open_array(path + "/" + frame.path(0))`` is ``(C, H, W)``, world (0, 0) sits at ``frame.shift(0)``,
so the block goes in as ``block.transpose(2, 0, 1)`` (a view; the codec's transpose stores chunky bytes).

Usage: ``python benchmarks/bench_paste_ratio.py [--rounds N]`` (default 120; ``--quick`` = 40).
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr

sys.path.insert(0, str(Path(__file__).parent))
from _util import photo_like

from imkerutils.tiling import Canvas, Window


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 120)")
    parser.add_argument("--quick", action="store_true", help="40 rounds")
    args = parser.parse_args(argv)
    rounds = args.rounds or (40 if args.quick else 120)
    root = Path(tempfile.mkdtemp(prefix="imker-paste-"))
    c = Canvas.create(root / "c.zarr", height=4096, width=4096)
    c.paste(photo_like(4096, 4096), 0, 0)
    frame = c.frame
    z = zarr.open_array(str(root / "c.zarr") + "/" + frame.path(0), mode="r+")
    a0 = frame.to_array(Window(300, 500, 1024, 1024))
    r, col = a0.row_off, a0.col_off
    px = [photo_like(1024, 1024, seed=s) for s in range(4)]
    tc, tz = [], []
    for i in range(rounds):
        a = px[i % 4]
        for which in ("canvas", "zarr") if i % 2 else ("zarr", "canvas"):
            t = time.perf_counter()
            if which == "canvas":
                c.paste(a, 300, 500)
                tc.append(time.perf_counter() - t)
            else:
                z[:, r : r + 1024, col : col + 1024] = a.transpose(2, 0, 1)
                tz.append(time.perf_counter() - t)
    assert np.array_equal(c.read(Window(300, 500, 1024, 1024)), px[(rounds - 1) % 4])
    assert np.array_equal(np.asarray(z[:, r : r + 1024, col : col + 1024]).transpose(1, 2, 0), px[(rounds - 1) % 4])
    tc, tz = tc[5:], tz[5:]
    mc, mz = statistics.median(tc), statistics.median(tz)
    print(
        f"paste canvas median {mc * 1e3:.1f} ms, zarr {mz * 1e3:.1f} ms, ratio of medians {mc / mz:.2f}, "
        f"ratio of bests {min(tc) / min(tz):.2f}, {rounds} rounds, load {os.getloadavg()[0]:.1f}"
    )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
