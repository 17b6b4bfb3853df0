"""The UI's pure parts: the deep-zoom frame, plain-words errors, request parsing, host and origin checks."""

from __future__ import annotations

import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from imkerutils.errors import (
    AuthenticationGeneratorError,
    BadRequestError,
    BudgetExceededError,
    CanvasChangedError,
    CanvasLockedError,
    GeneratorOutputError,
    InvalidWindowError,
    ModerationRefusedError,
    NothingToRedoError,
    NothingToUndoError,
    PermanentGeneratorError,
    RetryableGeneratorError,
    StepRejectedError,
    TileNotFoundError,
)
from imkerutils.exquisite.ui.deepzoom import Frame, encode_tile
from imkerutils.exquisite.ui.messages import explain, redact
from imkerutils.exquisite.ui.requests import GrowRequest, decode_json, parse_grow, parse_undo
from imkerutils.exquisite.ui.security import allowed_hosts, host_name, is_loopback, is_same_origin
from imkerutils.tiling.pyramid import level_window, levels_needed
from imkerutils.tiling.window import Window

TILE = 64


@st.composite
def bounds(draw: st.DrawFn) -> Window:
    return Window(
        draw(st.integers(-5000, 5000)),
        draw(st.integers(-5000, 5000)),
        draw(st.integers(1, 3000)),
        draw(st.integers(1, 3000)),
    )


@given(bounds())
def test_frame_tiles_are_chunks_that_cover_the_bounds_once(b: Window) -> None:
    levels = levels_needed(b, TILE)
    frame = Frame.of(b, levels=levels, tile=TILE)
    assert frame.window.contains(b)
    step = TILE << (levels - 1)
    f = frame.window
    assert all(v % step == 0 for v in (f.row_off, f.col_off, f.height, f.width))  # on the top level's grid
    assert f.row_off + step > b.row_off
    assert f.col_off + step > b.col_off
    assert f.row_end - step < b.row_end
    assert f.col_end - step < b.col_end
    for level in range(levels):
        rows, cols = frame.tile_counts(level)
        covered = 0
        lb = level_window(b, level)
        for row in range(rows):
            for col in range(cols):
                w = frame.tile_window(level, col, row)
                assert w.height == w.width == TILE
                assert w.row_off % TILE == 0
                assert w.col_off % TILE == 0
                inter = w.intersection(lb)
                covered += 0 if inter is None else inter.size
        assert covered == lb.size  # the tiles partition the level's bounds
        with pytest.raises(TileNotFoundError):
            frame.tile_window(level, cols, 0)
        with pytest.raises(TileNotFoundError):
            frame.tile_window(level, 0, rows)
    assert frame.tile_counts(levels - 1)[0] <= 2
    assert frame.tile_counts(levels - 1)[1] <= 2
    with pytest.raises(TileNotFoundError):
        frame.tile_window(levels, 0, 0)


def test_frame_of_empty_bounds_is_one_tile() -> None:
    f = Frame.of(Window(0, 0, 0, 0), levels=1, tile=TILE)
    assert f.window == Window(0, 0, TILE, TILE)
    assert f.tile_counts(0) == (1, 1)
    with pytest.raises(ValueError, match="at least one level"):
        Frame.of(Window(0, 0, 1, 1), levels=0, tile=TILE)


def test_encode_tile_rejects_unknown_formats() -> None:
    import numpy as np

    assert encode_tile(np.zeros((4, 4, 3), np.uint8), "jpg")[:2] == b"\xff\xd8"
    with pytest.raises(TileNotFoundError):
        encode_tile(np.zeros((4, 4, 3), np.uint8), "gif")


def _status_error(status: int, code: str | None = None) -> openai.APIStatusError:
    import httpx

    response = httpx.Response(status, request=httpx.Request("POST", "http://127.0.0.1/v1/images/edits"))
    return openai.APIStatusError("refused", response=response, body={"code": code} if code else None)


def _caused(exc: Exception, cause: BaseException) -> Exception:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "kind", "status"),
    [
        (AuthenticationGeneratorError("no OpenAI API key"), "api_key", 400),
        (ModerationRefusedError("refused (moderation_blocked)"), "moderation", 400),
        (_caused(RetryableGeneratorError("OpenAI API error"), _status_error(429)), "rate_limit", 429),
        (RetryableGeneratorError("OpenAI API error HTTP 429 [request r1]: slow down"), "rate_limit", 429),
        (_caused(RetryableGeneratorError("OpenAI API error HTTP 503"), _status_error(503)), "service", 502),
        (RetryableGeneratorError("the OpenAI request timed out"), "service", 502),
        (BudgetExceededError("step could cost up to $0.25"), "budget", 402),
        (StepRejectedError("seam excess 9.1 > 3"), "rejected", 422),
        (GeneratorOutputError("a 512x512 image"), "generator", 502),
        (PermanentGeneratorError("HTTP 403"), "generator", 502),
        (CanvasLockedError("another process"), "locked", 409),
        (CanvasChangedError("changed"), "changed", 409),
        (NothingToUndoError("no step"), "nothing_to_undo", 409),
        (NothingToRedoError("no step"), "nothing_to_redo", 409),
        (InvalidWindowError("bad window"), "invalid", 400),
        (ZeroDivisionError("boom /secret/path"), "internal", 500),
    ],
)
def test_errors_in_plain_words(exc: BaseException, kind: str, status: int) -> None:
    m = explain(exc)
    assert (m.kind, m.status) == (kind, status)
    assert m.title
    assert m.title[0].isupper()
    if kind == "internal":
        assert "boom" not in m.detail
        assert "ZeroDivisionError" in m.detail
    else:
        assert str(exc) in m.detail


def test_redact_removes_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-abc123456789")
    assert redact("bad key sk-abc123456789!") == "bad key [redacted]!"
    assert explain(AuthenticationGeneratorError("key sk-abc123456789 rejected")).detail == "key [redacted] rejected"
    monkeypatch.delenv("OPENAI_API_KEY")
    assert redact("nothing to hide") == "nothing to hide"


def test_parse_grow_accepts_a_full_body() -> None:
    body = {
        "directions": ["down", "left"],
        "steps": 3,
        "prompt": "é ✓",
        "generator": "local",
        "seed": 2**32 - 1,
        "seam": "feather",
    }
    assert parse_grow(body, generators={"local"}, seams={"exact", "feather"}) == GrowRequest(
        ("down", "left"), 3, "é ✓", "local", 2**32 - 1, "feather"
    )
    assert (
        parse_grow({"directions": ["up"]}, generators={"local"}, seams={"exact"}, default_generator="local").generator
        == "local"
    )


def test_decode_json_and_undo_bodies() -> None:
    assert decode_json(b'{"head": 2}') == {"head": 2}
    for bad in (b"", b"\xff", b"[]", b"null", b"{"):
        with pytest.raises(BadRequestError):
            decode_json(bad)
    assert parse_undo({}) is None
    assert parse_undo({"head": 0}) == 0
    for bad in ({"head": True}, {"head": None}, {"head": 1, "x": 1}):
        with pytest.raises(BadRequestError):
            parse_undo(bad)


def test_host_and_origin_checks() -> None:
    assert host_name("127.0.0.1:8765") == "127.0.0.1"
    assert host_name("[::1]") == "::1"
    for bad in ("", "a b", "x:notaport", "u@127.0.0.1", "127.0.0.1/x", "h?q", "h#f"):
        assert host_name(bad) is None, bad
    assert is_loopback("127.0.0.2")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.168.1.4")
    assert not is_loopback("example.org")
    assert allowed_hosts("192.168.1.4") == {"127.0.0.1", "localhost", "::1", "192.168.1.4"}
    assert allowed_hosts("0.0.0.0") > {"127.0.0.1", "localhost", "::1"}
    same = Headers({"host": "127.0.0.1:9", "origin": "http://127.0.0.1:9"})
    assert is_same_origin(same)
    assert not is_same_origin(Headers({"host": "127.0.0.1:9", "origin": "http://localhost:9"}))
    assert not is_same_origin(Headers({"origin": "http://127.0.0.1:9"}))
    assert is_same_origin(Headers({"sec-fetch-site": "same-origin"}))
    assert not is_same_origin(Headers({"sec-fetch-site": "none"}))
    assert not is_same_origin(Headers({}))
