"""Black-Scholes-Merton put price against textbook values (trading spec §7.2 check 6)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tbot_bot.trading.bsm import bsm_put, sigma_from_vix, years_to_expiry


def _d(text: str) -> Decimal:
    return Decimal(text)


def test_hull_example_put() -> None:
    # Hull, Options Futures and Other Derivatives: S=42, K=40, r=10 %, sigma=20 %, T=0.5 -> p=0.81.
    price = bsm_put(_d("42"), _d("40"), _d("0.5"), _d("0.1"), _d("0.2"))
    assert price == _d("0.8086")


def test_at_the_money_one_year_put() -> None:
    # S=K=100, T=1, r=5 %, sigma=20 %: call 10.4506, put 5.5735 (put-call parity holds).
    price = bsm_put(_d("100"), _d("100"), _d("1"), _d("0.05"), _d("0.2"))
    assert price == _d("5.5735")


def test_put_rises_with_volatility_and_strike() -> None:
    low = bsm_put(_d("50"), _d("50"), _d("0.02"), _d("0.045"), _d("0.15"))
    high_vol = bsm_put(_d("50"), _d("50"), _d("0.02"), _d("0.045"), _d("0.30"))
    high_strike = bsm_put(_d("50"), _d("52"), _d("0.02"), _d("0.045"), _d("0.15"))
    assert low < high_vol
    assert low < high_strike


def test_expired_put_is_worth_its_intrinsic_value() -> None:
    assert bsm_put(_d("45"), _d("50"), _d("0"), _d("0.045"), _d("0.2")) == _d("5.0000")
    assert bsm_put(_d("55"), _d("50"), _d("0"), _d("0.045"), _d("0.2")) == _d("0.0000")


def test_output_is_decimal_with_four_places() -> None:
    price = bsm_put(_d("48"), _d("48"), _d("0.0082"), _d("0.045"), _d("0.2"))
    assert isinstance(price, Decimal)
    assert price.as_tuple().exponent == -4


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="spot"):
        bsm_put(_d("0"), _d("50"), _d("1"), _d("0.05"), _d("0.2"))
    with pytest.raises(ValueError, match="rate"):
        bsm_put(_d("50"), _d("50"), _d("1"), _d("-0.01"), _d("0.2"))


def test_time_and_sigma_helpers() -> None:
    assert years_to_expiry(date(2025, 7, 15), date(2025, 7, 18)) == _d("3") / _d("365")
    assert years_to_expiry(date(2025, 7, 19), date(2025, 7, 18)) == _d("0")
    assert sigma_from_vix(_d("20")) == _d("0.2")
