"""TRADIER adapter against the local fake Tradier over real HTTP (our httpx client)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tbot_bot.broker.models import (
    ActivityKind,
    AssetClass,
    OptionContract,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
    PositionIntent,
    TimeInForce,
)
from tbot_bot.broker.tradier.adapter import TradierBroker, create
from tbot_bot.broker.tradier.client import TradierClient, as_list
from tbot_bot.broker.tradier.parsing import order_form
from tbot_bot.clock import FakeClock
from tbot_bot.errors import (
    AuthenticationError,
    BrokerError,
    ConfigError,
    InsufficientFundsError,
    NetworkError,
    OrderRejectedError,
    RateLimitError,
)
from tbot_bot.test.fakes.fake_tradier import ACCOUNT, TOKEN, FakeTradier, TradierHarness

NOW = datetime(2025, 7, 15, 14, 0, tzinfo=UTC)
CID = "B01-20250715-O01-MSFT-EN00"
ORDERS = f"/v1/accounts/{ACCOUNT}/orders"


@pytest.fixture
def venue() -> Iterator[FakeTradier]:
    fake = FakeTradier(FakeClock(NOW))
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def harness(venue: FakeTradier) -> TradierHarness:
    return TradierHarness(venue, timeout_s=0.4)


@pytest.fixture
def broker(harness: TradierHarness) -> Iterator[TradierBroker]:
    made = harness.make_broker()
    assert isinstance(made, TradierBroker)
    yield made
    made.close()


def buy(cid: str = CID, qty: str = "3", price: str | None = "400.10") -> OrderRequest:
    if price is None:
        return OrderRequest(cid, "MSFT", OrderSide.BUY, Decimal(qty), OrderType.MARKET)
    return OrderRequest(
        cid, "MSFT", OrderSide.BUY, Decimal(qty), OrderType.LIMIT, limit_price=Decimal(price)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- Tradier's JSON habits ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("null", []),
        ("", []),
        ({"id": 1}, [{"id": 1}]),
        ([{"id": 1}, {"id": 2}], [{"id": 1}, {"id": 2}]),
    ],
)
def test_as_list_accepts_every_collection_shape(value: object, expected: list[object]) -> None:
    assert as_list(value) == expected


def test_empty_collections_arrive_as_null_strings(
    venue: FakeTradier, broker: TradierBroker
) -> None:
    assert broker.get_positions() == []
    assert broker.get_open_orders() == []
    assert broker.get_fills() == []
    assert broker.get_activities() == []
    assert broker.get_recent_bars(["MSFT"], NOW - timedelta(minutes=5)) == {"MSFT": []}


def test_single_object_and_list_both_parse(venue: FakeTradier, broker: TradierBroker) -> None:
    broker.submit_order(buy())
    [single] = broker.get_open_orders()  # {"orders": {"order": {...}}}
    broker.submit_order(buy("B01-20250715-O02-MSFT-EN00"))
    both = broker.get_open_orders()  # {"orders": {"order": [{...}, {...}]}}
    assert single.client_order_id == CID
    assert [o.client_order_id for o in both] == [CID, "B01-20250715-O02-MSFT-EN00"]


def test_null_string_fields_give_no_quote(venue: FakeTradier, broker: TradierBroker) -> None:
    venue.set_quote("MSFT", "400.01", "400.03", "400.02", NOW)
    venue.quotes["MSFT"]["bid"] = "null"
    venue.set_quote("AAPL", "210.10", "210.12", "210.11", NOW)
    assert list(broker.get_latest_quotes(["MSFT", "AAPL", "NOPE"])) == ["AAPL"]


def test_client_asks_for_json(venue: FakeTradier, broker: TradierBroker) -> None:
    request, _ = venue.server.log[-1]
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


# -- typed parsing ----------------------------------------------------------------------------
def test_orders_positions_balances_are_typed(venue: FakeTradier, broker: TradierBroker) -> None:
    sent = broker.submit_order(buy())
    venue.fill(CID, Decimal("1"), Decimal("400.05"))
    partial = broker.get_order_by_client_id(CID)
    venue.fill(CID, Decimal("2"), Decimal("400.02"))
    done = broker.get_order_by_client_id(CID)
    assert sent.state is OrderState.ACCEPTED and sent.broker_order_id == "228175"
    assert partial is not None and (partial.state, partial.filled_qty) == (
        OrderState.PARTIALLY_FILLED,
        Decimal("1"),
    )
    assert done is not None and (done.state, done.avg_fill_price) == (
        OrderState.FILLED,
        Decimal("400.03"),
    )
    assert done.submitted_at == NOW and done.limit_price == Decimal("400.10")
    [position] = broker.get_positions()
    assert (position.qty, position.avg_entry_price) == (Decimal("3"), Decimal("400.03"))
    account = broker.get_account()
    assert (account.account_id, account.cash) == (ACCOUNT, Decimal("25000.00") - Decimal("1200.09"))
    assert account.buying_power == account.cash * 2 and account.shorting_enabled


def test_cash_account_buying_power(venue: FakeTradier, broker: TradierBroker) -> None:
    venue.account_type = "cash"
    account = broker.get_account()
    assert account.buying_power == Decimal("25000.00") and not account.shorting_enabled


def test_partial_fills_get_stable_cumulative_ids(
    venue: FakeTradier, harness: TradierHarness, broker: TradierBroker
) -> None:
    broker.submit_order(buy(qty="10"))
    venue.fill(CID, Decimal("4"), Decimal("400.05"))
    [first] = broker.get_fills()
    assert (first.external_id, first.qty, first.price, first.client_order_id) == (
        "order-228175-4",
        Decimal("4"),
        Decimal("400.05"),
        CID,
    )
    venue.fill(CID, Decimal("3"), Decimal("400.00"))
    venue.fill(CID, Decimal("3"), Decimal("399.90"))  # two executions between two reads
    fills = broker.get_fills()
    assert [(f.external_id, f.qty, f.price) for f in fills] == [
        ("order-228175-4", Decimal("4"), Decimal("400.05")),
        ("order-228175-7", Decimal("3"), Decimal("400.000000")),  # implied by the average
        ("order-228175-10", Decimal("3"), Decimal("399.90")),
    ]
    assert broker.get_fills() == fills  # the same ids on every read
    assert broker.get_fills(fills[-1].ts_utc) == []
    rebuilt = harness.make_broker().get_fills()  # a restart rebuilds from the snapshot
    assert [(f.external_id, f.qty) for f in rebuilt] == [
        ("order-228175-7", Decimal("7")),
        ("order-228175-10", Decimal("3")),
    ]
    assert sum(f.qty for f in rebuilt) == sum(f.qty for f in fills)


def test_partial_fill_keeps_its_id_after_the_cancel(
    venue: FakeTradier, broker: TradierBroker
) -> None:
    broker.submit_order(buy())
    venue.fill(CID, Decimal("1"), Decimal("400.05"))
    before = broker.get_fills()
    broker.cancel_order(CID)
    assert broker.get_fills() == before and [f.external_id for f in before] == ["order-228175-1"]


def test_short_sale_uses_sell_short_and_buy_to_cover(
    venue: FakeTradier, broker: TradierBroker
) -> None:
    short = OrderRequest(
        "B01-20250715-C01-TSLA-EN00",
        "TSLA",
        OrderSide.SELL,
        Decimal("4"),
        OrderType.MARKET,
        intent=PositionIntent.OPEN_SHORT,
    )
    cover = OrderRequest(
        "B01-20250715-C01-TSLA-EX00",
        "TSLA",
        OrderSide.BUY,
        Decimal("4"),
        OrderType.MARKET,
        intent=PositionIntent.CLOSE_SHORT,
    )
    broker.submit_order(short)
    venue.fill(short.client_order_id, Decimal("4"), Decimal("250.5"))
    [position] = broker.get_positions()
    broker.submit_order(cover)
    assert [o.side for o in venue.orders] == ["sell_short", "buy_to_cover"]
    assert position.qty == Decimal("-4")
    [fill] = broker.get_fills()
    assert fill.intent is PositionIntent.OPEN_SHORT


@pytest.mark.parametrize(
    ("side", "intent", "wire"),
    [
        (OrderSide.BUY, PositionIntent.OPEN_LONG, "buy"),
        (OrderSide.SELL, PositionIntent.CLOSE_LONG, "sell"),
        (OrderSide.SELL, PositionIntent.OPEN_LONG, "sell"),  # intent left at its default
        (OrderSide.SELL, PositionIntent.OPEN_SHORT, "sell_short"),
        (OrderSide.BUY, PositionIntent.CLOSE_SHORT, "buy_to_cover"),
    ],
)
def test_equity_sides(side: OrderSide, intent: PositionIntent, wire: str) -> None:
    request = OrderRequest(CID, "MSFT", side, Decimal("1"), OrderType.MARKET, intent=intent)
    assert order_form(request)["side"] == wire


def test_contradictory_side_and_intent_is_refused() -> None:
    request = OrderRequest(
        CID, "MSFT", OrderSide.BUY, Decimal("1"), OrderType.MARKET, intent=PositionIntent.CLOSE_LONG
    )
    with pytest.raises(OrderRejectedError, match="cannot"):
        order_form(request)


def test_option_orders_carry_the_occ_symbol() -> None:
    put = OptionContract("MSFT", date(2025, 7, 18), Decimal("400"), "P")
    request = OrderRequest(
        "B01-20250715-O01-MSFT-EN00",
        "MSFT",
        OrderSide.BUY,
        Decimal("2"),
        OrderType.LIMIT,
        limit_price=Decimal("3.15"),
        asset_class=AssetClass.OPTION,
        option=put,
    )
    form = order_form(request)
    assert form == {
        "class": "option",
        "symbol": "MSFT",
        "option_symbol": "MSFT250718P00400000",
        "side": "buy_to_open",
        "quantity": "2",
        "type": "limit",
        "duration": "day",
        "price": "3.15",
        "tag": request.client_order_id,
    }


def test_history_activities_have_stable_ids(venue: FakeTradier, broker: TradierBroker) -> None:
    dividend = {
        "amount": Decimal("0.12"),
        "date": "2025-07-14T00:00:00Z",
        "type": "dividend",
        "adjustment": {"description": "GENERAL ELECTRIC COMPANY", "quantity": Decimal("0E-8")},
    }
    venue.history = [
        dividend,
        dict(dividend),  # two identical events stay two activities
        {
            "amount": Decimal("-13.05"),
            "date": "2025-07-14T00:00:00Z",
            "type": "trade",
            "trade": {
                "commission": Decimal("0"),
                "price": Decimal("13.05"),
                "quantity": Decimal("1"),
                "symbol": "GE",
            },
        },
        {
            "amount": Decimal("500"),
            "date": "2025-07-11T00:00:00Z",
            "type": "ach",
            "ach": {"description": "ACH IN"},
        },
        {
            "amount": Decimal("-200"),
            "date": "2025-07-12T00:00:00Z",
            "type": "wire",
            "wire": {"description": "OUT"},
        },
    ]
    first, second = broker.get_activities(), broker.get_activities()
    assert [(a.kind, a.net_amount) for a in first] == [
        (ActivityKind.DEPOSIT, Decimal("500")),
        (ActivityKind.WITHDRAWAL, Decimal("-200")),
        (ActivityKind.DIVIDEND, Decimal("0.12")),
        (ActivityKind.DIVIDEND, Decimal("0.12")),
    ]
    assert [a.external_id for a in first] == [a.external_id for a in second]
    assert len({a.external_id for a in first}) == 4


def test_quotes_vix_clock_and_bars(venue: FakeTradier, broker: TradierBroker) -> None:
    venue.set_quote("MSFT", "400.01", "400.03", "400.02", NOW - timedelta(seconds=2))
    venue.set_quote("VIX", "", "", "17.25", NOW)
    quote = broker.get_latest_quotes(["MSFT"])["MSFT"]
    assert (quote.bid, quote.ask, quote.last, quote.quote_ts) == (
        Decimal("400.01"),
        Decimal("400.03"),
        Decimal("400.02"),
        NOW - timedelta(seconds=2),
    )
    assert broker.get_vix() == Decimal("17.25")
    clock = broker.get_clock()
    assert (clock.is_open, clock.next_close) == (True, datetime(2025, 7, 15, 20, 0, tzinfo=UTC))
    venue.add_bar("MSFT", NOW - timedelta(minutes=1), "400", "401", "399", "400.5", 900)
    [bar] = broker.get_recent_bars(["MSFT"], NOW - timedelta(minutes=5))["MSFT"]  # a single object
    assert (bar.ts_utc, bar.close, bar.volume) == (
        NOW - timedelta(minutes=1),
        Decimal("400.5"),
        900,
    )
    venue.add_bar("MSFT", NOW, "400", "401", "399", "400.5", 900)  # still forming: left out
    assert len(broker.get_recent_bars(["MSFT"], NOW - timedelta(minutes=5))["MSFT"]) == 1


# -- refusals and failures ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "request_",
    [
        buy(qty="1.5"),
        OrderRequest(
            CID,
            "MSFT",
            OrderSide.SELL,
            Decimal("2"),
            OrderType.TRAILING_STOP,
            trail_percent=Decimal("0.02"),
            intent=PositionIntent.CLOSE_LONG,
        ),
        OrderRequest(
            CID,
            "MSFT",
            OrderSide.BUY,
            Decimal("2"),
            OrderType.MARKET,
            time_in_force=TimeInForce.IOC,
        ),
    ],
    ids=["fractional", "trailing_stop", "ioc"],
)
def test_unsupported_orders_are_refused_before_sending(
    venue: FakeTradier, broker: TradierBroker, request_: OrderRequest
) -> None:
    with pytest.raises(OrderRejectedError):
        broker.submit_order(request_)
    assert venue.count("POST", ORDERS) == 0


def test_lost_answer_is_found_by_its_tag(
    venue: FakeTradier, harness: TradierHarness, broker: TradierBroker
) -> None:
    harness.script_timeout_after_accept()
    with pytest.raises(NetworkError, match="timed out"):
        broker.submit_order(buy())
    found = broker.get_order_by_client_id(CID)
    assert found is not None and found.state is OrderState.ACCEPTED
    assert harness.venue_order_ids(CID) == [found.broker_order_id]
    assert venue.count("POST", ORDERS) == 1


def test_repeated_tags_resolve_to_the_live_order(venue: FakeTradier, broker: TradierBroker) -> None:
    """Tradier accepts a repeated tag; a lookup prefers the order that is working or executed."""
    broker.submit_order(buy())
    venue.orders[0].status = "rejected"
    broker.submit_order(buy())
    found = broker.get_order_by_client_id(CID)
    assert found is not None and found.broker_order_id == "228176"


def test_bad_token_is_auth_and_a_dead_host_is_network(harness: TradierHarness) -> None:
    clock = harness.venue.clock
    bad = create(
        harness.credentials() | {"BROKER_TOKEN": "nope"}, settings={}, clock=clock, timeout_s=0.4
    )
    with pytest.raises(AuthenticationError, match="HTTP 401"):
        bad.connect()
    dead = create(
        harness.credentials() | {"BROKER_URL": f"http://127.0.0.1:{free_port()}"},
        settings={},
        clock=clock,
        timeout_s=0.4,
    )
    with pytest.raises(NetworkError) as caught:
        dead.connect()
    assert not isinstance(caught.value, AuthenticationError)


def test_html_502_is_a_network_error(harness: TradierHarness, broker: TradierBroker) -> None:
    harness.script_server_errors(1, accept_first=False)
    with pytest.raises(NetworkError) as caught:
        broker.get_positions()
    assert "HTTP 502" in str(caught.value) and "HTML body" in str(caught.value)
    assert "<" not in str(caught.value)


def test_rejections_with_400_or_200_errors(
    venue: FakeTradier, harness: TradierHarness, broker: TradierBroker
) -> None:
    harness.script_reject_next_submit("Backoffice rejected: insufficient buying power")
    with pytest.raises(InsufficientFundsError):
        broker.submit_order(buy())
    venue.reject_with_200 = True  # Tradier's downstream refusals come back as HTTP 200 + errors
    harness.script_reject_next_submit("Invalid Parameter: price")
    with pytest.raises(OrderRejectedError) as caught:
        broker.submit_order(buy())
    assert not isinstance(caught.value, InsufficientFundsError)
    assert venue.orders == []


def test_reads_wait_out_a_short_429_storm_on_the_clock(
    venue: FakeTradier, harness: TradierHarness, broker: TradierBroker
) -> None:
    harness.script_rate_limit(2)
    assert broker.get_account().account_id == ACCOUNT
    assert venue.count("GET", f"/v1/accounts/{ACCOUNT}/balances") == 4  # connect + 2 throttled + 1
    assert venue.clock.now_utc() == NOW + timedelta(milliseconds=500)  # waited on the clock
    harness.script_rate_limit(10)
    with pytest.raises(RateLimitError):
        broker.get_account()
    venue.faults.rate_limits = 0


def test_writes_are_never_retried_on_429(venue: FakeTradier) -> None:
    slept: list[float] = []
    client = TradierClient(venue.base_url, TOKEN, timeout_s=0.4, sleep=slept.append)
    venue.faults.rate_limits = 1
    with pytest.raises(RateLimitError):
        client.post(f"/accounts/{ACCOUNT}/orders", order_form(buy()))
    client.close()
    assert venue.count("POST", ORDERS) == 1 and venue.orders == [] and slept == []


def test_a_refused_read_is_a_broker_error_not_an_order_rejection(broker: TradierBroker) -> None:
    with pytest.raises(BrokerError, match="Invalid Parameter: symbol") as caught:
        broker.get_recent_bars(["bad symbol"], NOW - timedelta(minutes=5))
    assert not isinstance(caught.value, OrderRejectedError)


def test_dropped_connection_is_a_network_error(
    harness: TradierHarness, broker: TradierBroker
) -> None:
    harness.script_disconnect()
    with pytest.raises(NetworkError, match="connection failed"):
        broker.get_open_orders()
    harness.restore_connection()
    assert broker.get_open_orders() == []


def test_cancel_is_idempotent_and_cancel_all_lists_tags(
    venue: FakeTradier, broker: TradierBroker
) -> None:
    broker.submit_order(buy())
    broker.submit_order(buy("B01-20250715-O02-MSFT-EN00"))
    venue.fill("B01-20250715-O02-MSFT-EN00", Decimal("3"), Decimal("400"))
    broker.cancel_order("B01-20250715-O02-MSFT-EN00")  # filled: nothing to do
    broker.cancel_order("B01-20250715-O09-MSFT-EN00")  # unknown: nothing to do
    assert broker.cancel_all_orders() == [CID]
    assert broker.cancel_all_orders() == []
    report = broker.get_order_by_client_id(CID)
    assert report is not None and report.state is OrderState.CANCELLED


def test_credentials_are_checked_and_never_shown(harness: TradierHarness) -> None:
    clock = harness.venue.clock
    with pytest.raises(ConfigError) as caught:
        create({"BROKER_URL": "https://api.tradier.com"}, settings={}, clock=clock)
    assert caught.value.problems == [
        "BROKER_TOKEN is required for BROKER_NAME=TRADIER",
        "BROKER_ACCOUNT_NUMBER is required for BROKER_NAME=TRADIER",
    ]
    with pytest.raises(ConfigError, match="letters and digits"):
        create(harness.credentials() | {"BROKER_ACCOUNT_NUMBER": "../x"}, settings={}, clock=clock)
    with pytest.raises(ConfigError, match="https"):
        create(
            harness.credentials() | {"BROKER_URL": "http://api.tradier.com"},
            settings={},
            clock=clock,
        )
    broker = create(
        harness.credentials() | {"BROKER_URL": "https://sandbox.tradier.com/v1/"},
        settings={"API_TIMEOUT": 9},
        clock=clock,
    )
    assert TOKEN not in repr(broker.__dict__)
    assert "base_url='https://sandbox.tradier.com'" in repr(broker.__dict__)
