"""Sizing on a SIM day: slot allocations for 1-4 signals, defense mode, the per-trade cap, whole
shares, and MAX_OPEN_POSITIONS counted from live broker positions + pending entries (§4, §7.2).

F = cash at phase start = ACCOUNT_BALANCE 10,000; WEIGHTS 0.4,0.2,0.2,0.2. A breakout to 52.00
has the SIM ask 52.00 + 52.00 x 2 bps / 2 = 52.0052, tick-rounded up to 52.01 (§14); the entry is
sized on its limit, the most a share can cost: ask x (1 + ENTRY_LIMIT_SLIPPAGE_PCT 0.005) =
52.27005, rounded up to the cent 52.28, so quantity x limit never exceeds the allocation.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from pathlib import Path

import pytest

from tbot_bot.broker.models import OrderRequest, OrderSide, OrderType
from tbot_bot.test.fakes.crafted_day import (
    CraftedDay,
    CraftedMarket,
    crafted_day,
    minute,
    records_where,
)

ASK = Decimal("52.01")
LIMIT = (ASK * Decimal("1.005")).quantize(Decimal("0.01"), rounding=ROUND_CEILING)  # 52.28
SYMBOLS = ("AA", "BB", "CC", "DD")


def _breakouts(count: int, extra: int = 0) -> CraftedMarket:
    """`count` symbols break out at bar 20 (seen at 13:51); `extra` flat symbols rank below."""
    market = CraftedMarket()
    for index, symbol in enumerate(SYMBOLS[:count] + ("XA", "XB", "XC")[:extra]):
        market.add(symbol, "50.00", gap=f"0.0{9 - index}")
        if index < count:
            market.step(symbol, 20, "52.00")
    return market


def _entries(day: CraftedDay) -> list[tuple[str, int, str, str]]:
    return [
        (r["symbol"], r["slot"], r["allocation"], r["qty"])
        for r in records_where(day.decisions(), stage="order", reason="submitted")
    ]


def _qty(allocation: str, price: Decimal = LIMIT) -> str:
    return str((Decimal(allocation) / price).quantize(Decimal("0.000001"), rounding=ROUND_DOWN))


@pytest.mark.parametrize("signals", [1, 2, 3, 4])
def test_slot_allocations_for_one_to_four_signals(tbot_home: Path, signals: int) -> None:
    day = crafted_day(tbot_home, _breakouts(signals, extra=4 - signals), STRATEGY_OVERRIDE="open")
    day.run()
    allocations = ["80.00", "40.00", "40.00", "40.00"][:signals]
    assert _entries(day) == [
        (SYMBOLS[k], k + 1, allocations[k], _qty(allocations[k])) for k in range(signals)
    ]
    stats = day.summary()["strategies"]["open"]
    assert Decimal(stats["budget"]) == Decimal("200.00")
    assert Decimal(stats["allocated"]) == sum(Decimal(a) for a in allocations)
    assert stats["entries"] == signals


def test_defense_mode_compresses_budget_and_slots(tbot_home: Path) -> None:
    day = crafted_day(
        tbot_home, _breakouts(4), STRATEGY_OVERRIDE="open", DEFENSE_MODE_ACTIVE="true"
    )
    day.run()
    # N = floor(4 x 66 %) = 2, B = 10,000 x 0.01 = 100.00, weights 0.4,0.2 -> 66.66 / 33.33
    assert _entries(day) == [
        ("AA", 1, "66.66", _qty("66.66")),
        ("BB", 2, "33.33", _qty("33.33")),
    ]
    assert Decimal(day.summary()["strategies"]["open"]["budget"]) == Decimal("100.00")


def test_per_trade_cap_reduces_the_allocation(tbot_home: Path) -> None:
    # B = 5,000: 2,000 and 1,000 by weight, both capped at E x MAX_RISK_PER_TRADE = 250.00
    day = crafted_day(tbot_home, _breakouts(2), STRATEGY_OVERRIDE="open", TOTAL_ALLOCATION="0.5")
    day.run()
    assert _entries(day) == [
        ("AA", 1, "250.00", _qty("250.00")),
        ("BB", 2, "250.00", _qty("250.00")),
    ]


def test_whole_shares_without_fractional_trading(tbot_home: Path) -> None:
    market = CraftedMarket()
    for index, symbol in enumerate(("AA", "BB")):
        market.add(symbol, "30.00", gap=f"0.0{5 - index}")
        market.step(symbol, 20, "31.00")
    day = crafted_day(tbot_home, market, STRATEGY_OVERRIDE="open", FRACTIONAL="false")
    day.run()
    # ask 31.01, limit 31.17: floor(80 / 31.17) = 2, floor(40 / 31.17) = 1
    assert _entries(day) == [("AA", 1, "80.00", "2"), ("BB", 2, "40.00", "1")]
    eligibility = records_where(day.decisions(), stage="eligibility")
    assert {r["reason"] for r in eligibility} == {"no_fractional"}  # noted, not a rejection
    assert {r["outcome"] for r in eligibility} == {"pass"}


def test_max_open_positions_counts_live_positions_and_pending_entries(tbot_home: Path) -> None:
    market = _breakouts(3)
    market.step("AA", 24, "50.50")  # AA's trailing stop (52.08 x 0.98 = 51.04) fires at 13:55
    market.add("WW", "20.00", gap="0.00", in_universe=False)  # a position that is not ours
    day = crafted_day(tbot_home, market, STRATEGY_OVERRIDE="open", MAX_OPEN_POSITIONS="2")

    def manual_buy(now: datetime) -> None:
        if now == minute(10):  # someone buys WW by hand during the analysis window
            day.setup.broker.submit_order(
                OrderRequest("MANUAL-WW-1", "WW", OrderSide.BUY, Decimal(10), OrderType.MARKET)
            )

    day.run(on_tick=manual_buy)
    entries = records_where(day.decisions(), stage="order", reason="submitted")
    # two pending entries fill the limit at 13:51; CC only gets in once AA's exit filled
    assert [(r["symbol"], r["slot"], r["ts_utc"][11:16]) for r in entries] == [
        ("AA", 1, "13:51"),
        ("BB", 2, "13:51"),
        ("CC", 3, "13:56"),
    ]
    (aa_exit,) = records_where(day.decisions(), stage="exit", outcome="pass", symbol="AA")
    assert (aa_exit["reason"], aa_exit["ts_utc"][11:16]) == ("stop_loss", "13:55")
    # WW was never counted, never touched, and is still held; the strategy is flat
    assert [(p.symbol, p.qty) for p in day.setup.broker.get_positions()] == [("WW", Decimal(10))]
    assert day.summary()["open_positions_at_close"] == []
    assert not [o for o in day.orders() if o.symbol == "WW"]
