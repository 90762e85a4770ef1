"""IBKR adapter over the fake IB Gateway: typed parsing, orderRef round trip, LongPut option
contracts, fills and commissions, cancels and market data. Connection handling (failures vs
rejects, reconnect, the nightly reset window) is in `test_ibkr_connection.py`."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from ib_async import (
    IB,
    AccountValue,
    Client,
    CommissionReport,
    Execution,
    Fill,
    Option,
    Order,
    OrderStatus,
    Stock,
    Trade,
    TradeLogEntry,
)
from ib_async import Position as IbPosition
from ib_async.util import UNSET_DOUBLE

from tbot_bot.broker.ibkr.adapter import IbkrBroker
from tbot_bot.broker.ibkr.errors import error_for_code
from tbot_bot.broker.ibkr.parsing import (
    account_from_values,
    build_ib_order,
    fill_report,
    ib_decimal,
    option_to_ib,
    order_state,
    position_from_ib,
    positive,
)
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
from tbot_bot.errors import (
    AuthenticationError,
    BrokerError,
    DataError,
    InsufficientFundsError,
    NetworkError,
    OrderRejectedError,
    RateLimitError,
)
from tbot_bot.test.fakes.fake_ib import FakeIbVenue, make_fake_broker
from tbot_bot.test.fakes.fake_ib_venue import SERVER_VERSION

START = datetime(2025, 7, 15, 14, 0, tzinfo=UTC)  # a Tuesday, 10:00 New York: market open
ACCOUNT = "DU0000001"
CID = "B01-20250715-O01-MSFT-EN00"
PUT = OptionContract("MSFT", date(2025, 7, 18), Decimal("250"), "P")


@pytest.fixture
def venue() -> FakeIbVenue:
    return FakeIbVenue(FakeClock(START))


@pytest.fixture
def broker(venue: FakeIbVenue) -> Iterator[IbkrBroker]:
    adapter = make_fake_broker(venue)
    assert isinstance(adapter, IbkrBroker)
    yield adapter
    adapter.close()


def limit_buy(cid: str = CID, qty: str = "10", price: str = "50.00") -> OrderRequest:
    return OrderRequest(
        cid, "MSFT", OrderSide.BUY, Decimal(qty), OrderType.LIMIT, limit_price=Decimal(price)
    )


def put_buy(cid: str = "B01-20250715-C01-MSFT-EN00") -> OrderRequest:
    return OrderRequest(
        cid,
        "MSFT",
        OrderSide.BUY,
        Decimal("2"),
        OrderType.LIMIT,
        limit_price=Decimal("3.45"),
        intent=PositionIntent.OPEN_LONG,
        asset_class=AssetClass.OPTION,
        option=PUT,
    )


def trade(status: str, filled: float = 0.0, error_code: int = 0) -> Trade:
    log = [TradeLogEntry(START, status, f"Error {error_code}, reqId 1: text", error_code)]
    order = Order(action="BUY", totalQuantity=10.0, orderType="LMT", lmtPrice=50.0, orderRef=CID)
    return Trade(Stock("MSFT", "SMART", "USD"), order, OrderStatus(1, status, filled), [], log)


# -- typed parsing (real ib_async objects, no venue) ----------------------------------------------
def test_ib_floats_become_the_decimals_the_gateway_sent() -> None:
    assert ib_decimal(250.05) == Decimal("250.05")
    assert str(ib_decimal(0.1)) == "0.1"
    assert str(ib_decimal(10.0)) == "10"  # share counts come back whole
    assert ib_decimal(math.nan) is None
    assert ib_decimal(UNSET_DOUBLE) is None
    assert positive(-1.0) is None  # IB's "no quote"
    assert positive(0.0) is None
    assert ib_decimal("12345.67") == Decimal("12345.67")


@pytest.mark.parametrize(
    ("status", "filled", "code", "expected"),
    [
        ("PendingSubmit", 0.0, 0, OrderState.IN_FLIGHT),
        ("PreSubmitted", 0.0, 0, OrderState.ACCEPTED),
        ("Submitted", 4.0, 0, OrderState.PARTIALLY_FILLED),
        ("PendingCancel", 0.0, 0, OrderState.ACCEPTED),
        ("ValidationError", 0.0, 399, OrderState.ACCEPTED),  # a warning: the order is live
        ("Filled", 10.0, 0, OrderState.FILLED),
        ("Cancelled", 0.0, 202, OrderState.CANCELLED),
        ("Cancelled", 4.0, 202, OrderState.CANCELLED),
        ("Cancelled", 0.0, 201, OrderState.REJECTED),
        ("Inactive", 0.0, 0, OrderState.REJECTED),
    ],
)
def test_order_status_maps_to_our_states(
    status: str, filled: float, code: int, expected: OrderState
) -> None:
    state, reason = order_state(trade(status, filled, code))
    assert state is expected
    assert (reason is not None) == (expected is OrderState.REJECTED)
    if code == 201:
        assert reason == "IBKR error 201: text"  # ib_async's "Error N, reqId M:" wrapping removed


def test_account_values_are_exact_decimals_of_our_account() -> None:
    values = [
        AccountValue(ACCOUNT, "NetLiquidation", "100123.45", "USD", ""),
        AccountValue(ACCOUNT, "TotalCashValue", "98000.10", "USD", ""),
        AccountValue(ACCOUNT, "TotalCashValue", "1.00", "EUR", ""),
        AccountValue(ACCOUNT, "BuyingPower", "400493.80", "USD", ""),
        AccountValue("DU7777777", "NetLiquidation", "5.00", "USD", ""),
    ]
    account = account_from_values(values, ACCOUNT)
    assert (account.equity, account.cash, account.buying_power) == (
        Decimal("100123.45"),
        Decimal("98000.10"),
        Decimal("400493.80"),
    )
    with pytest.raises(BrokerError, match="NetLiquidation"):
        account_from_values(values[1:], ACCOUNT)


def test_option_position_and_fill_are_typed_with_their_contract() -> None:
    contract = Option("MSFT", "20250718", 250.0, "P", "SMART", "100", "USD", conId=42)
    position = position_from_ib(IbPosition(ACCOUNT, contract, -2.0, 345.0))
    assert position.symbol == PUT.occ_symbol == "MSFT250718P00250000"
    assert (position.qty, position.avg_entry_price) == (Decimal("-2"), Decimal("3.45"))
    assert position.asset_class is AssetClass.OPTION
    execution = Execution(
        execId="e1", time=START, side="SLD", shares=2.0, price=3.45, permId=77, orderRef="X-1"
    )
    report = fill_report(Fill(contract, execution, CommissionReport("e1", 1.3), START))
    assert (report.side, report.qty, report.price, report.fee) == (
        OrderSide.SELL,
        Decimal("2"),
        Decimal("3.45"),
        Decimal("1.3"),
    )
    assert report.option == PUT and report.asset_class is AssetClass.OPTION
    assert (report.external_id, report.client_order_id, report.broker_order_id) == (
        "e1",
        "X-1",
        "77",
    )


def test_build_ib_order_carries_our_id_and_whole_percent_trail() -> None:
    request = OrderRequest(
        CID,
        "MSFT",
        OrderSide.SELL,
        Decimal("10"),
        OrderType.TRAILING_STOP,
        trail_percent=Decimal("0.0225"),
        intent=PositionIntent.CLOSE_LONG,
    )
    order = build_ib_order(request, ACCOUNT)
    assert (order.orderType, order.trailingPercent, order.orderRef) == (
        "TRAIL",
        Decimal("2.25"),
        CID,
    )
    assert (order.action, order.totalQuantity, order.account) == ("SELL", 10.0, ACCOUNT)
    with pytest.raises(OrderRejectedError, match="whole shares"):
        build_ib_order(limit_buy(qty="1.5"), ACCOUNT)


class WireClient(Client):
    """ib_async's real message encoder with the socket replaced by a list of sent fields."""

    def __init__(self) -> None:
        super().__init__(IB().wrapper)  # type: ignore[no-untyped-call]  # unannotated in ib_async
        self.messages: list[list[str]] = []
        self._serverVersion = SERVER_VERSION

    def isConnected(self) -> bool:  # noqa: N802 - ib_async's name
        return True

    def sendMsg(self, msg: str) -> None:  # noqa: N802 - ib_async's name
        self.messages.append(msg.split("\0"))


def test_decimal_prices_reach_the_wire_as_exact_text() -> None:
    wire = WireClient()
    put = OptionContract("MSFT", date(2025, 7, 18), Decimal("252.5"), "P")
    request = OrderRequest(
        CID,
        "MSFT",
        OrderSide.SELL,
        Decimal("2"),
        OrderType.TRAILING_STOP,
        trail_percent=Decimal("0.0225"),
        intent=PositionIntent.CLOSE_LONG,
        asset_class=AssetClass.OPTION,
        option=put,
    )
    order = build_ib_order(request, ACCOUNT)
    wire.placeOrder(5, option_to_ib(put), order)  # type: ignore[no-untyped-call]  # ib_async's
    [fields] = wire.messages
    assert fields[3:10] == ["MSFT", "OPT", "20250718", "252.5", "P", "100", "SMART"]
    assert fields[16:19] == ["SELL", "2.0", "TRAIL"]
    assert CID in fields and "2.25" in fields and ACCOUNT in fields


@pytest.mark.parametrize(
    ("code", "text", "for_order", "expected"),
    [
        (100, "Max rate of messages per second has been exceeded", False, RateLimitError),
        (
            162,
            "Historical Market Data Service error message:pacing violation",
            False,
            RateLimitError,
        ),
        (504, "Not connected", False, NetworkError),
        (
            1100,
            "Connectivity between IB and Trader Workstation has been lost.",
            False,
            NetworkError,
        ),
        (326, "Unable to connect as the client id is already in use.", False, AuthenticationError),
        (354, "Requested market data is not subscribed.", False, DataError),
        (200, "No security definition has been found for the request", False, DataError),
        (201, "Order rejected - reason:Insufficient buying power", True, InsufficientFundsError),
        (201, "Order rejected - reason:not shortable", True, OrderRejectedError),
        (
            110,
            "The price does not conform to the minimum price variation",
            True,
            OrderRejectedError,
        ),
        (9999, "something else", False, BrokerError),
    ],
)
def test_ib_error_codes_map_to_our_tree(
    code: int, text: str, for_order: bool, expected: type[Exception]
) -> None:
    error = error_for_code(code, text, ACCOUNT, for_order=for_order)
    assert type(error) is expected


def test_error_text_never_carries_the_account_number() -> None:
    error = error_for_code(
        201, f"Order rejected - account {ACCOUNT} lacks permissions", ACCOUNT, for_order=True
    )
    assert ACCOUNT not in str(error)


# -- orderRef round trip --------------------------------------------------------------------------
def test_order_ref_round_trips_through_the_venue_and_a_restart(
    venue: FakeIbVenue, broker: IbkrBroker
) -> None:
    report = broker.submit_order(limit_buy())
    [held] = venue.find(CID)
    assert held.order.orderRef == CID and held.order.account == ACCOUNT
    assert (report.client_order_id, report.broker_order_id) == (CID, str(held.perm_id))
    assert (report.state, report.qty, report.limit_price) == (
        OrderState.ACCEPTED,
        Decimal("10"),
        Decimal("50.00"),
    )
    assert report.submitted_at == START  # our injected clock, not the system clock
    venue.fill(CID, Decimal("4"), Decimal("49.95"))
    [fill] = broker.get_fills()
    assert (fill.client_order_id, fill.qty, fill.price) == (CID, Decimal("4"), Decimal("49.95"))

    restarted = make_fake_broker(venue)  # a new process with the same client id
    found = restarted.get_order_by_client_id(CID)
    assert found is not None and found.state is OrderState.PARTIALLY_FILLED
    assert found.filled_qty == Decimal("4") and found.broker_order_id == str(held.perm_id)
    assert [o.client_order_id for o in restarted.get_open_orders()] == [CID]
    assert [f.external_id for f in restarted.get_fills()] == [fill.external_id]  # stable id
    venue.fill(CID, Decimal("6"), Decimal("50.00"))
    restarted.close()
    completed = make_fake_broker(venue).get_order_by_client_id(CID)  # from completed orders
    assert completed is not None and completed.state is OrderState.FILLED
    assert completed.filled_qty == Decimal("10")


def test_a_second_submit_of_the_same_id_sends_nothing(
    venue: FakeIbVenue, broker: IbkrBroker
) -> None:
    first = broker.submit_order(limit_buy())
    again = broker.submit_order(limit_buy())
    assert again.broker_order_id == first.broker_order_id
    assert len(venue.find(CID)) == 1


def test_unknown_client_id_is_none_after_asking_the_venue(
    venue: FakeIbVenue, broker: IbkrBroker
) -> None:
    asked = len(venue.requests)
    assert broker.get_order_by_client_id("B01-20250715-O09-MSFT-EN00") is None
    assert len(venue.requests) > asked  # an absent answer comes from the venue, not the cache


def test_an_unanswered_submit_waits_api_timeout_on_the_clock(venue: FakeIbVenue) -> None:
    broker = make_fake_broker(venue, settings={"API_TIMEOUT": 5})
    venue.silent_accepts = 1
    before = venue.clock.now_utc()
    with pytest.raises(NetworkError, match="look it up"):
        broker.submit_order(limit_buy())
    assert venue.clock.now_utc() - before == timedelta(seconds=5)
    found = broker.get_order_by_client_id(CID)  # the venue had it all along
    assert found is not None and found.state is OrderState.ACCEPTED


def test_unanswered_sends_are_settled_with_the_venue(
    venue: FakeIbVenue, broker: IbkrBroker
) -> None:
    venue.server_errors = [False]  # lost on the way
    with pytest.raises(NetworkError):
        broker.submit_order(limit_buy())
    taken = "B01-20250715-O02-MSFT-EN00"
    venue.server_errors = [True]  # landed, answer lost
    with pytest.raises(NetworkError):
        broker.submit_order(limit_buy(taken))
    assert [o.client_order_id for o in broker.get_open_orders()] == [taken]
    assert broker.get_order_by_client_id(CID) is None
    assert broker.submit_order(limit_buy()).state is OrderState.ACCEPTED  # the id is free again
    assert len(venue.find(CID)) == len(venue.find(taken)) == 1


# -- LongPut: an OptionContract, never a ticker string --------------------------------------------
def test_long_put_is_sent_as_an_ib_option_contract(venue: FakeIbVenue, broker: IbkrBroker) -> None:
    request = put_buy()
    broker.submit_order(request)
    [held] = venue.find(request.client_order_id)
    contract = held.contract
    assert contract.secType == "OPT" and contract.symbol == "MSFT"
    assert (contract.lastTradeDateOrContractMonth, contract.strike, contract.right) == (
        "20250718",
        250.0,
        "P",
    )
    assert (contract.multiplier, contract.exchange, contract.currency) == ("100", "SMART", "USD")
    venue.fill(request.client_order_id, Decimal("2"), Decimal("3.45"))
    [fill] = broker.get_fills()
    assert fill.option == PUT and fill.asset_class is AssetClass.OPTION
    assert fill.fee == Decimal("1.3")  # 2 contracts x 0.65
    [position] = broker.get_positions()
    assert (position.symbol, position.qty, position.avg_entry_price) == (
        PUT.occ_symbol,
        Decimal("2"),
        Decimal("3.45"),
    )


# -- fills and commissions ------------------------------------------------------------------------
def test_fills_wait_for_their_commission_then_report_zero_fee(
    venue: FakeIbVenue, broker: IbkrBroker
) -> None:
    broker.submit_order(limit_buy())
    second = "B01-20250715-O02-MSFT-EN00"
    broker.submit_order(limit_buy(second))
    venue.withhold_commissions = True
    venue.fill(CID, Decimal("10"), Decimal("50.00"))
    venue.clock.advance(timedelta(seconds=1))
    venue.withhold_commissions = False
    venue.fill(second, Decimal("10"), Decimal("50.00"))
    assert broker.get_fills() == []  # the later fill must not overtake the held one
    venue.clock.advance(timedelta(seconds=30))
    fills = broker.get_fills(START)
    assert [(f.client_order_id, f.fee) for f in fills] == [
        (CID, Decimal("0")),
        (second, Decimal("1")),
    ]
    assert broker.get_fills(START + timedelta(seconds=1)) == fills[1:]


# -- cancels --------------------------------------------------------------------------------------
def test_cancels_are_confirmed_and_idempotent(venue: FakeIbVenue, broker: IbkrBroker) -> None:
    broker.cancel_order("B01-20250715-O09-MSFT-EN00")  # unknown: nothing to do
    broker.submit_order(limit_buy())
    broker.cancel_order(CID)
    assert venue.find(CID)[0].status == "Cancelled"
    report = broker.get_order_by_client_id(CID)
    assert report is not None and report.state is OrderState.CANCELLED
    broker.cancel_order(CID)  # finished: not an error
    other = "B01-20250715-O02-MSFT-EN00"
    broker.submit_order(limit_buy(other))
    assert broker.cancel_all_orders() == [other]
    assert broker.get_open_orders() == []


def test_venue_cancel_is_seen_as_cancelled(venue: FakeIbVenue, broker: IbkrBroker) -> None:
    broker.submit_order(limit_buy())
    venue.venue_cancel(CID)
    report = broker.get_order_by_client_id(CID)
    assert report is not None and report.state is OrderState.CANCELLED


# -- account, market data, clock ------------------------------------------------------------------
def test_account_and_capabilities(broker: IbkrBroker) -> None:
    account = broker.get_account()
    assert (account.account_id, account.equity, account.cash) == (
        ACCOUNT,
        Decimal("100000.00"),
        Decimal("100000.00"),
    )
    caps = broker.capabilities()
    assert (caps.fractional_shares, caps.native_trailing_stops, caps.short_selling) == (
        False,
        True,
        True,
    )
    assert caps.options and caps.index_data
    assert broker.get_min_order_size("MSFT") == Decimal(1)
    assert broker.get_activities() == []


def test_quotes_are_decimal_and_skip_unknown_or_empty(
    venue: FakeIbVenue, broker: IbkrBroker
) -> None:
    venue.quotes["MSFT"] = (Decimal("49.98"), Decimal("50.02"), Decimal("50.00"))
    venue.unknown_symbols.add("ZZZZ")
    quotes = broker.get_latest_quotes(["MSFT", "ZZZZ", "AAPL"])
    assert list(quotes) == ["MSFT"]
    quote = quotes["MSFT"]
    assert (quote.bid, quote.ask, quote.last, quote.quote_ts) == (
        Decimal("49.98"),
        Decimal("50.02"),
        Decimal("50.00"),
        START,
    )


def test_vix_comes_from_the_cboe_index_or_is_none(venue: FakeIbVenue, broker: IbkrBroker) -> None:
    venue.index_values["VIX"] = Decimal("17.25")
    assert broker.get_vix() == Decimal("17.25")
    venue.index_data_subscribed = False
    assert broker.get_vix() is None


def test_recent_bars_are_completed_minutes_after_the_cursor(
    venue: FakeIbVenue, broker: IbkrBroker
) -> None:
    starts = [START - timedelta(minutes=m) for m in (3, 2, 1)]
    venue.bars["MSFT"] = [(t, "50.00", "50.10", "49.90", "50.05", 1200, "50.01") for t in starts]
    venue.clock.advance(timedelta(seconds=30))  # the bar starting at START is not complete yet
    bars = broker.get_recent_bars(["MSFT"], START - timedelta(minutes=2))["MSFT"]
    assert [b.ts_utc for b in bars] == starts[1:]
    assert (bars[0].close, bars[0].volume, bars[0].vwap) == (
        Decimal("50.05"),
        1200,
        Decimal("50.01"),
    )


def test_moc_imbalance_and_shortability_use_generic_ticks(
    venue: FakeIbVenue, broker: IbkrBroker
) -> None:
    venue.imbalances["MSFT"] = 750_000
    assert broker.get_moc_imbalance("MSFT") == 750_000
    assert broker.get_moc_imbalance("AAPL") is None  # no tick within the wait
    venue.shortable_ticks.update({"MSFT": 3.0, "GME": 1.0})
    assert broker.is_shortable("MSFT") is True
    assert broker.is_shortable("GME") is False
    assert broker.is_shortable("AAPL") is False  # unknown counts as not shortable


def test_market_clock_comes_from_the_xnys_calendar(broker: IbkrBroker) -> None:
    clock = broker.get_clock()
    assert clock.is_open and clock.timestamp == START
    assert clock.next_close == datetime(2025, 7, 15, 20, 0, tzinfo=UTC)
    assert clock.next_open == datetime(2025, 7, 16, 13, 30, tzinfo=UTC)
