"""What the command-line tests share: how to run the commands, and what a clean error looks like."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

TIMEOUT = 300


def imkerutils_cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", "imkerutils.cli.main", *map(str, args)]


def script(name: str, *args: object) -> list[str]:
    """A console script installed with the package (looked up next to this Python first)."""
    path = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    assert path is not None, f"console script {name!r} is not installed (pip install -e .)"
    return [path, *map(str, args)]


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd)


def run_all(cmds: list[list[str]], cwd: Path | None = None) -> list[subprocess.CompletedProcess[str]]:
    """Run independent commands side by side (each one pays the interpreter start-up)."""
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd) for c in cmds]
    done = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
                q.wait()
            raise
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert proc.stderr == "", proc.stderr
    return proc


def clean_error(proc: subprocess.CompletedProcess[str], prog: str, *words: str) -> str:
    """Exit code 2, exactly one line on stderr naming the program, no traceback."""
    assert proc.returncode == 2, f"{proc.args}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{prog}: error: "), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]
