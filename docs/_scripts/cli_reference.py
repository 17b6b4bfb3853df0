"""The CLI reference, generated from the argparse parsers the commands themselves use.

``imkerutils`` and its subcommands come from :func:`imkerutils.cli.main.build_parser`; the seed's scripts
``extract-tile`` and ``paste-tile`` build their parser inside their ``main`` functions, so :func:`script_parser`
runs ``main`` with ``parse_args`` intercepted and takes the parser it was called on (nothing else runs).

``python docs/_scripts/cli_reference.py`` prints the reStructuredText that the ``cli-reference`` directive
(``docs/_ext/cli_reference_directive.py``) puts into ``docs/reference/cli.rst``.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

__all__ = ["Command", "commands", "render_rst", "script_parser"]


@dataclass(frozen=True)
class Command:
    """One command line: its full name (``imkerutils grow``) and its parser."""

    name: str
    parser: argparse.ArgumentParser


class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


def script_parser(main: Callable[[Sequence[str] | None], int]) -> argparse.ArgumentParser:
    """The parser a console script's ``main`` builds, taken at its ``parse_args`` call (the command never runs)."""
    original = argparse.ArgumentParser.parse_args

    def capture(self: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> argparse.Namespace:
        raise _Captured(self)

    argparse.ArgumentParser.parse_args = capture  # type: ignore[assignment,method-assign]
    try:
        main([])
    except _Captured as captured:
        return captured.parser
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]
    raise RuntimeError(f"{main!r} returned without parsing its arguments")


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:  # aliases map to the same parser
                    seen.add(id(sub))
                    yield name, sub


def _summaries(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``{subcommand: its one-line help}`` (the ``help=`` of ``add_parser``)."""
    return {
        choice.dest: choice.help or ""
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for choice in action._choices_actions
    }


def _walk(name: str, parser: argparse.ArgumentParser) -> Iterator[Command]:
    yield Command(name, parser)
    for sub_name, sub in _subcommands(parser):
        yield from _walk(f"{name} {sub_name}", sub)


def commands() -> list[Command]:
    """Every command line the package installs, subcommands included, in the order ``--help`` lists them."""
    from imkerutils.cli.main import build_parser
    from imkerutils.cli.tile_scripts import extract_tile_main, paste_tile_main

    found = list(_walk("imkerutils", build_parser()))
    found.append(Command("extract-tile", script_parser(extract_tile_main)))
    found.append(Command("paste-tile", script_parser(paste_tile_main)))
    return found


# -- reStructuredText -------------------------------------------------------------------------------------
_SPECIAL = re.compile(r"([\\*_|<>\[\]])")


def _text(help_text: str) -> str:
    """Help text as inline RST: ```x``` becomes a literal, markup characters elsewhere are escaped."""
    parts = help_text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: escape it too
        return _SPECIAL.sub(r"\\\1", help_text).replace("`", r"\`")
    out = []
    for i, part in enumerate(parts):
        out.append(f"``{part}``" if i % 2 else _SPECIAL.sub(r"\\\1", part))
    return "".join(out)


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help:
        return ""
    return parser._get_formatter()._expand_help(action)


def _invocation(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = parser._get_formatter()
    return formatter._format_action_invocation(action)


def _title(text: str, char: str) -> list[str]:
    return [text, char * len(text), ""]


def _usage(parser: argparse.ArgumentParser) -> str:
    first, *rest = parser.format_usage().rstrip().removeprefix("usage: ").splitlines()
    return "\n".join([first, *(line.removeprefix(" " * len("usage: ")) for line in rest)])


def _command_rst(command: Command) -> list[str]:
    parser = command.parser
    lines = [f".. _cli-{command.name.replace(' ', '-')}:", ""]
    lines += _title(command.name, "-")
    lines += ["::", ""]
    lines += ["   " + line for line in _usage(parser).splitlines()]
    lines.append("")
    if parser.description:
        lines += [_text(" ".join(parser.description.split())), ""]
    subs = list(_subcommands(parser))
    if subs:
        lines += ["Commands:", ""]
        summaries = _summaries(parser)
        for name, sub in subs:
            ref = f"cli-{command.name.replace(' ', '-')}-{name}"
            summary = _text(" ".join((summaries.get(name) or sub.description or "").split()))
            lines += [f"- :ref:`{command.name} {name} <{ref}>`" + (f": {summary}" if summary else "")]
        lines.append("")
    groups = [
        (group.title or "options", [a for a in group._group_actions if not isinstance(a, argparse._SubParsersAction)])
        for group in parser._action_groups
    ]
    for title, actions in groups:
        actions = [a for a in actions if a.help is not argparse.SUPPRESS]
        if not actions:
            continue
        lines += [f"*{title}*", ""]
        for action in actions:
            help_text = " ".join(_help(parser, action).split())
            lines.append(f"- ``{_invocation(parser, action)}``" + (f": {_text(help_text)}" if help_text else ""))
        lines.append("")
    return lines


def render_rst(found: Sequence[Command] | None = None) -> str:
    """The reference of every command, one section each, as reStructuredText."""
    lines: list[str] = []
    for command in commands() if found is None else found:
        lines += _command_rst(command)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_rst(), end="")
