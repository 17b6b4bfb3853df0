"""The dated OpenAI price table and cost computation."""

from __future__ import annotations

import datetime
import json
from typing import TYPE_CHECKING

import pytest

from imkerutils.errors import PriceTableError
from imkerutils.exquisite.api.base import Usage
from imkerutils.exquisite.api.pricing import ModelPrice, cost_usd, load_price_table, price_table

if TYPE_CHECKING:
    from pathlib import Path


def test_packaged_table_is_dated_and_sourced() -> None:
    table = price_table()
    assert datetime.date.fromisoformat(table.as_of) <= datetime.date.today()
    assert table.source.startswith("https://")
    assert table.price("gpt-image-1") == ModelPrice(text_input=5.0, image_input=10.0, image_output=40.0)
    assert table.price("gpt-image-1-mini") == ModelPrice(text_input=2.0, image_input=2.5, image_output=8.0)
    assert price_table() is table  # loaded once


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (Usage(input_text_tokens=1_000_000), 5.0),
        (Usage(input_image_tokens=1_000_000), 10.0),
        (Usage(output_tokens=1_000_000), 40.0),
        (Usage(50, 1320, 4160), (50 * 5 + 1320 * 10 + 4160 * 40) / 1e6),
        (Usage(), 0.0),
    ],
)
def test_cost_from_usage(usage: Usage, expected: float) -> None:
    assert cost_usd("gpt-image-1", usage) == pytest.approx(expected, rel=1e-12, abs=0)


def test_unknown_model_or_usage_means_cost_unknown() -> None:
    assert cost_usd("gpt-image-99", Usage(output_tokens=10)) is None
    assert cost_usd("gpt-image-1", None) is None


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_custom_table(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "as_of": "2030-01-01",
            "source": "https://example.invalid",
            "models": {"m": {"text_input": 1, "image_input": 2, "image_output": 3}},
        },
    )
    table = load_price_table(path)
    assert cost_usd("m", Usage(1_000_000, 1_000_000, 1_000_000), table=table) == 6.0
    assert cost_usd("gpt-image-1", Usage(output_tokens=1), table=table) is None


@pytest.mark.parametrize(
    "data",
    [
        "{not json",
        {"source": "s", "models": {}},
        {"as_of": "2030-01-01", "source": "s"},
        {"as_of": "2030-01-01", "source": "s", "models": {"m": {"text_input": 1, "image_input": 2}}},
        {
            "as_of": "2030-01-01",
            "source": "s",
            "models": {"m": {"text_input": -1, "image_input": 2, "image_output": 3}},
        },
        {
            "as_of": "2030-01-01",
            "source": "s",
            "models": {"m": {"text_input": "NaN", "image_input": 2, "image_output": 3}},
        },
        {"as_of": "2030-01-01", "source": "s", "models": ["m"]},
    ],
)
def test_malformed_table_is_refused(tmp_path: Path, data: object) -> None:
    with pytest.raises(PriceTableError):
        load_price_table(write(tmp_path, data))


def test_missing_table_file(tmp_path: Path) -> None:
    with pytest.raises(PriceTableError, match="cannot read price table"):
        load_price_table(tmp_path / "absent.json")
