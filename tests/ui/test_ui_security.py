"""Security of the UI server over real HTTP: origins, hosts, path traversal, and the API key."""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from imkerutils.tiling.canvas import Canvas

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SECRET_FILE_TEXT = "do-not-serve-" + uuid.uuid4().hex


# -- cross-origin writes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/grow", "/api/undo", "/api/redo"])
@pytest.mark.parametrize(
    "headers",
    [
        {},  # no Origin, no Sec-Fetch-Site (curl, old browsers)
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"origin": "http://127.0.0.1:1"},  # another local port is another origin
        {"origin": "https://{host}"},  # another scheme
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "http://evil.example", "sec-fetch-site": "same-origin"},
    ],
)
def test_cross_origin_writes_are_refused(shared, path: str, headers: dict[str, str]) -> None:
    host = urlsplit(shared.url).netloc
    h = {"content-type": "application/json", **{k: v.format(host=host) for k, v in headers.items()}}
    before = shared.state()["token"]
    r = shared.http.post(
        path,
        content=json.dumps({"directions": ["right"], "generator": "mock"} if path == "/api/grow" else {}),
        headers=h,
    )
    assert r.status_code == 403
    assert r.json()["error"]["kind"] == "forbidden"
    s = shared.state()
    assert s["token"] == before
    assert s["jobs"] == []


def test_same_origin_without_origin_header_is_accepted(serve, sample_canvas: Path) -> None:
    with serve(sample_canvas) as page:
        r = page.post("/api/undo", {"head": 1}, origin=None, headers={"sec-fetch-site": "same-origin"})
        assert r.status_code == 200
        assert page.state()["head"] == 0


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example", "", "a b", "user@127.0.0.1", "127.0.0.1/x"]
)
def test_unknown_host_header_is_refused(shared, host: str) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: every request is refused."""
    for path in ("/", "/api/state", "/api/tiles/0/0/0.png", "/static/app.js"):
        r = shared.http.get(path, headers={"host": host})
        assert r.status_code == 400, (host, path)
        assert "x-frame-options" in r.headers
    r = shared.http.post(
        "/api/undo",
        content=b"{}",
        headers={"host": host, "origin": f"http://{host}", "content-type": "application/json"},
    )
    assert r.status_code == 400


def test_localhost_names_are_accepted(shared) -> None:
    port = urlsplit(shared.url).port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert shared.http.get("/api/state", headers={"host": host}).status_code == 200


# -- paths --------------------------------------------------------------------------------------------------------


def raw_get(url: str, target: str) -> tuple[int, bytes]:
    """GET ``target`` sent byte for byte (no client-side normalisation of ``..``)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_no_path_escapes_the_served_files(serve, sample_canvas: Path) -> None:
    secret = sample_canvas.parent / "secret.txt"
    secret.write_text(SECRET_FILE_TEXT)
    (sample_canvas / "secret.txt").write_text(SECRET_FILE_TEXT)
    rel_secret = "../" * 12 + str(secret).lstrip("/")
    targets = [
        "/static/../../../../../../etc/passwd",
        "/static/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/" + rel_secret,
        "/static/" + rel_secret.replace("/", "%2f"),
        "/static/..%5c..%5c..%5cetc%5cpasswd",
        "/static//etc/passwd",
        "/static/" + str(secret),
        "/static/../server.py",
        "/static/vendor/../../jobs.py",
        "/static/%2e%2e/jobs.py",
        "/static/..",
        "/static/%00",
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/api/../../" + rel_secret,
        "/api/tiles/0/0/../../../../secret.txt",
        "/api/steps/1/../../../../secret.txt",
        "/api/steps/..%2f..%2fsecret.txt/thumb.png",
        "/api/jobs/..%2f..%2fsecret.txt",
        "/secret.txt",
        "/zarr.json",
        "/landscape.zarr/zarr.json",
        "/static/landscape.zarr/secret.txt",
    ]
    with serve(sample_canvas) as page:
        results = {t: raw_get(page.url, t) for t in targets}
        assert raw_get(page.url, "/static/app.js")[0] == 200  # the mount does serve its own files
    for target, (status, body) in results.items():
        assert status in (400, 404, 405), (target, status)
        assert SECRET_FILE_TEXT.encode() not in body, target
        assert b"root:" not in body, target
        assert b"create_app" not in body, target
        assert b"zarr_format" not in body, target


# -- the API key --------------------------------------------------------------------------------------------------


class FakeOpenAI:
    """A loopback stand-in for the OpenAI API answering every request with one scripted reply."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        self.authorizations: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                fake.authorizations.append(self.headers.get("authorization", ""))
                payload = json.dumps(fake.body).encode()
                self.send_response(fake.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = "sk-test-ui-" + uuid.uuid4().hex
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setattr("imkerutils.exquisite.api.openai_._sleep", lambda s: None)  # no real backoff waits
    return key


def _error(message: str, code: str | None, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code, "param": None}}


def every_response_text(page) -> Iterator[str]:
    s = page.get("/api/state")
    yield s.text
    for job in s.json()["jobs"]:
        yield page.get(f"/api/jobs/{job['id']}").text
    for path in ("/", "/static/app.js", "/static/app.css", "/static/index.html"):
        r = page.get(path)
        yield r.text
        yield json.dumps(dict(r.headers))


def test_api_key_never_leaves_the_server(
    serve,
    sample_canvas: Path,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    rejected = _error(
        f"Incorrect API key provided: {api_key[:8]}****{api_key[-4:]}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_api_key",
        "invalid_request_error",
    )
    with FakeOpenAI(401, rejected) as fake, serve(sample_canvas) as page:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        assert {g["name"]: g["available"] for g in page.state()["generators"]}["openai"] is True
        r = page.post("/api/grow", {"directions": ["right"], "generator": "openai", "prompt": "a harbour"})
        assert r.status_code == 202
        job = page.wait_job(r.json()["job"]["id"])
        texts = list(every_response_text(page))
    assert fake.authorizations == [f"Bearer {api_key}"]  # the key was really used...
    assert job["status"] == "failed"
    assert job["error"]["kind"] == "api_key"
    assert job["error"]["title"] == "Missing or invalid API key"
    assert "rejected" in job["error"]["detail"]
    for text in texts:  # ...and went nowhere else: not in any page, reply or header,
        assert api_key not in text
        assert api_key[-12:] not in text
    for f in sample_canvas.rglob("*"):  # nor in the canvas's files (journal, records, artifacts),
        if f.is_file():
            assert api_key.encode() not in f.read_bytes(), f
    out, err = capfd.readouterr()  # nor in the logs
    assert api_key not in caplog.text + out + err
    assert Canvas.open(sample_canvas).head == 1


@pytest.mark.parametrize(
    ("status", "body", "kind", "title"),
    [
        (
            400,
            _error(
                "Your request was rejected by the safety system.", "moderation_blocked", "image_generation_user_error"
            ),
            "moderation",
            "Refused by the image model's safety system",
        ),
        (
            429,
            _error("Rate limit reached for images per minute.", "rate_limit_exceeded", "requests"),
            "rate_limit",
            "Rate limit reached at the image service",
        ),
    ],
)
def test_generator_refusals_in_plain_words(
    serve,
    sample_canvas: Path,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    body: dict[str, Any],
    kind: str,
    title: str,
) -> None:
    with FakeOpenAI(status, body) as fake, serve(sample_canvas) as page:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        r = page.post("/api/grow", {"directions": ["up"], "generator": "openai", "prompt": "keep me"})
        job = page.wait_job(r.json()["job"]["id"])
        s = page.state()
    assert job["status"] == "failed"
    assert job["prompt"] == "keep me"
    assert (job["error"]["kind"], job["error"]["title"]) == (kind, title)
    assert len(fake.authorizations) >= 1
    assert s["head"] == 1
    assert s["canvas"]["height"] == 1024


def test_budget_reached_in_plain_words(
    serve, sample_canvas: Path, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI(500, {}) as fake, serve(sample_canvas, budget_usd=0.0) as page:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        cost = page.state()["cost"]
        r = page.post("/api/grow", {"directions": ["left"], "generator": "openai"})
        job = page.wait_job(r.json()["job"]["id"])
        mock = page.grow(["left"])  # an offline generator costs nothing and still fits
    assert cost == {"spent_usd": 0.0, "spent": "$0.00", "budget_usd": 0.0, "budget": "$0.00", "remaining_usd": 0.0}
    assert job["status"] == "failed"
    assert job["error"]["kind"] == "budget"
    assert job["error"]["title"] == "Budget reached"
    assert "budget" in job["error"]["detail"]
    assert fake.authorizations == []  # refused before any request
    assert mock["status"] == "done"
