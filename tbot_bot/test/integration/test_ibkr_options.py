"""IBKR LongPut hooks over the fake IB Gateway: the put chain from `reqSecDefOptParams`, put
quotes from `reqTickers` snapshots, missing data as an empty chain or None, and the chosen put
going out as an IB `Option` (checked on the wire with ib_async's real encoder)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from ib_async import OptionChain, Ticker

from tbot_bot.broker.ibkr.adapter import IbkrBroker
from tbot_bot.broker.ibkr.options import chain_from_ib, option_quote_from_ticker
from tbot_bot.broker.models import (
    AssetClass,
    OptionContract,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
    PositionIntent,
)
from tbot_bot.clock import FakeClock
from tbot_bot.errors import RateLimitError
from tbot_bot.test.fakes.fake_ib import FakeIbVenue, make_fake_broker
from tbot_bot.test.integration.test_ibkr_adapter import WireClient

START = datetime(2025, 7, 15, 14, 0, tzinfo=UTC)  # a Tuesday, 10:00 New York: market open
ACCOUNT = "DU0000001"
CID = "B01-20250715-C01-MSFT-EN00"
EXPIRATIONS = ["20250801", "20250718", "20250725"]  # IB does not promise an order
STRIKES = [255.0, 240.0, 252.5, 245.0, 250.0]
PUT = OptionContract("MSFT", date(2025, 7, 18), Decimal("252.5"), "P")
MARKET_DATA_LOG = "tbot_bot.broker.ibkr.market_data"


def msft_chains() -> list[OptionChain]:
    """SMART and a single-exchange entry of MSFT, plus an adjusted class that must be ignored."""
    return [
        OptionChain("CBOE", 0, "MSFT", "100", ["20250919"], [999.0]),
        OptionChain("SMART", 0, "MSFT", "100", list(EXPIRATIONS), list(STRIKES)),
        OptionChain("SMART", 0, "MSFT1", "100", ["20251017"], [777.0]),
    ]


@pytest.fixture
def venue() -> FakeIbVenue:
    venue = FakeIbVenue(FakeClock(START))
    venue.option_chains["MSFT"] = msft_chains()
    return venue


@pytest.fixture
def broker(venue: FakeIbVenue) -> Iterator[IbkrBroker]:
    adapter = make_fake_broker(venue)
    assert isinstance(adapter, IbkrBroker)
    yield adapter
    adapter.close()


def ticker(**prices: float) -> Ticker:
    """A real snapshot Ticker; its __post_init__ resets prices, so they are set afterwards."""
    result = Ticker()
    for name, price in prices.items():
        setattr(result, name, price)
    return result


# -- the chain ------------------------------------------------------------------------------------
def test_chain_is_the_smart_entry_with_dates_and_decimal_strikes(
    venue: FakeIbVenue, broker: IbkrBroker
) -> None:
    expiries, strikes = broker.get_option_chain("MSFT")
    assert expiries == [date(2025, 7, 18), date(2025, 7, 25), date(2025, 8, 1)]
    assert strikes == [Decimal(s) for s in ("240", "245", "250", "252.5", "255")]
    assert all(isinstance(s, Decimal) for s in strikes)
    assert str(strikes[3]) == "252.5"  # the gateway's text, no binary tail
    # The stock was qualified first: the request carries its conId.
    assert venue.secdef_requests == [("MSFT", "", "STK", venue.stock_con_id("MSFT"))]


def test_chain_falls_back_to_every_standard_smart_class() -> None:
    chains = [
        OptionChain("SMART", 7, "BRKB", "100", ["20250718", "2025-bad"], [480.0, float("nan")]),
        OptionChain("SMART", 7, "BRKB", "10", ["20250725"], [1.0]),
        OptionChain("AMEX", 7, "BRKB", "100", ["20250801"], [500.0]),
    ]
    assert chain_from_ib("BRK B", chains) == ([date(2025, 7, 18)], [Decimal("480")])
    assert chain_from_ib("BRK B", chains[1:]) == ([], [])


def test_missing_chains_are_empty_with_a_warning(
    venue: FakeIbVenue, broker: IbkrBroker, caplog: pytest.LogCaptureFixture
) -> None:
    venue.unknown_symbols.add("ZZZZ")
    caplog.set_level(logging.WARNING, logger=MARKET_DATA_LOG)
    assert broker.get_option_chain("ZZZZ") == ([], [])  # no such stock: nothing asked
    assert broker.get_option_chain("AAPL") == ([], [])  # a stock without listed options
    venue.option_chains["KO"] = [OptionChain("CBOE", 0, "KO", "100", ["20250718"], [60.0])]
    assert broker.get_option_chain("KO") == ([], [])  # no SMART entry
    assert [r[0] for r in venue.secdef_requests] == ["AAPL", "KO"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and all("option chain" in w for w in warnings)


def test_chain_pacing_stays_a_typed_rate_limit(venue: FakeIbVenue, broker: IbkrBroker) -> None:
    broker.get_latest_quotes(["MSFT"])  # qualifies MSFT, so the next request is the chain's
    venue.rate_limits = 1
    with pytest.raises(RateLimitError):
        broker.get_option_chain("MSFT")
    assert broker.get_option_chain("MSFT")[1]  # answered once the pacing has passed


# -- quotes ---------------------------------------------------------------------------------------
def test_put_quote_is_decimal_per_share_stamped_by_the_clock(
    venue: FakeIbVenue, broker: IbkrBroker
) -> None:
    venue.option_quotes[PUT.occ_symbol] = (
        Decimal("3.40"),
        Decimal("3.55"),
        Decimal("3.45"),
        Decimal("3.10"),
    )
    venue.clock.advance(timedelta(seconds=5))
    quote = broker.get_option_quote(PUT)
    assert quote is not None
    assert (quote.symbol, quote.bid, quote.ask, quote.last, quote.quote_ts) == (
        "MSFT250718P00252500",
        Decimal("3.4"),
        Decimal("3.55"),
        Decimal("3.45"),
        START + timedelta(seconds=5),
    )


@pytest.mark.parametrize(
    ("prices", "expected_last"),
    [
        ({"bid": 1.2, "ask": 1.3, "last": 1.25, "close": 1.0}, Decimal("1.25")),
        ({"bid": 1.2, "ask": 1.3, "close": 1.0}, Decimal("1")),  # no trade yet today
        ({"bid": 1.2, "ask": 1.3, "last": -1.0}, Decimal("1.25")),  # neither: the midpoint
    ],
)
def test_quote_last_falls_back_to_close_then_mid(
    prices: dict[str, float], expected_last: Decimal
) -> None:
    quote = option_quote_from_ticker(PUT, ticker(**prices), START)
    assert quote is not None and quote.last == expected_last


@pytest.mark.parametrize(
    "prices",
    [
        {"ask": 1.3, "last": 1.25},
        {"bid": 1.2, "last": 1.25},
        {"bid": 0.0, "ask": 1.3, "last": 1.25},
        {"bid": 1.2, "ask": -1.0, "last": 1.25},
        {"bid": 1.4, "ask": 1.3, "last": 1.25},  # crossed book
        {},
    ],
)
def test_one_sided_or_unset_books_give_no_quote(prices: dict[str, float]) -> None:
    assert option_quote_from_ticker(PUT, ticker(**prices), START) is None


def test_missing_option_data_is_none_with_a_warning(
    venue: FakeIbVenue, broker: IbkrBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=MARKET_DATA_LOG)
    assert broker.get_option_quote(PUT) is None  # listed, but no ticks at all
    unlisted = OptionContract("MSFT", date(2025, 7, 18), Decimal("251"), "P")
    assert broker.get_option_quote(unlisted) is None  # IB: no security definition
    venue.option_quotes[PUT.occ_symbol] = (Decimal("3.40"), Decimal("3.55"), None, None)
    venue.option_data_subscribed = False
    assert broker.get_option_quote(PUT) is None  # 354: no options data subscription
    venue.option_data_subscribed = True
    quote = broker.get_option_quote(PUT)
    assert quote is not None and quote.ask == Decimal("3.55")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert "no two-sided quote" in warnings[0] and "knows no option" in warnings[1]
    assert "IBKR error 354" in warnings[2]


# -- the chosen put goes out as an IB Option ------------------------------------------------------
def test_chain_put_is_ordered_as_an_ib_option_on_the_wire(
    venue: FakeIbVenue, broker: IbkrBroker
) -> None:
    expiries, strikes = broker.get_option_chain("MSFT")
    contract = OptionContract("MSFT", expiries[0], strikes[3], "P")
    venue.option_quotes[contract.occ_symbol] = (Decimal("3.40"), Decimal("3.55"), None, None)
    quote = broker.get_option_quote(contract)
    assert quote is not None
    request = OrderRequest(
        CID,
        "MSFT",
        OrderSide.BUY,
        Decimal("2"),
        OrderType.LIMIT,
        limit_price=quote.ask,
        intent=PositionIntent.OPEN_LONG,
        asset_class=AssetClass.OPTION,
        option=contract,
    )
    assert broker.submit_order(request).state is OrderState.ACCEPTED
    [held] = venue.find(CID)
    wire = WireClient()
    wire.placeOrder(held.order_id, held.contract, held.order)  # type: ignore[no-untyped-call]  # ib_async's
    [fields] = wire.messages
    assert fields[3:10] == ["MSFT", "OPT", "20250718", "252.5", "P", "100", "SMART"]
    assert fields[16:19] == ["BUY", "2.0", "LMT"]
    assert "3.55" in fields and CID in fields and ACCOUNT in fields
