"""What every subcommand shares: error reporting and argument types."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from imkerutils.errors import ImkerError

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "run_guarded"]

EXIT_FAILED = 1  # the command ran and found a problem (e.g. verify)
EXIT_BAD_INPUT = 2  # bad input: one line on stderr, no traceback


def run_guarded(prog: str, func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a subcommand, turning our errors into one line on stderr and exit code 2."""
    try:
        return func(args)
    except ImkerError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130

