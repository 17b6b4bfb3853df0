"""A fake OpenAI images server on loopback (test helper, imported by this folder's tests).

``fake_openai`` serves ``POST /v1/images/edits`` the way the real API does
(multipart in, JSON with ``data[0].b64_json`` and ``usage`` out) and records
every request it receives.  Scripted replies (``fake_openai.push(Reply(...))``)
are served first, in order; after them every request gets the default success:
the uploaded image with the mask's transparent pixels painted ``PAINT``.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from PIL import Image

TEST_KEY = "sk-test-imkerutils-0123456789abcdef"
PAINT = (10, 200, 30, 255)
DEFAULT_USAGE = {
    "input_tokens": 1370,
    "input_tokens_details": {"text_tokens": 50, "image_tokens": 1320},
    "output_tokens": 4160,
    "total_tokens": 5530,
}


@dataclass
class Part:
    """One multipart form field as received."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class SeenRequest:
    """One HTTP request as the fake server received it."""

    method: str
    path: str
    headers: dict[str, str]
    parts: dict[str, Part]

    def field(self, name: str) -> str:
        return self.parts[name].data.decode()

    def image(self, name: str) -> Image.Image:
        im = Image.open(io.BytesIO(self.parts[name].data))
        im.load()
        return im


@dataclass
class Reply:
    """A scripted reply: ``json`` (or raw ``body``) with ``status`` and ``headers``, after ``delay_s``.

    ``json=None`` and ``body=None`` mean: the default success body.
    """

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def png_b64(array: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=1)
    return base64.b64encode(buf.getvalue()).decode()


@functools.cache
def solid_png_b64() -> str:
    """A 1024x1024 RGBA PNG of PAINT, made once (the fast default when painting is off)."""
    return png_b64(np.broadcast_to(np.array(PAINT, np.uint8), (1024, 1024, 4)).copy())


def painted(image: np.ndarray, mask_rgba: np.ndarray) -> np.ndarray:
    """What the default success returns: ``image`` as RGBA with the mask's transparent pixels painted."""
    if image.shape[2] == 3:
        image = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    out = image.copy()
    out[mask_rgba[..., 3] == 0] = PAINT
    return out


def parse_multipart(content_type: str, body: bytes) -> dict[str, Part]:
    """Split a multipart/form-data body into its parts, byte-exact."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    assert header.get_content_type() == "multipart/form-data", content_type
    assert isinstance(boundary, str)
    parts: dict[str, Part] = {}
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)
    assert chunks[-1].strip() in (b"--", b""), "multipart body must end with the closing delimiter"
    for chunk in chunks[1:-1]:
        assert chunk.startswith(b"\r\n")
        assert chunk.endswith(b"\r\n")
        head, _, data = chunk[2:-2].partition(b"\r\n\r\n")
        headers = HeaderParser().parsestr(head.decode("utf-8"))
        name = headers.get_param("name", header="content-disposition")
        filename = headers.get_param("filename", header="content-disposition")
        assert isinstance(name, str)
        parts[name] = Part(
            name=name,
            filename=filename if isinstance(filename, str) else None,
            content_type=headers.get("content-type"),
            data=data,
        )
    return parts


class FakeOpenAI:
    """The fake server's state; ``base_url`` is what the SDK needs."""

    def __init__(self) -> None:
        self.requests: list[SeenRequest] = []
        self.replies: deque[Reply] = deque()
        self.usage: dict[str, Any] | None = DEFAULT_USAGE
        self.paint = True  # False: answer every success with one solid image (faster)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="fake-openai", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def push(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _next(self, seen: SeenRequest) -> tuple[Reply, bytes]:
        with self._lock:
            self.requests.append(seen)
            n = len(self.requests)
            reply = self.replies.popleft() if self.replies else Reply()
        if reply.body is not None:
            return reply, reply.body
        payload = reply.json if reply.json is not None else self.success(seen)
        reply.headers.setdefault("x-request-id", f"req_fake_{n}")
        return reply, json.dumps(payload).encode()

    def success(self, seen: SeenRequest, image: np.ndarray | None = None) -> dict[str, Any]:
        if image is not None:
            b64 = png_b64(image)
        elif self.paint:
            b64 = png_b64(painted(np.asarray(seen.image("image")), np.asarray(seen.image("mask"))))
        else:
            b64 = solid_png_b64()
        body: dict[str, Any] = {
            "created": 1764000000,
            "data": [{"b64_json": b64}],
            "size": "1024x1024",
            "quality": "high",
            "output_format": "png",
            "background": "opaque",
        }
        if self.usage is not None:
            body["usage"] = self.usage
        return body


def _make_handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            if self.path != "/v1/images/edits":
                self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}).encode(), {})
                return
            parts = parse_multipart(headers.get("content-type", ""), body)
            reply, payload = fake._next(SeenRequest("POST", self.path, headers, parts))
            if reply.delay_s and fake.stopping.wait(reply.delay_s):
                return
            self._send(reply.status, payload, reply.headers)

        def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                pass

    return Handler
