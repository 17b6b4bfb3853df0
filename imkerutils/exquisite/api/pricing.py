"""What a metered image model costs, from a dated price table shipped as package data.

Model names and prices change, so they live in ``imkerutils/data/openai_prices.json``
(``as_of`` date, ``source``, USD per 1M tokens for text input, image input and
image output), not in code.  An unknown model costs ``None`` ("cost unknown"),
never an exception.

>>> from imkerutils.exquisite.api.base import Usage
>>> cost_usd("gpt-image-1", Usage(input_text_tokens=100, input_image_tokens=1000, output_tokens=4000))
0.1705
>>> cost_usd("no-such-model", Usage(output_tokens=4000)) is None
True
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imkerutils.errors import (
    PriceTableError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from imkerutils.exquisite.api.base import Usage

__all__ = ["ModelPrice", "PriceTable", "cost_usd", "load_price_table", "price_table"]

_PACKAGED = "data/openai_prices.json"


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per ``unit_tokens`` (1M) tokens of each kind for one model."""

    text_input: float
    image_input: float
    image_output: float
    unit_tokens: int = 1_000_000

    def cost(self, usage: Usage) -> float:
        """Return the cost in USD of ``usage``."""
        total = (
            usage.input_text_tokens * self.text_input
            + usage.input_image_tokens * self.image_input
            + usage.output_tokens * self.image_output
        )
        return total / self.unit_tokens


@dataclass(frozen=True, slots=True)
class PriceTable:
    """A dated table of per-model prices."""

    as_of: str
    source: str
    models: Mapping[str, ModelPrice]

    def price(self, model: str) -> ModelPrice | None:
        """Return the price of ``model``, or None when the table does not know it."""
        return self.models.get(model)

    def cost_usd(self, model: str, usage: Usage | None) -> float | None:
        """Cost of ``usage`` on ``model`` in USD; None when either is unknown."""
        price = self.price(model)
        if price is None or usage is None:
            return None
        return price.cost(usage)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PriceTable:
        """Build a table from its JSON form, checking every price."""
        try:
            unit = int(data.get("unit_tokens", 1_000_000))
            models: dict[str, ModelPrice] = {}
            for name, entry in data["models"].items():
                prices = {k: float(entry[k]) for k in ("text_input", "image_input", "image_output")}
                if any(not (v >= 0.0) for v in prices.values()):  # also rejects NaN
                    raise PriceTableError(f"price table: negative or NaN price for model {name!r}")
                models[str(name)] = ModelPrice(**prices, unit_tokens=unit)
            return cls(as_of=str(data["as_of"]), source=str(data["source"]), models=models)
        except PriceTableError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PriceTableError(f"price table is malformed: {exc!r}") from exc


def load_price_table(path: str | Path) -> PriceTable:
    """Read a price table in the packaged JSON format from ``path``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PriceTableError(f"cannot read price table {str(path)!r}: {exc}") from exc
    return PriceTable.from_dict(data)


@functools.cache
def price_table() -> PriceTable:
    """Return the packaged OpenAI price table (read on first use, then cached)."""
    text = files("imkerutils").joinpath(_PACKAGED).read_text(encoding="utf-8")
    return PriceTable.from_dict(json.loads(text))


def cost_usd(model: str, usage: Usage | None, table: PriceTable | None = None) -> float | None:
    """Cost in USD of ``usage`` on ``model`` (``None`` = cost unknown).

    ``table`` defaults to the packaged :func:`price_table`.
    """
    return (table if table is not None else price_table()).cost_usd(model, usage)
