"""Shared helpers for the benchmark scripts: timing, peak memory, machine facts, output.

Import from a script run as ``python benchmarks/<name>.py`` with ``from _util import ...``
(the script's folder is on ``sys.path``) or as ``benchmarks._util`` from the repository root.

Conventions every benchmark here follows:

- time with :func:`time.perf_counter`, warm up first, report the **median** of several repeats;
- compare two approaches **interleaved** (A B, B A, A B, ...) so drift (page cache, CPU clock, other
  load on a shared machine) hits both alike;
- measure peak memory of one approach in a **fresh subprocess** (:func:`run_measured`), reading the
  child's own high-water mark (``VmHWM``) so other approaches and the parent do not pollute it.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "CACHE",
    "RESULTS_DIR",
    "ChildResult",
    "Timing",
    "UIServer",
    "ensure_ignored_dir",
    "fetch_all",
    "fmt_bytes",
    "fmt_seconds",
    "load_note",
    "logger",
    "machine_info",
    "machine_line",
    "made_once",
    "markdown_table",
    "pair_summary",
    "peak_rss_bytes",
    "photo_like",
    "report_head",
    "run_measured",
    "time_call",
    "time_pair",
    "vm_hwm",
    "write_json",
]

BENCH_DIR = Path(__file__).resolve().parent
CACHE = BENCH_DIR / ".cache"  # inputs built once and reused (git-ignored)
RESULTS_DIR = BENCH_DIR / "results"  # JSON results


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds per call over ``len(samples)`` timed repeats (after the warm-up)."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def worst(self) -> float:
        return max(self.samples)

    def to_dict(self) -> dict[str, Any]:
        return {
            "median_s": self.median,
            "min_s": self.best,
            "max_s": self.worst,
            "repeats": len(self.samples),
            "samples_s": list(self.samples),
        }


def time_call(fn: Callable[[], object], *, repeat: int = 5, warmup: int = 1) -> Timing:
    """Time ``fn()`` ``repeat`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Timing(tuple(samples))


def time_pair(
    a: Callable[[], object], b: Callable[[], object], *, repeat: int = 5, warmup: int = 1
) -> tuple[Timing, Timing]:
    """Time ``a`` and ``b`` interleaved after warming both up.

    The order alternates (a b, b a, a b, ...) so that whatever the first or
    second call of a pair pays (a cold cache, a clock ramp) falls on both.
    """
    for _ in range(warmup):
        a()
        b()
    sa: list[float] = []
    sb: list[float] = []
    for i in range(repeat):
        pair = ((a, sa), (b, sb)) if i % 2 == 0 else ((b, sb), (a, sa))
        for fn, out in pair:
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return Timing(tuple(sa)), Timing(tuple(sb))


def pair_summary(a: Timing, b: Timing, names: tuple[str, str]) -> dict[str, Any]:
    """Two :func:`time_pair` timings under ``names`` and the ratios of ``b`` to ``a`` (medians, bests)."""
    return {names[0]: a.to_dict(), names[1]: b.to_dict(), "ratio": b.median / a.median, "ratio_best": b.best / a.best}


def peak_rss_bytes() -> int:
    """This process's peak resident set size in bytes (Linux ``VmHWM``; ``ru_maxrss`` elsewhere).

    ``VmHWM`` belongs to the current address space, so a child started with
    fork + exec does not inherit its parent's peak (``ru_maxrss`` can).
    """
    try:
        return vm_hwm("self")
    except (OSError, RuntimeError):
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def vm_hwm(pid: int | str) -> int:
    """Peak resident set size in bytes of the live process ``pid`` (or ``"self"``): its Linux ``VmHWM``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


async def fetch_all(url: str, paths: Sequence[str], concurrency: int) -> int:
    """GET every path under ``url`` on ``concurrency`` connections (httpx); the bytes received.

    Any answer but 200 raises :class:`RuntimeError`.
    """
    import asyncio

    import httpx

    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    size = 0
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=600) as client:

        async def worker() -> None:
            nonlocal size
            while True:
                try:
                    path = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                r = await client.get(path)
                if r.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {r.status_code}")
                size += len(r.content)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return size


@dataclass(frozen=True, slots=True)
class ChildResult:
    """One run of :func:`run_measured`."""

    seconds: float  # the statement alone
    setup_seconds: float  # imports and other setup, in the child
    wall_seconds: float  # the whole child process, interpreter start included
    peak_rss: int  # bytes, whole child lifetime
    setup_rss: int  # bytes, peak after setup and before the statement
    output: Any  # whatever the statement left in the variable ``result`` (JSON-able)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_CHILD_TEMPLATE = """\
import json as _json, sys as _sys, time as _time
_t0 = _time.perf_counter()
{setup}
_t1 = _time.perf_counter()
_sys.path.insert(0, {util_dir!r})
from _util import peak_rss_bytes as _peak
_setup_rss = _peak()
result = None
_t2 = _time.perf_counter()
{stmt}
_t3 = _time.perf_counter()
print("\\n@@RESULT@@" + _json.dumps({{"seconds": _t3 - _t2, "setup_seconds": _t1 - _t0,
      "setup_rss": _setup_rss, "peak_rss": _peak(), "output": result}}))
"""


def run_measured(
    setup: str,
    stmt: str,
    *,
    timeout: float = 1800,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> ChildResult:
    """Run ``setup`` then ``stmt`` (Python source) in a fresh interpreter; time ``stmt`` and the peak RSS.

    ``stmt`` may assign a JSON-able value to ``result`` to pass it back.  The
    child's standard error is passed through; a failing child raises
    :class:`RuntimeError` with its output.
    """
    code = _CHILD_TEMPLATE.format(
        setup=textwrap.dedent(setup).strip() or "pass",
        stmt=textwrap.dedent(stmt).strip(),
        util_dir=str(Path(__file__).parent),
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else {**os.environ, **env},
        cwd=cwd,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0 or "@@RESULT@@" not in proc.stdout:
        raise RuntimeError(f"benchmark child failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(proc.stdout.rsplit("@@RESULT@@", 1)[1])
    return ChildResult(
        seconds=data["seconds"],
        setup_seconds=data["setup_seconds"],
        wall_seconds=wall,
        peak_rss=data["peak_rss"],
        setup_rss=data["setup_rss"],
        output=data["output"],
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def machine_info(packages: Sequence[str] = ("numpy", "zarr", "dask", "PIL", "imkerutils")) -> dict[str, Any]:
    """The facts a benchmark number needs beside it: CPU, cores, RAM, OS, Python and package versions."""
    import importlib

    versions = {}
    for name in packages:
        try:
            versions[name] = getattr(importlib.import_module(name), "__version__", "?")
        except ImportError:
            versions[name] = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_bytes": _ram_bytes(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
    }


def fmt_seconds(s: float) -> str:
    """``0.000123`` -> ``"123 µs"``, ``0.0456`` -> ``"45.6 ms"``, ``12.3`` -> ``"12.3 s"``."""
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def fmt_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"`` (binary units)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def report_head(title: str, results: dict[str, Any]) -> list[str]:
    """A report's first lines: its ``## title``, a blank line and :func:`machine_line` of ``results["machine"]``."""
    return [f"## {title}", "", machine_line(results["machine"])]


def machine_line(m: dict[str, Any]) -> str:
    """The report's "Machine: ..." sentence from :func:`machine_info`'s dict."""
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    return (
        f"Machine: {m['cpu']}, {m['cores']} cores, {fmt_bytes(m['ram_bytes'])} RAM, {m['os']}, "
        f"Python {m['python']}; {packages}."
    )


def load_note(run: dict[str, Any], cores: int | None = None, busy: str = "") -> str:
    """The report's "Load average (1 min) ... at the start, ... at the end." sentence for ``run``'s loads.

    With ``busy``, that remark is added in brackets when either load is over 0.75 x ``cores``.
    """
    before, after = run["load_before"], run.get("load_after", float("nan"))
    note = f"Load average (1 min) {before:.1f} at the start, {after:.1f} at the end"
    return note + (f" ({busy})." if busy and max(before, after) > 0.75 * (cores or 1) else ".")


def logger(name: str) -> Callable[[str], None]:
    """A ``log(msg)`` that prints ``[name HH:MM:SS] msg`` to stderr at once (progress of a long run)."""

    def log(msg: str) -> None:
        print(f"[{name} {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    return log


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON, creating the folder (with a ``.gitignore`` of ``*``) if needed."""
    p = Path(path)
    ensure_ignored_dir(p.parent)
    tmp = p.with_name(p.name + ".partial")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, p)
    return p


def run_parts(
    jobs: dict[str, Callable[[Path], Any]],
    results: dict[str, Any],
    json_path: Path,
    *,
    start: float,
    log: Callable[[str], None],
    tmp_prefix: str,
) -> None:
    """Run each job in a fresh temporary folder, storing its result under its key in ``results``.

    A failing part records its traceback under ``results["errors"]`` instead (one broken part must not cost
    the others' numbers), and the JSON is rewritten after every part, so a later failure keeps them.
    """
    import tempfile
    import traceback

    for key, job in jobs.items():
        log(key)
        try:
            with tempfile.TemporaryDirectory(prefix=tmp_prefix) as tmp_name:
                results[key] = job(Path(tmp_name))
        except Exception:
            results.setdefault("errors", {})[key] = traceback.format_exc()
            log(f"{key} FAILED:\n{results['errors'][key]}")
        results["total_s"] = time.perf_counter() - start
        write_json(json_path, results)


def publish(
    results: dict[str, Any],
    report: Callable[[dict[str, Any]], str],
    json_path: str | os.PathLike[str],
    log: Callable[[str], None],
    *,
    started: float | None = None,
) -> None:
    """Render ``results`` as markdown to stdout, and write them (with that markdown) as JSON.

    With ``started`` (a :func:`time.perf_counter` value) the run's ``total_s`` and the 1-minute
    ``load_after`` are recorded first.
    """
    if started is not None:
        results["total_s"] = time.perf_counter() - started
        results["load_after"] = os.getloadavg()[0]
    text = report(results)
    results["markdown"] = text
    write_json(json_path, results)
    sys.stdout.write(text)
    log(f"JSON written to {json_path}")


def ensure_ignored_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` holding a ``.gitignore`` of ``*`` (generated output: git never sees it)."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    ignore = p / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# generated by the benchmarks; never committed\n*\n")
    return p


def made_once(out: Path, code: str, log: Callable[[str], None]) -> Path:
    """``out``, made by running ``code`` (Python that writes it) in a child interpreter unless it exists.

    For slow inputs cached between runs; ``out``'s folder is created, ignored by git.
    """
    ensure_ignored_dir(out.parent)
    if not out.exists():
        log(f"making {out} (cached for later runs)")
        subprocess.run([sys.executable, "-c", code], check=True)
    return out


def photo_like(height: int, width: int, seed: int = 0, *, strip: int = 1024) -> Any:
    """Photograph-like RGB pixels, uint8 ``(height, width, 3)``: smooth, compressible, not constant.

    Four octaves of bicubically interpolated random grids (cells of 512, 96,
    16 and 3 px) plus mild per-pixel noise: about as compressible as a
    photograph, unlike pure noise (incompressible) or a flat colour (free).
    Built in strips, so memory stays near the output's own size.
    """
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    # (cell px, amplitude, channels): colour varies slowly, brightness at every scale.
    octaves = [(512, 60.0, 3), (96, 40.0, 1), (16, 22.0, 1), (4, 10.0, 1)]
    grids = []
    for cell, amp, ch in octaves:
        cells = rng.integers(0, 256, (height // cell + 4, width // cell + 4, ch), dtype=np.uint8)
        grids.append((cell, amp, Image.fromarray(cells if ch == 3 else cells[:, :, 0])))
    out = np.empty((height, width, 3), np.uint8)
    for r0 in range(0, height, strip):
        r1 = min(height, r0 + strip)
        acc = np.full((r1 - r0, width, 3), 128.0, np.float32)
        for cell, amp, grid in grids:
            box = (1.0, 1.0 + r0 / cell, 1.0 + width / cell, 1.0 + r1 / cell)
            sub = np.asarray(grid.resize((width, r1 - r0), Image.Resampling.BICUBIC, box=box), np.float32)
            acc += (sub.reshape(r1 - r0, width, -1) - 128.0) * (amp / 128.0)
        acc += rng.normal(0.0, 1.5, acc.shape).astype(np.float32)
        np.clip(acc, 0, 255, out=acc)
        out[r0:r1] = acc.astype(np.uint8)
    return out


class UIServer:
    """``python -m imkerutils.exquisite.ui CANVAS --port 0 [ARGS]`` in its own process, ready once it answers.

    ``url`` is the address it printed (no trailing ``/``); ``client`` is an ``httpx.Client`` on it whose
    requests carry the page's own origin (the server refuses state-changing requests from others).
    """

    def __init__(self, canvas: Path, *args: str) -> None:
        import httpx

        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imkerutils.exquisite.ui", str(canvas), "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "http://" not in line:
            self.fail(f"the UI server did not start: {line!r}")
        self.url = next(word for word in line.split() if word.startswith("http://")).rstrip("/")
        self.client = httpx.Client(base_url=self.url, trust_env=False, timeout=600, headers={"origin": self.url})
        try:  # the URL is printed once the socket listens; the app answers once its session has started
            self.client.get("/api/state").raise_for_status()
        except httpx.HTTPError as exc:
            self.fail(f"the UI server does not answer: {exc}")

    def fail(self, message: str) -> NoReturn:
        """Kill the server and raise ``message`` with the end of its log."""
        self.proc.kill()
        self.proc.wait(60)
        self.log.seek(0)
        raise RuntimeError(f"{message}\n{self.log.read()[-4000:]}")

    def stop(self) -> None:
        if hasattr(self, "client"):
            self.client.close()
        self.proc.terminate()
        self.proc.wait(60)
        self.log.close()
