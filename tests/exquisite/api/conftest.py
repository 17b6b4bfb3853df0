"""Fixtures for the generator tests: a fake OpenAI server and an environment that never reaches the real API."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from openai_fake_server import FakeOpenAI

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def _no_real_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OPENAI_* setting or proxy from the outside may steer these tests to a real server."""
    for name in list(os.environ):
        if name.startswith("OPENAI_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running fake server; stopped (and its sleeping handlers woken) after the test."""
    server = FakeOpenAI()
    server.start()
    yield server
    server.stop()
