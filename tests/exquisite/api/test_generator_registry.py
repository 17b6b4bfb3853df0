"""The generator registry: built-ins by name, plug-ins through real entry points on sys.path."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from imkerutils.errors import ImkerError, UnknownGeneratorError
from imkerutils.exquisite.api import registry
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.api.registry import (
    BUILTIN_GENERATORS,
    GeneratorPluginWarning,
    available_generators,
    generator_class,
    get_generator,
    refresh_generators,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PLUGIN_MODULE = """
from imkerutils.exquisite.api.base import TileResult


class DemoGenerator:
    name = "demo"
    version = "0.1"
    deterministic = True
    needs_network = False
    max_concurrency = 2

    def __init__(self, level=1):
        self.level = level

    def params(self):
        return {"level": self.level}

    def generate(self, request):
        return TileResult(image=request.reference.copy())


not_a_class = 42


class Incomplete:
    name = "incomplete"
"""


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    """Every test starts and ends with an empty discovery cache."""
    refresh_generators()
    yield
    refresh_generators()


def make_dist(root: Path, dist: str, entries: dict[str, str], modules: dict[str, str]) -> None:
    """Write an installed-looking distribution: ``<dist>-0.1.dist-info`` plus top-level modules."""
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entries.items())
    (info / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\n{lines}")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("imker_plugin_"):
            del sys.modules[name]


def test_builtins_are_registered_by_module_and_class(fresh_registry: None) -> None:
    found = available_generators()
    assert [n for n in found if n in BUILTIN_GENERATORS] == [n for n in BUILTIN_GENERATORS if n in found]
    for name, (module, attr) in BUILTIN_GENERATORS.items():
        offered = importlib.util.find_spec(module) is not None
        assert (name in found) == offered
        if offered:
            spec = found[name]
            assert (spec.module, spec.attr, spec.origin) == (module, attr, "builtin")
    assert generator_class("mock") is MockGenerator
    from imkerutils.exquisite.api.openai_ import OpenAIGenerator

    assert generator_class("openai") is OpenAIGenerator


def test_builtin_whose_dependency_is_missing_is_not_offered(
    fresh_registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # find_spec now reports it absent
    found = available_generators()
    assert "openai" not in found
    assert "mock" in found
    with pytest.raises(UnknownGeneratorError, match=r"known generators: .*mock"):
        generator_class("openai")


def test_get_generator_passes_config(fresh_registry: None) -> None:
    gen = get_generator("mock", band_drift=3, noise=2)
    assert isinstance(gen, MockGenerator)
    assert gen.params() == {"band_drift": 3, "noise": 2}


def test_available_generators_returns_a_copy(fresh_registry: None) -> None:
    available_generators().clear()
    assert "mock" in available_generators()


def test_unknown_name_lists_known_names(fresh_registry: None) -> None:
    with pytest.raises(UnknownGeneratorError) as info:
        get_generator("dall-e-9000")
    message = str(info.value)
    assert message.startswith("no generator named 'dall-e-9000'; known generators: ")
    assert "mock" in message
    assert "openai" in message
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, ImkerError)


def test_nothing_happens_at_import() -> None:
    code = (
        "import sys\n"
        "import imkerutils.exquisite.api as api\n"
        "from imkerutils.exquisite.api import registry\n"
        "print(registry._discover.cache_info().currsize,"
        " 'openai' in sys.modules,"
        " 'imkerutils.exquisite.api.mock' in sys.modules,"
        " 'imkerutils.exquisite.api.local' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "False", "False"]


def test_plugin_is_discovered_from_a_dist_info(plugin_path: Path) -> None:
    make_dist(
        plugin_path,
        "imker-plugin-demo",
        {"demo": "imker_plugin_demo:DemoGenerator"},
        {"imker_plugin_demo": PLUGIN_MODULE},
    )
    spec = available_generators()["demo"]
    assert (spec.module, spec.attr, spec.origin) == ("imker_plugin_demo", "DemoGenerator", "imker-plugin-demo")
    gen = get_generator("demo", level=7)
    assert type(gen).__name__ == "DemoGenerator"
    assert gen.params() == {"level": 7}


def test_discovery_is_cached_until_refreshed(plugin_path: Path) -> None:
    assert "demo" not in available_generators()
    make_dist(
        plugin_path,
        "imker-plugin-demo",
        {"demo": "imker_plugin_demo:DemoGenerator"},
        {"imker_plugin_demo": PLUGIN_MODULE},
    )
    assert "demo" not in available_generators()  # read once, cached
    refresh_generators()
    assert "demo" in available_generators()


def test_broken_plugin_warns_and_is_skipped(plugin_path: Path) -> None:
    make_dist(
        plugin_path,
        "imker-plugin-broken",
        {"broken": "imker_plugin_broken:BrokenGenerator", "good": "imker_plugin_demo:DemoGenerator"},
        {
            "imker_plugin_broken": "raise ImportError('needs libfoo, which is not installed')\n",
            "imker_plugin_demo": PLUGIN_MODULE,
        },
    )
    with pytest.warns(GeneratorPluginWarning, match=r"'broken'.*failed to load.*libfoo"):
        found = available_generators()
    assert "broken" not in found
    assert "good" in found
    assert "mock" in found
    with pytest.raises(UnknownGeneratorError):
        get_generator("broken")


@pytest.mark.parametrize(
    ("target", "match"),
    [
        ("imker_plugin_demo:not_a_class", "not a class"),
        ("imker_plugin_demo:Incomplete", "lacks version, deterministic"),
        ("imker_plugin_demo:DoesNotExist", "failed to load"),
    ],
)
def test_plugin_that_is_not_a_generator_warns(plugin_path: Path, target: str, match: str) -> None:
    make_dist(plugin_path, "imker-plugin-odd", {"odd": target}, {"imker_plugin_demo": PLUGIN_MODULE})
    with pytest.warns(GeneratorPluginWarning, match=match):
        found = available_generators()
    assert "odd" not in found


def test_plugin_cannot_replace_a_builtin(plugin_path: Path) -> None:
    make_dist(
        plugin_path,
        "imker-plugin-hijack",
        {"mock": "imker_plugin_demo:DemoGenerator"},
        {"imker_plugin_demo": PLUGIN_MODULE},
    )
    with pytest.warns(GeneratorPluginWarning, match="built-in generator name"):
        found = available_generators()
    assert found["mock"].origin == "builtin"
    assert generator_class("mock") is MockGenerator
