"""A spending limit in US dollars, checked before each step (pure arithmetic, no I/O).

Rules, in order:

* no limit (``limit_usd=None``): everything fits, even a step of unknown cost;
* a worst case of exactly ``0.0`` (local and mock generators) always fits, even
  when the budget is used up: it cannot spend anything;
* an unknown worst case (``None``, e.g. a model missing from the price table)
  with a limit set is refused: we cannot promise to stay under the limit;
* otherwise the step fits when ``spent + worst case <= limit`` (to within a
  thousandth of a cent, so float rounding never refuses an exact fit).

>>> b = Budget(limit_usd=1.00, spent_usd=0.90)
>>> b.check(0.05)
>>> b.check(0.25)
Traceback (most recent call last):
...
imkerutils.errors.BudgetExceededError: step could cost up to $0.25; $0.10 of the $1.00 budget is left
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from imkerutils.errors import (
    BudgetExceededError,
    InvalidBudgetError,
)

__all__ = ["Budget", "format_usd"]

_TOLERANCE_USD = 1e-5


def format_usd(amount: float) -> str:
    """Dollars with at least two and at most four decimals.

    >>> format_usd(1.5), format_usd(0.0425), format_usd(0.123456)
    ('$1.50', '$0.0425', '$0.1235')
    """
    text = f"{amount:.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def _amount(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidBudgetError(f"{what} must be a number of US dollars, got {value!r}")
    x = float(value)
    if not math.isfinite(x) or x < 0:
        raise InvalidBudgetError(f"{what} must be a finite, non-negative number of US dollars, got {x}")
    return x


@dataclass(frozen=True, slots=True)
class Budget:
    """``limit_usd`` (``None`` = no limit) and ``spent_usd`` so far."""

    limit_usd: float | None
    spent_usd: float = 0.0

    def __post_init__(self) -> None:
        if self.limit_usd is not None:
            object.__setattr__(self, "limit_usd", _amount(self.limit_usd, "budget limit"))
        object.__setattr__(self, "spent_usd", _amount(self.spent_usd, "amount spent"))

    @property
    def remaining_usd(self) -> float | None:
        """Dollars left (never negative), or ``None`` without a limit."""
        if self.limit_usd is None:
            return None
        return max(self.limit_usd - self.spent_usd, 0.0)

    def fits(self, worst_case_usd: float | None) -> bool:
        """Whether a step whose cost is at most ``worst_case_usd`` may run (see the module rules)."""
        if self.limit_usd is None:
            return True
        if worst_case_usd is None:
            return False
        worst = _amount(worst_case_usd, "step cost")
        return worst == 0.0 or self.spent_usd + worst <= self.limit_usd + _TOLERANCE_USD

    def check(self, next_worst_case_usd: float | None) -> None:
        """Raise :class:`~imkerutils.errors.BudgetExceededError` unless the next step :meth:`fits`."""
        if self.fits(next_worst_case_usd):
            return
        assert self.limit_usd is not None
        assert self.remaining_usd is not None
        left, limit = format_usd(self.remaining_usd), format_usd(self.limit_usd)
        if next_worst_case_usd is None:
            raise BudgetExceededError(
                f"the step's cost is unknown (no price for this generator or model), so it cannot be kept "
                f"within the budget; {left} of the {limit} budget is left. "
                "Run without a budget limit to allow it."
            )
        raise BudgetExceededError(
            f"step could cost up to {format_usd(next_worst_case_usd)}; {left} of the {limit} budget is left"
        )

    def spend(self, cost_usd: float | None) -> Budget:
        """Return a new budget with ``cost_usd`` added to the amount spent.

        An unknown cost (``None``) adds nothing without a limit and is an error
        with one, since it cannot be accounted for.
        """
        if cost_usd is None:
            if self.limit_usd is not None:
                raise InvalidBudgetError(f"cannot charge an unknown cost to the {format_usd(self.limit_usd)} budget")
            return self
        return Budget(self.limit_usd, self.spent_usd + _amount(cost_usd, "cost"))
