"""Tile generators: the contract, the registry and the built-in adapters.

The adapters (``MockGenerator``, ``LocalGenerator``, ``OpenAIGenerator``) are
imported on first attribute access, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from imkerutils.exquisite.api.base import GeneratorBase, TileGenerator, TileRequest, TileResult, Usage
from imkerutils.exquisite.api.capabilities import Capabilities, capabilities
from imkerutils.exquisite.api.registry import (
    GeneratorPluginWarning,
    GeneratorSpec,
    available_generators,
    generator_class,
    get_generator,
    refresh_generators,
)

__all__ = [
    "Capabilities",
    "GeneratorBase",
    "GeneratorPluginWarning",
    "GeneratorSpec",
    "LocalGenerator",
    "MockGenerator",
    "OpenAIGenerator",
    "TileGenerator",
    "TileRequest",
    "TileResult",
    "ToneOptions",
    "Usage",
    "available_generators",
    "capabilities",
    "generator_class",
    "get_generator",
    "refresh_generators",
]

_LAZY = {
    "MockGenerator": "imkerutils.exquisite.api.mock",
    "LocalGenerator": "imkerutils.exquisite.api.local",
    "OpenAIGenerator": "imkerutils.exquisite.api.openai_",
    "ToneOptions": "imkerutils.exquisite.api.local",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
