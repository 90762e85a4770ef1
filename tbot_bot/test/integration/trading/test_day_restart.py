"""Restart in the middle of a phase (trading spec §1.3, §7.1).

The first runner dies at a chosen tick (a BaseException raised from `on_tick`: like a killed
process, nothing in the runner handles it: the phase record stays `running`). A new
`DayRunner` is then built on the same home, state database and SIM venue, which kept trading in
the meantime. It must resume manage-only: no new entry, positions still managed (trailing stop
re-armed, hard exit honoured) and closed, and no order sent twice.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tbot_bot.accounting import list_events
from tbot_bot.test.fakes.crafted_day import (
    DAY,
    CraftedDay,
    CraftedMarket,
    crafted_day,
    crash_at,
    minute,
    records_where,
)


class SimulatedCrash(BaseException):
    """The process dies here."""


def _market() -> CraftedMarket:
    """XX breaks out at bar 20 (entered 13:51); YY breaks out at bar 25 (seen 13:56, still inside
    the entry window); XX's trailing stop fires at 14:11 (bar 40 drops 3 %)."""
    market = CraftedMarket()
    market.add("XX", "50.00", gap="0.05")
    market.add("YY", "50.00", gap="0.04")
    market.step("XX", 20, "52.00")
    market.step("XX", 40, "50.40")
    market.step("YY", 25, "52.00")
    return market


def _crash_then_restart(day: CraftedDay, when_minute: int) -> None:
    with pytest.raises(SimulatedCrash):
        day.run(on_tick=crash_at(minute(when_minute), SimulatedCrash), ledger=True)
    with day.runner_state() as state:
        assert state.phases(DAY)["open"].status == "running"


def _assert_no_order_twice(day: CraftedDay) -> None:
    for order in day.orders():
        assert len(day.setup.broker.venue_order_ids(order.client_order_id)) == 1, order


def test_restart_in_the_entry_window_resumes_manage_only(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market(), ledgers=True, STRATEGY_OVERRIDE="open")
    _crash_then_restart(day, 23)  # 13:53: XX is held, YY has not signalled yet
    result = day.run(ledger=True)
    assert result.phases["open"] == ("done", None)
    entries = [o.symbol for o in day.orders() if o.purpose == "EN"]
    assert entries == ["XX"]  # YY's breakout at 13:56 is never entered
    assert records_where(day.decisions(), stage="order", symbol="YY") == []
    (trade,) = day.trades()
    assert (trade["symbol"], trade["status"], trade["exit_reason"]) == ("XX", "closed", "stop_loss")
    assert trade["exit_timestamp"] == "2025-07-15T14:11:00.500Z"  # the re-armed trail fired
    assert day.setup.broker.get_positions() == []
    _assert_no_order_twice(day)
    # the restarted runner found the ledger's FITIDs again; each fill is in the ledger once
    events = [e for e in list_events(day.outputs, limit=100) if e.trade_id is not None]
    assert sorted(e.fitid for e in events) == sorted(
        trade["entry_ledger_fitids"] + trade["exit_ledger_fitids"]
    )
    assert len(events) == 2
    summary = day.summary()
    assert summary["totals"]["trades"] == 1
    assert summary["totals"]["realized_pnl"] == trade["PnL"]
    assert summary["open_positions_at_close"] == []


def test_restart_after_the_hard_exit_flattens_at_once(tbot_home: Path) -> None:
    market = _market()
    market.step("XX", 40, "52.00")  # no stop this time: XX is held into the hard exit
    day = crafted_day(tbot_home, market, ledgers=True, STRATEGY_OVERRIDE="open")
    _crash_then_restart(day, 50)  # 14:20, monitoring
    day.setup.clock.sleep_until(minute(70))  # the runner is back at 14:40, past 14:30
    day.run(ledger=True)
    trades = day.trades()
    assert sorted(t["symbol"] for t in trades) == ["XX", "YY"]  # both entered before 14:20
    assert {(t["status"], t["exit_reason"]) for t in trades} == {("closed", "timeout")}
    exits = [o for o in day.orders() if o.purpose == "EX"]
    assert [o.created_utc for o in exits] == [minute(70), minute(70)]
    assert day.setup.broker.get_positions() == []
    _assert_no_order_twice(day)


def test_entry_filled_while_down_is_adopted_and_managed(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market(), ledgers=True, STRATEGY_OVERRIDE="open")
    _crash_then_restart(day, 21)  # 13:51: XX's entry is sent, its fill comes at 13:51:00.5
    day.setup.clock.sleep_until(minute(22.5))  # down for 90 s; the venue filled XX meanwhile
    day.run(ledger=True)
    entries = [o for o in day.orders() if o.purpose == "EN"]
    assert [(o.symbol, o.state.value) for o in entries] == [("XX", "filled")]
    (trade,) = day.trades()
    assert (trade["status"], trade["exit_reason"]) == ("closed", "stop_loss")
    assert trade["entry_ledger_fitids"] and trade["exit_ledger_fitids"]
    assert day.setup.broker.get_positions() == []
    _assert_no_order_twice(day)


def test_an_unexpected_error_fails_only_its_phase_and_flattens(tbot_home: Path) -> None:
    """§7.5: an uncaught exception in a phase -> traceback, its positions flattened (`error`),
    phase `failed`; the later phases still run."""

    class BugError(RuntimeError):
        pass

    day = crafted_day(tbot_home, _market(), ledgers=True)
    result = day.run(on_tick=crash_at(minute(23), BugError), ledger=True)
    assert result.phases["open"] == ("failed", "BugError")
    assert result.phases["mid"][0] in {"done", "skipped"}
    assert result.phases["close"][0] in {"done", "skipped"}
    assert result.phases["mid"][1] != "halted"
    exits = records_where(day.decisions(), stage="exit", outcome="pass", symbol="XX")
    assert [r["reason"] for r in exits] == ["error"]
    assert day.setup.broker.get_positions() == []
    traces = day.outputs.log_file("error_tracebacks.log")
    assert "BugError" in traces.read_text()
    _assert_no_order_twice(day)


def test_restart_keeps_the_days_first_float_for_the_kill_switch(tbot_home: Path) -> None:
    """§7.3: the limit is F_day x DAILY_LOSS_LIMIT with F_day the float at the day's first phase;
    a restart after entries (less cash) must not lower it."""
    day = crafted_day(tbot_home, _market(), ledgers=True, STRATEGY_OVERRIDE="open")
    _crash_then_restart(day, 23)  # XX bought: the broker's cash is now below the first float
    first = day.summary()["totals"]
    assert day.setup.broker.get_account().cash < Decimal(first["float_at_start"])
    day.run(ledger=True)
    after = day.summary()["totals"]
    assert after["float_at_start"] == first["float_at_start"]
    assert after["daily_loss_threshold"] == first["daily_loss_threshold"]


def test_restart_rearms_the_local_trailing_stop_at_the_peak_since_the_fill(
    tbot_home: Path,
) -> None:
    """The peak before the crash (55.00) anchors the re-armed stop (53.90), not the price found
    at the restart (54.20, which would put the stop at 53.12 and miss the 53.80 drop)."""
    market = CraftedMarket()
    market.add("XX", "50.00", gap="0.05")
    market.step("XX", 20, "52.00")  # breakout: bought at 13:51
    market.step("XX", 28, "55.00")  # the peak
    market.step("XX", 32, "54.20")
    market.step("XX", 38, "53.80")  # below 55.00 x 0.98 = 53.90, above 54.20 x 0.98
    day = crafted_day(tbot_home, market, ledgers=True, STRATEGY_OVERRIDE="open")
    _crash_then_restart(day, 34)  # 14:04, after the peak, before the drop
    day.run(ledger=True)
    (trade,) = day.trades()
    assert trade["exit_reason"] == "stop_loss"
    assert trade["exit_timestamp"] < "2025-07-15T14:30:00.000Z"  # not left to the hard exit
    _assert_no_order_twice(day)
