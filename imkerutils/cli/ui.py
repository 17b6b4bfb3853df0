"""``imkerutils ui PATH`` (and ``python -m imkerutils.exquisite.ui PATH``): the browser UI for one canvas."""

from __future__ import annotations

import argparse
import contextlib
import logging
import threading
import webbrowser
from typing import TYPE_CHECKING

from imkerutils.cli._common import Subparsers, add_command, common_parent, run_guarded
from imkerutils.errors import UIHostError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["add_arguments", "add_parser", "main", "run"]

DEFAULT_PORT = 8765

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``ui`` command's arguments to ``p`` (shared with ``python -m imkerutils.exquisite.ui``)."""
    p.add_argument("path", help="an image file (a canvas <name>.zarr is created beside it) or an existing canvas")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other needs --allow-remote)"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free port)")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --host to be an address other machines can reach; the server then prints a link with a "
        "secret token, and anyone given that link can grow, undo and spend your budget",
    )
    p.add_argument("--open", action="store_true", help="open the page in the default web browser")
    p.add_argument("--budget-usd", type=float, help="refuse a step that could take the canvas's spending past this")
    p.add_argument("--trust-large", action="store_true", help="allow an input image over the decompression-bomb limit")
    p.set_defaults(func=run)


def add_parser(sub: Subparsers) -> None:
    """Add the ``ui`` command to the subcommand parsers ``sub``."""
    add_arguments(add_command(sub, "ui", reports=False, help="open a canvas (or an image file) in the browser UI"))


def run(args: argparse.Namespace) -> int:
    """Run ``imkerutils ui`` with the parsed ``args``; return the exit status."""
    from imkerutils.exquisite.ui.security import TOKEN_PARAM, allowed_hosts, is_loopback, needs_token, new_token

    if not is_loopback(args.host):
        if not args.allow_remote:
            raise UIHostError(
                f"refusing to listen on {args.host}: other machines could then use this canvas and its "
                "API budget; pass --allow-remote to do it anyway"
            )
        log.warning(
            "listening on %s: every request must carry the secret token of the link printed below; anyone you "
            "give that link can grow, undo and spend the budget of this canvas",
            args.host,
        )
    if not 0 <= args.port <= 65535:
        raise UIHostError(f"--port must be between 0 and 65535, got {args.port}")
    from imkerutils.errors import ServerStartError
    from imkerutils.exquisite.ui.serve import bind, url_of
    from imkerutils.exquisite.ui.serve import run as serve

    try:
        from imkerutils.exquisite.ui.jobs import CanvasSession
        from imkerutils.exquisite.ui.server import create_app
    except ModuleNotFoundError as exc:
        raise ServerStartError(f"the browser UI needs {exc.name}: pip install 'imkerutils[ui]'") from None
    from imkerutils.cli.grow import open_or_create
    from imkerutils.exquisite.state.budget import Budget

    Budget(args.budget_usd)  # a bad limit or a port in use is refused before anything is created
    sock = bind(args.host, args.port)
    try:
        canvas = open_or_create(args.path, trusted=args.trust_large)
        session = CanvasSession(canvas.location, budget_usd=args.budget_usd)
    except BaseException:
        sock.close()
        raise
    token = new_token() if needs_token(args.host) else None
    url = url_of(sock) if token is None else f"{url_of(sock)}?{TOKEN_PARAM}={token}"
    # the one place the token is shown (standard output, never the log), as Jupyter does
    print(f"Exquisite UI for {canvas.location}: {url}  (Ctrl+C to stop)", flush=True)
    if args.open:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn shuts down cleanly, then re-raises the signal
        app = create_app(session, hosts=allowed_hosts(args.host), token=token)
        verbose = getattr(args, "verbose", 0) > 0  # -v: one access-log line per request (tokens redacted)
        serve(app, sock, log_level="info" if verbose else "warning", access_log=verbose)
    log.info("stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m imkerutils.exquisite.ui``."""
    prog = "python -m imkerutils.exquisite.ui"
    parser = argparse.ArgumentParser(
        prog=prog, description="The Exquisite browser UI for one canvas.", parents=[common_parent(reports=False)]
    )
    add_arguments(parser)
    args = parser.parse_args(list(argv) if argv is not None else None)
    return run_guarded(prog, args.func, args)
