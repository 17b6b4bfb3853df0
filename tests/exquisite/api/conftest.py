"""Fixtures for the generator tests: a fake OpenAI server and an environment that never reaches the real API."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from openai_fake_server import FakeOpenAI

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def _no_real_openai(no_real_openai: None) -> None:
    """Every test here runs without the outside's OPENAI_* settings and proxies (tests/conftest.py)."""


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running fake server; stopped (and its sleeping handlers woken) after the test."""
    server = FakeOpenAI()
    server.start()
    yield server
    server.stop()
