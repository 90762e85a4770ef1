"""Entry faults on a SIM day: late fill reports and sizing at the limit (trading spec §3.2, §4, §6).

The fills feed of a real broker can lag its order status (Alpaca's activities, IBKR's execDetails
after orderStatus): the entry timeout may see an order FILLED, or CANCELLED with a partial fill,
before any of its fills was applied. Filled or not is the order's own state: the slot is kept (no
fallback, which would be a second entry), and the position is managed (trailing stop, exit rules,
hard exit) as soon as its fills arrive. Sizing: quantity x limit never exceeds the allocation.

Markets: XX breaks out at bar 20 (entered 13:51); YY breaks out at bar 23 (13:54). With
`MAX_TRADES=1` YY can only be entered as a fallback of XX's slot.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tbot_bot.broker.models import FillReport, OrderReport
from tbot_bot.errors import NetworkError
from tbot_bot.test.fakes.crafted_day import (
    CraftedDay,
    CraftedMarket,
    crafted_day,
    crash_at,
    minute,
    records_where,
)

XX_ENTRY = "B01-20250715-O01-XX-EN00"


class SimulatedCrash(BaseException):
    """The process dies here."""


def _lag_fills(day: CraftedDay, lag: timedelta) -> None:
    """The broker's fills feed shows an execution only `lag` after it happened."""
    broker, clock = day.setup.broker, day.setup.clock
    real: Callable[[datetime | None], list[FillReport]] = broker.get_fills

    def lagging(since_utc: datetime | None = None) -> list[FillReport]:
        cutoff = clock.now_utc() - lag
        return [f for f in real(since_utc) if f.ts_utc <= cutoff]

    broker.get_fills = lagging  # type: ignore[method-assign]


def _entries(day: CraftedDay) -> list[str]:
    return [o.symbol for o in day.orders() if o.purpose == "EN"]


def _assert_flat_and_closed(day: CraftedDay, exit_reason: str) -> None:
    (trade,) = day.trades()
    assert (trade["symbol"], trade["status"], trade["exit_reason"]) == ("XX", "closed", exit_reason)
    assert trade["error_code"] is None
    assert day.setup.broker.get_positions() == []
    summary = day.summary()
    assert summary["open_positions_at_close"] == []
    assert summary["strategies"]["open"]["entries"] == 1
    assert records_where(day.decisions(), stage="order", reason="unfilled") == []


def test_fill_reported_after_the_status_keeps_the_slot_and_is_managed(tbot_home: Path) -> None:
    market = CraftedMarket()
    market.add("XX", "50.00", gap="0.05")
    market.add("YY", "50.00", gap="0.04")
    market.step("XX", 20, "52.00")
    market.step("YY", 23, "52.00")
    market.step("XX", 40, "50.40")  # 3 % below the peak: the 2 % trailing stop fires at 14:11
    day = crafted_day(tbot_home, market, STRATEGY_OVERRIDE="open", MAX_TRADES="1", WEIGHTS="1")
    _lag_fills(day, timedelta(seconds=60))  # the timeout (13:52) sees FILLED, no fill yet
    result = day.run()
    assert result.phases["open"] == ("done", None)
    assert _entries(day) == ["XX"]  # the slot stayed with XX: no fallback into YY
    (entry,) = [o for o in day.orders() if o.purpose == "EN"]
    assert entry.filled_qty > 0
    _assert_flat_and_closed(day, "stop_loss")  # the trailing stop was armed and fired
    (trade,) = day.trades()
    assert trade["exit_timestamp"] < "2025-07-15T14:30:00.000Z"  # before the hard exit
    assert Decimal(trade["size"]) == entry.filled_qty


def test_fill_arriving_after_a_cancel_with_partial_fill_is_tracked(tbot_home: Path) -> None:
    market = CraftedMarket()
    market.add("XX", "50.00", gap="0.05")
    market.add("YY", "50.00", gap="0.04")
    market.step("XX", 20, "52.00")
    market.step("XX", 21, "60.00")  # runs away: the entry's limit is never touched again
    market.bar("XX", 21, "60.00", "60.01", "59.99", "60.00")
    market.step("YY", 23, "52.00")
    market.step("XX", 40, "57.00")  # 5 % below the peak: the trailing stop fires
    day = crafted_day(tbot_home, market, STRATEGY_OVERRIDE="open", MAX_TRADES="1", WEIGHTS="1")
    _lag_fills(day, timedelta(minutes=2))  # the 13:51 fill is seen at 13:53, after the cancel
    partial: list[Decimal] = []

    def venue_fills_part(now: datetime) -> None:
        if now == minute(21):  # right after XX's entry was sent
            (order,) = [o for o in day.orders() if o.purpose == "EN"]
            partial.append((order.request.qty / 2).quantize(Decimal("0.000001")))
            assert order.request.limit_price is not None
            day.setup.broker.venue_fill(XX_ENTRY, partial[0], order.request.limit_price)

    result = day.run(on_tick=venue_fills_part)
    assert result.phases["open"] == ("done", None)
    assert _entries(day) == ["XX"]
    (entry,) = [o for o in day.orders() if o.purpose == "EN"]
    assert (entry.state.value, entry.filled_qty) == ("cancelled", partial[0])
    _assert_flat_and_closed(day, "stop_loss")
    (trade,) = day.trades()
    assert Decimal(trade["size"]) == partial[0]


def test_entry_resolved_filled_after_a_restart_is_managed(tbot_home: Path) -> None:
    """The submit's answer is lost (UNRESOLVED) and the process dies; the restarted runner finds
    the order filled only after it re-armed the positions it knew: it still manages it."""
    market = CraftedMarket()
    market.add("XX", "50.00", gap="0.05")
    market.step("XX", 20, "52.00")
    market.step("XX", 40, "50.40")
    day = crafted_day(tbot_home, market, STRATEGY_OVERRIDE="open")
    _lag_fills(day, timedelta(minutes=3))
    broker = day.setup.broker
    broker.faults.lose_next_response()  # XX's entry reaches the venue, its answer is lost
    lookup = broker.get_order_by_client_id

    def unreachable(client_order_id: str) -> OrderReport | None:
        raise NetworkError(f"lookup of {client_order_id}: no answer")

    broker.get_order_by_client_id = unreachable  # type: ignore[method-assign]
    with pytest.raises(SimulatedCrash):
        day.run(on_tick=crash_at(minute(21), SimulatedCrash))
    (entry,) = day.orders()
    assert entry.state.value == "unresolved"
    broker.get_order_by_client_id = lookup  # type: ignore[method-assign]
    result = day.run()
    assert result.phases["open"] == ("done", None)
    assert _entries(day) == ["XX"]
    (trade,) = day.trades()
    assert (trade["status"], trade["exit_reason"]) == ("closed", "stop_loss")
    assert day.setup.broker.get_positions() == []
    assert day.summary()["open_positions_at_close"] == []


@pytest.mark.parametrize("fractional", ["true", "false"])
def test_entry_cost_at_the_limit_never_exceeds_the_allocation(
    tbot_home: Path, fractional: str
) -> None:
    market = CraftedMarket()
    for index, (symbol, price, breakout) in enumerate(
        # SIM asks 19.96 / 9.96 / 5.21: whole shares at the ask would cost 4 x 20.06 = 80.24
        # and 4 x 10.01 = 40.04 at the limit, over the 80.00 and 40.00 allocations
        (("AA", "19.00", "19.95"), ("BB", "9.50", "9.95"), ("CC", "5.00", "5.20"))
    ):
        market.add(symbol, price, gap=f"0.0{7 - index}")
        market.step(symbol, 20, breakout)
    day = crafted_day(tbot_home, market, STRATEGY_OVERRIDE="open", FRACTIONAL=fractional)
    day.run()
    submitted = records_where(day.decisions(), stage="order", reason="submitted")
    assert len(submitted) == 3
    orders = {o.client_order_id: o for o in day.orders()}
    for record in submitted:
        order = orders[record["client_order_id"]]
        allocation = Decimal(record["allocation"])
        assert order.request.limit_price is not None
        assert Decimal(record["ref_price"]) == order.request.limit_price
        assert order.request.qty * order.request.limit_price <= allocation, record
        assert order.filled_qty * (order.avg_fill_price or Decimal(0)) <= allocation
