"""The SIM's synthetic put chain (trading spec §14): chain, BSM quotes, option fills and books."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tbot_bot.broker.models import (
    AssetClass,
    OptionContract,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
    PositionIntent,
)
from tbot_bot.broker.sim.broker import SimBroker
from tbot_bot.broker.sim.fill_model import FillModelConfig
from tbot_bot.broker.sim.replay import ListReplay
from tbot_bot.clock import FakeClock
from tbot_bot.errors import InsufficientFundsError, OrderRejectedError
from tbot_bot.market.bars import Bar
from tbot_bot.trading.bsm import bsm_put, years_to_expiry

D = Decimal
OPEN = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)  # Tuesday 09:30 ET
MINUTE = timedelta(minutes=1)
PUT = OptionContract("MSFT", date(2025, 7, 18), D("100"), "P", 100)
RATE = D("0.045")


def _sim(
    closes: list[str], *, vix: str | None = "20", cash: str = "10000"
) -> tuple[SimBroker, FakeClock]:
    bars = []
    previous = D(closes[0])
    for i, close in enumerate(closes):
        c = D(close)
        bars.append(
            Bar("MSFT", OPEN + i * MINUTE, previous, max(previous, c), min(previous, c), c, 1000)
        )
        previous = c
    points = [] if vix is None else [(OPEN - timedelta(hours=1), D(vix))]
    clock = FakeClock(OPEN + 2 * MINUTE)
    sim = SimBroker(
        ListReplay(bars, points),
        clock,
        config=FillModelConfig(slippage_enabled=False),
        starting_cash=D(cash),
        risk_free_rate=RATE,
    )
    return sim, clock


def _order(
    cid: str,
    side: OrderSide,
    qty: str,
    limit: str | None,
    contract: OptionContract = PUT,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=contract.occ_symbol,
        side=side,
        qty=D(qty),
        order_type=OrderType.LIMIT if limit else OrderType.MARKET,
        limit_price=D(limit) if limit else None,
        intent=PositionIntent.OPEN_LONG if side is OrderSide.BUY else PositionIntent.CLOSE_LONG,
        asset_class=AssetClass.OPTION,
        option=contract,
    )


def test_capabilities_and_chain() -> None:
    sim, _ = _sim(["100.40"] * 10)
    assert sim.capabilities().options
    expiries, strikes = sim.get_option_chain("MSFT")
    assert expiries[:2] == [date(2025, 7, 18), date(2025, 7, 25)]
    assert (strikes[0], strikes[-1]) == (D("91"), D("110"))  # within 100.40 +- 10 %
    assert sim.get_option_chain("NOPE") == ([], [])


def test_quote_is_bsm_with_vix_sigma_and_a_small_spread() -> None:
    sim, _ = _sim(["100"] * 10)
    quote = sim.get_option_quote(PUT)
    assert quote is not None
    model = bsm_put(D("100"), D("100"), years_to_expiry(OPEN.date(), PUT.expiry), RATE, D("0.2"))
    assert quote.bid < model < quote.ask
    assert (quote.ask - quote.bid) / model < D("0.02")
    assert quote.symbol == PUT.occ_symbol


def test_no_vix_no_quote() -> None:
    sim, _ = _sim(["100"] * 10, vix=None)
    assert sim.get_option_quote(PUT) is None


def test_buy_and_sell_fill_with_the_multiplier() -> None:
    sim, clock = _sim(["100"] * 10)
    quote = sim.get_option_quote(PUT)
    assert quote is not None
    sim.submit_order(_order("B01-20250715-O01-MSFT-EN00", OrderSide.BUY, "2", str(quote.ask)))
    clock.advance(MINUTE)
    (fill,) = sim.get_fills()
    assert (fill.symbol, fill.option, fill.price, fill.qty) == (
        PUT.occ_symbol,
        PUT,
        quote.ask,
        D(2),
    )
    assert sim.get_account().cash == D("10000") - quote.ask * 200
    (position,) = sim.get_positions()
    assert (position.symbol, position.qty, position.asset_class) == (
        PUT.occ_symbol,
        D(2),
        AssetClass.OPTION,
    )
    sim.submit_order(_order("B01-20250715-O01-MSFT-EX00", OrderSide.SELL, "2", None))
    clock.advance(MINUTE)
    sold = sim.get_order_by_client_id("B01-20250715-O01-MSFT-EX00")
    assert sold is not None and sold.state is OrderState.FILLED
    assert sold.avg_fill_price == quote.bid
    assert sim.get_positions() == []
    assert sim.get_account().cash == D("10000") - (quote.ask - quote.bid) * 200


def test_limit_below_the_ask_waits() -> None:
    sim, clock = _sim(["100"] * 10)
    quote = sim.get_option_quote(PUT)
    assert quote is not None
    low = str(quote.ask - D("0.05"))
    sim.submit_order(_order("B01-20250715-O01-MSFT-EN00", OrderSide.BUY, "1", low))
    clock.advance(3 * MINUTE)
    report = sim.get_order_by_client_id("B01-20250715-O01-MSFT-EN00")
    assert report is not None and report.state is OrderState.ACCEPTED


def test_refusals() -> None:
    sim, _ = _sim(["100"] * 10, cash="100")
    call = OptionContract("MSFT", date(2025, 7, 18), D("100"), "C", 100)
    with pytest.raises(OrderRejectedError, match="puts only"):
        sim.submit_order(_order("B01-20250715-O01-MSFT-EN00", OrderSide.BUY, "1", None, call))
    with pytest.raises(InsufficientFundsError):
        sim.submit_order(_order("B01-20250715-O01-MSFT-EN01", OrderSide.BUY, "1", "2.00"))
    with pytest.raises(OrderRejectedError, match="not shortable"):
        sim.submit_order(_order("B01-20250715-O01-MSFT-EX00", OrderSide.SELL, "1", None))
