"""Crash harness for the canvas tests: a *zygote* process that forks writers to be killed.

Starting a Python process that imports NumPy, Zarr and Dask takes over a
second, too slow to kill hundreds of writers.  Run as a script, this module is
a zygote: it imports everything once, starts no thread, and for each request
(one JSON line on stdin) forks a *writer* that opens a canvas and applies a
list of operations to it.  The writer can kill itself with ``SIGKILL`` just
before its N-th visible file-system mutation (``kill_at``), or be killed by
the test at any moment after it reports ready.

Protocol, one JSON object per line::

    test -> zygote   {"canvas": path, "ops": [...], "kill_at": N | null}
    zygote -> test   {"event": "ready", "pid": writer_pid}          (canvas opened, ops about to start)
    test -> zygote   "reap"                                          (after killing the writer, or not)
    zygote -> test   {"event": "done", "signal": s | null, "exit": code | null,
                      "marks": [mutations after open, after op 1, ...] | null, "error": text | null}

The zygote reaps a writer only when told to, so its pid cannot be reused
while the test may still send it a signal.

Operations (also applied to :class:`~imkerutils.testing.model.CanvasModel`
by :func:`apply_model`)::

    {"op": "paste", "row": r, "col": c, "h": h, "w": w, "seed": s, "extend": bool}
    {"op": "grow", "window": [row_off, col_off, height, width]}
    {"op": "undo"}   {"op": "redo"}
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MUTATIONS", "TIMEOUT", "KillSwitch", "Zygote", "apply", "apply_model", "pixels"]

#: The ``os`` functions that change what a reader of the canvas folder sees.
#: Temporary ``*.partial`` files are invisible (every reader skips them), so a
#: call whose target is one (writing, linking or removing it) is not counted;
#: renaming one into place is.  ``shutil.rmtree`` goes through these too.
MUTATIONS = ("replace", "rename", "unlink", "rmdir", "link")
#: Seconds a writer may take before the test gives up on it (writers take well under one).
TIMEOUT = 120


def pixels(seed: int, h: int, w: int, channels: int = 3) -> np.ndarray:
    """Reproducible noise pixels for one paste (noise: every chunk differs, nothing compresses away).

    >>> pixels(1, 2, 3).shape, pixels(1, 2, 3).dtype.name, bool((pixels(1, 2, 3) == pixels(1, 2, 3)).all())
    ((2, 3, 3), 'uint8', True)
    """
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, channels), dtype=np.uint8)


def apply(canvas: Any, op: dict[str, Any]) -> None:
    """Apply one operation to a :class:`~imkerutils.tiling.Canvas`, or to its model (the same calls)."""
    from imkerutils.tiling.window import Window

    kind = op["op"]
    if kind == "paste":
        canvas.paste(pixels(op["seed"], op["h"], op["w"], canvas.channels), op["row"], op["col"], extend=op["extend"])
    elif kind == "grow":
        canvas.extend(Window(*op["window"]))
    elif kind == "undo":
        canvas.undo()
    elif kind == "redo":
        canvas.redo()
    else:
        raise ValueError(f"unknown operation {kind!r}")


apply_model = apply
"""Apply one operation to a :class:`~imkerutils.testing.model.CanvasModel` (it takes the canvas's calls)."""


class KillSwitch:
    """Counts visible file-system mutations of this process; ``SIGKILL`` just before number ``kill_at``."""

    def __init__(self, kill_at: int | None) -> None:
        self.kill_at = kill_at
        self.count = 0
        self._lock = threading.Lock()

    def install(self) -> None:
        """Wrap the :data:`MUTATIONS` of :mod:`os` (for the rest of this process: call it in a writer only)."""
        for name in MUTATIONS:
            setattr(os, name, self._wrap(name, getattr(os, name)))

    def _wrap(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def mutation(*args: Any, **kwargs: Any) -> Any:
            target = args[0] if name in ("unlink", "rmdir") else args[1]
            if not os.fspath(target).endswith(".partial"):
                with self._lock:
                    self.count += 1
                    if self.count == self.kill_at:
                        os.kill(os.getpid(), signal.SIGKILL)
            return original(*args, **kwargs)

        return mutation


def _writer(request: dict[str, Any], out: int) -> None:
    """The forked writer: open the canvas, report ready, apply the operations, report the mutation marks."""
    from imkerutils.tiling.canvas import Canvas

    switch = KillSwitch(request.get("kill_at"))
    switch.install()
    canvas = Canvas.open(request["canvas"])
    marks = [switch.count]
    os.write(out, b"r")
    for op in request["ops"]:
        apply(canvas, op)
        marks.append(switch.count)
    os.write(out, json.dumps({"marks": marks}).encode())


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _serve(stdin: IO[str], stdout: IO[str]) -> None:
    """The zygote loop (see the module docstring)."""
    # Import everything a writer needs before forking, so writers start fast (dask.compute looks for a
    # distributed client, importing distributed).  Importing starts no thread, so forking stays safe.
    import dask.array
    import dask.delayed
    import dask.threaded  # noqa: F401
    import distributed  # noqa: F401

    import imkerutils.tiling.canvas  # noqa: F401

    if threading.active_count() != 1:
        raise RuntimeError("the crash zygote must not run threads: a forked writer would inherit broken locks")

    def send(msg: dict[str, Any]) -> None:
        stdout.write(json.dumps(msg) + "\n")
        stdout.flush()

    for line in stdin:
        request = json.loads(line)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer
            os.close(r)
            code = 0
            try:
                _writer(request, w)
            except BaseException:
                os.write(w, json.dumps({"error": traceback.format_exc()}).encode())
                code = 70
            os._exit(code)
        os.close(w)
        ready = os.read(r, 1)
        if ready == b"r":
            send({"event": "ready", "pid": pid})
        rest = _read_all(r)
        os.close(r)
        if ready == b"r":
            stdin.readline()  # "reap": the test is done signalling the writer
        else:
            rest = ready + rest
        _, status = os.waitpid(pid, 0)
        report = json.loads(rest) if rest else {}
        send(
            {
                "event": "done",
                "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                "marks": report.get("marks"),
                "error": report.get("error"),
            }
        )


class Zygote:
    """The test's side of the protocol: start the zygote, run writers, kill them."""

    def __init__(self) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )

    def _receive(self, writer: int | None = None) -> dict[str, Any]:
        """The zygote's next message; a writer that hangs for :data:`TIMEOUT` s is killed and reported."""
        assert self._proc.stdout is not None
        # At most one message is ever in flight, so nothing waits in the reader's buffer.
        if not select.select([self._proc.stdout], [], [], TIMEOUT)[0]:
            if writer is not None:
                os.kill(writer, signal.SIGKILL)  # our own forked writer, not yet reaped
            self._proc.kill()
            raise RuntimeError(f"a crash-test writer hung for {TIMEOUT} s (deadlock?)")
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the crash zygote died (exit code {self._proc.wait()})")
        return json.loads(line)

    def _send(self, text: str) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(text + "\n")
        self._proc.stdin.flush()

    def run(
        self,
        canvas: Path,
        ops: list[dict[str, Any]],
        *,
        kill_at: int | None = None,
        while_running: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Run one writer to its end (or death); ``while_running(pid)`` is called once it is ready.

        Returns the zygote's ``done`` message.
        """
        self._send(json.dumps({"canvas": str(canvas), "ops": ops, "kill_at": kill_at}))
        msg = self._receive()
        if msg["event"] == "ready":
            try:
                if while_running is not None:
                    while_running(msg["pid"])
            finally:
                self._send("reap")
            msg = self._receive(writer=msg["pid"])
        assert msg["event"] == "done", msg
        return msg

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


if __name__ == "__main__":
    _serve(sys.stdin, sys.stdout)
