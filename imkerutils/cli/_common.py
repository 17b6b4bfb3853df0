"""What every subcommand shares: common options, logging, reports, error reporting and argument types.

Every command takes ``-q``/``--quiet`` and ``-v``/``--verbose`` (through one parent parser,
:func:`add_command`), and every command that reports something takes ``--json``.  Messages
go through the standard :mod:`logging` module (logger ``imkerutils``) to stderr: information
by default, only warnings and errors with ``-q`` (which also hides progress bars), debug
messages with ``-v`` (``-vv``: other libraries' too).  The command's result goes to stdout:
one line of text, or with ``--json`` one JSON document.

Sizes and regions: text says ``W x H`` and ``x=..., y=...``, and JSON uses the same order,
as objects: a size is ``{"width": W, "height": H}`` and a world region is
``{"x": X, "y": Y, "width": W, "height": H}`` (as ``--region X Y W H`` takes it).  JSON
never holds a bare ``[a, b]`` size.

An ``OSError`` (a folder that does not exist, no permission, a full disk) is
one line naming the path, with our temporary names (``.NAME.<hex>.partial``,
``.importing``) shown as the ``NAME`` the user gave:

>>> os_error_message(FileNotFoundError(2, "No such file or directory", "/proc/.x.zarr.1f2e.importing"))
'/proc/x.zarr: No such file or directory'
>>> os_error_message(PermissionError(13, "Permission denied", "/etc/shadow"))
'/etc/shadow: Permission denied'
>>> from imkerutils.tiling.window import Window
>>> region_json(Window(-100, -150, 350, 430))
{'x': -150, 'y': -100, 'width': 430, 'height': 350}
>>> positive_int("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: must be at least 1, got 0
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import re
import sys
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias

from imkerutils.errors import ImkerError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from imkerutils.tiling.window import Window

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "add_command",
    "add_region_option",
    "common_parent",
    "configure_logging",
    "emit",
    "os_error_message",
    "positive_int",
    "redact",
    "region_from",
    "region_json",
    "run_guarded",
    "size_json",
]

EXIT_FAILED = 1  # the command ran and found a problem (e.g. verify)
EXIT_BAD_INPUT = 2  # bad input: one line on stderr, no traceback

LOGGER = "imkerutils"
log = logging.getLogger(__name__)

# The temporary names imkerutils writes beside an output before renaming it into place.
_TEMPORARY = re.compile(r"^\.?(?P<name>.+?)\.[0-9a-f]+\.(?:partial|importing)$")


# -- options every command shares ------------------------------------------------------------------------
def common_parent(*, reports: bool = True) -> argparse.ArgumentParser:
    """Return the parent parser of every command: ``-q``/``-v``, and ``--json`` when the command reports something."""
    parent = argparse.ArgumentParser(add_help=False)
    loudness = parent.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings and errors on stderr, no progress bars"
    )
    loudness.add_argument(
        "-v", "--verbose", action="count", default=0, help="debug messages on stderr (-vv: other libraries' too)"
    )
    if reports:
        parent.add_argument(
            "--json",
            action="store_true",
            help="print the result as one JSON document on stdout (sizes as width, height)",
        )
    return parent


Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``ArgumentParser.add_subparsers`` returns; each command module registers itself on it."""


def add_command(
    sub: Subparsers, name: str, *, reports: bool = True, doc: str | None = None, **kwargs: Any
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` with the common options (:func:`common_parent`).

    ``doc``: the command module's docstring, whose paragraphs after the synopsis line are the command's description.
    """
    if doc is not None:
        kwargs.setdefault("description", _description(doc))
    kwargs["parents"] = [*kwargs.get("parents", ()), common_parent(reports=reports)]
    parser: argparse.ArgumentParser = sub.add_parser(name, **kwargs)
    return parser


def add_canvas_command(
    sub: Subparsers,
    name: str,
    run: Callable[[argparse.Namespace], int],
    *,
    canvas_help: str = "the canvas (folder or URL)",
    **kwargs: Any,
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` (:func:`add_command`) whose first argument is a canvas and which calls ``run``."""
    parser = add_command(sub, name, **kwargs)
    parser.add_argument("canvas", help=canvas_help)
    parser.set_defaults(func=run)
    return parser


def _description(doc: str) -> str | None:
    """Return ``doc`` without its first paragraph (the synopsis).

    argparse and the CLI reference fold its white space, so its line breaks do not show (``python -OO`` drops
    docstrings, and with them the description).
    """
    return doc.partition("\n\n")[2].strip() or None


def add_region_option(p: argparse.ArgumentParser, *, note: str, required: bool = False) -> None:
    """Add ``--region X Y W H`` (GDAL order; :func:`region_from` makes it a window); ``note`` ends its help."""
    p.add_argument(
        "--region",
        nargs=4,
        type=int,
        metavar=("X", "Y", "W", "H"),
        required=required,
        help=f"world region: left column, top row, width, height ({note})",
    )


def region_from(xywh: Sequence[int]) -> Window:
    """Return the world window of ``--region X Y W H`` (an invalid size is refused here, by :class:`Window`)."""
    from imkerutils.tiling.window import Window

    x, y, w, h = xywh
    return Window(y, x, h, w)


def positive_int(text: str) -> int:
    """Parse an integer of at least 1, as an argparse type (anything else is a usage error, exit code 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# -- logging and reports ---------------------------------------------------------------------------------
class _Formatter(logging.Formatter):
    """Information as it is; anything else prefixed with its level (``warning: ...``)."""

    def format(self, record: logging.LogRecord) -> str:
        message = redact(super().format(record))
        return message if record.levelno == logging.INFO else f"{record.levelname.lower()}: {message}"


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (so redirected or captured stderr works)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(_Formatter())

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


@contextlib.contextmanager
def configure_logging(verbose: int = 0, quiet: bool = False) -> Iterator[None]:
    """Send log records to stderr while a command runs.

    INFO and up by default, WARNING and up with ``quiet``, DEBUG with ``verbose`` (``verbose >= 2``: every
    library's records, through the root logger).

    The loggers' levels and handlers are restored afterwards, so a command run in-process leaves no trace.
    """
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    ours, root = logging.getLogger(LOGGER), logging.getLogger()
    target = root if verbose >= 2 else ours
    saved = ours.level, root.level
    handler = _StderrHandler()
    ours.setLevel(level)
    if verbose >= 2:
        root.setLevel(logging.DEBUG)
    target.addHandler(handler)
    try:
        yield
    finally:
        target.removeHandler(handler)
        ours.setLevel(saved[0])
        root.setLevel(saved[1])


def emit(args: argparse.Namespace, text: str, data: Any) -> None:
    """Return the command's result on stdout: ``data`` as JSON with ``--json``, else ``text``."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2))
    else:
        print(text)


def size_json(width: int, height: int) -> dict[str, int]:
    """Return a size in JSON: width first, as in the text ``W x H``."""
    return {"width": width, "height": height}


def region_json(w: Window) -> dict[str, int]:
    """Return a world region in JSON: ``x, y, width, height`` (the order of ``--region X Y W H``)."""
    return {"x": w.col_off, "y": w.row_off, "width": w.width, "height": w.height}


# -- errors ----------------------------------------------------------------------------------------------
def redact(text: str) -> str:
    """``text`` without the value of ``OPENAI_API_KEY`` (an endpoint may echo the key in its error message)."""
    from imkerutils.exquisite.ui.messages import redact as redact_key  # the UI's redaction, shared

    return redact_key(text)


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


def _one_line(text: str) -> str:
    return redact(" ".join(text.split()))


def run_guarded(prog: str, func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a subcommand, turning our errors (and the system's) into one line on stderr and exit code 2.

    Any other exception is a bug: one line too, exit code 1, its traceback only with ``-v``.  Sets up
    logging from ``-q``/``-v`` first.  No line carries the API key (:func:`redact`).
    """
    with configure_logging(getattr(args, "verbose", 0), getattr(args, "quiet", False)):
        log.debug("%s with %s", prog, {k: v for k, v in vars(args).items() if k != "func"})
        return _run(prog, func, args)


def _run(prog: str, func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return func(args)
    except ImkerError as exc:
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # a path that cannot be written (no such folder, no permission, disk full, ...)
        print(f"{prog}: error: {_one_line(os_error_message(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, or a library error not mapped to ours yet: one line, no key in it
        log.debug("the unexpected error's traceback:", exc_info=True)
        print(
            f"{prog}: error: unexpected {type(exc).__name__}: {_one_line(str(exc))} (this is a bug; -v shows "
            "the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED
