"""``imkerutils``: the command with one subcommand per module in this package.

Every subcommand takes ``-q``/``-v`` and, when it reports something, ``--json``
(see :mod:`imkerutils.cli._common`).  ``python -m imkerutils`` runs the same command.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from imkerutils import __version__
from imkerutils.cli import (
    accept,
    completion,
    discard,
    export,
    extract,
    fill,
    grow,
    history,
    info,
    new,
    paste,
    sample,
    staged,
    ui,
    undo,
    upgrade,
    verify,
)
from imkerutils.cli._common import run_guarded

if TYPE_CHECKING:
    from collections.abc import Sequence

SUBCOMMANDS = [
    sample,
    new,
    info,
    extract,
    paste,
    grow,
    fill,
    staged,
    accept,
    discard,
    history,
    undo,
    verify,
    export,
    ui,
    upgrade,
    completion,
]


def build_parser() -> argparse.ArgumentParser:
    """Return the ``imkerutils`` argument parser with every command."""
    parser = argparse.ArgumentParser(prog="imkerutils", description="Out-of-core canvases and Exquisite growth.")
    parser.add_argument("--version", action="version", version=f"imkerutils {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imkerutils`` with ``argv`` (default: the command line); return the exit status."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    return run_guarded("imkerutils", args.func, args)


if __name__ == "__main__":
    raise SystemExit(main())
