"""The examples in the export modules' docstrings run (CI's pytest collects doctests under tests/ only)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["__init__", "_atomic", "_chunks", "_plan", "_source", "png", "tiff", "omezarr", "small"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(
        f"imkerutils.tiling.export.{name}" if name != "__init__" else "imkerutils.tiling.export"
    )
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    if name in ("_atomic", "_chunks", "_plan", "_source", "png", "omezarr", "__init__"):
        assert result.attempted > 0
