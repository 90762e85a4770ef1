"""Watchdog in a SIM day (trading spec §7.4): consecutive probe failures suspend, a market-data
outage aborts the active phase and closes its locally trailed positions `data_outage` (a native
stop at the broker keeps its position until the hard exit)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from tbot_bot.broker.models import OrderReport
from tbot_bot.market.bars import Quote
from tbot_bot.test.fakes.crafted_day import (
    CraftedDay,
    CraftedMarket,
    crafted_day,
    minute,
    records_where,
)
from tbot_bot.trading.day_runner import DayResult
from tbot_bot.trading.watchdog import Watchdog


def _market() -> CraftedMarket:
    market = CraftedMarket()
    market.add("XX", "50.00", gap="0.05")
    market.step("XX", 20, "52.00")  # breaks out: entered at 13:51
    return market


def _run_with_data_outage(day: CraftedDay) -> DayResult:
    """The day with its market-data feed silent from 13:59 on (the broker itself stays up), under
    a watchdog probing every minute and suspending after three silent probes."""
    outage = {"on": False}
    broker = day.setup.broker
    real_quotes = broker.get_latest_quotes

    def quotes(symbols: Sequence[str]) -> dict[str, Quote]:
        return {} if outage["on"] else real_quotes(symbols)

    broker.get_latest_quotes = quotes  # type: ignore[method-assign]

    def hook(now: datetime) -> None:
        if now >= minute(29):
            outage["on"] = True

    return day.run(on_tick=hook, watchdog=Watchdog(interval_s=60, failure_threshold=3))


def test_data_outage_suspends_and_aborts_the_phase(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market(), STRATEGY_OVERRIDE="open")
    broker = day.setup.broker
    result = _run_with_data_outage(day)
    assert result.phases["open"] == ("aborted", "data_outage")
    exits = records_where(day.decisions(), stage="exit", outcome="pass", symbol="XX")
    assert [r["reason"] for r in exits] == ["data_outage"]
    # suspended after the third silent probe: 14:00, 14:01, 14:02
    assert exits[0]["ts_utc"].endswith("T14:02:00.000Z")
    assert broker.get_positions() == []
    assert day.summary()["risk_triggers"]["watchdog_suspensions"] == 1


def test_two_failures_change_nothing(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market(), STRATEGY_OVERRIDE="open")
    broker = day.setup.broker
    real_quotes = broker.get_latest_quotes
    silent = {minute(30), minute(31)}
    now_box = {"now": minute(0)}
    silenced: list[datetime] = []

    def quotes(symbols: Sequence[str]) -> dict[str, Quote]:
        if now_box["now"] in silent:
            silenced.append(now_box["now"])
            return {}
        return real_quotes(symbols)

    broker.get_latest_quotes = quotes  # type: ignore[method-assign]

    def hook(now: datetime) -> None:
        now_box["now"] = now + (minute(1) - minute(0))  # quotes are read at the next tick

    result = day.run(on_tick=hook, watchdog=Watchdog(interval_s=60, failure_threshold=3))
    assert sorted(set(silenced)) == sorted(silent)  # the feed really was silent twice
    assert result.phases["open"] == ("done", None)
    assert day.summary()["risk_triggers"]["watchdog_suspensions"] == 0


def test_unreachable_broker_at_start_blocks_trading_until_reconciled(tbot_home: Path) -> None:
    """§7.1 / issue 3: if reconciliation cannot complete, trading is blocked with the reason."""
    day = crafted_day(tbot_home, _market(), STRATEGY_OVERRIDE="open")
    day.setup.broker.faults.disconnect()
    result = day.run()
    assert result.phases["open"] == ("skipped", "reconciliation_blocked")
    assert day.orders() == []
    day.setup.broker.faults.reconnect()
    assert day.setup.broker.get_positions() == []


def _count_reconciliations(tbot_home: Path, signal_at: datetime | None) -> int:
    day = crafted_day(tbot_home, _market(), STRATEGY_OVERRIDE="open")
    broker = day.setup.broker
    calls = {"open_orders": 0}
    real_open_orders = broker.get_open_orders
    pending: dict[str, object | None] = {"signal": None}

    def open_orders() -> list[OrderReport]:
        calls["open_orders"] += 1  # only a reconciliation lists the broker's open orders
        return real_open_orders()

    def take_signal() -> object | None:
        signal, pending["signal"] = pending["signal"], None
        return signal

    broker.get_open_orders = open_orders  # type: ignore[method-assign]
    broker.take_reconcile_signal = take_signal  # type: ignore[method-assign]

    def hook(now: datetime) -> None:
        if now == signal_at:
            pending["signal"] = "reconnected"

    day.run(on_tick=hook)
    return calls["open_orders"]


def test_a_reconnect_signal_triggers_a_reconciliation(tbot_home: Path) -> None:
    """Issue 3: reconciliation at start, after every reconnect and at phase ends."""
    baseline = _count_reconciliations(tbot_home / "a", None)  # start + end of OPEN
    assert baseline == 2
    assert _count_reconciliations(tbot_home / "b", minute(25)) == baseline + 1


def test_data_outage_keeps_a_native_stop_to_the_hard_exit(tbot_home: Path) -> None:
    """§7.4: without market data the locally trailed positions are closed, but a position whose
    native stop works at the broker keeps it until the phase's hard exit (14:30)."""
    day = crafted_day(tbot_home, _market(), STRATEGY_OVERRIDE="open", FRACTIONAL="false")
    broker = day.setup.broker
    result = _run_with_data_outage(day)
    assert result.phases["open"] == ("aborted", "data_outage")
    assert records_where(day.decisions(), stage="exit", reason="data_outage") == []
    orders = {o.client_order_id[-4:]: o for o in day.orders() if o.symbol == "XX"}
    assert orders["TS00"].state.value == "cancelled"  # stood down at the hard exit, not before
    (trade,) = day.trades()
    assert (trade["status"], trade["exit_reason"]) == ("closed", "timeout")
    assert trade["exit_timestamp"] >= "2025-07-15T14:30:00"
    assert broker.get_positions() == []
