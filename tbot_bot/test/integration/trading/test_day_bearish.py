"""Bearish OPEN signals on a SIM day (trading spec §5, §3.3, §7.2 check 2).

DN breaks down at bar 20 (seen 13:51); UP breaks out at bar 21 (seen 13:52). With the default
`SHORT_TYPE_OPEN=InverseETF` a bearish signal on any stock buys SH (the `*` catch-all), sized on
SH's own price: ask 15.00 + 2 bps / 2 -> 15.01, limit 15.01 x 1.005 rounded up -> 15.09 (the most
a share can cost), 80.00 / 15.09 = 5.301524.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tbot_bot.accounting import list_events
from tbot_bot.test.fakes.crafted_day import (
    DAY,
    CraftedDay,
    CraftedMarket,
    crafted_day,
    records_where,
)


def _market(*, sh_in_universe: bool, second_bearish: bool = False) -> CraftedMarket:
    market = CraftedMarket()
    market.add("DN", "50.00", gap="0.05")
    market.add("UP", "50.00", gap="0.04")
    market.add(
        "SH",
        "15.00",
        gap="0.00",
        type="etf",
        sector=None,
        pe_ratio=None,
        debt_equity=None,
        in_universe=sh_in_universe,
    )
    market.step("DN", 20, "48.00")
    market.step("UP", 21, "52.00")
    if second_bearish:
        market.add("DX", "50.00", gap="0.03")
        market.step("DX", 22, "48.00")  # seen at 13:53: SH is already traded today
    return market


def _inverse_day(tbot_home: Path, **overrides: str) -> CraftedDay:
    day = crafted_day(
        tbot_home,
        _market(sh_in_universe=True, second_bearish=True),
        ledgers=True,
        STRATEGY_OVERRIDE="open",
        SCREENER_UNIVERSE_TYPES="common,etf",
        **overrides,
    )
    day.run(ledger=True)
    return day


def test_inverse_etf_buys_the_mapped_etf_sized_on_its_own_price(tbot_home: Path) -> None:
    day = _inverse_day(tbot_home)
    decisions = day.decisions()
    (gate,) = records_where(decisions, stage="gate", symbol="DN")
    (order,) = records_where(decisions, stage="order", symbol="DN")
    for record in (gate, order):
        assert (record["target_symbol"], record["mapped_inverse"], record["mapping_version"]) == (
            "DN",
            "SH",
            1,
        )
    # SH's ask 15.01, limit 15.01 x 1.005 rounded up = 15.09: 80.00 / 15.09 down to 6 dp
    assert (order["qty"], order["allocation"]) == ("5.301524", "80.00")
    assert order["client_order_id"] == "B01-20250715-O01-SH-EN00"  # the symbol ordered
    trades = {t["symbol"]: t for t in day.trades()}
    sh = trades["SH"]
    assert (sh["target_symbol"], sh["bearish_mode"], sh["instrument_type"]) == (
        "DN",
        "InverseETF",
        "etf",
    )
    assert (sh["direction"], sh["trade_side"], sh["size"]) == ("bearish", "buy", "5.301524")


def test_inverse_etf_fills_carry_the_ledger_metadata(tbot_home: Path) -> None:
    day = _inverse_day(tbot_home)
    events = [e for e in list_events(day.outputs, limit=100) if e.symbol == "SH"]
    assert len(events) == 2  # the buy and the sell of SH
    for event in events:
        meta: dict[str, Any] = dict(event.metadata)
        assert (meta["bearish_mode"], meta["target_symbol"], meta["inverse_symbol"]) == (
            "InverseETF",
            "DN",
            "SH",
        )
        assert str(meta["leverage"]) == "1"
        assert meta["session_id"] == "20250715-OPEN"


def test_one_inverse_etf_entry_per_trading_date(tbot_home: Path) -> None:
    day = _inverse_day(tbot_home)
    (blocked,) = records_where(day.decisions(), stage="gate", symbol="DX")
    assert (blocked["reason"], blocked["mapped_inverse"]) == ("already_traded_today", "SH")
    assert blocked["fallback_level"] == 0  # a per-symbol block: the slot is handed on
    with day.runner_state() as state:
        assert {"DN", "SH", "UP"} <= state.blocked_symbols(DAY)


def test_bearish_disabled_is_logged_and_uses_no_slot(tbot_home: Path) -> None:
    day = crafted_day(
        tbot_home,
        _market(sh_in_universe=False),
        STRATEGY_OVERRIDE="open",
        SHORT_TYPE_OPEN="disabled",
    )
    day.run()
    decisions = day.decisions()
    assert [r["reason"] for r in records_where(decisions, symbol="DN", outcome="reject")][-1] == (
        "bearish_disabled"
    )
    assert records_where(decisions, stage="gate", symbol="DN") == []
    (order,) = records_where(decisions, stage="order")
    assert (order["symbol"], order["slot"], order["fallback_level"]) == ("UP", 1, 0)
