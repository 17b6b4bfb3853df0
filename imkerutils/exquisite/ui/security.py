"""Request guards of the browser UI: allowed Host names, the access token, same-origin writes, security headers.

* **Host.**  Every request must name one of the server's own host names in
  its ``Host`` header (a DNS-rebinding page names its own domain and is refused).
* **Token.**  A server that listens beyond loopback (``--allow-remote``) has a
  secret token, printed once as part of its URL (as Jupyter does).  A request
  carrying it in the query (``?token=...``) is answered with an ``HttpOnly``,
  ``SameSite=Strict`` cookie holding it and a redirect to the same URL without
  it; every other request without that cookie gets 401, whatever its source
  (the page, tiles and static files included).  Comparisons take constant time
  and the token is never logged nor echoed.  On loopback there is no token.
* **Same origin.**  A state-changing request must carry ``Origin`` equal to
  ``http://<Host>``, or (without ``Origin``) ``Sec-Fetch-Site: same-origin``;
  other callers get 403.  It must also be ``Content-Type: application/json``,
  which a cross-site form cannot send without a CORS preflight we never grant.
* **Headers.**  Every response forbids framing, sniffing and cross-origin embedding.

>>> allowed_hosts("127.0.0.1") >= {"127.0.0.1", "localhost", "::1"}
True
>>> host_name("[::1]:8765"), host_name("localhost:80"), host_name("bad host")
('::1', 'localhost', None)
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import re
import secrets
import socket
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser
from starlette.responses import PlainTextResponse, RedirectResponse

if TYPE_CHECKING:
    from collections.abc import Collection

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "TOKEN_PARAM",
    "GuardMiddleware",
    "TokenMiddleware",
    "allowed_hosts",
    "cookie_name",
    "host_name",
    "is_loopback",
    "is_same_origin",
    "needs_token",
    "new_token",
]

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
_HOST_CHARS = re.compile(r"[A-Za-z0-9.\-:]+")
TOKEN_PARAM = "token"
_TOKEN_BYTES = 32

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    ),
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback interface."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def needs_token(bind: str) -> bool:
    """Whether a server bound to ``bind`` must ask for a token (every address but loopback: wildcards too)."""
    return not is_loopback(bind.strip("[]"))


def new_token() -> str:
    """Return a fresh random access token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def cookie_name(port: int | None) -> str:
    """Return the name of the token cookie: per port, as cookies ignore ports and two servers may share a host.

    >>> cookie_name(8765), cookie_name(None)
    ('imkerutils-ui-8765', 'imkerutils-ui')
    """
    return "imkerutils-ui" if port is None else f"imkerutils-ui-{port}"


def allowed_hosts(bind: str) -> set[str]:
    """Host names a browser may use for a server bound to ``bind``.

    Loopback names always; the bound address itself; for a wildcard bind
    (``0.0.0.0``, ``::``) this machine's host name, full name and addresses.
    """
    hosts = set(LOOPBACK_NAMES)
    bind = bind.strip("[]")
    if bind not in WILDCARDS:
        hosts.add(bind)
        return hosts
    name = socket.gethostname()
    hosts.update({name, socket.getfqdn()})
    with contextlib.suppress(OSError):  # a host name that does not resolve adds no addresses
        hosts.update(str(info[4][0]) for info in socket.getaddrinfo(name, None))
    return {h.lower() for h in hosts}


def host_name(host_header: str) -> str | None:
    """Return the host name in a ``Host`` header (no port, no IPv6 brackets), or None if malformed."""
    try:
        parts = urlsplit("//" + host_header)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return None
    if (
        parts.hostname is None
        or parts.username is not None
        or parts.path
        or parts.query
        or parts.fragment
        or not _HOST_CHARS.fullmatch(parts.hostname)
    ):
        return None
    return parts.hostname


def is_same_origin(headers: Headers, scheme: str = "http") -> bool:
    """Whether a request comes from a page this server served (see the module docstring)."""
    origin = headers.get("origin")
    if origin is not None:
        host = headers.get("host")
        return host is not None and origin == f"{scheme}://{host}"
    return headers.get("sec-fetch-site") == "same-origin"


class GuardMiddleware:
    """Refuse unknown Host names (400) and add the security headers to every response."""

    def __init__(self, app: ASGIApp, hosts: Collection[str]) -> None:
        self.app = app
        self.hosts = {h.lower().strip("[]") for h in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection: check its Host, then add the headers to the response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = host_name(Headers(scope=scope).get("host", ""))
        if host is None or host.lower() not in self.hosts:
            response = PlainTextResponse(
                "unknown Host header: this server answers only to its own address", status_code=400
            )
            await response(scope, receive, self._with_headers(send, scope))
            return
        await self.app(scope, receive, self._with_headers(send, scope))

    @staticmethod
    def _with_headers(send: Send, scope: Scope) -> Send:
        static = scope.get("path", "").startswith("/static/")

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
                if static:  # revalidate assets (ETag), so a new version of the page is never mixed with an old one
                    headers.setdefault("cache-control", "no-cache")
            await send(message)

        return wrapped


def _equal(given: str, token: bytes) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token)


class TokenMiddleware:
    """Let through only requests that carry the server's token (see the module docstring).

    The token is taken from the ``token`` query parameter of a GET or HEAD
    request (answered by a redirect that sets the cookie and drops the
    parameter) or from the cookie; anything else gets 401.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        if len(token) < 16:
            raise ValueError("an access token must be at least 16 characters long")
        self.app = app
        self._token = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection: let it through with the token or its cookie, else 401."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        server = scope.get("server")
        name = cookie_name(server[1] if server else None)
        cookies = cookie_parser(Headers(scope=scope).get("cookie", ""))
        if name in cookies and _equal(cookies[name], self._token):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [v for k, v in query if k == TOKEN_PARAM]
        if scope.get("method") in ("GET", "HEAD") and len(given) == 1 and _equal(given[0], self._token):
            rest = urlencode([(k, v) for k, v in query if k != TOKEN_PARAM])
            path = quote(scope.get("path", "/"))
            if not path.startswith("/") or path.startswith("//"):  # never a redirect to another host
                path = "/"
            redirect = RedirectResponse(
                path + ("?" + rest if rest else ""), status_code=303, headers={"cache-control": "no-store"}
            )
            redirect.set_cookie(name, given[0], path="/", httponly=True, samesite="strict")
            await redirect(scope, receive, send)
            return
        refused = PlainTextResponse(
            "this server needs its access token: open the link (with ?token=...) it printed when it started",
            status_code=401,
            headers={"cache-control": "no-store"},
        )
        await refused(scope, receive, send)
