"""Run the UI's ASGI app under uvicorn: in the foreground (the command) or on a background thread (tests, benchmarks).

The listening socket is bound before uvicorn starts, so the URL (with the real
port when ``port=0``) is known and printed before the first request, and a
port in use is reported as one clear error.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

from typing_extensions import override

from imkerutils.errors import ServerStartError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import uvicorn
    from starlette.types import ASGIApp

__all__ = ["RedactTokens", "background", "bind", "run", "url_of"]

_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s\"]*")


def bind(host: str, port: int) -> socket.socket:
    """Return a listening TCP socket on ``host:port`` (``port=0``: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServerStartError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another port with "
            "--port (0 picks a free one)"
        ) from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://host:port/`` of a bound socket (IPv6 in brackets; a wildcard shown as ``localhost``)."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "localhost"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class RedactTokens(logging.Filter):
    """Replace the value of a ``token`` query parameter in a log record by ``[redacted]`` (the access log).

    >>> r = logging.LogRecord("uvicorn.access", 20, "", 0, "%s", ("GET /?token=abc&v=1 HTTP/1.1",), None)
    >>> RedactTokens().filter(r), r.getMessage()
    (True, 'GET /?token=[redacted]&v=1 HTTP/1.1')
    """

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_QUERY.sub(r"\1[redacted]", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def _config(app: ASGIApp, *, log_level: str, access_log: bool = False) -> uvicorn.Config:
    import uvicorn

    # keep-alive 30 s, not uvicorn's 5: uvicorn starts the idle timer once a response is handed to the transport,
    # so a busy client that reads a large tile slowly can find its connection closed under its next request
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=access_log,
        ws="none",
        lifespan="on",
        timeout_keep_alive=30,
        timeout_graceful_shutdown=5,
    )
    access = logging.getLogger("uvicorn.access")  # configured by Config(): the filter goes on afterwards
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())
    return config


def run(app: ASGIApp, sock: socket.socket, *, log_level: str = "warning", access_log: bool = False) -> None:
    """Serve ``app`` on ``sock`` until interrupted (Ctrl+C); ``access_log``: one line per request (tokens redacted).

    The process returns freed image buffers to the system (:func:`~imkerutils.allocator.return_freed_memory`),
    so the server's memory stays bounded over a long session.
    """
    import uvicorn

    from imkerutils.allocator import return_freed_memory

    return_freed_memory()

    uvicorn.Server(_config(app, log_level=log_level, access_log=access_log)).run(sockets=[sock])


@contextmanager
def background(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "warning",
    access_log: bool = False,
    timeout_s: float = 60.0,
) -> Iterator[str]:
    """Serve ``app`` on a daemon thread; yields the base URL once the app has started, stops on exit."""
    import uvicorn

    sock = bind(host, port)
    server = uvicorn.Server(_config(app, log_level=log_level, access_log=access_log))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="imkerutils-ui-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise ServerStartError("the UI server did not start (see the log above)")
            time.sleep(0.01)
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout_s)
        sock.close()
