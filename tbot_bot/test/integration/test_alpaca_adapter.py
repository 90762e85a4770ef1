"""ALPACA adapter against the local fake Alpaca, through the real alpaca-py SDK over real HTTP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from alpaca.data.models import Bar as SdkBar
from alpaca.data.models import Quote as SdkQuote
from alpaca.data.models import Trade as SdkTrade
from alpaca.trading.models import (
    Asset,
    Clock,
    NonTradeActivity,
    Order,
    Position,
    TradeAccount,
    TradeActivity,
)
from alpaca.trading.requests import LimitOrderRequest, TrailingStopOrderRequest

from tbot_bot.broker.alpaca.adapter import AlpacaBroker, create
from tbot_bot.broker.alpaca.errors import parse_error_body
from tbot_bot.broker.alpaca.parsing import order_payload
from tbot_bot.broker.base import DuplicateClientOrderIdError
from tbot_bot.broker.models import (
    ActivityKind,
    AssetClass,
    OptionContract,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
    PositionIntent,
)
from tbot_bot.errors import (
    AuthenticationError,
    ConfigError,
    InsufficientFundsError,
    NetworkError,
    OrderRejectedError,
    RateLimitError,
)
from tbot_bot.test.fakes.fake_alpaca import API_KEY, SECRET_KEY, AlpacaHarness, FakeAlpaca

NOW = datetime(2025, 7, 15, 14, 0, tzinfo=UTC)
CID = "B01-20250715-O01-MSFT-EN00"


@pytest.fixture
def venue() -> Iterator[FakeAlpaca]:
    fake = FakeAlpaca()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def harness(venue: FakeAlpaca) -> AlpacaHarness:
    return AlpacaHarness(venue, timeout_s=0.4)


@pytest.fixture
def broker(harness: AlpacaHarness) -> Iterator[AlpacaBroker]:
    made = harness.make_broker()
    assert isinstance(made, AlpacaBroker)
    yield made
    made.close()


def limit_buy(cid: str = CID, qty: str = "3", price: str = "400.10") -> OrderRequest:
    return OrderRequest(
        cid, "MSFT", OrderSide.BUY, Decimal(qty), OrderType.LIMIT, limit_price=Decimal(price)
    )


def raw_get(venue: FakeAlpaca, path: str) -> Any:
    headers = {"APCA-API-KEY-ID": API_KEY, "APCA-API-SECRET-KEY": SECRET_KEY}
    response = requests.get(venue.base_url + path, headers=headers, timeout=5)
    response.raise_for_status()
    return json.loads(response.text)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the fake speaks Alpaca's wire format: alpaca-py's own models accept every payload ------------
def test_fake_payloads_parse_with_alpaca_py_models(venue: FakeAlpaca, broker: AlpacaBroker) -> None:
    broker.submit_order(limit_buy())
    venue.fill(CID, Decimal("1"), Decimal("400.05"))
    venue.add_cash_activity("DIV", "1.02", "2025-07-14", "T")
    venue.set_quote("MSFT", "400.01", "400.03", "400.02", NOW - timedelta(seconds=5))
    venue.add_bar("MSFT", NOW - timedelta(minutes=2), "400", "401", "399.5", "400.5", 1200)

    TradeAccount(**raw_get(venue, "/v2/account"))
    Clock(**raw_get(venue, "/v2/clock"))
    orders = [Order(**row) for row in raw_get(venue, "/v2/orders?status=all")]
    positions = [Position(**row) for row in raw_get(venue, "/v2/positions")]
    fill_row, div_row = raw_get(venue, "/v2/account/activities")
    # The trading API omits account_id (alpaca-py's models come from the Broker API, which has it).
    account = {"account_id": "1d9eed04-be39-4e01-9b84-a48ac5bbafcf"}
    fill = TradeActivity(**fill_row, **account)
    NonTradeActivity(**div_row, **account)
    quote = SdkQuote(
        "MSFT", raw_get(venue, "/v2/stocks/quotes/latest?symbols=MSFT")["quotes"]["MSFT"]
    )
    SdkTrade("MSFT", raw_get(venue, "/v2/stocks/trades/latest?symbols=MSFT")["trades"]["MSFT"])
    SdkBar("MSFT", raw_get(venue, "/v2/stocks/bars?symbols=MSFT&timeframe=1Min")["bars"]["MSFT"][0])
    assert orders[0].client_order_id == CID
    assert positions[0].symbol == "MSFT"
    assert fill.order_id == orders[0].id
    assert quote.bid_price == pytest.approx(400.01)


def test_order_payload_is_accepted_by_alpaca_py_request_models() -> None:
    limit = order_payload(limit_buy(qty="1.620745", price="12.34"))
    sdk_limit = LimitOrderRequest(**limit)
    assert limit["qty"] == "1.620745"
    assert limit["limit_price"] == "12.34"
    assert sdk_limit.client_order_id == CID
    trail = OrderRequest(
        "B01-20250715-O01-MSFT-TS00",
        "MSFT",
        OrderSide.SELL,
        Decimal("5"),
        OrderType.TRAILING_STOP,
        trail_percent=Decimal("0.0225"),
        intent=PositionIntent.CLOSE_LONG,
    )
    payload = order_payload(trail)
    assert payload["trail_percent"] == "2.25"  # whole percent on the wire, fraction in our model
    assert TrailingStopOrderRequest(**payload).trail_percent == pytest.approx(2.25)


# -- typed parsing ----------------------------------------------------------------------------
def test_reports_are_typed_decimal_and_utc(venue: FakeAlpaca, broker: AlpacaBroker) -> None:
    sent = broker.submit_order(limit_buy())
    venue.fill(CID, Decimal("1"), Decimal("400.05"))
    venue.fill(CID, Decimal("2"), Decimal("400.02"))

    order = broker.get_order_by_client_id(CID)
    assert order is not None
    assert sent.state is OrderState.ACCEPTED
    assert (order.state, order.filled_qty, order.avg_fill_price) == (
        OrderState.FILLED,
        Decimal("3"),
        Decimal("400.03"),
    )
    fills = broker.get_fills()
    assert [(f.qty, f.price, f.client_order_id) for f in fills] == [
        (Decimal("1"), Decimal("400.05"), CID),
        (Decimal("2"), Decimal("400.02"), CID),
    ]
    assert all(f.ts_utc.tzinfo is UTC and f.broker_order_id == order.broker_order_id for f in fills)
    [position] = broker.get_positions()
    assert (position.symbol, position.qty, position.avg_entry_price) == (
        "MSFT",
        Decimal("3"),
        Decimal("400.03"),
    )
    account = broker.get_account()
    assert account.cash == Decimal("100000.00") - Decimal("1200.09")
    assert isinstance(account.equity, Decimal)


def test_fill_ids_are_the_activity_ids_and_stable(venue: FakeAlpaca, broker: AlpacaBroker) -> None:
    broker.submit_order(limit_buy())
    activity = venue.fill(CID, Decimal("3"), Decimal("400"))
    first, again = broker.get_fills(), broker.get_fills(NOW - timedelta(minutes=1))
    assert [f.external_id for f in first] == [activity["id"]] == [f.external_id for f in again]
    assert broker.get_fills(NOW) == []  # `after` is exclusive


def test_activities_follow_pages_and_map_codes(venue: FakeAlpaca, broker: AlpacaBroker) -> None:
    broker.activity_page_size = 2  # five rows -> three pages, linked by page_token
    for code, amount in [
        ("DIV", "1.02"),
        ("FEE", "-0.02"),
        ("CSD", "500"),
        ("INT", "0.37"),
        ("XYZ", "3"),
    ]:
        venue.add_cash_activity(code, amount, "2025-07-14")
    reports = broker.get_activities()
    assert [(r.kind, r.net_amount, r.raw_type) for r in reports] == [
        (ActivityKind.DIVIDEND, Decimal("1.02"), "DIV"),
        (ActivityKind.FEE, Decimal("-0.02"), "FEE"),
        (ActivityKind.DEPOSIT, Decimal("500"), "CSD"),
        (ActivityKind.INTEREST, Decimal("0.37"), "INT"),
        (ActivityKind.OTHER, Decimal("3"), "XYZ"),
    ]
    assert reports[0].ts_utc == datetime(2025, 7, 14, tzinfo=UTC)


def test_short_sale_is_a_negative_position_and_a_short_fill(
    venue: FakeAlpaca, broker: AlpacaBroker
) -> None:
    cid = "B01-20250715-C01-TSLA-EN00"
    broker.submit_order(
        OrderRequest(
            cid,
            "TSLA",
            OrderSide.SELL,
            Decimal("4"),
            OrderType.MARKET,
            intent=PositionIntent.OPEN_SHORT,
        )
    )
    venue.fill(cid, Decimal("4"), Decimal("250.5"))
    [position] = broker.get_positions()
    [fill] = broker.get_fills()
    assert position.qty == Decimal("-4")
    assert (fill.side, fill.intent) == (OrderSide.SELL, PositionIntent.OPEN_SHORT)


def test_market_data_quotes_and_completed_bars(venue: FakeAlpaca, broker: AlpacaBroker) -> None:
    venue.set_quote("MSFT", "400.01", "400.03", "400.02", NOW - timedelta(seconds=3))
    quotes = broker.get_latest_quotes(["MSFT", "NOPE"])
    assert list(quotes) == ["MSFT"]  # unknown symbols are omitted, never invented
    assert (quotes["MSFT"].bid, quotes["MSFT"].ask, quotes["MSFT"].last) == (
        Decimal("400.01"),
        Decimal("400.03"),
        Decimal("400.02"),
    )
    venue.bars_page_size = 2  # the SDK must follow next_page_token
    for minute in range(5):
        venue.add_bar(
            "MSFT", NOW - timedelta(minutes=4 - minute), "1.10", "1.20", "1.00", "1.15", 100
        )
    venue.add_bar("MSFT", NOW, "1.10", "1.20", "1.00", "1.15", 100)  # still forming: left out
    bars = broker.get_recent_bars(["MSFT"], NOW - timedelta(minutes=3))["MSFT"]
    assert [b.ts_utc for b in bars] == [NOW - timedelta(minutes=m) for m in (3, 2, 1)]
    assert bars[0].open == Decimal("1.10") and bars[0].volume == 100


def test_clock_is_utc(broker: AlpacaBroker) -> None:
    clock = broker.get_clock()
    assert clock.is_open is True
    assert clock.next_close == datetime(2025, 7, 15, 20, 0, tzinfo=UTC)


def test_asset_flags_drive_the_optional_hooks(venue: FakeAlpaca, broker: AlpacaBroker) -> None:
    venue.add_asset("MSFT", fractionable=True, shortable=True)
    venue.add_asset("GME", fractionable=False, shortable=False, tradable=False)
    assert (broker.supports_fractional("MSFT"), broker.is_shortable("MSFT")) == (True, True)
    assert (broker.supports_fractional("GME"), broker.is_shortable("GME")) == (False, False)
    assert (broker.is_tradable("MSFT"), broker.is_tradable("GME"), broker.is_tradable("NOPE")) == (
        True,
        False,
        False,
    )
    broker.is_tradable("MSFT")
    assert venue.count("GET", "/v2/assets/MSFT") == 1  # cached for the day
    assert Asset(**raw_get(venue, "/v2/assets/MSFT")).fractionable is True  # Alpaca's shape


# -- refusals before anything is sent -----------------------------------------------------------
def test_fractional_trailing_stop_and_options_are_refused_locally(
    venue: FakeAlpaca, broker: AlpacaBroker
) -> None:
    trail = OrderRequest(
        "B01-20250715-O01-MSFT-TS00",
        "MSFT",
        OrderSide.SELL,
        Decimal("1.5"),
        OrderType.TRAILING_STOP,
        trail_percent=Decimal("0.02"),
    )
    option = OptionContract("MSFT", datetime(2025, 7, 18, tzinfo=UTC).date(), Decimal("400"), "P")
    put = OrderRequest(
        "B01-20250715-O02-MSFT-EN00",
        "MSFT",
        OrderSide.BUY,
        Decimal("1"),
        OrderType.MARKET,
        asset_class=AssetClass.OPTION,
        option=option,
    )
    with pytest.raises(OrderRejectedError, match="whole shares"):
        broker.submit_order(trail)
    with pytest.raises(OrderRejectedError, match="options"):
        broker.submit_order(put)
    assert venue.count("POST", "/v2/orders") == 0


# -- failure translation ------------------------------------------------------------------------
def test_bad_credentials_are_an_authentication_error(harness: AlpacaHarness) -> None:
    credentials = harness.credentials() | {"BROKER_SECRET_KEY": "wrong"}
    broker = create(credentials, settings={}, clock=harness.venue.clock, timeout_s=0.4)
    with pytest.raises(AuthenticationError, match="HTTP 401"):
        broker.connect()


def test_unreachable_broker_is_a_network_error_not_auth(harness: AlpacaHarness) -> None:
    credentials = harness.credentials() | {"BROKER_URL": f"http://127.0.0.1:{free_port()}"}
    broker = create(credentials, settings={}, clock=harness.venue.clock, timeout_s=0.4)
    with pytest.raises(NetworkError) as caught:
        broker.connect()
    assert not isinstance(caught.value, AuthenticationError)


def test_rejections_keep_their_kind(harness: AlpacaHarness, broker: AlpacaBroker) -> None:
    harness.script_reject_next_submit("insufficient buying power")
    with pytest.raises(InsufficientFundsError):
        broker.submit_order(limit_buy("B01-20250715-O01-MSFT-EN00"))
    harness.script_reject_next_submit("qty must be > 0")
    with pytest.raises(OrderRejectedError) as caught:
        broker.submit_order(limit_buy("B01-20250715-O02-MSFT-EN00"))
    assert not isinstance(caught.value, InsufficientFundsError)


def test_duplicate_client_id_after_lost_answer(
    venue: FakeAlpaca, harness: AlpacaHarness, broker: AlpacaBroker
) -> None:
    harness.script_timeout_after_accept()
    with pytest.raises(NetworkError, match="timed out"):  # the SDK's session now has a timeout
        broker.submit_order(limit_buy())
    with pytest.raises(DuplicateClientOrderIdError, match="client_order_id must be unique"):
        broker.submit_order(limit_buy())  # what the SDK's own resend would have met
    found = broker.get_order_by_client_id(CID)
    assert found is not None and found.state is OrderState.ACCEPTED
    assert harness.venue_order_ids(CID) == [found.broker_order_id]


def test_html_502_is_a_network_error_without_markup(
    harness: AlpacaHarness, broker: AlpacaBroker
) -> None:
    harness.script_server_errors(1, accept_first=False)
    with pytest.raises(NetworkError) as caught:
        broker.get_account()
    assert "HTTP 502" in str(caught.value) and "HTML body" in str(caught.value)
    assert "<" not in str(caught.value)


def test_sdk_resends_nothing_on_504_or_429(
    venue: FakeAlpaca, harness: AlpacaHarness, broker: AlpacaBroker
) -> None:
    venue.faults.error_statuses = (504,)  # the status alpaca-py would retry by itself
    harness.script_server_errors(1, accept_first=True)
    with pytest.raises(NetworkError, match="HTTP 504"):
        broker.submit_order(limit_buy())
    assert venue.count("POST", "/v2/orders") == 1  # alpaca-py would have sent it 4 times
    assert len(harness.venue_order_ids(CID)) == 1  # accepted before the gateway error
    harness.script_rate_limit(1)
    with pytest.raises(RateLimitError):
        broker.get_positions()
    assert venue.count("GET", "/v2/positions") == 1


def test_dropped_connection_is_a_network_error(
    harness: AlpacaHarness, broker: AlpacaBroker
) -> None:
    harness.script_disconnect()
    with pytest.raises(NetworkError, match="connection failed"):
        broker.get_open_orders()
    harness.restore_connection()
    assert broker.get_open_orders() == []


def test_cancel_is_idempotent(venue: FakeAlpaca, broker: AlpacaBroker) -> None:
    broker.submit_order(limit_buy())
    broker.cancel_order(CID)
    broker.cancel_order(CID)  # already cancelled: not an error
    broker.cancel_order("B01-20250715-O09-MSFT-EN00")  # unknown: nothing to cancel
    report = broker.get_order_by_client_id(CID)
    assert report is not None and report.state is OrderState.CANCELLED
    assert venue.count("DELETE", "/v2/orders/.+") == 1


def test_cancel_all_returns_client_ids(venue: FakeAlpaca, broker: AlpacaBroker) -> None:
    broker.submit_order(limit_buy("B01-20250715-O01-MSFT-EN00"))
    broker.submit_order(limit_buy("B01-20250715-O02-MSFT-EN00"))
    assert sorted(broker.cancel_all_orders()) == [
        "B01-20250715-O01-MSFT-EN00",
        "B01-20250715-O02-MSFT-EN00",
    ]
    assert broker.get_open_orders() == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '{"code": 40010001, "message": "client_order_id must be unique"}',
            (40010001, "client_order_id must be unique"),
        ),
        ("<html><body>502 Bad Gateway</body></html>", (None, "HTML body")),
        ("", (None, "empty body")),
        ("upstream connect error", (None, "non-JSON body")),
        ("[1, 2]", (None, "non-object JSON body")),
    ],
)
def test_error_bodies_are_parsed_defensively(body: str, expected: tuple[int | None, str]) -> None:
    assert parse_error_body(body) == expected


# -- configuration ---------------------------------------------------------------------------------
def test_credentials_are_checked_and_never_shown(harness: AlpacaHarness) -> None:
    with pytest.raises(ConfigError) as caught:
        create(
            {"BROKER_URL": "https://paper-api.alpaca.markets"},
            settings={},
            clock=harness.venue.clock,
        )
    assert caught.value.problems == [
        "BROKER_API_KEY is required for BROKER_NAME=ALPACA",
        "BROKER_SECRET_KEY is required for BROKER_NAME=ALPACA",
    ]
    with pytest.raises(ConfigError, match="https"):
        create(
            harness.credentials() | {"BROKER_URL": "http://paper-api.alpaca.markets"},
            settings={},
            clock=harness.venue.clock,
        )
    broker = create(harness.credentials(), settings={"API_TIMEOUT": 7}, clock=harness.venue.clock)
    assert SECRET_KEY not in repr(broker.__dict__)
    assert "timeout_s=7.0" in repr(broker.__dict__)
