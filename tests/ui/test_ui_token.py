"""Serving beyond loopback needs the secret token (issue 15, point 8), over real HTTP.

The servers here listen on every address (``0.0.0.0``) but the tests connect through 127.0.0.1 only: a
request from loopback must be refused like any other when the server listens beyond it.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from imkerutils.exquisite.ui import security
from imkerutils.exquisite.ui.jobs import CanvasSession
from imkerutils.exquisite.ui.security import TokenMiddleware, allowed_hosts, cookie_name, needs_token, new_token
from imkerutils.exquisite.ui.serve import background
from imkerutils.exquisite.ui.server import create_app
from imkerutils.tiling.canvas import Canvas

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PATHS = ["/", "/api/state", "/static/app.js", "/static/vendor/openseadragon/openseadragon.min.js"]
PATHS += ["/api/tiles/0/0/0.png", "/api/tiles/0/0/0.jpg", "/api/steps/1/thumb.png", "/api/jobs/" + "0" * 32]


@contextmanager
def remote_server(location: Path, token: str) -> Iterator[tuple[httpx.Client, str]]:
    """A UI server with ``token`` listening on 0.0.0.0; a client connected to it through 127.0.0.1."""
    session = CanvasSession(location)
    app = create_app(session, hosts=allowed_hosts("0.0.0.0"), token=token)
    with background(app, host="0.0.0.0", log_level="debug", access_log=True) as url:
        base = f"http://127.0.0.1:{urlsplit(url).port}"
        with httpx.Client(base_url=base, trust_env=False, timeout=60, follow_redirects=False) as http:
            yield http, base


def write(http: httpx.Client, base: str, path: str, body: bytes = b"{}") -> httpx.Response:
    return http.post(path, content=body, headers={"origin": base, "content-type": "application/json"})


def test_loopback_needs_no_token_and_every_other_address_does() -> None:
    assert not needs_token("127.0.0.1")
    assert not needs_token("localhost")
    assert not needs_token("[::1]")
    assert needs_token("0.0.0.0")
    assert needs_token("::")
    assert needs_token("192.0.2.2")
    assert needs_token("")
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(t) >= 43 for t in tokens)


def test_every_request_without_the_token_is_refused(
    sample_canvas: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    token = new_token()
    caplog.set_level(logging.DEBUG)
    with remote_server(sample_canvas, token) as (http, base):
        port = urlsplit(base).port
        refused = {p: http.get(p) for p in PATHS}
        refused["POST /api/undo"] = write(http, base, "/api/undo")
        refused["POST /api/grow"] = write(http, base, "/api/grow", b'{"directions": ["right"], "generator": "mock"}')
        refused["wrong token"] = http.get("/", params={"token": new_token()})
        refused["token prefix"] = http.get("/", params={"token": token[:-1]})
        refused["token twice"] = http.get("/", params=[("token", token), ("token", "x")])
        refused["wrong cookie"] = http.get("/api/state", headers={"cookie": f"{cookie_name(port)}={new_token()}"})
        refused["other port's cookie"] = http.get("/api/state", headers={"cookie": f"{cookie_name(1)}={token}"})
        refused["token in a POST query"] = http.post(
            "/api/undo?token=" + token, content=b"{}", headers={"origin": base, "content-type": "application/json"}
        )
        for what, r in refused.items():
            assert r.status_code == 401, what
            assert token not in r.text, what
            assert token not in str(r.headers), what
            assert "set-cookie" not in r.headers, what
            assert r.headers["x-frame-options"] == "DENY", what
        assert Canvas.open(sample_canvas, read_only=True).head == 1  # the undo did not happen

        # the link with the token: a cookie, and a redirect to the same address without the token
        r = http.get("/", params={"token": token})
        assert r.status_code == 303
        assert r.headers["location"] == "/"
        cookie = r.headers["set-cookie"]
        attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
        assert cookie.startswith(f"{cookie_name(port)}={token};")
        assert {"httponly", "samesite=strict", "path=/"} <= attributes
        http.cookies.clear()
        r = http.get("/api/tiles/0/0/0.png", params={"v": "abc", "token": token})
        assert r.status_code == 303
        assert r.headers["location"] == "/api/tiles/0/0/0.png?v=abc"
        http.cookies.clear()
        r = http.get("//evil.example/x", params={"token": token})
        assert r.status_code == 303
        assert r.headers["location"].startswith("/")
        assert "evil" not in r.headers["location"]

        # with the cookie, everything works as on loopback
        http.cookies.set(cookie_name(port), token)
        assert http.get("/").status_code == 200
        assert "Exquisite" in http.get("/").text
        assert http.get("/api/state").json()["head"] == 1
        tile = http.get("/api/tiles/0/0/0.png")
        assert tile.status_code == 200
        assert tile.content.startswith(b"\x89PNG")
        assert http.get("/static/app.js").status_code == 200
        assert write(http, base, "/api/undo", b'{"head": 1}').status_code == 200
    assert Canvas.open(sample_canvas, read_only=True).head == 0
    out, err = capfd.readouterr()
    server_log = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]  # not the client's
    assert 'GET /?token=[redacted] HTTP/1.1" 303' in out + err  # the access log saw the link...
    assert 'GET /api/state HTTP/1.1" 401' in out + err
    assert all(token not in r.getMessage() for r in server_log)  # ...and never the token
    assert token not in out + err


def test_the_token_is_compared_in_constant_time(sample_canvas: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = security.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    token = new_token()
    with remote_server(sample_canvas, token) as (http, _):
        assert http.get("/", params={"token": "nope"}).status_code == 401
        assert http.get("/", params={"token": token}).status_code == 303
    assert (b"nope", token.encode()) in calls
    assert (token.encode(), token.encode()) in calls


@given(st.text(max_size=60))
def test_no_other_string_opens_the_server(guess: str) -> None:
    token = "s3cret-" + "x" * 40
    app = TokenMiddleware(Starlette(routes=[Route("/", lambda r: PlainTextResponse("in"))]), token=token)
    with TestClient(app, follow_redirects=False) as client:
        r = client.get("/", params={"token": guess})
    assert r.status_code == (303 if guess == token else 401)


def test_a_short_token_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        TokenMiddleware(Starlette(), token="short")


def test_cli_prints_the_link_once_and_never_logs_the_token(sample_canvas: Path) -> None:
    """``imkerutils ui --host 0.0.0.0 --allow-remote -v``: the link has the token; requests need it; logs lack it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "imkerutils.cli.main", "ui", "-v", str(sample_canvas), "--host", "0.0.0.0"]
        + ["--allow-remote", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = next(w for w in line.split() if w.startswith("http://"))
        parts = urlsplit(url)
        token = parts.query.removeprefix("token=")
        base = f"http://127.0.0.1:{parts.port}"
        with httpx.Client(base_url=base, trust_env=False, timeout=60, follow_redirects=True) as http:
            refused = http.get("/api/state")
            opened = http.get("/" + "?" + parts.query)  # follows the redirect with the cookie
            state = http.get("/api/state")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert len(token) >= 43
    assert parts.query == f"token={token}"
    assert refused.status_code == 401
    assert opened.status_code == 200
    assert str(opened.url) == base + "/"
    assert state.status_code == 200
    assert state.json()["head"] == 1
    assert "warning: listening on 0.0.0.0" in err
    assert "secret token" in err
    assert token not in out + err  # printed once (the line read above), never again, never on stderr
    assert 'GET /?token=[redacted] HTTP/1.1" 303' in out + err  # -v: the access log, with the token redacted
