"""Capabilities are declared and read through one accessor, never probed (issue 18 point 2)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from _generators import ProtocolOnly

import imkerutils
from imkerutils.exquisite.api import Capabilities, capabilities
from imkerutils.exquisite.api.base import GeneratorBase, TileGenerator, TileRequest, TileResult
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.api.openai_ import OpenAIGenerator
from imkerutils.exquisite.pipeline.grow import tile_worst_case_usd
from imkerutils.testing.generators import GeneratorConformance

if TYPE_CHECKING:
    import pytest

PACKAGE = Path(imkerutils.__file__).parent
CAPABILITIES = {"deterministic", "needs_network", "max_concurrency", "api_key_env", "max_cost_per_tile_usd"}


class NetworkedProtocolOnly(ProtocolOnly):
    name: ClassVar[str] = "networked-protocol-only"
    deterministic: ClassVar[bool] = False
    needs_network: ClassVar[bool] = True


class KeyedPlugin(GeneratorBase):
    name: ClassVar[str] = "keyed"
    needs_network: ClassVar[bool] = True
    api_key_env: ClassVar[str | None] = "KEYED_PLUGIN_TOKEN"

    def generate(self, request: TileRequest) -> TileResult:
        raise AssertionError("never called")


def test_a_protocol_only_plugin_gets_the_documented_defaults() -> None:
    gen = ProtocolOnly()
    assert isinstance(gen, TileGenerator)
    assert not isinstance(gen, GeneratorBase)
    assert capabilities(gen) == capabilities(ProtocolOnly) == Capabilities("protocol-only", True, False, 3, None)
    assert capabilities(gen).missing_key({}) is None  # no key declared: never refused for one
    assert tile_worst_case_usd(gen) == 0.0  # offline: free
    assert tile_worst_case_usd(NetworkedProtocolOnly()) is None  # networked, no declared price: unknown


def test_declared_capabilities_are_read_as_declared() -> None:
    assert capabilities(KeyedPlugin) == Capabilities("keyed", False, True, 1, "KEYED_PLUGIN_TOKEN")
    assert capabilities(KeyedPlugin()).missing_key({}) == "KEYED_PLUGIN_TOKEN"
    assert capabilities(KeyedPlugin).missing_key({"KEYED_PLUGIN_TOKEN": ""}) == "KEYED_PLUGIN_TOKEN"  # empty = unset
    assert capabilities(KeyedPlugin).missing_key({"KEYED_PLUGIN_TOKEN": "t0ken"}) is None
    assert capabilities(OpenAIGenerator).api_key_env == "OPENAI_API_KEY"
    assert capabilities(MockGenerator).max_concurrency == 16


def test_missing_key_reads_the_environment_at_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    caps = capabilities(KeyedPlugin)
    monkeypatch.delenv("KEYED_PLUGIN_TOKEN", raising=False)
    assert caps.missing_key() == "KEYED_PLUGIN_TOKEN"
    monkeypatch.setenv("KEYED_PLUGIN_TOKEN", "t0ken")
    assert caps.missing_key() is None


class TestProtocolOnlyConformance(GeneratorConformance):
    """The conformance suite accepts a protocol-only plug-in."""

    def make_generator(self) -> TileGenerator:
        return ProtocolOnly()


def _probes(path: Path) -> list[str]:
    """``getattr`` / ``hasattr`` calls in ``path`` that name a generator capability."""
    return [
        f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in CAPABILITIES
        )
    ]


def test_no_module_probes_a_generator_capability() -> None:
    found = [p for path in sorted(PACKAGE.rglob("*.py")) for p in _probes(path)]
    assert found == []
