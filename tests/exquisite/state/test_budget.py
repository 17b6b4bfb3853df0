"""The cost budget: exact messages, the rules for free and unpriced steps, and a cents model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imkerutils.errors import BudgetExceededError, ImkerError, InvalidBudgetError
from imkerutils.exquisite.state.budget import Budget, format_usd


def test_message_says_what_the_step_could_cost_and_what_is_left():
    with pytest.raises(BudgetExceededError) as info:
        Budget(limit_usd=2.0, spent_usd=1.9575).check(0.167)
    assert str(info.value) == "step could cost up to $0.167; $0.0425 of the $2.00 budget is left"
    assert isinstance(info.value, ImkerError)
    assert isinstance(info.value, RuntimeError)


def test_a_step_that_fits_passes():
    Budget(limit_usd=1.0, spent_usd=0.5).check(0.5)
    Budget(limit_usd=1.0).check(1.0)


def test_no_limit_allows_everything_even_unknown_costs():
    budget = Budget(limit_usd=None, spent_usd=1e6)
    budget.check(1e9)
    budget.check(None)
    assert budget.remaining_usd is None
    assert budget.fits(None)


def test_free_steps_always_fit_even_when_the_budget_is_spent():
    Budget(limit_usd=1.0, spent_usd=1.0).check(0.0)
    Budget(limit_usd=0.0).check(0.0)
    Budget(limit_usd=1.0, spent_usd=3.0).check(0)
    assert Budget(limit_usd=1.0, spent_usd=3.0).remaining_usd == 0.0


def test_unknown_cost_with_a_limit_is_refused_clearly():
    with pytest.raises(BudgetExceededError, match=r"cost is unknown .* \$5.00 of the \$5.00 budget is left"):
        Budget(limit_usd=5.0).check(None)


def test_float_rounding_never_refuses_an_exact_fit():
    spent = Budget(limit_usd=0.3).spend(0.1).spend(0.1).spend(0.1)
    assert spent.spent_usd != 0.3  # 0.30000000000000004
    Budget(limit_usd=0.6, spent_usd=spent.spent_usd).check(0.3)
    with pytest.raises(BudgetExceededError):
        Budget(limit_usd=0.6, spent_usd=spent.spent_usd).check(0.31)


def test_spend_returns_a_new_budget():
    budget = Budget(limit_usd=1.0)
    after = budget.spend(0.25)
    assert (budget.spent_usd, after.spent_usd, after.remaining_usd, after.limit_usd) == (0.0, 0.25, 0.75, 1.0)
    assert Budget(limit_usd=None).spend(None) == Budget(limit_usd=None)
    with pytest.raises(InvalidBudgetError, match=r"cannot charge an unknown cost to the \$1.00 budget"):
        budget.spend(None)


@pytest.mark.parametrize("bad", [-0.01, float("nan"), float("inf"), True, "1.0"])
def test_invalid_amounts_are_refused(bad):
    with pytest.raises(InvalidBudgetError):
        Budget(limit_usd=bad)
    with pytest.raises(InvalidBudgetError):
        Budget(limit_usd=1.0, spent_usd=bad)
    with pytest.raises(InvalidBudgetError):
        Budget(limit_usd=1.0).check(bad)
    with pytest.raises(InvalidBudgetError):
        Budget(limit_usd=1.0).spend(bad)


@pytest.mark.parametrize(
    ("amount", "text"),
    [(0, "$0.00"), (0.5, "$0.50"), (12, "$12.00"), (0.04, "$0.04"), (0.0425, "$0.0425"), (0.123456, "$0.1235")],
)
def test_format_usd(amount, text):
    assert format_usd(amount) == text


@given(limit=st.integers(0, 10**6), spent=st.integers(0, 10**6), worst=st.integers(0, 10**6))
def test_fits_agrees_with_integer_cents(limit, spent, worst):
    budget = Budget(limit_usd=limit / 100, spent_usd=spent / 100)
    assert budget.fits(worst / 100) == (worst == 0 or spent + worst <= limit)
