"""Slots and fallback on a SIM day, read from the decision log (trading spec §3.2, §3.3, §7.2).

The candidates are ranked by their opening gap (same volumes), so rank = gap order. ACCOUNT_BALANCE
10,000 and TOTAL_ALLOCATION 0.02 give B = 200.00 and slot allocations 80 / 40 / 40 / 40.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from tbot_bot.broker.models import OrderState
from tbot_bot.test.fakes.crafted_day import CraftedMarket, crafted_day, minute, records_where


def _slot_view(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (r["symbol"], r["slot"], r["fallback_level"], r["outcome"], r["reason"], r["allocation"])
        for r in records
    ]


def test_per_symbol_gate_failures_fall_back_with_the_inherited_allocation(
    tbot_home: Path,
) -> None:
    market = CraftedMarket()
    market.add("AA", "50.00", gap="0.05", pe_ratio="100")  # fundamentals (check 5)
    market.add("BB", "100.00", gap="0.04", fractionable=False)  # 80 / 104.02 -> 0 shares
    market.add("CC", "50.00", gap="0.03")
    market.add("DD", "50.00", gap="0.02")
    for symbol, price in (("AA", "52.00"), ("BB", "104.00"), ("CC", "52.00"), ("DD", "52.00")):
        market.step(symbol, 20, price)
    day = crafted_day(tbot_home, market, STRATEGY_OVERRIDE="open")
    day.run()
    gates = records_where(day.decisions(), stage="gate")
    assert _slot_view(gates) == [
        ("AA", 1, 0, "block", "fundamentals", "80.00"),
        ("BB", 1, 1, "block", "qty_below_one", "80.00"),
        ("CC", 1, 2, "pass", "pass", "80.00"),
        ("DD", 2, 0, "pass", "pass", "40.00"),
    ]
    orders = records_where(day.decisions(), stage="order")
    assert [(r["client_order_id"], r["allocation"]) for r in orders] == [
        ("B01-20250715-O01-CC-EN02", "80.00"),
        ("B01-20250715-O02-DD-EN00", "40.00"),
    ]
    trades = {t["symbol"]: t for t in day.trades()}
    assert (trades["CC"]["fallback_level"], trades["CC"]["pool_rank"]) == (2, 3)
    assert (trades["DD"]["fallback_level"], trades["DD"]["pool_rank"]) == (0, 4)
    stats = day.summary()["strategies"]["open"]
    assert stats["blocks"] == {"fundamentals": 1, "qty_below_one": 1}
    assert (stats["signals"], stats["entries"], stats["slots_unfilled"]) == (4, 2, 0)
    assert Decimal(stats["allocated"]) == Decimal("120.00")


def test_broker_reject_and_no_fill_fall_back(tbot_home: Path) -> None:
    market = CraftedMarket()
    market.add("PP", "50.00", gap="0.05")
    market.add("QQ", "50.00", gap="0.04")
    market.add("RR", "50.00", gap="0.03")
    market.step("PP", 20, "52.00")
    market.step("QQ", 20, "52.00")
    # QQ gaps far above its marketable limit (52.01 x 1.005 -> 52.27) and never comes back
    market.bar("QQ", 21, "55.00", "55.50", "54.90", "55.00")
    market.step("QQ", 22, "55.00")
    market.step("RR", 22, "52.00")  # signals at 13:53, after QQ's slot came back at 13:52
    day = crafted_day(tbot_home, market, STRATEGY_OVERRIDE="open")
    day.setup.broker.faults.reject_next("venue says no")  # the day's first order
    day.run()
    orders = records_where(day.decisions(), stage="order")
    assert [(r["symbol"], r["slot"], r["fallback_level"], r["reason"]) for r in orders] == [
        ("PP", 1, 0, "submitted"),
        ("PP", 1, 0, "broker_reject"),
        ("QQ", 1, 1, "submitted"),
        ("QQ", 1, 1, "unfilled"),
        ("RR", 1, 2, "submitted"),
    ]
    unfilled = records_where(orders, reason="unfilled")[0]
    assert unfilled["ts_utc"] == "2025-07-15T13:52:00.000Z"  # ENTRY_FILL_TIMEOUT_S passed
    states = {o.client_order_id: o.state for o in day.orders() if o.purpose == "EN"}
    assert states == {
        "B01-20250715-O01-PP-EN00": OrderState.REJECTED,
        "B01-20250715-O01-QQ-EN01": OrderState.CANCELLED,
        "B01-20250715-O01-RR-EN02": OrderState.FILLED,
    }
    trades = {t["symbol"]: t for t in day.trades()}
    assert (trades["PP"]["status"], trades["PP"]["error_code"]) == ("rejected", "broker_reject")
    assert (trades["QQ"]["status"], trades["QQ"]["error_code"]) == ("unfilled", "unfilled")
    assert trades["RR"]["status"] == "closed"
    assert {t["allocation"] for t in trades.values()} == {"80.00"}


def test_slot_unfilled_when_the_candidates_are_exhausted(tbot_home: Path) -> None:
    market = CraftedMarket()
    market.add("AA", "50.00", gap="0.05", pe_ratio="100")
    market.add("BB", "100.00", gap="0.04", fractionable=False)
    market.add("ZZ", "50.00", gap="0.03")  # never signals
    market.step("AA", 20, "52.00")
    market.step("BB", 20, "104.00")
    day = crafted_day(tbot_home, market, STRATEGY_OVERRIDE="open")
    day.run()
    (unfilled,) = records_where(day.decisions(), reason="slot_unfilled")
    assert (unfilled["slot"], unfilled["fallback_level"]) == (1, 2)
    assert unfilled["detail"] == {
        "reasons": ["fundamentals", "qty_below_one", "entry_window_ended"]
    }
    assert unfilled["ts_utc"] >= minute(30).strftime("%Y-%m-%dT%H:%M")  # at the window's end
    assert [o for o in day.orders() if o.purpose == "EN"] == []
    assert day.summary()["strategies"]["open"]["slots_unfilled"] == 1


def test_capital_blocks_end_the_slot_without_fallback(tbot_home: Path) -> None:
    """ACCOUNT_BALANCE 1.00: B = 0.02, every slot allocation rounds down to 0.00."""
    market = CraftedMarket()
    for index, symbol in enumerate(("AA", "BB", "CC")):
        market.add(symbol, "50.00", gap=f"0.0{5 - index}")
        market.step(symbol, 20, "52.00")
    day = crafted_day(tbot_home, market, STRATEGY_OVERRIDE="open", ACCOUNT_BALANCE="1.00")
    day.run()
    gates = records_where(day.decisions(), stage="gate")
    assert _slot_view(gates) == [
        ("AA", 1, 0, "block", "budget_exhausted", "0.00"),
        (None, 1, 0, "block", "slot_unfilled", None),
        ("BB", 2, 0, "block", "budget_exhausted", "0.00"),
        (None, 2, 0, "block", "slot_unfilled", None),
        ("CC", 3, 0, "block", "budget_exhausted", "0.00"),
        (None, 3, 0, "block", "slot_unfilled", None),
    ]
    assert all(
        r["detail"] == {"reasons": ["budget_exhausted"]} for r in gates if r["symbol"] is None
    )
    assert day.orders() == []
