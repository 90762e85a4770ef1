"""Exact encodings (§1.3) and the FIFO allocation arithmetic (§5.2)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tbot_bot.accounting.codec import (
    format_minor,
    format_qty_e9,
    gross_minor,
    price_text,
    qty_to_e9,
    rhe_bp,
)
from tbot_bot.accounting.lots import LotState, allocate_close, split_largest_remainder, term_of
from tbot_bot.errors import LedgerError


def test_quantities_are_exact_and_refuse_more_than_nine_places() -> None:
    assert qty_to_e9(Decimal("0.000000001")) == 1
    assert qty_to_e9(Decimal("12.5")) == 12_500_000_000
    with pytest.raises(LedgerError, match="9 decimal places"):
        qty_to_e9(Decimal("0.0000000001"))
    assert format_qty_e9(10_000_000_000) == "10"
    assert format_qty_e9(1_500_000_000) == "1.5"


def test_prices_money_and_rates() -> None:
    assert price_text(Decimal("101.50")) == "101.50"
    assert price_text(Decimal("1E+2")) == "100"
    with pytest.raises(LedgerError):
        price_text("1e5")
    with pytest.raises(LedgerError):
        price_text("-1.00")
    assert gross_minor(3 * 10**9, "33.3333", 1) == 10000
    assert gross_minor(10**9 // 2, "0.01", 1) == 0  # 0.005 rounds half-even to 0.00
    assert gross_minor(3 * 10**9 // 2, "0.01", 1) == 2  # 0.015 -> 0.02
    assert format_minor(-100000) == "-1000.00"
    assert format_minor(5) == "0.05"
    assert rhe_bp(100000, 2000) == 20000
    assert rhe_bp(25, 5000) == 12  # 12.5 -> 12 (half-even)


def test_basis_split_three_then_one_then_two() -> None:
    lot = LotState(1, "2025-01-01T00:00:00.000Z", 3 * 10**9, 10000)
    first = allocate_close([lot], 10**9, 4000, "2025-01-02T00:00:00.000Z", "long")
    assert [(c.basis_minor, c.proceeds_minor, c.realized_minor) for c in first] == [
        (3333, 4000, 667)
    ]
    rest = LotState(1, lot.opened_at_utc, 2 * 10**9, 10000 - 3333)
    second = allocate_close([rest], 2 * 10**9, 8000, "2025-01-03T00:00:00.000Z", "long")
    assert second[0].basis_minor == 6667


def test_multi_lot_proceeds_sum_to_gross() -> None:
    lots = [
        LotState(2, "2025-01-02T00:00:00.000Z", 10**9, 1000),
        LotState(1, "2025-01-01T00:00:00.000Z", 10**9, 1000),
        LotState(3, "2025-01-03T00:00:00.000Z", 10**9, 1000),
    ]
    closures = allocate_close(lots, 3 * 10**9, 10000, "2025-02-01T00:00:00.000Z", "long")
    assert [c.lot_id for c in closures] == [1, 2, 3]  # FIFO by opening time
    assert [c.proceeds_minor for c in closures] == [3334, 3333, 3333]
    assert sum(c.proceeds_minor for c in closures) == 10000


@given(
    total=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=6),
)
def test_largest_remainder_always_sums_to_the_total(total: int, weights: list[int]) -> None:
    shares = split_largest_remainder(total, weights)
    assert sum(shares) == total
    assert all(share >= 0 for share in shares)


def test_term_boundary_is_365_days() -> None:
    start = "2024-01-01T00:00:00.000Z"
    assert term_of(start, "2024-12-31T00:00:00.000Z") == "ST"  # 365 days (2024 is a leap year)
    assert term_of(start, "2024-12-31T00:00:00.001Z") == "LT"
    assert term_of(None, "2024-12-31T00:00:00.000Z") == "UNKNOWN"
