"""``dask.array.from_zarr`` on a canvas vs ``Canvas.read`` (issue 13): where the time goes, by canvas size.

The issue's target: ``da.from_zarr(level 0)`` + compute of one 1024^2 window on a canvas with 65,536 written
tiles within 2x of ``Canvas.read`` of the same window.

**Like with like: both sides include opening.**  The headline pair, timed interleaved, is

- dask, as a user types it: ``da.from_zarr(str(canvas), component=frame.path(0))[:, window].compute()``
  (opens the store and the array, reads the array's ``zarr.json``, builds and runs the graph);
- ours: ``Canvas.open(canvas, read_only=True).read(window)`` (reads the root ``zarr.json``, the journal
  state and the level array's ``zarr.json``, then the pixels).

Also timed interleaved with the same ``Canvas.open(...).read``: the same dask call with ``inline_array=True``;
and, with **neither side opening** anything, ``arr[:, window].compute()`` of a prebuilt ``from_zarr`` array
against ``canvas.read(window)`` of an open canvas.  Without I/O: ``from_zarr`` alone, and the graph
optimisation a ``compute`` runs (``dask.array.optimization.optimize`` of the sliced array's graph).  A probe
(``--no-probe`` skips it) re-runs the dask call with dask's ``from_array`` patched in this process to hold
the zarr array as a ``DataNode`` instead of a bare value (see docs/benchmarks.md, "Issue 13"): what
dask would cost with that one-line upstream change.

Canvases: 1 written tile (the window is that tile, 1 chunk), then 4x4, 16x16, 64x64 and 256x256 = 65,536
written tiles of 1024 px (``bench_growth.build_large``: one 4x4-tile block's chunk files hard-linked to every
tile's key), with an unaligned 1024^2 window in the middle (2x2 chunks).  Every dask result is checked
against ``Canvas.read``.

Usage::

    python benchmarks/bench_from_zarr.py            # sizes 1,4,16,64,256 tiles a side, 15 repeats (~1 min)
    python benchmarks/bench_from_zarr.py --quick    # 7 repeats
    python benchmarks/bench_from_zarr.py --sides 1,256

Markdown goes to stdout, JSON to ``benchmarks/results/from_zarr.json`` (``--quick``: ``from_zarr-quick.json``).
The canvases go to ``/dev/shm`` when it has room, else the temp folder; ``--scratch`` overrides this.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import _util
import numpy as np
from bench_growth import build_large, pick_scratch

if TYPE_CHECKING:
    from collections.abc import Iterator

RESULTS = _util.RESULTS_DIR / "from_zarr.json"
RESULTS_QUICK = _util.RESULTS_DIR / "from_zarr-quick.json"
TARGET = 2.0
SIDES = (1, 4, 16, 64, 256)


_log = _util.logger("bench_from_zarr")


def build_one_tile(where: Path) -> Path:
    """A canvas with one written tile at world (0, 0)."""
    from imkerutils.tiling import Canvas

    path = where / "one.zarr"
    canvas = Canvas.create(path)
    canvas.paste(_util.photo_like(canvas.tile, canvas.tile, seed=21), 0, 0, extend=True)
    return path


@contextlib.contextmanager
def datanode_probe() -> Iterator[bool]:
    """Patch dask's ``from_array`` (this process only) to hold the source array as a ``DataNode``.

    dask 2026.8 puts the zarr array into the graph as a bare value in a ``MaterializedLayer``
    (``graph_from_arraylike``, ``inline_array=False``).  A bare value is a "legacy task", so
    ``HighLevelGraph.cull`` first lists every output key of every layer (``get_all_external_keys``): one
    key per block of the whole array, on every ``compute``.  Wrapped in a ``DataNode`` (what dask's task
    spec uses for data), the layer is not legacy and culling skips that listing.  Yields whether the patch
    could be applied.
    """
    import dask.array.core as dac

    try:
        from dask._task_spec import DataNode
    except ImportError:
        yield False
        return
    original = dac.MaterializedLayer

    class _DataNodeLayer(original):  # type: ignore[misc, valid-type]
        def __init__(self, mapping: Any, *args: Any, **kwargs: Any) -> None:
            mapping = {
                k: DataNode(k, v) if isinstance(k, str) and k.startswith("original-") else v for k, v in mapping.items()
            }
            super().__init__(mapping, *args, **kwargs)

    dac.MaterializedLayer = _DataNodeLayer
    try:
        yield True
    finally:
        dac.MaterializedLayer = original


def bench_size(scratch: Path, side: int, repeat: int, probe: bool) -> dict[str, Any]:
    import dask.array as da
    import zarr
    from dask.array.optimization import optimize

    from imkerutils.tiling import Canvas, Window

    t0 = time.perf_counter()
    path = build_one_tile(scratch) if side == 1 else build_large(scratch, side)[0]
    build_s = time.perf_counter() - t0
    canvas = Canvas.open(path, read_only=True)
    frame, tile = canvas.frame, canvas.tile
    if side == 1:
        window = Window(0, 0, tile, tile)
    else:
        mid = (side // 2) * tile
        window = Window(mid + 300, mid + 500, 1024, 1024)  # unaligned: 2x2 chunks
    aw = frame.to_array(window)
    sel = (slice(None), slice(aw.row_off, aw.row_end), slice(aw.col_off, aw.col_end))
    url, component = str(path), frame.path(0)

    def dask_call() -> np.ndarray:
        return da.from_zarr(url, component=component)[sel].compute()

    def dask_inline() -> np.ndarray:
        return da.from_zarr(url, component=component, inline_array=True)[sel].compute()

    def open_read() -> np.ndarray:
        return Canvas.open(path, read_only=True).read(window)

    expect = canvas.read(window)
    assert expect.any(), "the window holds no written pixels"
    for fn in (dask_call, dask_inline):
        assert np.array_equal(fn().transpose(1, 2, 0), expect), f"{fn.__name__} and Canvas.read disagree"

    out: dict[str, Any] = {"side": side, "tiles": side * side, "build_s": build_s, "window": window.to_dict()}
    td, tc = _util.time_pair(dask_call, open_read, repeat=repeat, warmup=1)
    out |= {"dask": td.to_dict(), "open_read": tc.to_dict(), "ratio": td.median / tc.median}
    ti, tc2 = _util.time_pair(dask_inline, open_read, repeat=repeat, warmup=1)
    out |= {"dask_inline": ti.to_dict(), "open_read_2": tc2.to_dict(), "ratio_inline": ti.median / tc2.median}

    arr = da.from_zarr(url, component=component)
    tp, tr = _util.time_pair(lambda: arr[sel].compute(), lambda: canvas.read(window), repeat=repeat, warmup=1)
    out |= {"prebuilt": tp.to_dict(), "read": tr.to_dict(), "ratio_prebuilt": tp.median / tr.median}

    sliced = arr[sel]
    graph, keys = sliced.__dask_graph__(), sliced.__dask_keys__()
    out["optimize"] = _util.time_call(lambda: optimize(graph, keys), repeat=repeat, warmup=1).to_dict()
    out["from_zarr_only"] = _util.time_call(lambda: da.from_zarr(url, component=component), repeat=repeat).to_dict()
    z = zarr.open_array(url, path=component, mode="r")
    out["zarr_slice"] = _util.time_call(lambda: z[sel], repeat=repeat).to_dict()
    out |= {"array_shape": list(z.shape), "nchunks": z.nchunks, "dask_blocks": int(np.prod(arr.numblocks))}

    if probe:
        with datanode_probe() as applied:
            if applied:
                assert np.array_equal(dask_call().transpose(1, 2, 0), expect)
                tn, tc3 = _util.time_pair(dask_call, open_read, repeat=repeat, warmup=1)
                s2 = da.from_zarr(url, component=component)[sel]
                g2, k2 = s2.__dask_graph__(), s2.__dask_keys__()
                out |= {
                    "probe": tn.to_dict(),
                    "open_read_3": tc3.to_dict(),
                    "ratio_probe": tn.median / tc3.median,
                    "optimize_probe": _util.time_call(lambda: optimize(g2, k2), repeat=repeat, warmup=1).to_dict(),
                }
    shutil.rmtree(path, ignore_errors=True)
    return out


# -- report ------------------------------------------------------------------------------------------------------
def _ms(d: dict[str, Any]) -> str:
    return _util.fmt_seconds(d["median_s"])


def report(results: dict[str, Any]) -> str:
    m = results["machine"]
    sizes = results["sizes"]
    lines = [
        "## `da.from_zarr` on a canvas vs `Canvas.read` (issue 13)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items())
        + ".",
        f"Command: `{results['command']}` (total {results['total_s']:.0f} s). Code: {results['git']}. "
        + _util.load_note(results)
        + f" {results['repeat']} interleaved repeats after a warm-up, medians. Both sides of a ratio include opening "
        "(`da.from_zarr(path, component=...)` / `Canvas.open(path, read_only=True)`) unless marked *prebuilt*.",
        "",
    ]
    rows = []
    for s in sizes:
        rows.append(
            [
                f"{s['tiles']:,}",
                f"{s['dask_blocks']:,}",
                _ms(s["open_read"]),
                _ms(s["dask"]),
                f"**{s['ratio']:.2f}**",
                f"{s['ratio_inline']:.2f}",
                f"{s['ratio_prebuilt']:.2f}",
                f"{s['ratio_probe']:.2f}" if "ratio_probe" in s else "-",
                _ms(s["from_zarr_only"]),
                _ms(s["optimize"]),
                _ms(s["optimize_probe"]) if "optimize_probe" in s else "-",
                _ms(s["zarr_slice"]),
            ]
        )
    lines.append(
        _util.markdown_table(
            [
                "written tiles",
                "dask blocks",
                "`Canvas.open+read`",
                "`from_zarr+compute`",
                "ratio",
                "ratio, `inline_array=True`",
                "ratio, prebuilt",
                "ratio, DataNode probe",
                "`from_zarr` alone",
                "graph optimise",
                "optimise, probe",
                "plain zarr slice",
            ],
            rows,
        )
    )
    big = max(sizes, key=lambda s: s["tiles"])
    lines += [
        "",
        _util.markdown_table(
            ["target", "measured", "met?"],
            [
                [
                    f"`from_zarr` + compute / `Canvas.open+read`, {big['tiles']:,} tiles, <= {TARGET}",
                    f"**{big['ratio']:.2f}** ({_ms(big['dask'])} / {_ms(big['open_read'])})",
                    "yes" if big["ratio"] <= TARGET else "**no**",
                ]
            ],
        ),
    ]
    for key, tb in results.get("errors", {}).items():
        lines += ["", f"**{key} failed:**", "", "```", tb.strip(), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from bench_canvas import _git_state

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="7 repeats")
    parser.add_argument("--repeat", type=int, help="timed repeats per comparison (default 15; quick 7)")
    parser.add_argument("--sides", default=",".join(map(str, SIDES)), help="tiles per side, comma-separated")
    parser.add_argument("--no-probe", action="store_true", help="skip the patched-dask probe")
    parser.add_argument("--scratch", help="folder for the canvases (default: /dev/shm if it has room)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (7 if args.quick else 15)
    start = time.perf_counter()
    results: dict[str, Any] = {
        "machine": _util.machine_info(("numpy", "zarr", "dask", "imkerutils")),
        "command": "python benchmarks/bench_from_zarr.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""),
        "git": _git_state(),
        "load_before": os.getloadavg()[0],
        "repeat": repeat,
        "sizes": [],
    }
    scratch = pick_scratch(args.scratch)
    with tempfile.TemporaryDirectory(prefix="imker-from-zarr-", dir=scratch) as d:
        for side in (int(s) for s in args.sides.split(",")):
            _log(f"{side}x{side} tiles")
            where = Path(d) / f"s{side}"
            where.mkdir()
            results["sizes"].append(bench_size(where, side, repeat, not args.no_probe))
    _util.publish(results, report, RESULTS_QUICK if args.quick else RESULTS, _log, started=start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
