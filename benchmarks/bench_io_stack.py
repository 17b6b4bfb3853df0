"""Beyond the default I/O stack (issue 16, point 5): each variant beside today's default, in one run.

Three pairs, each measured on twins (same pixels, same operations, same order):

* **local disk: zarr's codec pipeline vs zarrs'** (``zarr.config`` ``codec_pipeline.path`` =
  ``zarrs.ZarrsCodecPipeline``, the Rust pipeline of PyPI ``zarrs``), canvases in a temporary folder.  zarrs
  refuses the canvas's own window read (it decodes into a channel-first view), so the zarrs twin runs a
  subclass that reads such a view through a contiguous copy (:func:`zarrs_contiguous`; plain zarrs'
  refusal is reported too);
* **local disk, zarr's own calls only: zarr's LocalStore vs obstore's** (``zarr.storage.ObjectStore`` over
  ``obstore.store.LocalStore``); a local canvas itself stays on zarr's LocalStore (hard-link snapshots,
  ``flock``, whole tiles straight from the files), so only the plain-array operations below run there;
* **S3: fsspec (s3fs) vs obstore** (``IMKERUTILS_OBJECT_STORE=obstore``: :mod:`imkerutils.tiling.objstore`),
  canvases on a moto S3 server on loopback in a child process, as the S3 tests use.

Operations, on a canvas of ``--side`` px square (default 3072, 9 tiles of 1024) and, for the step, one
1024 px high: **read** an unaligned 2048² window, **paste** an unaligned 1024² block (4 chunks, journaled),
**step** (``grow_step`` right with the mock generator, artifacts off), **export** the whole canvas to a
zstd TIFF, **verify** the whole canvas; and zarr's own calls on a plain level array with the canvas's codecs
(**zarr read** of the same window, **zarr write** of the same block), and on one without the transpose codec
(chunks stored channel-first: not the canvas's format, there to show what the codec costs each pipeline).

Each operation is timed ``--rounds`` times per variant after one warm-up, interleaved (A B, B A, ...), and
the medians compared: *speed-up* = default's median / the variant's (> 1: the variant is faster; the issue
adopts a variant where it is >= 1.2), and the median of the rounds' own ratios beside it (each round's pair
ran back to back, so a change of the machine's load between rounds cancels).  The twins' pixels are checked
equal at the end.  An operation a variant cannot do is reported with its error.

Usage::

    python benchmarks/bench_io_stack.py [--rounds 5] [--side 3072] [--parts local,local-obstore,s3] [--quick]

zarrs is no dependency of any extra (it lost, see ``docs/benchmarks.md``): ``pip install zarrs`` to measure it,
else the ``local`` part says it was skipped.

Markdown goes to stdout, JSON to ``benchmarks/results/io_stack.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from _util import fmt_seconds, machine_info, markdown_table, photo_like, publish

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "io_stack.json"
OPS = (
    "read",
    "export",
    "verify",
    "zarr read",
    "zarr read, no transpose",
    "paste",
    "step",
    "zarr write",
)  # read-only ones first
ZARRS = "zarrs.ZarrsCodecPipeline"
DEFAULT_PIPELINE = "zarr.core.codec_pipeline.BatchedCodecPipeline"
BUCKET = "iostack"
PARTS = ("local", "local-obstore", "s3")


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def pipeline(path: str) -> Iterator[None]:
    """zarr's codec pipeline ``path`` for arrays opened (and used) inside the block."""
    import zarr

    with zarr.config.set({"codec_pipeline.path": path}):
        yield


@contextlib.contextmanager
def object_store(name: str) -> Iterator[None]:
    """``IMKERUTILS_OBJECT_STORE=name`` inside the block."""
    from imkerutils.tiling.objstore import ENV

    old = os.environ.get(ENV)
    os.environ[ENV] = name
    try:
        yield
    finally:
        if old is None:
            del os.environ[ENV]
        else:
            os.environ[ENV] = old


class Twin:
    """One variant's canvases and the operations on them, each run inside the variant's context."""

    def __init__(
        self,
        name: str,
        ctx: Callable[[], contextlib.AbstractContextManager[None]],
        root: str,
        opts: dict[str, Any] | None,
        side: int,
        scratch: Path,
        store: Callable[[str], Any] | None = None,
    ) -> None:
        """``store(location)`` opens the plain arrays' stores (default: the canvas's ``open_store``); with it
        given, the twin has plain arrays only (no canvas: canvas operations are skipped)."""
        import zarr
        from zarr.codecs import ZstdCodec

        from imkerutils.tiling.canvas import Canvas
        from imkerutils.tiling.frame import Frame
        from imkerutils.tiling.layout import create_level
        from imkerutils.tiling.location import open_store

        self.name, self.ctx, self.root, self.opts, self.scratch = name, ctx, root, opts, scratch
        self.canvases = store is None
        self.blocks = [photo_like(1024, 1024, seed=s) for s in (7, 8)]
        self.n = 0
        pixels = photo_like(side, side, seed=1)
        opener = store or (lambda loc: open_store(loc, storage_options=opts))
        with self.ctx():
            if self.canvases:
                self.big = Canvas.create(f"{root}/big.zarr", height=side, width=side, storage_options=opts)
                self.big.paste(pixels, 0, 0)
                self.strip = Canvas.create(f"{root}/step.zarr", height=1024, width=2048, storage_options=opts)
                self.strip.paste(photo_like(1024, 2048, seed=2), 0, 0)
            # a plain level array (the canvas's codecs) for zarr's own calls, off the canvas's journal
            self.z = create_level(opener(f"{root}/raw.zarr"), Frame(1024, (0, 0)), 0, (side, side), 3)
            self.z[:, :, :] = np.ascontiguousarray(pixels.transpose(2, 0, 1))
            # the same without the transpose codec (chunks stored channel-first): not the canvas's format
            self.plain = zarr.create_array(
                opener(f"{root}/plain.zarr"),
                shape=self.z.shape,
                chunks=self.z.chunks,
                dtype="uint8",
                fill_value=0,
                compressors=[ZstdCodec(level=3)],
            )
            self.plain[:, :, :] = self.z[:, :, :]

    def run(self, op: str) -> float:
        from imkerutils.exquisite.api.mock import MockGenerator
        from imkerutils.exquisite.pipeline import GrowSettings, grow_step
        from imkerutils.tiling.window import Window

        with self.ctx():
            t = time.perf_counter()
            if op == "read":
                self.big.read(Window(300, 500, 2048, 2048))
            elif op == "paste":
                self.n += 1
                self.big.paste(self.blocks[self.n % 2], 300, 500)
            elif op == "step":
                grow_step(self.strip, "right", MockGenerator(), GrowSettings(seed=self.n, save_artifacts=False))
                self.n += 1
            elif op == "export":
                self.big.export(self.scratch / f"{self.name}.tif", compression="zstd", overwrite=True, progress=False)
            elif op == "verify":
                if not self.big.verify().ok:
                    raise AssertionError(f"{self.name}: verify failed")
            elif op == "zarr read":  # a C-contiguous (C, h, w) result, then the (h, w, C) copy a caller needs
                np.ascontiguousarray(self.z[:, 300:2348, 500:2548].transpose(1, 2, 0))
            elif op == "zarr read, no transpose":
                np.ascontiguousarray(self.plain[:, 300:2348, 500:2548].transpose(1, 2, 0))
            elif op == "zarr write":
                self.n += 1
                self.z[:, 300:1324, 500:1524] = np.ascontiguousarray(self.blocks[self.n % 2].transpose(2, 0, 1))
            return time.perf_counter() - t

    def digest(self) -> tuple[str, str]:
        import hashlib

        from imkerutils.tiling.canvas import Canvas

        with self.ctx(), pipeline(DEFAULT_PIPELINE):  # reopened: zarrs cannot read into the canvas's view
            if not self.canvases:
                return (hashlib.sha256(np.asarray(self.z[:, :, :]).tobytes()).hexdigest(), "")
            canvases = [Canvas.open(f"{self.root}/{n}.zarr", storage_options=self.opts) for n in ("big", "step")]
            return tuple(  # type: ignore[return-value]
                hashlib.sha256(c.read(c.bounds).tobytes()).hexdigest() for c in canvases
            )


def compare(base: Twin, new: Twin, rounds: int) -> dict[str, Any]:
    """Every operation on both twins, interleaved; medians, speed-ups, errors."""
    out: dict[str, Any] = {"default": base.name, "variant": new.name, "ops": {}}
    canvases = base.canvases and new.canvases
    for op in OPS if canvases else [o for o in OPS if o.startswith("zarr ")]:
        _log(f"{base.name} vs {new.name}: {op}")
        times: dict[str, list[float]] = {base.name: [], new.name: []}
        errors: dict[str, str] = {}
        for r in range(rounds + 1):
            for twin in (base, new) if r % 2 == 0 else (new, base):
                if twin.name in errors:
                    continue
                try:
                    dt = twin.run(op)
                except Exception as exc:  # a variant that cannot do the operation is a result, not a crash
                    errors[twin.name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                    continue
                if r:  # round 0 warms both up
                    times[twin.name].append(dt)
        row: dict[str, Any] = {"samples": times, "errors": errors}
        if not errors:
            row["median"] = {k: statistics.median(v) for k, v in times.items()}
            row["speedup"] = row["median"][base.name] / row["median"][new.name]
            pairs = zip(times[base.name], times[new.name], strict=True)  # one pair per round: load drift cancels
            row["speedup_paired"] = statistics.median(a / b for a, b in pairs)
        out["ops"][op] = row
    digests = {t.name: t.digest() for t in (base, new)}
    out["same_pixels"] = digests[base.name] == digests[new.name]
    return out


def zarrs_contiguous() -> str:
    """Register zarrs' pipeline, taught to read into a non-contiguous ``out`` through a contiguous copy; its path.

    The canvas reads a window by decoding straight into a channel-first view of its ``(h, w, C)`` result
    (``layout.read_window``), which zarrs 0.2 refuses ("input array must be a C contiguous array").
    """
    import zarrs
    from zarr.registry import register_pipeline

    class ZarrsContiguous(zarrs.ZarrsCodecPipeline):
        async def read(self, batch_info: Any, out: Any, drop_axes: tuple[int, ...] = ()) -> None:
            arr = out.as_ndarray_like()
            if arr.flags.c_contiguous:
                return await super().read(batch_info, out, drop_axes)
            tmp = np.empty(arr.shape, arr.dtype)
            await super().read(batch_info, type(out).from_numpy_array(tmp), drop_axes)
            arr[...] = tmp
            return None

    ZarrsContiguous.__qualname__ = ZarrsContiguous.__name__
    register_pipeline(ZarrsContiguous)
    return f"{ZarrsContiguous.__module__}.{ZarrsContiguous.__qualname__}"


def part_local(tmp: Path, side: int, rounds: int) -> dict[str, Any]:
    try:
        import zarrs
    except ImportError:  # not a dependency of any extra (it lost): measured when installed by hand
        return {"skipped": "zarrs is not installed (`pip install zarrs` to measure it)"}

    from imkerutils.tiling.canvas import Canvas
    from imkerutils.tiling.window import Window

    base = Twin("zarr", lambda: pipeline(DEFAULT_PIPELINE), str(tmp / "zarr"), None, side, tmp)
    with pipeline(ZARRS):  # plain zarrs, on the canvas's own read
        try:
            Canvas.open(tmp / "zarr" / "big.zarr", read_only=True).read(Window(300, 500, 2048, 2048))
            refused = None
        except Exception as exc:
            refused = f"{type(exc).__name__}: {exc}"
    path = zarrs_contiguous()
    new = Twin("zarrs", lambda: pipeline(path), str(tmp / "zarrs"), None, side, tmp)
    res = compare(base, new, rounds)
    return res | {"zarrs_version": getattr(zarrs, "__version__", "?"), "plain_zarrs_read": refused}


def part_s3(tmp: Path, side: int, rounds: int) -> dict[str, Any]:
    import obstore
    import s3fs

    sys.path.insert(0, str(HERE.parent / "tests" / "cluster"))
    from _cluster_helpers import moto_server, storage_options

    with moto_server() as endpoint:
        opts = storage_options(endpoint)
        s3fs.S3FileSystem(**opts).mkdir(BUCKET)
        base = Twin("fsspec", lambda: object_store("fsspec"), f"s3://{BUCKET}/fsspec", opts, side, tmp)
        new = Twin("obstore", lambda: object_store("obstore"), f"s3://{BUCKET}/obstore", opts, side, tmp)
        res = compare(base, new, rounds)
    return res | {"obstore_version": obstore.__version__, "s3fs_version": s3fs.__version__}


def part_local_obstore(tmp: Path, side: int, rounds: int) -> dict[str, Any]:
    """zarr's LocalStore vs obstore's LocalStore under zarr's ObjectStore, on a local folder: plain arrays only.

    A local canvas stays on zarr's LocalStore: its journal hard-links chunk files and takes a ``flock``, and
    whole tiles bypass the store (``RawStore.local_root``), so only zarr's own calls could change.
    """
    from obstore.store import LocalStore as ObLocal
    from zarr.storage import LocalStore, ObjectStore

    def ob(loc: str) -> Any:
        return ObjectStore(ObLocal(loc, mkdir=True))

    base = Twin("zarr LocalStore", contextlib.nullcontext, str(tmp / "zl"), None, side, tmp, LocalStore)
    new = Twin("obstore LocalStore", contextlib.nullcontext, str(tmp / "ol"), None, side, tmp, ob)
    return compare(base, new, rounds)


def report(res: dict[str, Any]) -> str:
    lines = [
        f"canvas {res['side']}² (tile 1024), {res['rounds']} interleaved rounds after a warm-up, medians; "
        f"load {res['load'][0]:.1f} -> {res['load'][1]:.1f}",
        "",
    ]
    rows = []
    for key in PARTS:
        part = res.get(key)
        if part is None:
            continue
        if "skipped" in part:
            lines.append(f"{key}: skipped: {part['skipped']}")
            continue
        for op, row in part["ops"].items():
            a, b = part["default"], part["variant"]
            if row["errors"]:
                rows.append(
                    [key, op, f"{a} vs {b}", "—", "—", "; ".join(f"{k}: {v}" for k, v in row["errors"].items())]
                )
                continue
            m = row["median"]
            rows.append(
                [
                    key,
                    op,
                    f"{a} vs {b}",
                    f"{fmt_seconds(m[a])} vs {fmt_seconds(m[b])}",
                    f"**{row['speedup']:.2f}x**",
                    f"{row['speedup_paired']:.2f}x",
                ]
            )
        lines.append(f"{key}: twins' pixels equal at the end: {part['same_pixels']}")
        if part.get("plain_zarrs_read"):
            lines.append(f"plain zarrs on the canvas's read: {part['plain_zarrs_read'].splitlines()[0][:160]}")
    lines += [
        "",
        markdown_table(["store", "operation", "default vs variant", "median", "speed-up", "per-round median"], rows),
        "",
    ]
    for key, err in res.get("errors", {}).items():
        lines.append(f"part {key} failed: {err.splitlines()[-1]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--side", type=int, default=3072)
    p.add_argument("--parts", default=",".join(PARTS))
    p.add_argument("--quick", action="store_true", help="smoke run: 2 rounds on a 2048² canvas")
    a = p.parse_args(argv)
    if a.quick:
        a.rounds, a.side = 2, 2048
    res: dict[str, Any] = {"side": a.side, "rounds": a.rounds, "machine": machine_info(("numpy", "zarr"))}
    load = [os.getloadavg()[0]]
    parts = {"local": part_local, "local-obstore": part_local_obstore, "s3": part_s3}
    for key in a.parts.split(","):
        with tempfile.TemporaryDirectory(prefix=f"imker-io-{key}-") as tmp:
            try:
                res[key] = parts[key](Path(tmp), a.side, a.rounds)
            except Exception:
                import traceback

                res.setdefault("errors", {})[key] = traceback.format_exc()
                _log(res["errors"][key])
    load.append(os.getloadavg()[0])
    res["load"] = load
    publish(res, report, RESULTS, _log)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
