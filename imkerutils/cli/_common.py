"""What every subcommand shares: error reporting and argument types.

An ``OSError`` (a folder that does not exist, no permission, a full disk) is
one line naming the path, with our temporary names (``.NAME.<hex>.partial``,
``.importing``) shown as the ``NAME`` the user gave:

>>> os_error_message(FileNotFoundError(2, "No such file or directory", "/proc/.x.zarr.1f2e.importing"))
'/proc/x.zarr: No such file or directory'
>>> os_error_message(PermissionError(13, "Permission denied", "/etc/shadow"))
'/etc/shadow: Permission denied'
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
from collections.abc import Callable

from imkerutils.errors import ImkerError

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "os_error_message", "run_guarded"]

EXIT_FAILED = 1  # the command ran and found a problem (e.g. verify)
EXIT_BAD_INPUT = 2  # bad input: one line on stderr, no traceback

# The temporary names imkerutils writes beside an output before renaming it into place.
_TEMPORARY = re.compile(r"^\.?(?P<name>.+?)\.[0-9a-f]+\.(?:partial|importing)$")


def os_error_message(exc: OSError) -> str:
    """One line for an ``OSError``: the path it names (as the user gave it) and why."""
    why = " ".join(str(exc.strerror or exc or type(exc).__name__).split())  # one line, whatever the message
    if exc.filename is None:
        return why
    path = os.fsdecode(exc.filename)
    if exc.errno == errno.EEXIST and os.path.exists(path) and not os.path.isdir(path):
        why = os.strerror(errno.ENOTDIR)  # mkdir(exist_ok=True) met a file where a folder must be
    head, name = os.path.split(path)
    m = _TEMPORARY.match(name)
    return f"{os.path.join(head, m['name']) if m else path}: {why}"


def run_guarded(prog: str, func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a subcommand, turning our errors (and the system's) into one line on stderr and exit code 2."""
    try:
        return func(args)
    except ImkerError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # a path that cannot be written (no such folder, no permission, disk full, ...)
        print(f"{prog}: error: {os_error_message(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
