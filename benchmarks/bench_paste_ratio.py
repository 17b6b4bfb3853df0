"""Focused paste-vs-zarr ratio (issue 2 target <= 1.3): 120 interleaved rounds on a 4096^2 canvas."""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import zarr

sys.path.insert(0, str(Path(__file__).parent))
from _util import photo_like  # noqa: E402

from imkerutils.tiling import Canvas  # noqa: E402


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="imker-paste-"))
    c = Canvas.create(root / "c.zarr", height=4096, width=4096)
    c.paste(photo_like(4096, 4096), 0, 0)
    z = zarr.open_array(str(root / "c.zarr" / "0"), mode="r+")
    o = c.origin
    px = [photo_like(1024, 1024, seed=s) for s in range(4)]
    tc, tz = [], []
    for i in range(120):
        a = px[i % 4]
        for which in ("canvas", "zarr") if i % 2 else ("zarr", "canvas"):
            t = time.perf_counter()
            if which == "canvas":
                c.paste(a, 300, 500)
                tc.append(time.perf_counter() - t)
            else:
                z[o[0] + 300 : o[0] + 1324, o[1] + 500 : o[1] + 1524] = a
                tz.append(time.perf_counter() - t)
    tc, tz = tc[5:], tz[5:]
    mc, mz = statistics.median(tc), statistics.median(tz)
    print(f"paste canvas median {mc * 1e3:.1f} ms, zarr {mz * 1e3:.1f} ms, ratio of medians {mc / mz:.2f}, "
          f"ratio of bests {min(tc) / min(tz):.2f}, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
