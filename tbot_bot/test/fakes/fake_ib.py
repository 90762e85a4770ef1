"""A fake IB Gateway for the IBKR adapter, injected through `ib_factory`.

`FakeIB` IS an `ib_async.IB`: the real `Wrapper` keeps the state (trades, fills, positions,
account values, tickers) and hands out real ib_async objects. Only the socket is replaced:
`FakeClient` subclasses ib_async's `Client` and answers each request method from a
`FakeIbVenue` by calling the wrapper's callbacks, as the decoder would after reading TWS's
messages. Nothing sleeps: waiting moves the `FakeClock`, and queued messages are delivered when
the adapter pumps (`waitOnUpdate`, `sleep`) or sends its next request.

`IbkrContractHarness` implements the broker contract suite's `ContractHarness` protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from ib_async import IB, Client, Contract, ExecutionFilter, Order

from tbot_bot.broker.base import Broker
from tbot_bot.broker.ibkr.adapter import create
from tbot_bot.clock import FakeClock
from tbot_bot.test.fakes.fake_ib_venue import (
    FAKE_ACCOUNT,
    PACING_TEXT,
    SERVER_VERSION,
    FakeIbVenue,
)

logger = logging.getLogger(__name__)

FAKE_HOST = "127.0.0.1"
FAKE_PORT = 4002
FAKE_CLIENT_ID = 7
HARNESS_BACKOFF_CAP_S = 4.0


class FakeClient(Client):
    """ib_async's Client with the socket replaced by a `FakeIbVenue`."""

    def __init__(self, wrapper: Any, venue: FakeIbVenue) -> None:
        super().__init__(wrapper)  # type: ignore[no-untyped-call]  # ib_async's Client is unannotated
        self.venue = venue
        self.outbox: list[Callable[[], None]] = []

    # -- socket ----------------------------------------------------------------------------------
    async def connectAsync(self, host: str, port: int, clientId: int, timeout: float = 2.0) -> None:  # noqa: N802, N803 - ib_async's names
        self.venue.requests.append("connect")
        if not self.venue.reachable:
            raise ConnectionRefusedError(111, f"Connect call failed ('{host}', {port})")
        if self.venue.client_id_in_use:
            self.venue.client_id_in_use = False
            self.wrapper.error(-1, 326, "Unable to connect as the client id is already in use.", "")
            raise ConnectionError("Socket disconnect")
        self.host, self.port, self.clientId = host, int(port), int(clientId)
        self.connState = Client.CONNECTED
        self._apiReady = True
        self._serverVersion = SERVER_VERSION
        self._accounts = list(self.venue.logged_in_accounts)
        self._reqIdSeq = self.venue.next_order_id
        self.wrapper.managedAccounts(",".join(self._accounts))
        self.venue.attach(self)
        self.apiStart.emit()

    def disconnect(self) -> None:
        self.venue.detach(self)
        self.outbox.clear()
        self.reset()  # type: ignore[no-untyped-call]  # ib_async's Client is unannotated

    def drop(self, *, replaced: bool = False) -> None:
        """The venue closed the socket: what ib_async's Client does on a lost connection.

        `replaced`: a new process connected with our client id (we "crashed"). ib_async's
        `connectionClosed` would emit its module-wide error event, which cancels whatever
        blocking call is running, here the newcomer's own connect; so only reset the state.
        """
        was_ready = self.isReady()
        self.venue.detach(self)
        self.outbox.clear()
        self.wrapper.setEventsDone()
        if was_ready and replaced:
            self.wrapper.reset()
        elif was_ready:
            self.wrapper.connectionClosed()
        self.reset()  # type: ignore[no-untyped-call]  # ib_async's Client is unannotated
        if was_ready:
            self.apiEnd.emit()

    def send(self, *fields: Any, makeEmpty: bool = True) -> None:  # noqa: N803 - ib_async's name
        raise AssertionError(f"FakeClient got a request it does not emulate: {fields[:2]!r}")

    # -- message delivery -----------------------------------------------------------------------
    def queue(self, callback: Callable[[], None]) -> None:
        self.outbox.append(callback)

    def batch(self, callbacks: list[Callable[[], None]]) -> None:
        """Process messages as one TCP packet: stamp the time, run, then notify listeners."""
        self.wrapper.lastTime = self.venue.clock.now_utc()
        self.wrapper.pendingTickers = set()
        for callback in callbacks:
            callback()
        self.wrapper.tcpDataProcessed()

    def deliver(self) -> bool:
        """Deliver every queued message; True when there was any."""
        delivered = False
        while self.outbox and self.connState == Client.CONNECTED:
            pending, self.outbox = self.outbox, []
            self.batch(pending)
            delivered = True
        return delivered

    def _request(self) -> None:
        """Every request first flushes what is on the wire (TCP keeps order), like send()."""
        self.deliver()
        if self.connState != Client.CONNECTED:
            raise ConnectionError("Not connected")

    def _refused(self, key: Any) -> bool:
        if self.venue.take_rate_limit():
            if isinstance(key, int):
                self.batch([lambda: self.wrapper.error(key, 100, PACING_TEXT, "")])
            else:
                self.venue.request_error(self, key, 100, PACING_TEXT)
            return True
        return False

    # -- orders -----------------------------------------------------------------------------------
    def placeOrder(self, orderId: int, contract: Contract, order: Order) -> None:  # noqa: N802, N803
        self._request()
        self.venue.place_order(self, orderId, contract, order)

    def cancelOrder(self, orderId: int, manualCancelOrderTime: str = "") -> None:  # noqa: N802, N803
        self._request()
        self.venue.cancel_order(self, orderId)

    def reqOpenOrders(self) -> None:  # noqa: N802
        self._request()
        if not self._refused("openOrders"):
            self.batch([lambda: self.venue.reply_open_orders(self, all_clients=False)])

    def reqAllOpenOrders(self) -> None:  # noqa: N802
        self._request()
        if not self._refused("openOrders"):
            self.batch([lambda: self.venue.reply_open_orders(self, all_clients=True)])

    def reqCompletedOrders(self, apiOnly: bool) -> None:  # noqa: N802, N803
        self._request()
        if not self._refused("completedOrders"):
            self.batch([lambda: self.venue.reply_completed_orders(self)])

    def reqExecutions(self, reqId: int, execFilter: ExecutionFilter) -> None:  # noqa: N802, N803
        self._request()
        if not self._refused(reqId):
            account = execFilter.acctCode
            self.batch([lambda: self.venue.reply_executions(self, reqId, account)])

    def reqGlobalCancel(self) -> None:  # noqa: N802
        self._request()
        for vo in list(self.venue.orders.values()):
            if vo.is_open:
                self.venue.cancel_order(self, vo.order_id)

    def reqAutoOpenOrders(self, bAutoBind: bool) -> None:  # noqa: N802, N803
        self._request()

    # -- account ----------------------------------------------------------------------------------
    def reqPositions(self) -> None:  # noqa: N802
        self._request()
        if not self._refused("positions"):
            self.batch([lambda: self.venue.reply_positions(self)])

    def reqAccountUpdates(self, subscribe: bool, acctCode: str) -> None:  # noqa: N802, N803
        self._request()
        if subscribe and not self._refused("accountValues"):
            self.batch([lambda: self.venue.reply_account_updates(self)])

    def reqAccountSummary(self, reqId: int, groupName: str, tags: str) -> None:  # noqa: N802, N803
        self._request()
        values = self.venue.account_values()

        def reply() -> None:
            for tag, value in values.items():
                self.wrapper.accountSummary(
                    reqId, self.venue.account, tag, format(value, "f"), "USD"
                )
            self.wrapper.accountSummaryEnd(reqId)

        self.batch([reply])

    def reqCurrentTime(self) -> None:  # noqa: N802
        self._request()
        epoch = int(self.venue.clock.now_utc().timestamp())
        self.batch([lambda: self.wrapper.currentTime(epoch)])

    # -- market data ------------------------------------------------------------------------------
    def reqContractDetails(self, reqId: int, contract: Contract) -> None:  # noqa: N802, N803
        self._request()
        if self._refused(reqId):
            return
        if not self.venue.is_known(contract):
            text = "No security definition has been found for the request"
            self.batch([lambda: self.wrapper.error(reqId, 200, text, "")])
            return
        details = self.venue.details(contract)

        def reply() -> None:
            self.wrapper.contractDetails(reqId, details)
            self.wrapper.contractDetailsEnd(reqId)

        self.batch([reply])

    def reqMktData(  # noqa: N802
        self,
        reqId: int,  # noqa: N803
        contract: Contract,
        genericTickList: str,  # noqa: N803
        snapshot: bool,
        regulatorySnapshot: bool,  # noqa: N803
        mktDataOptions: Any,  # noqa: N803
    ) -> None:
        self._request()
        if snapshot and self._refused(reqId):
            return
        ticks = self._ticks(reqId, contract, genericTickList)
        if snapshot:
            self.batch([*ticks, lambda: self.wrapper.tickSnapshotEnd(reqId)])
        else:
            for tick in ticks:
                self.queue(tick)

    def _ticks(self, req_id: int, contract: Contract, generic: str) -> list[Callable[[], None]]:
        wrapper, venue, symbol = self.wrapper, self.venue, contract.symbol
        if contract.secType == "OPT":
            return self._option_ticks(req_id, contract)
        if contract.secType == "IND":
            if not venue.index_data_subscribed:
                text = "Requested market data is not subscribed."
                return [lambda: wrapper.error(req_id, 354, text, "")]
            value = venue.index_values.get(symbol)
            if value is None:
                return []
            return [lambda: wrapper.priceSizeTick(req_id, 4, float(value), 0.0)]
        ticks: list[Callable[[], None]] = []
        if "225" in generic and symbol in venue.imbalances:
            size = float(venue.imbalances[symbol])
            ticks.append(lambda: wrapper.tickSize(req_id, 36, size))
        if "236" in generic and symbol in venue.shortable_ticks:
            flag = venue.shortable_ticks[symbol]
            ticks.append(lambda: wrapper.tickGeneric(req_id, 46, flag))
        if not generic and symbol in venue.quotes:
            bid, ask, last = (float(v) for v in venue.quotes[symbol])
            ticks.append(lambda: wrapper.priceSizeTick(req_id, 1, bid, 100.0))
            ticks.append(lambda: wrapper.priceSizeTick(req_id, 2, ask, 100.0))
            ticks.append(lambda: wrapper.priceSizeTick(req_id, 4, last, 10.0))
        return ticks

    def _option_ticks(self, req_id: int, contract: Contract) -> list[Callable[[], None]]:
        """Bid (1), ask (2), last (4) and close (9) of an option; a missing price sends no tick."""
        wrapper = self.wrapper
        if not self.venue.option_data_subscribed:
            text = "Requested market data is not subscribed."
            return [lambda: wrapper.error(req_id, 354, text, "")]
        prices = self.venue.option_quotes.get(self.venue.occ_symbol(contract), ())
        ticks: list[Callable[[], None]] = []
        for tick_type, price in zip((1, 2, 4, 9), prices, strict=False):
            if price is not None:
                ticks.append(self._price_tick(req_id, tick_type, float(price)))
        return ticks

    def _price_tick(self, req_id: int, tick_type: int, price: float) -> Callable[[], None]:
        return lambda: self.wrapper.priceSizeTick(req_id, tick_type, price, 1.0)

    def reqSecDefOptParams(  # noqa: N802
        self,
        reqId: int,  # noqa: N803
        underlyingSymbol: str,  # noqa: N803
        futFopExchange: str,  # noqa: N803
        underlyingSecType: str,  # noqa: N803
        underlyingConId: int,  # noqa: N803
    ) -> None:
        """One `OptionChain` per stored entry, as TWS answers for the underlying's conId."""
        self._request()
        venue = self.venue
        venue.secdef_requests.append(
            (underlyingSymbol, futFopExchange, underlyingSecType, underlyingConId)
        )
        if self._refused(reqId):
            return
        if underlyingConId != venue.stock_con_id(underlyingSymbol):
            text = "No security definition has been found for the request"
            self.batch([lambda: self.wrapper.error(reqId, 200, text, "")])
            return
        chains = venue.option_chains.get(underlyingSymbol, [])

        def reply() -> None:
            for c in chains:
                # The decoder hands the wrapper the conId as wire text, strikes as floats.
                con_id = cast(Any, str(underlyingConId))
                self.wrapper.securityDefinitionOptionParameter(
                    reqId,
                    c.exchange,
                    con_id,
                    c.tradingClass,
                    c.multiplier,
                    list(c.expirations),
                    list(c.strikes),
                )
            self.wrapper.securityDefinitionOptionParameterEnd(reqId)

        self.batch([reply])

    def cancelMktData(self, reqId: int) -> None:  # noqa: N802, N803
        self.deliver()

    def reqHistoricalData(  # noqa: N802
        self,
        reqId: int,  # noqa: N803
        contract: Contract,
        endDateTime: str,  # noqa: N803
        durationStr: str,  # noqa: N803
        barSizeSetting: str,  # noqa: N803
        whatToShow: str,  # noqa: N803
        useRTH: bool,  # noqa: N803
        formatDate: int,  # noqa: N803
        keepUpToDate: bool,  # noqa: N803
        chartOptions: Any,  # noqa: N803
    ) -> None:
        self._request()
        if self._refused(reqId):
            return
        amount, unit = durationStr.split()
        seconds = int(amount) * (86400 if unit == "D" else 1)
        symbol = contract.symbol
        self.batch([lambda: self.venue.reply_bars(self, reqId, symbol, seconds)])


class FakeIB(IB):
    """A real `ib_async.IB` talking to a `FakeIbVenue`; waiting moves the fake clock."""

    def __init__(self, venue: FakeIbVenue) -> None:
        super().__init__()
        self.venue = venue
        self.client = FakeClient(self.wrapper, venue)
        self.client.apiEnd += self.disconnectedEvent

    @property
    def fake_client(self) -> FakeClient:
        assert isinstance(self.client, FakeClient)
        return self.client

    def waitOnUpdate(self, timeout: float = 0) -> bool:  # noqa: N802 - ib_async's name
        if self.fake_client.deliver():
            return True
        if timeout <= 0:
            raise AssertionError("waitOnUpdate without a timeout would block forever")
        self.venue.clock.advance(timedelta(seconds=timeout))
        return self.fake_client.deliver()

    def sleep(self, secs: float = 0.02) -> bool:
        self.fake_client.deliver()
        if secs > 0:
            self.venue.clock.advance(timedelta(seconds=secs))
        return True


def fake_credentials(venue: FakeIbVenue, client_id: int = FAKE_CLIENT_ID) -> dict[str, str]:
    return {
        "IBKR_HOST": FAKE_HOST,
        "IBKR_PORT": str(FAKE_PORT),
        "IBKR_CLIENT_ID": str(client_id),
        "BROKER_ACCOUNT_NUMBER": venue.account,
    }


def make_fake_broker(
    venue: FakeIbVenue, *, connect: bool = True, settings: Any = None, **overrides: Any
) -> Broker:
    """An IBKR adapter wired to `venue` (connected unless told otherwise)."""
    overrides.setdefault("backoff_cap_s", HARNESS_BACKOFF_CAP_S)
    broker = create(
        fake_credentials(venue),
        settings=settings,
        clock=venue.clock,
        ib_factory=lambda: FakeIB(venue),
        **overrides,
    )
    if connect:
        broker.connect()
    return broker


class IbkrContractHarness:
    """`ContractHarness` for the IBKR adapter over `FakeIbVenue`."""

    name = "ibkr"

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock(datetime(2025, 7, 15, 14, 0, tzinfo=UTC))
        self.venue = FakeIbVenue(self.clock)

    def make_broker(self) -> Broker:
        return make_fake_broker(self.venue)

    def venue_order_ids(self, client_order_id: str) -> list[str]:
        return [str(vo.perm_id) for vo in self.venue.find(client_order_id)]

    def venue_fill(self, client_order_id: str, qty: Decimal, price: Decimal) -> None:
        self.venue.fill(client_order_id, qty, price)

    def venue_cancel(self, client_order_id: str) -> None:
        self.venue.venue_cancel(client_order_id)

    def script_reject_next_submit(self, reason: str) -> None:
        self.venue.reject_next = reason

    def script_timeout_after_accept(self) -> None:
        self.venue.silent_accepts += 1

    def script_server_errors(self, count: int, accept_first: bool) -> None:
        self.venue.server_errors = [accept_first and i == 0 for i in range(count)]

    def script_rate_limit(self, count: int) -> None:
        self.venue.rate_limits += count

    def script_disconnect(self) -> None:
        self.venue.go_offline()

    def restore_connection(self) -> None:
        """The gateway is back; time passes beyond the adapter's reconnect backoff."""
        self.venue.reachable = True
        self.clock.advance(timedelta(seconds=HARNESS_BACKOFF_CAP_S))


__all__ = [
    "FAKE_ACCOUNT",
    "FakeClient",
    "FakeIB",
    "FakeIbVenue",
    "IbkrContractHarness",
    "fake_credentials",
    "make_fake_broker",
]
