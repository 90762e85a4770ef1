"""Kill switch, Kill flag and Stop flag on a SIM day (trading spec §7.3, §8.1, §8.2).

Flags are written by an `on_tick` hook at a chosen minute, as the web UI or `tbot kill` would;
the runner acts in the same tick (it reads the flags again after the tick's work, and in
production its clock wakes every second to poll them). HALTED must persist (halt record + kill
flag), flatten, refuse entries, survive a second run of the same day and block the next day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from tbot_bot.runtime.control_flags import pending_flags, request_kill, request_stop
from tbot_bot.test.fakes.crafted_day import (
    DAY,
    NEXT_DAY,
    CraftedDay,
    CraftedMarket,
    crafted_day,
    minute,
    records_where,
)

STRATEGIES = ("open", "mid", "close")


def _statuses(
    day_result_phases: dict[str, tuple[str, str | None]],
) -> dict[str, tuple[str, str | None]]:
    return {name: day_result_phases[name] for name in STRATEGIES}


def _market() -> CraftedMarket:
    """XX and YY break out at bar 20 (filled 13:51); ZZ breaks out at bar 24 (seen 13:55)."""
    market = CraftedMarket()
    market.add("XX", "50.00", gap="0.05")
    market.add("YY", "50.00", gap="0.04")
    market.add("ZZ", "50.00", gap="0.03")
    market.step("XX", 20, "52.00")
    market.step("YY", 20, "52.00")
    market.step("ZZ", 24, "52.00")
    return market


def _write_at(
    day: CraftedDay, when: datetime, action: Callable[..., object]
) -> Callable[[datetime], None]:
    def hook(now: datetime) -> None:
        if now == when:
            action(day.paths, "admin", "test", clock=day.setup.clock)

    return hook


def test_daily_loss_trips_halted_flattens_and_persists(tbot_home: Path) -> None:
    market = _market()
    market.step("XX", 23, "48.88")  # XX's stop fires at 13:54, filled at 13:54:00.5 (-6 %)
    # B = F = 10,000: XX holds 4,000, YY 2,000; the limit is 10,000 x 0.01 = 100.00
    day = crafted_day(
        tbot_home,
        market,
        TOTAL_ALLOCATION="1",
        MAX_RISK_PER_TRADE="1",
        DAILY_LOSS_LIMIT="0.01",
    )
    result = day.run()
    assert _statuses(result.phases) == {
        "open": ("aborted", "halted"),
        "mid": ("skipped", "halted"),
        "close": ("skipped", "halted"),
    }
    with day.runner_state() as state:
        halt = state.open_halt()
    assert halt is not None
    assert (halt["trading_date"], halt["reason"]) == ("2025-07-15", "daily_loss_limit")
    # the kill switch runs on every tick on the latest marks: XX's loss is seen at the 13:54 bar
    # end, before its stop-loss exit fills
    assert halt["tripped_utc"] == "2025-07-15T13:54:00.000Z"
    assert halt["threshold_minor"] == 10000
    assert halt["day_pnl_minor"] <= -10000
    kill = pending_flags(day.paths)["kill"]
    assert kill is not None and kill.requested_by == "runner:kill_switch"
    # ZZ would break out after the trip: the phase was aborted, ZZ never reached the broker
    assert not [o for o in day.orders() if o.symbol == "ZZ"]
    assert not records_where(day.decisions(), stage="order", symbol="ZZ")
    trades = {t["symbol"]: t for t in day.trades()}
    assert set(trades) == {"XX", "YY"}
    assert trades["XX"]["exit_reason"] == "stop_loss"
    assert trades["YY"]["exit_reason"] == "kill"  # flattened by the halt
    assert day.setup.broker.get_positions() == []
    summary = day.summary()
    assert summary["risk_triggers"]["kill_switch_tripped"] is True
    assert summary["risk_triggers"]["reason"] == "daily_loss_limit"
    assert Decimal(summary["totals"]["daily_loss_threshold"]) == Decimal("100.00")
    assert summary["bot_state_at_close"] == "shutdown_triggered"
    assert "emergency_closing_positions" in [state for state, _ in day.states]
    assert day.states[-1][0] == "shutdown_triggered"

    # a second run of the same day (a restart) stays halted and sends nothing
    orders_before = [o.client_order_id for o in day.orders()]
    again = day.run()
    assert _statuses(again.phases) == _statuses(result.phases)
    assert [o.client_order_id for o in day.orders()] == orders_before
    assert day.summary()["bot_state_at_close"] == "shutdown_triggered"

    # and the next trading day is blocked too: every phase skipped `halted`, no order
    next_day = day.run(NEXT_DAY)
    assert {name: next_day.phases[name] for name in STRATEGIES} == {
        name: ("skipped", "halted") for name in STRATEGIES
    }
    assert day.orders(NEXT_DAY) == []


def test_kill_flag_mid_window_halts_in_the_same_tick(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market())
    result = day.run(on_tick=_write_at(day, minute(22), request_kill))  # written at 13:52
    assert _statuses(result.phases) == {
        "open": ("aborted", "halted"),
        "mid": ("skipped", "halted"),
        "close": ("skipped", "halted"),
    }
    with day.runner_state() as state:
        halt = state.open_halt()
    assert halt is not None
    assert (halt["reason"], halt["tripped_utc"]) == ("kill_flag", "2025-07-15T13:52:00.000Z")
    exits = records_where(day.decisions(), stage="exit", outcome="pass")
    assert {(r["symbol"], r["reason"], r["ts_utc"][11:19]) for r in exits} == {
        ("XX", "kill", "13:52:00"),
        ("YY", "kill", "13:52:00"),
    }
    assert not [o for o in day.orders() if o.symbol == "ZZ"]
    assert day.setup.broker.get_positions() == []
    assert pending_flags(day.paths)["kill"] is not None  # the flag stays until Start
    assert day.states[-1][0] == "shutdown_triggered"


def test_stop_flag_immediate_flattens_and_blocks_until_start(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market())
    result = day.run(on_tick=_write_at(day, minute(22), request_stop))
    assert _statuses(result.phases) == {
        "open": ("aborted", "stopped"),
        "mid": ("skipped", "stopped"),
        "close": ("skipped", "stopped"),
    }
    exits = records_where(day.decisions(), stage="exit", outcome="pass")
    assert {(r["symbol"], r["reason"], r["ts_utc"][11:19]) for r in exits} == {
        ("XX", "manual", "13:52:00"),
        ("YY", "manual", "13:52:00"),
    }
    assert not [o for o in day.orders() if o.symbol == "ZZ"]
    assert day.setup.broker.get_positions() == []
    assert "graceful_closing_positions" in [state for state, _ in day.states]
    assert day.states[-1][0] == "stopped"
    summary = day.summary()
    assert summary["risk_triggers"]["stop_pressed"] is True
    assert summary["bot_state_at_close"] == "stopped"
    # the stop flag persists and blocks the next day until Start
    assert pending_flags(day.paths)["stop"] is not None
    next_day = day.run(NEXT_DAY)
    assert {name: next_day.phases[name] for name in STRATEGIES} == {
        name: ("skipped", "stopped") for name in STRATEGIES
    }


def test_stop_flag_at_hard_exit_manages_until_the_hard_exit(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market(), STOP_FLATTEN_MODE="at_hard_exit")
    result = day.run(on_tick=_write_at(day, minute(22), request_stop))
    assert result.phases["mid"] == ("skipped", "stopped")
    assert result.phases["close"] == ("skipped", "stopped")
    exits = records_where(day.decisions(), stage="exit", outcome="pass")
    assert {(r["symbol"], r["ts_utc"][11:19]) for r in exits} == {
        ("XX", "14:30:00"),
        ("YY", "14:30:00"),
    }
    assert not [o for o in day.orders() if o.symbol == "ZZ"]  # entries blocked at once
    assert day.setup.broker.get_positions() == []
    assert day.states[-1][0] == "stopped"


def test_kill_flag_acts_within_one_second(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _market(), STRATEGY_OVERRIDE="open")
    day.run(on_tick=_write_at(day, minute(22), request_kill))
    with day.runner_state() as state:
        halt = state.open_halt()
    assert halt is not None
    assert halt["tripped_utc"] <= "2025-07-15T13:52:01.000Z"


def test_halted_day_summary_keeps_the_day_after_a_restart(tbot_home: Path) -> None:
    """The daily summary rewritten by a restart still reports the day's trades and the trip."""
    market = _market()
    market.step("XX", 23, "48.88")
    day = crafted_day(
        tbot_home,
        market,
        STRATEGY_OVERRIDE="open",
        TOTAL_ALLOCATION="1",
        MAX_RISK_PER_TRADE="1",
        DAILY_LOSS_LIMIT="0.01",
    )
    day.run()
    first = day.summary()
    day.run(DAY)
    second = day.summary()
    assert second["totals"]["trades"] == first["totals"]["trades"] == 2
    assert second["totals"]["realized_pnl"] == first["totals"]["realized_pnl"]
    assert second["risk_triggers"]["kill_switch_tripped"] is True
