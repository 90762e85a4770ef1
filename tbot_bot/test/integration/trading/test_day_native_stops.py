"""Native trailing stops on a SIM day (trading spec §6 "Native vs local", "Single exit owner";
§7.1 ids with PP=TS).

The SIM supports native trailing stops for whole quantities, so with FRACTIONAL=false every
long equity position is trailed by a TRAILING_STOP order `...-TS00` placed once its entry filled.
OPEN: entries at 13:51 (bar 20 breaks out), tightening to 0.01 from 14:27:30Z, hard exit 14:30Z.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tbot_bot.accounting import list_events
from tbot_bot.broker.models import OrderSide, OrderType, PositionIntent
from tbot_bot.test.fakes.crafted_day import (
    DAY,
    CraftedDay,
    CraftedMarket,
    crafted_day,
    crash_at,
    minute,
    records_where,
)
from tbot_bot.trading.order_journal import JournalOrder


def _held(drop_at: int | None = None, to_price: str = "48.00") -> CraftedMarket:
    """AA breaks out to 52.00 at bar 20 and stays there, or drops to `to_price` at `drop_at`."""
    market = CraftedMarket()
    market.add("AA", "50.00", gap="0.05")
    market.step("AA", 20, "52.00")
    if drop_at is not None:
        market.step("AA", drop_at, to_price)
    return market


def _orders(day: CraftedDay, purpose: str) -> list[JournalOrder]:
    return [o for o in day.orders() if o.purpose == purpose]


def _ledger_events(day: CraftedDay) -> list[Any]:
    return list(list_events(day.outputs, limit=100))


def _suffixes(orders: list[JournalOrder]) -> list[tuple[str, str]]:
    return [(o.client_order_id[-4:], o.state.value) for o in orders]


def test_native_stop_placed_after_the_fill_then_tightened_and_cancelled_at_hard_exit(
    tbot_home: Path,
) -> None:
    day = crafted_day(tbot_home, _held(), STRATEGY_OVERRIDE="open", FRACTIONAL="false")
    day.run()
    (entry,) = _orders(day, "EN")
    stops = _orders(day, "TS")
    assert _suffixes(stops) == [("TS00", "cancelled"), ("TS01", "cancelled")]
    first, tightened = stops
    assert first.client_order_id == "B01-20250715-O01-AA-TS00"
    assert first.request.order_type is OrderType.TRAILING_STOP
    assert (first.request.side, first.request.intent) == (OrderSide.SELL, PositionIntent.CLOSE_LONG)
    assert first.request.qty == entry.filled_qty == entry.filled_qty.to_integral_value()
    assert (first.request.trail_percent, tightened.request.trail_percent) == (
        Decimal("0.02"),
        Decimal("0.01"),
    )
    # placed only after the entry fill was seen (13:51 bar), replaced at the first tightened tick
    placed = records_where(day.decisions(), stage="order", reason="native_trailing_stop")
    assert [(r["client_order_id"][-4:], r["ts_utc"][11:19]) for r in placed] == [
        ("TS00", "13:52:00"),
        ("TS01", "14:28:00"),
    ]
    assert placed[0]["detail"] == {"trail_pct_fraction": "0.02", "trail_percent": "2.00"}
    assert entry.closed_utc is not None and first.created_utc >= entry.closed_utc
    assert tightened.context.previous_attempt == first.client_order_id
    # single exit owner: the hard exit cancels TS01 first and closes with one market order
    (exit_order,) = _orders(day, "EX")
    assert exit_order.request.order_type is OrderType.MARKET
    assert _suffixes([exit_order]) == [("EX00", "filled")]
    assert tightened.closed_utc is not None and tightened.closed_utc <= exit_order.created_utc
    (trade,) = day.trades()
    assert trade["entry_timestamp"] == "2025-07-15T13:51:00.500Z"  # before TS00 was journalled
    assert (trade["status"], trade["exit_reason"]) == ("closed", "timeout")
    assert trade["exit_client_order_id"] == exit_order.client_order_id
    assert day.setup.broker.get_positions() == []


def test_sim_fills_the_native_stop_on_a_drop(tbot_home: Path) -> None:
    day = crafted_day(
        tbot_home, _held(drop_at=40), ledgers=True, STRATEGY_OVERRIDE="open", FRACTIONAL="false"
    )
    day.run(ledger=True)
    assert _suffixes(_orders(day, "TS")) == [("TS00", "filled")]
    assert _orders(day, "EX") == []  # the broker's stop closed it: the runner sent nothing
    (trade,) = day.trades()
    assert (trade["status"], trade["exit_reason"]) == ("closed", "stop_loss")
    assert trade["exit_client_order_id"] == "B01-20250715-O01-AA-TS00"
    # bar 40 opens at 52.00 and trades down to 47.99: the stop 52.01 x 0.98 fills in that bar
    assert trade["exit_timestamp"] == "2025-07-15T14:10:00.500Z"
    assert Decimal(trade["exit_price"]) == Decimal("50.96")
    size, entry_price = Decimal(trade["size"]), Decimal(trade["entry_price"])
    assert Decimal(trade["PnL"]) == (Decimal("50.96") - entry_price) * size
    assert day.setup.broker.get_positions() == []
    events = [e for e in _ledger_events(day) if e.trade_id is not None]
    assert sorted(e.fitid for e in events) == sorted(
        trade["entry_ledger_fitids"] + trade["exit_ledger_fitids"]
    )
    summary = day.summary()
    assert summary["totals"]["realized_pnl"] == trade["PnL"]
    assert summary["open_positions_at_close"] == []


def test_fractional_quantities_stay_local(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _held(drop_at=40), STRATEGY_OVERRIDE="open", FRACTIONAL="true")
    day.run()
    (entry,) = _orders(day, "EN")
    assert entry.filled_qty != entry.filled_qty.to_integral_value()  # really fractional
    assert _orders(day, "TS") == []
    (trade,) = day.trades()
    assert (trade["exit_reason"], trade["exit_client_order_id"][-4:]) == ("stop_loss", "EX00")
    assert trade["exit_timestamp"] == "2025-07-15T14:11:00.500Z"  # the local stop, next tick


def _reject_the_stop(day: CraftedDay) -> Any:
    """Arms one broker reject once the entry is journalled: it hits the TS00 placement."""
    armed: list[datetime] = []

    def hook(now: datetime) -> None:
        if not armed and _orders(day, "EN"):
            armed.append(now)
            day.setup.broker.faults.reject_next("venue refuses trailing stops")

    return hook


def test_placement_failure_falls_back_to_local_at_once(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _held(drop_at=40), STRATEGY_OVERRIDE="open", FRACTIONAL="false")
    day.run(on_tick=_reject_the_stop(day))
    assert _suffixes(_orders(day, "TS")) == [("TS00", "rejected")]
    (warning,) = records_where(day.decisions(), stage="order", outcome="reject")
    assert (warning["level"], warning["reason"]) == ("warning", "broker_reject")
    assert warning["client_order_id"].endswith("TS00")
    assert warning["detail"]["fallback"] == "local_trailing"
    assert "venue refuses trailing stops" in warning["detail"]["error"]
    # the local stop exits by market at the tick after the drop, as a local trail does
    (trade,) = day.trades()
    assert (trade["exit_reason"], trade["exit_client_order_id"][-4:]) == ("stop_loss", "EX00")
    assert trade["exit_timestamp"] == "2025-07-15T14:11:00.500Z"
    assert day.setup.broker.get_positions() == []


class SimulatedCrash(BaseException):
    """The process dies here."""


def test_restart_re_arms_the_live_native_stop(tbot_home: Path) -> None:
    day = crafted_day(
        tbot_home, _held(drop_at=40), ledgers=True, STRATEGY_OVERRIDE="open", FRACTIONAL="false"
    )
    with pytest.raises(SimulatedCrash):
        day.run(on_tick=crash_at(minute(25), SimulatedCrash), ledger=True)
    assert _suffixes(_orders(day, "TS")) == [("TS00", "accepted")]
    result = day.run(ledger=True)
    assert result.phases["open"] == ("done", None)
    assert _suffixes(_orders(day, "TS")) == [("TS00", "filled")]  # re-armed, never duplicated
    for order in day.orders(DAY):
        assert len(day.setup.broker.venue_order_ids(order.client_order_id)) == 1, order
    assert _orders(day, "EX") == []
    (trade,) = day.trades()
    assert (trade["status"], trade["exit_reason"]) == ("closed", "stop_loss")
    assert trade["exit_client_order_id"].endswith("TS00")
    assert day.setup.broker.get_positions() == []
