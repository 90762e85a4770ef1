"""Sizing tables of trading spec §4 and trailing-stop math of §6."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tbot_bot.trading.sizing import SessionBudget, put_contracts, session_budget, share_quantity
from tbot_bot.trading.trailing import TrailingStopState, base_trail_pct, effective_pct

D = Decimal
WEIGHTS = (D("0.4"), D("0.2"), D("0.2"), D("0.2"))


def _budget(defense: bool = False, total: str = "0.02", equity: str = "10000.00") -> SessionBudget:
    return session_budget(
        D("2500.00"),
        D(equity),
        total_allocation=D(total),
        max_trades=4,
        weights=WEIGHTS,
        max_risk_per_trade=D("0.025"),
        defense_mode=defense,
    )


@pytest.mark.parametrize(
    ("entries", "allocations", "total"),
    [
        (1, ["20.00"], "20.00"),
        (2, ["20.00", "10.00"], "30.00"),
        (3, ["20.00", "10.00", "10.00"], "40.00"),
        (4, ["20.00", "10.00", "10.00", "10.00"], "50.00"),
    ],
)
def test_slot_table(entries: int, allocations: list[str], total: str) -> None:
    budget = _budget()
    assert budget.budget == D("50.00")
    got = [budget.allocation(k) for k in range(1, entries + 1)]
    assert got == [D(a) for a in allocations]
    assert sum(got) == D(total)


def test_defense_mode_row() -> None:
    budget = _budget(defense=True)
    assert budget.slots == 2
    assert budget.budget == D("25.00")
    assert [budget.allocation(1), budget.allocation(2)] == [D("16.66"), D("8.33")]
    with pytest.raises(ValueError, match="slot 3"):
        budget.allocation(3)


def test_per_trade_cap() -> None:
    budget = _budget(total="0.10", equity="2500.00")
    assert budget.allocation(1) == D("62.50")  # 100.00 capped by 2,500 x 0.025


@pytest.mark.parametrize(
    ("allocation", "price", "fractional", "qty"),
    [
        ("20.00", "12.34", True, "1.620745"),
        ("20.00", "12.34", False, "1"),
        ("10.00", "45.00", True, "0.222222"),
        ("10.00", "45.00", False, "0"),
        ("20.00", "40.00", True, "0.5"),
        ("20.00", "40.00", False, "0"),
    ],
)
def test_quantity_table(allocation: str, price: str, fractional: bool, qty: str) -> None:
    assert share_quantity(D(allocation), D(price), fractional=fractional) == D(qty)


def test_put_contracts_floor() -> None:
    assert put_contracts(D("500.00"), D("2.40")) == 2
    assert put_contracts(D("200.00"), D("2.40")) == 0


NOW = datetime(2025, 7, 15, 19, 54, tzinfo=UTC)
TIGHT_FROM = datetime(2025, 7, 15, 19, 55, tzinfo=UTC)


def test_close_trailing_example_with_tightening() -> None:
    stop = TrailingStopState("long", D("0.019"), D("20.00"))
    assert stop.register_tick(D("20.00"), effective_pct(D("0.019"), NOW, TIGHT_FROM)) == D("19.62")
    at_tightening = effective_pct(D("0.019"), TIGHT_FROM, TIGHT_FROM)
    assert at_tightening == D("0.0095")
    assert stop.register_tick(D("19.90"), at_tightening) == D("19.81")
    assert stop.should_exit(D("19.81"))
    assert not stop.should_exit(D("19.82"))


def test_tightening_floor() -> None:
    assert effective_pct(D("0.0008"), TIGHT_FROM, TIGHT_FROM) == D("0.0005")


def test_short_trail_and_ratchet() -> None:
    stop = TrailingStopState("short", D("0.02"), D("50.00"))
    assert stop.register_tick(D("50.00")) == D("51.00")
    assert stop.register_tick(D("49.00")) == D("49.98")
    assert stop.register_tick(D("49.50")) == D("49.98")  # never loosens
    assert stop.should_exit(D("49.98"))


def test_atr_candidate_takes_the_more_protective_stop() -> None:
    stop = TrailingStopState("long", D("0.05"), D("100"))
    assert stop.register_tick(D("100"), atr_stop=D("97")) == D("97")
    assert stop.register_tick(D("100"), atr_stop=D("90")) == D("97")


def test_base_pct_falls_back_to_default() -> None:
    assert base_trail_pct(None, D("0.02")) == D("0.02")
    assert base_trail_pct(D("0"), D("0.02")) == D("0.02")
    assert base_trail_pct(D("0.0225"), D("0.02")) == D("0.0225")
