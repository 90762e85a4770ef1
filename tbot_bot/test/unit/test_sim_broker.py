"""The SIM broker as a venue: timing of fills, partial fills, stops, shorts, books, faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tbot_bot.broker.base import DuplicateClientOrderIdError
from tbot_bot.broker.models import (
    ActivityKind,
    OrderReport,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
    PositionIntent,
    TimeInForce,
)
from tbot_bot.broker.sim.broker import SimBroker
from tbot_bot.broker.sim.fill_model import FillModelConfig, SlippageType
from tbot_bot.broker.sim.replay import ListReplay
from tbot_bot.clock import FakeClock
from tbot_bot.errors import InsufficientFundsError, NetworkError, OrderRejectedError, RateLimitError
from tbot_bot.market.bars import Bar

D = Decimal  # short alias: the tests are mostly price tables

OPEN = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)  # 09:30 ET
MINUTE = timedelta(minutes=1)
HALF_SECOND = timedelta(milliseconds=500)
NO_SLIP = FillModelConfig(slippage_enabled=False)


def series(symbol: str, rows: list[tuple[str, str, str, str]], start: datetime = OPEN) -> list[Bar]:
    return [
        Bar(symbol, start + i * MINUTE, D(o), D(h), D(lo), D(c), 1000)
        for i, (o, h, lo, c) in enumerate(rows)
    ]


FLAT = [("100", "100.5", "99.5", "100")] * 30


def make_sim(
    bars: list[Bar] | None = None,
    *,
    at: datetime = OPEN + 2 * MINUTE,
    config: FillModelConfig = NO_SLIP,
    **kwargs: object,
) -> tuple[SimBroker, FakeClock]:
    clock = FakeClock(at)
    replay = ListReplay(bars if bars is not None else series("MSFT", FLAT))
    return SimBroker(replay, clock, config=config, **kwargs), clock  # type: ignore[arg-type]


def order(
    cid: str = "B01-20250715-O01-MSFT-EN00",
    side: OrderSide = OrderSide.BUY,
    qty: str = "10",
    order_type: OrderType = OrderType.MARKET,
    symbol: str = "MSFT",
    **kwargs: object,
) -> OrderRequest:
    return OrderRequest(cid, symbol, side, D(qty), order_type, **kwargs)  # type: ignore[arg-type]


def report_of(sim: SimBroker, client_order_id: str) -> OrderReport:
    report = sim.get_order_by_client_id(client_order_id)
    assert report is not None, client_order_id
    return report


def test_market_order_fills_at_next_bar_open_plus_slippage_after_latency() -> None:
    rows = [("100", "101", "99", "100"), ("100", "101", "99", "100"), ("102", "103", "101", "102")]
    sim, clock = make_sim(series("MSFT", rows), config=FillModelConfig(), at=OPEN + 2 * MINUTE)
    report = sim.submit_order(order())
    assert report.state is OrderState.ACCEPTED and report.filled_qty == 0
    assert sim.get_fills() == []
    clock.advance(timedelta(milliseconds=499))
    assert sim.get_fills() == []  # not before bar start + SIMULATED_LATENCY_MS
    clock.advance(timedelta(milliseconds=1))
    [fill] = sim.get_fills()
    assert fill.price == D("102.16")  # 102 x 1.0015 = 102.153, rounded up for a buy
    assert fill.ts_utc == OPEN + 2 * MINUTE + HALF_SECOND
    assert fill.external_id == "SIM-00000001-F001"
    assert report_of(sim, report.client_order_id).state is OrderState.FILLED


def test_order_sent_inside_a_bar_waits_for_the_next_bar() -> None:
    rows = [("100", "101", "99", "100"), ("101", "102", "100", "101"), ("105", "106", "104", "105")]
    sim, clock = make_sim(series("MSFT", rows), at=OPEN + MINUTE + timedelta(seconds=20))
    sim.submit_order(order())
    clock.advance(timedelta(minutes=1))
    [fill] = sim.get_fills()
    assert fill.price == D("105.00") and fill.ts_utc == OPEN + 2 * MINUTE + HALF_SECOND


def test_partial_fill_leaves_the_rest_for_the_next_bar_fee_per_order_once() -> None:
    rows = [("100", "101", "99", "100")] * 3 + [("101", "102", "100", "101")]
    config = FillModelConfig(
        slippage_enabled=False,
        partial_fill_pct=D("0.3"),
        fee_per_share=D("0.01"),
        fee_per_order=D("1.00"),
    )
    sim, clock = make_sim(series("MSFT", rows), config=config)
    sim.submit_order(order())
    clock.advance(timedelta(seconds=1))
    assert report_of(sim, order().client_order_id).state is OrderState.PARTIALLY_FILLED
    clock.advance(MINUTE)
    first, second = sim.get_fills()
    assert (first.qty, first.price, first.fee) == (D("7"), D("100.00"), D("1.07"))
    assert (second.qty, second.price, second.fee) == (D("3"), D("101.00"), D("0.03"))
    report = report_of(sim, order().client_order_id)
    assert report.state is OrderState.FILLED and report.filled_qty == D("10")
    assert report.avg_fill_price == D("100.3")
    account = sim.get_account()
    assert account.cash == D("99987") - D("700") - D("303") - D("1.10")


def test_native_trailing_stop_sells_when_crossed() -> None:
    rows = [
        ("100", "100", "100", "100"),
        ("100", "100", "100", "100"),  # last close before the stop: peak starts at 100
        ("100", "100", "100", "100"),  # the entry fills at this open
        ("100", "104", "100", "104"),  # no cross of 98.00; peak ratchets to 104 -> 101.92
        ("103", "103", "101.50", "102"),  # crosses 101.92: fills at the stop, 101.92
        ("90", "90", "90", "90"),
    ]
    sim, clock = make_sim(series("MSFT", rows))
    sim.submit_order(order())
    clock.advance(timedelta(seconds=1))
    stop = order(
        "B01-20250715-O01-MSFT-TS00",
        side=OrderSide.SELL,
        order_type=OrderType.TRAILING_STOP,
        trail_percent=D("0.02"),
        intent=PositionIntent.CLOSE_LONG,
    )
    sim.submit_order(stop)
    clock.advance(timedelta(minutes=2))
    assert report_of(sim, stop.client_order_id).state is OrderState.ACCEPTED
    clock.advance(timedelta(minutes=1))
    fills = sim.get_fills()
    assert [(f.side, f.price) for f in fills] == [
        (OrderSide.BUY, D("100.00")),
        (OrderSide.SELL, D("101.92")),
    ]
    assert fills[1].ts_utc == OPEN + 4 * MINUTE + HALF_SECOND
    assert sim.get_positions() == []
    assert sim.get_account().cash == D("99987") + D("19.20")


def test_limit_touch_is_delivered_at_bar_end_stamped_at_bar_start() -> None:
    rows = [("100", "100", "100", "100")] * 2 + [("100", "100.2", "99.40", "100")]
    sim, clock = make_sim(series("MSFT", rows))
    sim.submit_order(order(order_type=OrderType.LIMIT, limit_price=D("99.50")))
    clock.advance(timedelta(seconds=30))
    assert sim.get_fills() == []  # the low of a bar is known only when it ends
    clock.advance(timedelta(seconds=30))
    [fill] = sim.get_fills()
    assert fill.price == D("99.50") and fill.ts_utc == OPEN + 2 * MINUTE + HALF_SECOND


def test_short_sale_needs_a_shortable_symbol_and_whole_shares() -> None:
    bars = series("MSFT", FLAT) + series("GME", FLAT)
    sim, clock = make_sim(bars, shortable={"MSFT"})
    with pytest.raises(OrderRejectedError, match="not shortable"):
        sim.submit_order(order("B01-20250715-O01-GME-EN00", side=OrderSide.SELL, symbol="GME"))
    with pytest.raises(OrderRejectedError, match="whole shares"):
        sim.submit_order(order(side=OrderSide.SELL, qty="1.5"))
    assert sim.is_shortable("MSFT") and not sim.is_shortable("GME")
    sim.submit_order(order(side=OrderSide.SELL, intent=PositionIntent.OPEN_SHORT))
    clock.advance(timedelta(seconds=1))
    [position] = sim.get_positions()
    assert position.qty == D("-10") and position.avg_entry_price == D("100.00")
    account = sim.get_account()
    assert account.cash == D("99987") + D("1000")
    assert account.equity == D("99987")  # short at 100, marked at 100


def test_fractional_buy_and_non_fractionable_symbol() -> None:
    bars = series("MSFT", FLAT) + series("BRK", FLAT)
    sim, clock = make_sim(bars, fractionable={"MSFT"})
    with pytest.raises(OrderRejectedError, match="not fractionable"):
        sim.submit_order(order("B01-20250715-O01-BRK-EN00", symbol="BRK", qty="0.5"))
    with pytest.raises(OrderRejectedError, match="market or limit"):
        sim.submit_order(order(qty="0.5", order_type=OrderType.STOP, stop_price=D("90")))
    sim.submit_order(order(qty="0.123456"))
    clock.advance(timedelta(seconds=1))
    [position] = sim.get_positions()
    assert position.qty == D("0.123456")
    assert sim.get_account().cash == D("99987") - D("12.35")  # 12.3456 half-even to the cent


def test_buying_power_counts_open_buys() -> None:
    sim, _ = make_sim(starting_cash=D("1500"))
    sim.submit_order(order(order_type=OrderType.LIMIT, limit_price=D("100")))
    with pytest.raises(InsufficientFundsError):
        sim.submit_order(
            order("B01-20250715-O02-MSFT-EN00", order_type=OrderType.LIMIT, limit_price=D("100"))
        )


def test_day_order_expires_at_session_end_and_ioc_after_one_bar() -> None:
    sim, clock = make_sim()
    day = order(order_type=OrderType.LIMIT, limit_price=D("50"))
    ioc = order(
        "B01-20250715-O02-MSFT-EN00",
        order_type=OrderType.LIMIT,
        limit_price=D("50"),
        time_in_force=TimeInForce.IOC,
    )
    sim.submit_order(day)
    sim.submit_order(ioc)
    clock.advance(MINUTE)
    assert report_of(sim, ioc.client_order_id).state is OrderState.CANCELLED
    assert report_of(sim, day.client_order_id).state is OrderState.ACCEPTED
    clock.advance(timedelta(minutes=30))
    expired = report_of(sim, day.client_order_id)
    assert expired.state is OrderState.EXPIRED
    assert expired.updated_at == OPEN + 30 * MINUTE  # end of the last bar of the session
    assert sim.get_open_orders() == []


def test_market_data_becomes_visible_at_bar_end() -> None:
    rows = [("100", "101", "99", "100.5"), ("101", "102", "100", "101.5")]
    sim, clock = make_sim(series("MSFT", rows), at=OPEN + timedelta(seconds=59))
    assert sim.get_latest_quotes(["MSFT", "NOPE"]) == {}
    clock.advance(timedelta(seconds=1))
    quotes = sim.get_latest_quotes(["MSFT", "NOPE"])
    assert list(quotes) == ["MSFT"] and quotes["MSFT"].last == D("100.5")
    bars = sim.get_recent_bars(["MSFT"], OPEN)
    assert [b.close for b in bars["MSFT"]] == [D("100.5")]
    clock.advance(MINUTE)
    assert len(sim.get_recent_bars(["MSFT"], OPEN)["MSFT"]) == 2
    assert len(sim.get_recent_bars(["MSFT"], OPEN + MINUTE)["MSFT"]) == 1


def test_clock_and_vix_come_from_the_replay() -> None:
    day2 = OPEN + timedelta(days=1)
    bars = series("MSFT", FLAT) + series("MSFT", FLAT, start=day2)
    vix = [(OPEN, D("14.5")), (OPEN + 10 * MINUTE, D("16.2"))]
    clock = FakeClock(OPEN - MINUTE)
    sim = SimBroker(ListReplay(bars, vix), clock)
    assert sim.get_vix() is None
    market = sim.get_clock()
    assert not market.is_open and market.next_open == OPEN
    clock.advance(timedelta(minutes=12))
    assert sim.get_vix() == D("16.2")
    market = sim.get_clock()
    assert market.is_open and market.next_close == OPEN + 30 * MINUTE
    assert market.next_open == day2


def test_fills_feed_is_inclusive_sorted_and_stable() -> None:
    sim, clock = make_sim()
    sim.submit_order(order())
    sim.submit_order(order("B01-20250715-O02-MSFT-EN00"))
    clock.advance(timedelta(seconds=1))
    fills = sim.get_fills()
    assert [f.external_id for f in fills] == ["SIM-00000001-F001", "SIM-00000002-F001"]
    assert sim.get_fills(fills[0].ts_utc) == fills  # same timestamp: both included
    assert sim.get_fills(fills[0].ts_utc + timedelta(microseconds=1)) == []
    assert sim.get_fills() == fills  # stable ids on every call


def test_opening_deposit_is_the_only_activity() -> None:
    sim, _ = make_sim(starting_cash=D("2500.00"))
    [deposit] = sim.get_activities()
    assert deposit.kind is ActivityKind.DEPOSIT and deposit.net_amount == D("2500.00")
    assert sim.get_activities(deposit.ts_utc) == [deposit]
    assert sim.get_activities(deposit.ts_utc + MINUTE) == []


def test_same_seed_same_fills() -> None:
    config = FillModelConfig(
        slippage_type=SlippageType.RANDOMIZED, seed=3, partial_fill_pct=D("0.5")
    )

    def run() -> list[tuple[str, D, D]]:
        sim, clock = make_sim(config=config)
        for slot in range(1, 6):
            sim.submit_order(order(f"B01-20250715-O0{slot}-MSFT-EN00", qty=str(slot * 3)))
        clock.advance(timedelta(minutes=3))
        return [(f.external_id, f.qty, f.price) for f in sim.get_fills()]

    first = run()
    assert len(first) == 10 and first == run()


def test_advance_to_returns_new_fills_and_refuses_the_future() -> None:
    sim, clock = make_sim()
    sim.submit_order(order())
    with pytest.raises(ValueError, match="ahead of the clock"):
        sim.advance_to(clock.now_utc() + timedelta(seconds=1))
    clock.advance(timedelta(seconds=1))
    assert [f.qty for f in sim.advance_to()] == [D("10")]
    assert sim.advance_to() == []


def test_duplicates_unknown_symbols_and_options_are_refused() -> None:
    sim, _ = make_sim()
    sim.submit_order(order())
    with pytest.raises(DuplicateClientOrderIdError):
        sim.submit_order(order())
    with pytest.raises(OrderRejectedError, match="not in the replay"):
        sim.submit_order(order("B01-20250715-O02-AAPL-EN00", symbol="AAPL"))
    assert not sim.is_tradable("AAPL")


def test_cancel_is_idempotent() -> None:
    sim, _ = make_sim()
    request = order(order_type=OrderType.LIMIT, limit_price=D("50"))
    sim.submit_order(request)
    sim.cancel_order(request.client_order_id)
    sim.cancel_order(request.client_order_id)
    sim.cancel_order("B01-20250715-O09-MSFT-EN00")  # unknown: nothing to do
    assert report_of(sim, request.client_order_id).state is OrderState.CANCELLED
    assert sim.cancel_all_orders() == []


def test_faults_fire_once_each_and_keep_the_venue_running() -> None:
    sim, clock = make_sim()
    sim.faults.lose_next_response()
    with pytest.raises(NetworkError, match="timed out"):
        sim.submit_order(order())
    assert sim.venue_order_ids(order().client_order_id) == ["SIM-00000001"]
    sim.faults.fail_next(2, accept=False)
    with pytest.raises(NetworkError, match="503"):
        sim.get_account()
    with pytest.raises(NetworkError, match="503"):
        sim.submit_order(order("B01-20250715-O02-MSFT-EN00"))
    assert sim.venue_order_ids("B01-20250715-O02-MSFT-EN00") == []
    sim.faults.rate_limit_next(1, retry_after_s=3.0)
    with pytest.raises(RateLimitError) as throttled:
        sim.get_positions()
    assert throttled.value.retry_after_s == 3.0
    sim.faults.reject_next("halted symbol")
    with pytest.raises(OrderRejectedError, match="halted symbol"):
        sim.submit_order(order("B01-20250715-O03-MSFT-EN00"))
    sim.faults.disconnect()
    clock.advance(timedelta(seconds=1))
    with pytest.raises(NetworkError, match="connection lost"):
        sim.get_fills()
    sim.faults.reconnect()
    assert [f.client_order_id for f in sim.get_fills()] == [order().client_order_id]
