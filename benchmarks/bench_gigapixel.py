"""A gigapixel, end to end (issue 16, point 4): import, grow an edge on a cluster, pyramid, TIFF, first UI view.

Starts from a 32768x32768 JPEG (1.07 gigapixels, photo-like), made once with pyvips in bounded memory and
cached (``--cache``): a 4096² ``photo_like`` texture, tiled 8x8 with ``arrayjoin``, each copy flipped or
turned and given its own gain and colour offset so no two neighbouring chunks are alike. Each stage then runs
in its own fresh process, so each process's peak RSS is its own ``VmHWM``:

1. **import**: ``imkerutils new CANVAS --from IMAGE --trust-large`` (decode, chunks, manifest, pyramid);
2. **grow**: ``imkerutils grow CANVAS -d right -g local --scheduler ADDR --no-artifacts``: one whole edge
   (32 generator tiles of 1024 px, 512 px deep) on a ``dask.distributed`` ``LocalCluster`` of 2 worker
   processes with 1 thread each, started beforehand in a process of its own (scheduler and nannies); the
   peaks of the stage's process, the cluster's process and every worker (``client.run``) are reported;
3. **pyramid**: ``Canvas.update_pyramid(client=...)`` on a fresh cluster of the same shape;
4. **TIFF**: ``imkerutils export CANVAS out.tif --pyramid`` (tiled BigTIFF, deflate, every coarser level);
5. **first UI view**: ``python -m imkerutils.exquisite.ui CANVAS --port 0`` on loopback; the time from
   starting it to having fetched what a browser fetches for the first view: the page, its scripts and
   style, ``/api/state``, and the JPEG tiles of every pyramid level from the coarsest down to the first
   one at least as sharp as the canvas fitted into a 1400x860 viewport (6 connections, as a browser
   opens); the server's ``VmHWM`` before it is stopped.

Beside them, what pyvips alone takes (each in its own process too): for the import, the plain pyvips ->
zarr strip loop of ``bench_import.py`` on the same JPEG; for the TIFF, ``tiffsave`` of the same JPEG
(sequential access) as a tiled pyramidal BigTIFF with the same tile size and codec (1024, deflate 6,
no predictor). Target (issue 16): every process <= 400 MiB. A benchmark reports, it does not assert.

    python benchmarks/bench_gigapixel.py                 # 32768², the whole edge (12-15 min on 2 loaded cores)
    python benchmarks/bench_gigapixel.py --quick         # 8192², a smoke run
    python benchmarks/bench_gigapixel.py --side 2048     # any side (a multiple of 1024)

``--quick`` alone shrinks the image to 8192²; the grown edge is always the whole edge (the CLI runs only
whole-edge steps on a scheduler). Markdown goes to stdout, JSON to ``benchmarks/results/gigapixel.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _util
from bench_import import REFERENCE as PYVIPS_IMPORT

if TYPE_CHECKING:
    from collections.abc import Iterator

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "gigapixel.json"
TARGET_MIB = 400
MIB = 2**20
VIEWPORT = (1400, 860)  # width, height: bench_ui.py's browser viewport
BROWSER_CONNECTIONS = 6  # what a browser opens per host

MAKE_IMAGE = """
import os, sys
sys.path.insert(0, {here!r})
import pyvips
from _util import photo_like
side, out = {side}, {out!r}
block = min(4096, side)
texture = pyvips.Image.new_from_array(photo_like(block, block, seed=7), interpretation="srgb").copy_memory()
n = side // block
copies = []
for i in range(n * n):  # each copy flipped / turned and with its own gain and colour offset
    v = texture
    if i % 2:
        v = v.fliphor()
    if (i // 2) % 2:
        v = v.flipver()
    if (i // 4) % 2:
        v = v.rot180()
    gain = 0.8 + 0.4 * ((i * 37) % (n * n)) / max(1, n * n - 1)
    offset = [((i * k) % 7 - 3) * 6.0 for k in (13, 5, 11)]
    copies.append(v.linear([gain] * 3, offset).cast("uchar"))
pyvips.Image.arrayjoin(copies, across=n).jpegsave(out + ".partial.jpg", Q=90)
os.replace(out + ".partial.jpg", out)
"""

PYVIPS_TIFF = """
img = pyvips.Image.new_from_file(IMAGE, access="sequential")
img.tiffsave(OUT, tile=True, tile_width=1024, tile_height=1024, pyramid=True, compression="deflate", level=6,
             predictor="none", bigtiff=True)
result = os.path.getsize(OUT)
"""

CLI = """
import contextlib, io, json
from imkerutils.cli.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    status = main({argv!r})
assert status == 0, status
result = json.loads(out.getvalue()) if "--json" in {argv!r} else None
"""

PYRAMID = """
from distributed import Client
from imkerutils.tiling import Canvas
with Client({address!r}) as client:
    result = Canvas.open({canvas!r}).update_pyramid(client=client)
"""

CLUSTER = """
import sys
from distributed import LocalCluster
cluster = LocalCluster(n_workers={workers}, threads_per_worker=1, processes=True, memory_limit={limit!r},
                       dashboard_address=None)
print(cluster.scheduler_address, flush=True)
sys.stdin.read()  # until the benchmark closes our standard input
cluster.close()
"""


def log(msg: str) -> None:
    print(f"[bench_gigapixel {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def make_image(side: int, cache: Path) -> Path:
    """The photo-like ``side`` x ``side`` JPEG, made once in ``cache``."""
    out = cache / f"gigapixel-{side}.jpg"
    return _util.made_once(out, MAKE_IMAGE.format(here=str(HERE), side=side, out=str(out)), log)


def _worker_peak() -> dict[str, int]:
    """Run on a worker: its pid and its own ``VmHWM``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return {"pid": os.getpid(), "peak_rss": int(line.split()[1]) * 1024}
    return {"pid": os.getpid(), "peak_rss": -1}


@contextmanager
def cluster(workers: int, memory_limit: str) -> Iterator[dict[str, Any]]:
    """A ``LocalCluster`` in a process of its own; yields ``{"address": ...}`` and fills in the peaks on exit.

    On exit the dict gets ``workers`` (each worker's pid and ``VmHWM``, asked over the scheduler),
    ``restarted`` (whether a worker's pid changed: a nanny restarts a worker over its memory limit, which
    would lose its peak) and ``cluster_process`` (the scheduler and nannies' own process).
    """
    from distributed import Client

    proc = subprocess.Popen(
        [sys.executable, "-c", CLUSTER.format(workers=workers, limit=memory_limit)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    info: dict[str, Any] = {"address": proc.stdout.readline().strip(), "memory_limit": memory_limit}
    try:
        with Client(info["address"], timeout=120) as client:
            client.wait_for_workers(workers, timeout=120)
            before = {w["pid"] for w in client.run(_worker_peak).values()}
            yield info
            peaks = client.run(_worker_peak)
        info["workers"] = sorted(peaks.values(), key=lambda w: w["pid"])
        info["restarted"] = {w["pid"] for w in info["workers"]} != before
        info["cluster_process"] = {"pid": proc.pid, "peak_rss": _util.vm_hwm(proc.pid)}
    finally:
        proc.stdin.close()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(60)


def stage(setup: str, stmt: str, cwd: Path) -> dict[str, Any]:
    """``stmt`` in a fresh interpreter (:func:`_util.run_measured`): its times, its own peak RSS, its result."""
    res = _util.run_measured(setup, stmt, cwd=cwd, timeout=3 * 3600)
    return res.to_dict()


def cli(*argv: str) -> str:
    return CLI.format(argv=list(argv))


def first_view_paths(state: dict[str, Any]) -> list[str]:
    """The tiles a browser asks for first: every level from the coarsest to the first one as sharp as the screen.

    The canvas bounds are fitted into :data:`VIEWPORT` (the viewer's home view); level ``L`` shows
    ``1 / 2**L`` of a canvas pixel per image pixel, so the finest level fetched is the largest ``L`` with
    ``1 / 2**L >= scale``. Each level's tiles that meet the bounds are fetched (JPEG, as the viewer asks
    for an RGB canvas's tiles).
    """
    viewer, b = state["viewer"], state["canvas"]["bounds"]
    frame, tile, levels = viewer["frame"], viewer["tile"], int(viewer["levels"])
    scale = min(VIEWPORT[0] / b["width"], VIEWPORT[1] / b["height"])
    finest = max(0, min(levels - 1, math.floor(-math.log2(scale))))
    paths = []
    for level in range(levels - 1, finest - 1, -1):
        f = 2**level
        x0, y0 = (b["col_off"] - frame["col_off"]) // f, (b["row_off"] - frame["row_off"]) // f
        x1, y1 = (
            -(-(b["col_off"] - frame["col_off"] + b["width"]) // f),
            -(-(b["row_off"] - frame["row_off"] + b["height"]) // f),
        )
        for row in range(y0 // tile, -(-y1 // tile)):
            for col in range(x0 // tile, -(-x1 // tile)):
                paths.append(f"/api/tiles/{level}/{col}/{row}.jpg?v={state['token']}")
    return paths


def first_ui_view(canvas: Path) -> dict[str, Any]:
    """Start the UI server on ``canvas`` and fetch the first view as a browser does; time and server peak."""
    import httpx

    start = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "imkerutils.exquisite.ui", str(canvas), "--port", "0", "--host", "127.0.0.1"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            if "http://" not in line:
                err.seek(0)
                raise RuntimeError(f"the UI server did not start: {line!r}\n{err.read()[-4000:]}")
            url = next(word for word in line.split() if word.startswith("http://")).rstrip("/")
            listening = time.perf_counter() - start
            with httpx.Client(base_url=url, trust_env=False, timeout=600) as client:
                page = client.get("/")
                page.raise_for_status()
                assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
                state = client.get("/api/state").json()
            paths = first_view_paths(state)
            size = len(page.content) + asyncio.run(_util.fetch_all(url, [*assets, *paths], BROWSER_CONNECTIONS))
            seconds = time.perf_counter() - start
            peak = _util.vm_hwm(proc.pid)
        finally:
            proc.terminate()
            proc.wait(60)
    return {
        "wall_seconds": seconds,
        "listening_seconds": listening,
        "peak_rss": peak,
        "tiles": len(paths),
        "assets": len(assets),
        "bytes": size,
    }


def run(args: argparse.Namespace, tmp: Path, results: dict[str, Any]) -> None:
    image = make_image(args.side, args.cache)
    canvas, tif, ref_zarr, ref_tif = tmp / "giga.zarr", tmp / "giga.tif", tmp / "ref.zarr", tmp / "ref.tif"
    results["image"] = {"path": str(image), "bytes": image.stat().st_size, "side": args.side}
    stages: dict[str, Any] = results["stages"]
    refs: dict[str, Any] = results["pyvips"]

    def save() -> None:  # after every stage: a failure keeps the rest
        _util.write_json(args.json, results)

    pyvips_setup = f"import os, numpy, zarr, pyvips\nPNG = IMAGE = {str(image)!r}"

    log("pyvips alone: sequential decode -> zarr strip loop")
    refs["import"] = stage(pyvips_setup + f"\nOUT = {str(ref_zarr)!r}", PYVIPS_IMPORT, tmp)
    save()
    log("1. import")
    stages["import"] = stage("", cli("new", str(canvas), "--from", str(image), "--trust-large", "-q"), tmp)
    save()
    log(f"2. grow one whole edge ({args.generator} generator) on a LocalCluster")
    with cluster(args.workers, args.memory_limit) as c:
        argv = ["grow", str(canvas), "-d", "right", "-g", args.generator, "--scheduler", c["address"], "--no-artifacts"]
        stages["grow"] = stage("", cli(*argv, "-q", "--json"), tmp)
    stages["grow"]["cluster"] = c
    save()
    log("3. update the pyramid on a LocalCluster")
    with cluster(args.workers, args.memory_limit) as c:
        stages["pyramid"] = stage("", PYRAMID.format(address=c["address"], canvas=str(canvas)), tmp)
    stages["pyramid"]["cluster"] = c
    save()
    log("4. export a pyramidal TIFF")
    stages["tiff"] = stage("", cli("export", str(canvas), str(tif), "--pyramid", "-q"), tmp)
    stages["tiff"]["bytes"] = tif.stat().st_size
    save()
    log("pyvips alone: tiffsave pyramid of the image")
    refs["tiff"] = stage(pyvips_setup + f"\nOUT = {str(ref_tif)!r}", PYVIPS_TIFF, tmp)
    save()
    log("5. serve the first UI view")
    stages["ui"] = first_ui_view(canvas)
    save()


def _processes(s: dict[str, Any]) -> list[tuple[str, int]]:
    procs = [("stage process", int(s["peak_rss"]))]
    c = s.get("cluster")
    if c:
        procs.append(("cluster (scheduler, nannies)", int(c["cluster_process"]["peak_rss"])))
        procs += [(f"worker {i + 1}", int(w["peak_rss"])) for i, w in enumerate(c["workers"])]
    return procs


def report(r: dict[str, Any]) -> str:
    st, refs = r["stages"], r["pyvips"]
    side = r["image"]["side"]
    rows = []
    names = {
        "import": f"1. import (`imkerutils new C --from {side}².jpg`)",
        "grow": f"2. grow one whole edge, `{r.get('generator', 'local')}`, LocalCluster {r.get('workers', 2)}x1",
        "pyramid": "3. `update_pyramid(client=...)`",
        "tiff": "4. export pyramidal TIFF (deflate)",
        "ui": "5. first UI view (server start + page + tiles)",
    }
    worst = 0
    for key, name in names.items():
        s = st.get(key)
        if not s:
            rows.append([name, "failed", "", ""])
            continue
        procs = _processes(s) if key != "ui" else [("server", int(s["peak_rss"]))]
        worst = max(worst, *(p for _, p in procs))
        peaks = "; ".join(f"{label} {p / MIB:.0f} MiB" for label, p in procs)
        ref = refs.get(key)
        ref_cell = f"{_util.fmt_seconds(ref['wall_seconds'])}, {ref['peak_rss'] / MIB:.0f} MiB" if ref else "—"
        rows.append([name, _util.fmt_seconds(s["wall_seconds"]), peaks, ref_cell])
    load = r.get("loadavg", {})
    lines = [
        f"## A gigapixel, end to end ({side}x{side}, {side * side / 1e9:.2f} GP)",
        "",
        f"Machine: {r['machine']['cpu']}, {r['machine']['cores']} cores; load average "
        f"{load.get('start', '?')} at the start, {load.get('end', '?')} at the end (1/5/15 min). "
        f"Image: photo-like JPEG, {_util.fmt_bytes(r['image']['bytes'])}. Every stage is its own process "
        "(wall time includes starting Python); peak RSS is each process's own VmHWM.",
        "",
        _util.markdown_table(
            ["stage", "wall time", f"peak RSS per process (target <= {TARGET_MIB} MiB)", "pyvips alone"], rows
        ),
        "",
    ]
    g = st.get("grow")
    if g and g.get("cluster"):
        lines.append(
            f"Cluster: {len(g['cluster']['workers'])} workers, 1 thread each, memory limit "
            f"{g['cluster']['memory_limit']}; a worker restarted: {g['cluster']['restarted']}."
        )
    if "ui" in st:
        u = st["ui"]
        lines.append(
            f"First view: {u['tiles']} tiles and {u['assets']} page assets, {_util.fmt_bytes(u['bytes'])}; "
            f"the server listened after {_util.fmt_seconds(u['listening_seconds'])}."
        )
    if "tiff" in st and "tiff" in refs:
        lines.append(
            f"TIFF: ours {_util.fmt_bytes(st['tiff']['bytes'])}, pyvips {_util.fmt_bytes(refs['tiff']['output'])}."
        )
    lines.append(f"Largest peak: {worst / MIB:.0f} MiB: target {'met' if worst <= TARGET_MIB * MIB else 'missed'}.")
    if r.get("errors"):
        lines.append(f"Errors: {r['errors']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--side", type=int, help="image side in px, a multiple of 1024 (default 32768; --quick 8192)")
    ap.add_argument("--quick", action="store_true", help="an 8192² image (unless --side)")
    ap.add_argument("--cache", type=Path, default=HERE / ".cache", help="where the image is made once and kept")
    ap.add_argument("--scratch", type=Path, default=None, help="folder for the canvas and outputs (removed after)")
    ap.add_argument("--json", type=Path, default=RESULTS, help="where the JSON goes")
    ap.add_argument(
        "--generator", default="local", help="generator of the grow stage (default local; mock: a smoke run)"
    )
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (1 thread each)")
    ap.add_argument("--memory-limit", default="2GiB", help="each worker's memory limit (its nanny restarts it past)")
    args = ap.parse_args(argv)
    args.side = args.side or (8192 if args.quick else 32768)
    if args.side % 1024:
        ap.error("--side must be a multiple of 1024")
    results: dict[str, Any] = {
        "machine": _util.machine_info(("numpy", "zarr", "dask", "distributed", "pyvips", "imkerutils")),
        "loadavg": {"start": [round(x, 2) for x in os.getloadavg()]},
        "stages": {},
        "pyvips": {},
        "target_mib": TARGET_MIB,
        "generator": args.generator,
        "workers": args.workers,
    }
    start = time.perf_counter()
    try:
        if args.scratch:
            args.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="bench_gigapixel_", dir=args.scratch) as tmp:
            run(args, Path(tmp), results)
    except Exception as exc:  # keep what was measured
        results["errors"] = f"{type(exc).__name__}: {exc}"
        log(f"FAILED: {results['errors']}")
    results["loadavg"]["end"] = [round(x, 2) for x in os.getloadavg()]
    results["total_s"] = time.perf_counter() - start
    _util.publish(results, report, args.json, log)
    return 1 if results.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
