"""What every subcommand shares: error reporting and argument types.

A subcommand names the paths it writes with ``set_defaults(written_paths=f)``,
``f(args)`` returning those paths; an ``OSError`` about one of them (or a
temporary name beside it, or a folder above it) is reported as
``cannot write PATH: reason``.

>>> os_error_message(FileNotFoundError(2, "No such file or directory", "/proc/.x.zarr.1f.importing"), ["/proc/x.zarr"])
'cannot write /proc/x.zarr: No such file or directory'
>>> os_error_message(PermissionError(13, "Permission denied", "/etc/shadow"), ["out.png"])
'cannot access /etc/shadow: Permission denied'
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from imkerutils.errors import ImkerError

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "os_error_message", "run_guarded"]

EXIT_FAILED = 1  # the command ran and found a problem (e.g. verify)
EXIT_BAD_INPUT = 2  # bad input: one line on stderr, no traceback


def _abs(path: Any) -> Path:
    return Path(os.path.abspath(os.fsdecode(path)))


def _written_path(filename: Any, written: Iterable[Any]) -> Any:
    """The written path ``filename`` is about: itself, inside it, a folder above it, or a temporary name beside it."""
    f = _abs(filename)
    for out in written:
        o = _abs(out)
        if f == o or o in f.parents or f in o.parents or (f.parent == o.parent and f.name.startswith(f".{o.name}.")):
            return out
    return None


def os_error_message(exc: OSError, written: Iterable[Any] = ()) -> str:
    """One line for an ``OSError``: which path could not be written (or accessed), and why."""
    why = " ".join(str(exc.strerror or exc or type(exc).__name__).split())  # one line, whatever the message
    for filename in (exc.filename, exc.filename2):
        if filename is None:
            continue
        out = _written_path(filename, written)
        if out is not None:
            if exc.errno == errno.EEXIST and _abs(filename) in _abs(out).parents and not os.path.isdir(filename):
                why = os.strerror(errno.ENOTDIR)  # mkdir(exist_ok=True) on a file where a folder should be
            return f"cannot write {os.fsdecode(out)}: {why}"
    if exc.filename is not None:
        return f"cannot access {os.fsdecode(exc.filename)}: {why}"
    return why


def _written(args: argparse.Namespace) -> list[Any]:
    f = getattr(args, "written_paths", None)
    if f is None:
        return []
    try:
        return [p for p in f(args) if p is not None]
    except Exception:  # never let the error report fail
        return []


def run_guarded(prog: str, func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a subcommand, turning our errors (and the system's) into one line on stderr and exit code 2."""
    try:
        return func(args)
    except ImkerError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # a path that cannot be written (no such folder, no permission, disk full, ...)
        print(f"{prog}: error: {os_error_message(exc, _written(args))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
