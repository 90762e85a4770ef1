"""Risk gate (trading spec §7.2): every check in order, first block wins, RISK_FAIL_MODE."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tbot_bot.market.bars import Quote
from tbot_bot.trading.kill_switch import KillSwitch
from tbot_bot.trading.positions_book import PositionsBook, StrategyPosition
from tbot_bot.trading.risk_gate import Fundamentals, GateInput, GateLimits, evaluate

D = Decimal
NOW = datetime(2025, 7, 15, 14, 0, tzinfo=UTC)
LIMITS = GateLimits(
    max_quote_age_s=5,
    max_spread_pct=D("0.015"),
    min_volume=500_000,
    min_price=D("2.00"),
    max_price=D("300.00"),
    vix_threshold=D(15),
    vix_max=None,
    moc_max_shares=500_000,
    fundamental_guard=True,
    max_pe=D(60),
    max_debt_equity=D("3.5"),
    min_market_cap=D(2_000_000_000),
    bsm_filter=True,
    max_bsm_deviation=D("0.15"),
    max_open_positions=5,
    fail_open=False,
)
GOOD = GateInput(
    now_utc=NOW,
    strategy="open",
    target_symbol="MSFT",
    instrument_symbol="MSFT",
    bearish_mode=None,
    quote=Quote("MSFT", D("99.99"), D("100.01"), D("100"), NOW),
    avg_volume=1_000_000,
    fundamentals=Fundamentals(D(30), D(1), D(3_000_000_000)),
    open_positions=1,
    slot=1,
    max_slots=4,
    allocation=D("20.00"),
    remaining_budget=D("50.00"),
    qty=D("0.2"),
    min_order_qty=D("0.000001"),
)


def test_good_entry_passes() -> None:
    result = evaluate(GOOD, LIMITS)
    assert result.passed
    assert result.reason == "pass"


@pytest.mark.parametrize(
    ("changes", "check", "reason"),
    [
        ({"halted": True}, 1, "halted"),
        ({"stopped": True}, 1, "stopped"),
        ({"trades_disabled": True}, 1, "trades_disabled"),
        ({"broker_suspended": True}, 1, "broker_suspended"),
        ({"data_suspended": True}, 1, "data_suspended"),
        ({"ledger_locked": True}, 1, "ledger_locked"),
        ({"traded_today": frozenset({"MSFT"})}, 2, "already_traded_today"),
        (
            {"quote": Quote("MSFT", D("99.99"), D("100.01"), D("100"), NOW - timedelta(seconds=6))},
            3,
            "quote_stale",
        ),
        ({"quote": Quote("MSFT", D("98"), D("102"), D("100"), NOW)}, 3, "spread_too_wide"),
        ({"avg_volume": 499_999}, 3, "low_volume"),
        ({"quote": Quote("MSFT", D("1.50"), D("1.50"), D("1.50"), NOW)}, 3, "price_out_of_bounds"),
        ({"strategy": "close", "vix": D(14)}, 4, "vix_gate"),
        ({"fundamentals": Fundamentals(D(61), D(1), D(3_000_000_000))}, 5, "fundamentals"),
        (
            {
                "bearish_mode": "LongPut",
                "option_market_price": D("2.00"),
                "option_bsm_price": D("1.50"),
            },
            6,
            "bsm_deviation",
        ),
        ({"open_positions": 4, "pending_entries": 1}, 7, "max_open_positions"),
        ({"slot": 5}, 7, "max_trades"),
        ({"remaining_budget": D("10.00")}, 7, "budget_exhausted"),
        ({"qty": D(0)}, 7, "qty_below_one"),
        ({"qty": D("0.5"), "min_order_qty": D(1)}, 7, "below_min_order"),
    ],
)
def test_each_block(changes: dict[str, object], check: int, reason: str) -> None:
    result = evaluate(replace(GOOD, **changes), LIMITS)  # type: ignore[arg-type]
    assert not result.passed
    assert (result.check, result.reason) == (check, reason)


def test_first_failing_check_wins() -> None:
    result = evaluate(replace(GOOD, halted=True, avg_volume=1, qty=D(0)), LIMITS)
    assert result.reason == "halted"
    result = evaluate(replace(GOOD, avg_volume=1, qty=D(0)), LIMITS)
    assert result.reason == "low_volume"


def test_missing_data_follows_risk_fail_mode() -> None:
    missing = replace(GOOD, quote=None, avg_volume=None, fundamentals=None)
    closed = evaluate(missing, LIMITS)
    assert closed.reason == "quote_unavailable"
    opened = evaluate(missing, replace(LIMITS, fail_open=True))
    assert opened.passed
    assert "quote_unavailable (RISK_FAIL_MODE=open)" in opened.warnings
    assert evaluate(replace(GOOD, strategy="close"), LIMITS).reason == "vix_unavailable"


def test_fundamentals_exempt_etfs_and_bearish_etf_buys() -> None:
    etf = replace(GOOD, fundamentals=Fundamentals(None, None, None, is_etf=True))
    assert evaluate(etf, LIMITS).passed
    inverse = replace(GOOD, bearish_mode="InverseETF", instrument_symbol="SH", fundamentals=None)
    assert evaluate(inverse, LIMITS).passed


def test_fallback_classification() -> None:
    assert evaluate(replace(GOOD, avg_volume=1), LIMITS).allows_fallback
    assert evaluate(replace(GOOD, qty=D(0)), LIMITS).allows_fallback
    assert not evaluate(replace(GOOD, halted=True), LIMITS).allows_fallback
    assert not evaluate(replace(GOOD, slot=5), LIMITS).allows_fallback


def test_kill_switch_equality_trips() -> None:
    switch = KillSwitch(D("2500.00"), D("0.05"))
    assert switch.threshold == D("125.00")
    assert switch.evaluate(D("-125.00")).tripped
    assert not switch.evaluate(D("-124.99")).tripped


def test_day_pnl_from_fills() -> None:
    book = PositionsBook()
    book.open_position(StrategyPosition("E1", "open", "MSFT", "MSFT", "long"))
    book.apply_entry_fill("E1", "f1", D(10), D("100.00"), D("1.00"), NOW)
    assert not book.apply_entry_fill("E1", "f1", D(10), D("100.00"), D("1.00"), NOW)  # idempotent
    book.mark("MSFT", D("99.00"))
    assert book.day_pnl() == D("-11.00")
    book.apply_exit_fill("E1", "f2", D(10), D("101.50"), D("1.00"), NOW, "stop_loss")
    assert book.day_pnl() == D("13.00")
    assert book.open_positions() == []
