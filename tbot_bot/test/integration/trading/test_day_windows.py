"""Window arithmetic of a SIM day and no entry outside the entry window (trading spec §1.1, §3.2).

OPEN on 2025-07-15 (EDT): analysis 13:30-13:50Z, entry 13:50-14:00Z, monitoring to the hard exit
at 14:30Z. The runner ticks at bar ends, so a breakout bar starting at minute m is acted on at the
tick m + 1: bar 28 (13:58) is seen at 13:59, inside the window; bar 29 (13:59) is first seen at
14:00, when the window has closed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tbot_bot.runtime.sim_day import day_plan
from tbot_bot.test.fakes.crafted_day import DAY, CraftedMarket, crafted_day, minute, records_where

PHASE_VALUES = {"analysis", "entry", "monitoring", "hard_exit"}


def _market() -> CraftedMarket:
    market = CraftedMarket()
    market.add("EDGE", "50.00", gap="0.05")
    market.add("LATE", "40.00", gap="0.04")
    market.add("AFTER", "30.00", gap="0.03")
    market.add("EARLY", "20.00", gap="0.02")
    market.step("EDGE", 28, "52.00")  # seen at 13:59: the last entry tick
    market.step("LATE", 29, "42.00")  # seen at 14:00: the window is over
    market.step("AFTER", 35, "32.00")  # monitoring
    market.bar("EARLY", 5, "20.00", "25.00", "19.99", "20.00")  # an analysis spike sets the range
    return market


def utc(hour: int, minute_: int, second: int = 0) -> datetime:
    return datetime(2025, 7, 15, hour, minute_, second, tzinfo=UTC)


def test_plan_windows_of_the_replayed_day(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market())
    plan = day_plan(day.setup, DAY)
    windows = {
        p.name: (p.start_utc, p.analysis_end_utc, p.entry_end_utc, p.hard_exit_utc)
        for p in plan.phases
        if p.is_strategy
    }
    assert windows == {
        "open": (utc(13, 30), utc(13, 50), utc(14, 0), utc(14, 30)),
        "mid": (utc(16, 0), utc(16, 15), utc(16, 25), utc(16, 55)),
        "close": (utc(19, 34, 30), utc(19, 39, 30), utc(19, 42, 30), utc(19, 57, 30)),
    }
    close = plan.phase("close")
    assert close is not None
    assert close.tightening_from_utc == utc(19, 55)


def test_entries_only_inside_the_entry_window(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market(), STRATEGY_OVERRIDE="open")
    result = day.run()
    assert result.phases["open"] == ("done", None)
    entries = [o for o in day.orders() if o.purpose == "EN"]
    assert [o.symbol for o in entries] == ["EDGE"]
    assert entries[0].created_utc == minute(29)  # 13:59:00, submitted at once
    for order in entries:
        assert minute(20) <= order.created_utc < minute(30)
    decisions = day.decisions()
    # the pool is frozen at the end of analysis and every candidate's eligibility is logged then
    eligibility = records_where(decisions, stage="eligibility")
    assert [(r["symbol"], r["pool_rank"]) for r in eligibility] == [
        ("EDGE", 1),
        ("LATE", 2),
        ("AFTER", 3),
        ("EARLY", 4),
    ]
    assert {r["ts_utc"] for r in eligibility} == {"2025-07-15T13:50:00.000Z"}
    # no signal is evaluated outside [13:50, 14:00)
    signals = records_where(decisions, stage="signal")
    assert signals
    assert all("13:50" <= r["ts_utc"][11:16] < "14:00" for r in signals)
    assert records_where(decisions, stage="signal", outcome="pass", symbol="LATE") == []
    assert records_where(decisions, stage="signal", outcome="pass", symbol="AFTER") == []
    assert records_where(decisions, stage="signal", outcome="pass", symbol="EARLY") == []


def test_hard_exit_at_the_window_end_and_phase_record(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market(), STRATEGY_OVERRIDE="open")
    day.run()
    (trade,) = day.trades()
    assert trade["exit_reason"] == "timeout"
    exits = [o for o in day.orders() if o.purpose == "EX"]
    assert [o.created_utc for o in exits] == [minute(60)]  # 14:30:00, the hard exit
    assert trade["exit_timestamp"] == "2025-07-15T14:30:00.500Z"  # next bar open + latency
    phase = next(p for p in day.summary()["phases"] if p["phase"] == "open")
    assert phase["scheduled_start_utc"] == "2025-07-15T13:30:00.000Z"
    assert phase["actual_start_utc"] == "2025-07-15T13:30:00.000Z"
    assert phase["status"] == "done"
    assert day.setup.broker.get_positions() == []


def test_decision_records_use_the_spec_phase_names(tbot_home: Path) -> None:
    """§3.3: `phase` is analysis / entry / monitoring / hard_exit on every record."""
    day = crafted_day(tbot_home, _market(), STRATEGY_OVERRIDE="open")
    day.run()
    phases = {r["phase"] for r in day.decisions()}
    assert phases <= PHASE_VALUES, phases - PHASE_VALUES
    exit_records = records_where(day.decisions(), stage="exit")
    assert exit_records
    assert {r["phase"] for r in exit_records} == {"hard_exit"}


def test_one_minute_late_runs_open_with_unchanged_windows(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market(), STRATEGY_OVERRIDE="open")
    day.setup.clock.sleep_until(minute(1))  # the runner comes up at 13:31
    result = day.run()
    assert result.phases["open"] == ("done", None)
    # the range was backfilled from 13:30 and the entry window is still 13:50-14:00
    assert [(o.symbol, o.created_utc) for o in day.orders() if o.purpose == "EN"] == [
        ("EDGE", minute(29))
    ]
    phase = next(p for p in day.summary()["phases"] if p["phase"] == "open")
    assert phase["actual_start_utc"] == "2025-07-15T13:31:00.000Z"


def test_three_minutes_late_skips_open(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market(), STRATEGY_OVERRIDE="open")
    day.setup.clock.sleep_until(minute(3))
    result = day.run()
    assert result.phases["open"] == ("skipped", "missed_start")
    assert day.orders() == []


def test_start_at_15_utc_runs_mid_onward(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market())
    day.setup.clock.sleep_until(minute(90))  # 15:00Z = 11:00 ET
    result = day.run()
    assert {name: result.phases[name][0] for name in ("open", "mid", "close")} == {
        "open": "skipped",
        "mid": "done",
        "close": "done",
    }
    assert result.phases["holdings_open"][0] == "skipped"
    assert [o for o in day.orders() if o.context.strategy == "open"] == []
