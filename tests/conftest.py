"""Shared test settings: Hypothesis profiles chosen by HYPOTHESIS_PROFILE (CI -> derandomised); file-tree digests."""

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("nightly", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))


def digest_tree(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (directories themselves ignored)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")  # a pure function: session scope lets Hypothesis tests use it too
def tree_digest() -> Callable[[Path], dict[str, str]]:
    return digest_tree


@pytest.fixture
def no_real_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OPENAI_* setting or proxy from the outside may steer a test to a real server (loopback only).

    The generator and UI test folders use it for every test (an autouse fixture in their conftest).
    """
    for name in list(os.environ):
        if name.startswith("OPENAI_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
