"""Exits on a SIM day: trailing stops long and short with pre-close tightening, the hard exit and
its verification against broker positions (trading spec §6).

OPEN (trail 0.02): tightening to 0.01 from 14:27:30Z, so the first tightened tick is 14:28.
Short sales are whole shares, so the SIM trails them natively (§6 "Native vs local").
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tbot_bot.test.fakes.crafted_day import CraftedMarket, crafted_day, minute, records_where


def _trades(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {t["symbol"]: t for t in records}


def test_trailing_stops_long_and_short_with_tightening(tbot_home: Path) -> None:
    market = CraftedMarket()
    for index, symbol in enumerate(("LT", "ST", "LN", "SN")):
        market.add(symbol, "50.00", gap=f"0.0{9 - index}")
    # long: peak close 54.00, then 53.00 (1.85 % off: holds at 2 %, exits at the tightened 1 %)
    market.step("LT", 20, "52.00")
    market.ramp("LT", 21, 30, "54.00")
    market.ramp("LT", 31, 40, "53.00")
    # short: trough close 46.00, then 46.60 (1.3 % up: holds at 2 %, exits at 1 %)
    market.step("ST", 20, "48.00")
    market.ramp("ST", 21, 30, "46.00")
    market.ramp("ST", 31, 40, "46.60")
    # plain 2 % trails: 54.00 -> 52.80 (<= 52.92) and 46.00 -> 47.00 (>= 46.92) at bar 45
    market.step("LN", 20, "52.00")
    market.ramp("LN", 21, 30, "54.00")
    market.step("LN", 45, "52.80")
    market.step("SN", 20, "48.00")
    market.ramp("SN", 21, 30, "46.00")
    market.step("SN", 45, "47.00")
    day = crafted_day(
        tbot_home,
        market,
        STRATEGY_OVERRIDE="open",
        SHORT_TYPE_OPEN="ShortSell",
        TOTAL_ALLOCATION="0.2",
        MAX_RISK_PER_TRADE="0.1",
    )
    day.run()
    exits = records_where(day.decisions(), stage="exit", outcome="pass")
    assert sorted((r["symbol"], r["reason"], r["ts_utc"][11:19]) for r in exits) == [
        ("LN", "stop_loss", "14:16:00"),
        ("LT", "stop_loss", "14:28:00"),
        ("ST", "stop_loss", "14:28:00"),
    ]
    trades = _trades(day.trades())
    # SN's native stop (trough 45.99 x 1.02) fills inside the 14:15 bar; no runner exit is sent
    assert (trades["SN"]["exit_reason"], trades["SN"]["exit_timestamp"][11:19]) == (
        "stop_loss",
        "14:15:00",
    )
    assert trades["SN"]["exit_client_order_id"].endswith("SN-TS00")
    # ST: at the first tightened tick the native stop is cancelled, and the tightened stop on
    # the existing trough is already crossed, so the runner exits by market
    states = {o.client_order_id[-7:]: o.state.value for o in day.orders() if o.purpose != "EN"}
    assert (states["ST-TS00"], states["ST-EX00"]) == ("cancelled", "filled")
    assert "ST-TS01" not in states and "SN-EX00" not in states
    for symbol in ("ST", "SN"):
        short = trades[symbol]
        assert (short["direction"], short["bearish_mode"], short["trade_side"]) == (
            "bearish",
            "ShortSell",
            "sell",
        )
        assert Decimal(short["size"]) == Decimal(short["size"]).to_integral_value()  # whole
        assert Decimal(short["PnL"]) > 0  # sold high, covered lower
    # the tightened exits fill at the 14:28 bar open, moved against us by 0.15 %
    assert (trades["LT"]["exit_price"], trades["ST"]["exit_price"]) == ("52.92", "46.67")
    assert day.setup.broker.get_positions() == []


def test_close_tightening_example_of_the_spec(tbot_home: Path) -> None:
    """§6: TRAIL_PCT_CLOSE 0.019, peak 20.00: stop 19.62 until 15:55:00 ET, then 19.81."""
    market = CraftedMarket()
    market.add("ZZ", "20.00", gap="0.02")
    market.add("YY", "20.00", gap="0.01")
    market.step("ZZ", 379, "19.80")  # from 19:49Z: above 19.62, at or below 19.81
    market.step("YY", 379, "19.82")  # above both
    day = crafted_day(tbot_home, market, STRATEGY_OVERRIDE="close", ENABLE_SLIPPAGE_MODEL="false")
    day.run()
    trades = _trades(day.trades())
    assert trades["ZZ"]["entry_price"] == "20.00"
    assert (trades["ZZ"]["exit_reason"], trades["ZZ"]["exit_timestamp"]) == (
        "stop_loss",
        "2025-07-15T19:55:00.500Z",
    )
    # YY is never stopped: it leaves at the hard exit 15:57:30 ET, filled at the next bar
    assert (trades["YY"]["exit_reason"], trades["YY"]["exit_timestamp"]) == (
        "timeout",
        "2025-07-15T19:58:00.500Z",
    )
    exits = {
        r["symbol"]: r for r in records_where(day.decisions("close"), stage="exit", outcome="pass")
    }
    assert exits["YY"]["ts_utc"] == "2025-07-15T19:57:30.000Z"
    assert exits["YY"]["phase"] == "hard_exit"
    assert day.setup.broker.get_positions() == []


def _held_to_the_hard_exit() -> CraftedMarket:
    market = CraftedMarket()
    market.add("HH", "50.00")
    market.step("HH", 20, "52.00")
    return market


def _reject_exits(day: Any, count: int) -> Any:
    def hook(now: datetime) -> None:
        if now == minute(59):  # the last tick before the 14:30 hard exit
            for _ in range(count):
                day.setup.broker.faults.reject_next("venue halted the symbol")

    return hook


def test_hard_exit_flattens_and_verifies_flat(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _held_to_the_hard_exit(), STRATEGY_OVERRIDE="open")
    day.run(on_tick=_reject_exits(day, 2))  # two refused attempts, the third one fills
    exits = [o for o in day.orders() if o.purpose == "EX"]
    assert [(o.client_order_id[-4:], o.state.value) for o in exits] == [
        ("EX00", "rejected"),
        ("EX01", "rejected"),
        ("EX02", "filled"),
    ]
    (trade,) = day.trades()
    assert (trade["status"], trade["exit_reason"]) == ("closed", "timeout")
    assert trade["exit_client_order_id"].endswith("EX02")
    assert day.setup.broker.get_positions() == []
    assert day.outputs.log_file("unresolved_orders.log").read_text() == ""


def test_hard_exit_that_cannot_flatten_is_reported(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _held_to_the_hard_exit(), STRATEGY_OVERRIDE="open")
    day.run(on_tick=_reject_exits(day, 200))  # every attempt of the hard exit is refused
    exits = [o for o in day.orders() if o.purpose == "EX"]
    assert len(exits) == 99  # retried every WATCHDOG_INTERVAL_SEC up to EX98, then given up
    lines = day.outputs.log_file("unresolved_orders.log").read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["error_type"] == "not_flat_after_hard_exit"
    assert record["context"]["symbol"] == "HH"
    summary = day.summary()
    assert summary["unresolved_orders"] == 1
    assert [p["symbol"] for p in summary["open_positions_at_close"]] == ["HH"]


def test_unflat_position_is_retried_until_the_close(tbot_home: Path) -> None:
    day = crafted_day(tbot_home, _held_to_the_hard_exit(), STRATEGY_OVERRIDE="open")
    day.run(on_tick=_reject_exits(day, 6))
    assert day.setup.broker.get_positions() == []
