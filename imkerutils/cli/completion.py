"""``imkerutils completion bash|zsh|tcsh``: print a shell completion script (made by shtab).

Install it, e.g. for bash ``imkerutils completion bash > ~/.local/share/bash-completion/completions/imkerutils``,
for zsh ``imkerutils completion zsh > "${fpath[1]}/_imkerutils"``.
"""

from __future__ import annotations

import argparse

from imkerutils.cli._common import Subparsers, add_command

SHELLS = ("bash", "zsh", "tcsh")
# Arguments that name files or folders: completed as paths.
PATH_ARGUMENTS = {"canvas", "out", "image", "tile", "path", "input", "output", "base", "tile_image"}


def add_parser(sub: Subparsers) -> None:
    """Add the ``completion`` command to the subcommand parsers ``sub``."""
    p = add_command(
        sub,
        "completion",
        reports=False,
        help="print a shell completion script",
        description="Print a completion script for SHELL on stdout.",
    )
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils completion`` with the parsed ``args``; return the exit status."""
    import shtab

    from imkerutils.cli.main import build_parser

    parser = build_parser()
    _complete_paths(parser, shtab.FILE)
    print(shtab.complete(parser, shell=args.shell))
    return 0


def _complete_paths(parser: argparse.ArgumentParser, how: object) -> None:
    """Mark every path-like argument of every subcommand for path completion."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _complete_paths(child, how)
        elif action.dest in PATH_ARGUMENTS:
            action.complete = how  # type: ignore[attr-defined]
