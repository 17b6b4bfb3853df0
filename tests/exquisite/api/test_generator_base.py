"""Generator capabilities are declared class attributes with defaults (issue 18 point 2)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from imkerutils.exquisite.api.base import GeneratorBase, TileGenerator, TileRequest, TileResult
from imkerutils.exquisite.api.local import LocalGenerator
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.api.openai_ import OpenAIGenerator
from imkerutils.exquisite.pipeline.grow import tile_worst_case_usd


class _Minimal(GeneratorBase):
    name: ClassVar[str] = "minimal"

    def generate(self, request: TileRequest) -> TileResult:
        return TileResult(image=np.zeros((1, 1, 3), np.uint8))


class _Networked(_Minimal):
    needs_network: ClassVar[bool] = True


def test_a_generator_without_declarations_gets_the_defaults() -> None:
    gen = _Minimal()
    assert isinstance(gen, TileGenerator)
    assert (gen.max_concurrency, gen.deterministic, gen.needs_network, gen.api_key_env) == (1, False, False, None)
    assert gen.max_cost_per_tile_usd() == 0.0
    assert tile_worst_case_usd(gen) == 0.0
    assert tile_worst_case_usd(_Networked()) is None  # unknown cost of a networked generator


def test_built_ins_declare_their_capabilities() -> None:
    assert all(issubclass(c, GeneratorBase) for c in (MockGenerator, LocalGenerator, OpenAIGenerator))
    assert OpenAIGenerator.api_key_env == "OPENAI_API_KEY"
    assert MockGenerator.api_key_env is None
    assert LocalGenerator.api_key_env is None
    assert (MockGenerator.max_concurrency, LocalGenerator.max_concurrency, OpenAIGenerator.max_concurrency) == (
        16,
        2,
        4,
    )
    assert MockGenerator().max_cost_per_tile_usd() == 0.0
