"""A generator's key requirement is its class's declaration, not a name the UI knows (issue 18 point 2).

A fake plug-in declares its own ``api_key_env``; the server offers it as unavailable and refuses
it in plain words, naming that variable, until the variable is set, over real HTTP.
"""

from __future__ import annotations

import hashlib
import os
import sys
from typing import TYPE_CHECKING, ClassVar

import pytest

from imkerutils.errors import PermanentGeneratorError
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.api.registry import ENTRY_POINT_GROUP, refresh_generators
from imkerutils.tiling.canvas import Canvas

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from imkerutils.exquisite.api.base import TileResult

VARIABLE = "IMKERUTILS_TEST_PLUGIN_TOKEN"


class KeyedPlugin(MockGenerator):
    """The mock's pixels behind a key the class declares (the key's value is never used)."""

    name: ClassVar[str] = "keyed"
    api_key_env: ClassVar[str | None] = VARIABLE


def digest(path: Path) -> tuple[str, str]:
    c = Canvas.open(path, read_only=True)
    return c.state_token, hashlib.sha256(c.read(c.bounds).tobytes()).hexdigest()


@pytest.fixture(autouse=True)
def _no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)


def test_a_plugin_without_its_declared_key_is_offered_as_unavailable_and_refused(serve, small_canvas: Path) -> None:
    before = digest(small_canvas)
    with serve(small_canvas, generators={"mock": MockGenerator, "keyed": KeyedPlugin}) as page:
        gens = {g["name"]: g for g in page.state()["generators"]}
        refused = {
            path: page.post(path, {"directions": ["right"], "generator": "keyed", "prompt": "a harbour"})
            for path in ("/api/grow", "/api/plan", "/api/generate")
        }
        state = page.state()
    assert gens["keyed"] == {"name": "keyed", "available": False, "note": f"no {VARIABLE} in the server's environment"}
    assert gens["mock"] == {"name": "mock", "available": True, "note": ""}
    for path, r in refused.items():
        assert r.status_code == 400, (path, r.text)
        err = r.json()["error"]
        assert err["kind"] == "api_key", path
        assert err["title"] == "Missing or invalid API key", path
        assert err["detail"] == (
            f"no API key for the 'keyed' generator: the server was started without {VARIABLE} in its environment; "
            "set it and restart the server, or choose another generator"
        )
    assert state["jobs"] == []
    assert state["head"] == 1
    assert digest(small_canvas) == before


def test_a_plugin_with_its_declared_key_set_runs(serve, small_canvas: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "t0ken-for-tests")
    with serve(small_canvas, generators={"keyed": KeyedPlugin}) as page:
        gens = {g["name"]: g for g in page.state()["generators"]}
        job = page.grow(["right"], generator="keyed")
        head = page.state()["head"]
    assert gens["keyed"] == {"name": "keyed", "available": True, "note": ""}
    assert job["status"] == "done", job
    assert head == 2


def test_an_empty_key_counts_as_missing(serve, small_canvas: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "")
    with serve(small_canvas, generators={"keyed": KeyedPlugin}) as page:
        (gen,) = page.state()["generators"]
        r = page.post("/api/grow", {"directions": ["right"], "generator": "keyed"})
    assert gen["available"] is False
    assert VARIABLE in gen["note"]
    assert r.status_code == 400
    assert VARIABLE in r.json()["error"]["detail"]


PLUGIN = """
from imkerutils.errors import PermanentGeneratorError
from imkerutils.exquisite.api.base import TileResult
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.api.registry import ENTRY_POINT_GROUP, refresh_generators


class EntryPointKeyed(MockGenerator):
    name = "epkeyed"
    api_key_env = "IMKERUTILS_TEST_PLUGIN_TOKEN"
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A plug-in distribution on ``sys.path`` whose generator declares its own key variable."""
    root = tmp_path / "site"
    info = root / "imker_keyed_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: imker-keyed-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nepkeyed = imker_keyed_plugin_mod:EntryPointKeyed\n")
    (root / "imker_keyed_plugin_mod.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(root))
    refresh_generators()
    yield
    refresh_generators()
    sys.modules.pop("imker_keyed_plugin_mod", None)


def test_a_registered_plugin_is_checked_by_its_declaration(
    serve, small_canvas: Path, installed_plugin: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(small_canvas) as page:  # no factories: the registry's generators, as `imkerutils ui` offers them
        gens = {g["name"]: g for g in page.state()["generators"]}
        refused = page.post("/api/grow", {"directions": ["right"], "generator": "epkeyed"})
        monkeypatch.setenv(VARIABLE, "t0ken-for-tests")
        offered = {g["name"]: g for g in page.state()["generators"]}["epkeyed"]
        job = page.grow(["right"], generator="epkeyed")
    assert gens["epkeyed"] == {
        "name": "epkeyed",
        "available": False,
        "note": f"no {VARIABLE} in the server's environment",
    }
    assert gens["mock"]["available"]
    assert gens["local"]["available"]
    assert refused.status_code == 400
    assert refused.json()["error"]["kind"] == "api_key"
    assert f"the 'epkeyed' generator: the server was started without {VARIABLE}" in refused.json()["error"]["detail"]
    assert offered["available"] is True
    assert job["status"] == "done", job


class EchoingPlugin(KeyedPlugin):
    """A keyed plug-in whose service echoes the key in its error (as real endpoints have done)."""

    name: ClassVar[str] = "echoing"

    def generate(self, request: object) -> TileResult:
        raise PermanentGeneratorError(f"the service rejected token {os.environ[VARIABLE]} for this request")


def test_a_plugins_declared_key_never_reaches_the_page_or_the_log(
    serve, small_canvas: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    token = "plugin-s3cret-token-0123456789"
    monkeypatch.setenv(VARIABLE, token)
    with serve(small_canvas, generators={"echoing": EchoingPlugin}) as page:
        r = page.post("/api/grow", {"directions": ["right"], "generator": "echoing"})
        job = page.wait_job(r.json()["job"]["id"])
        texts = [page.get(f"/api/jobs/{job['id']}").text, page.get("/api/state").text]
    assert job["status"] == "failed"
    assert job["error"]["detail"] == "the service rejected token [redacted] for this request"
    assert all(token not in t for t in texts)
    assert token not in caplog.text
