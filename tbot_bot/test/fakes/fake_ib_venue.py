"""The venue behind the fake IB Gateway: orders, executions, positions, cash, market data, faults.

It answers through ib_async's own `Wrapper` callbacks (openOrder, orderStatus, execDetails,
commissionReport, position, updateAccountValue, error, ...), so the adapter under test sees the
real ib_async state machine (Trade, OrderStatus, Fill, ...) fed exactly as TWS would feed it.
Answers to an order are queued and reach the client on its next pump (`waitOnUpdate`, `sleep`
or any request), like bytes waiting on a socket. Amounts are Decimal here and become IB's wire
floats only inside the callbacks.

Fault scripts (each acts on the next order requests, or the next requests for rate limits):
- `reject_next`: the next order is refused with error 201 and the reason;
- `silent_accepts`: the next order lands at the venue but its acknowledgement is lost;
- `server_errors`: the gateway loses and regains its link to IB (1100 / 1102) while the order is
  in transit; `True` entries land at the venue first, `False` ones are lost;
- `rate_limits`: the next N requests are refused with error 100 (pacing);
- `go_offline()`: the socket drops and connections are refused until `reachable` again;
- `client_id_in_use`: the next connect is refused with error 326;
- `withhold_commissions`: commission reports of new fills never arrive.

Options: `option_chains` holds what `reqSecDefOptParams` answers per underlying (ib_async
`OptionChain` objects), `option_quotes` the snapshot ticks per OCC symbol (bid, ask, last,
close; None sends no tick) and `option_data_subscribed` = False answers snapshots with 354.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from ib_async import (
    BarData,
    CommissionReport,
    Contract,
    ContractDetails,
    Execution,
    OptionChain,
    Order,
    OrderState,
    RequestError,
    util,
)

from tbot_bot.clock import FakeClock
from tbot_bot.money import ZERO

if TYPE_CHECKING:
    from tbot_bot.test.fakes.fake_ib import FakeClient

FAKE_ACCOUNT = "DU0000001"  # obviously fake paper-account number
SERVER_VERSION = 176
OPEN = "Submitted"
FILLED = "Filled"
CANCELLED = "Cancelled"
LINK_LOST_TEXT = "Connectivity between IB and Trader Workstation has been lost."
LINK_KEPT_TEXT = (
    "Connectivity between IB and Trader Workstation has been restored - data maintained."
)
PACING_TEXT = "Max rate of messages per second has been exceeded:max=50 rec=51 (1)"


@dataclass
class VenueOrder:
    perm_id: int
    order_id: int
    client_id: int
    contract: Contract
    order: Order
    status: str = OPEN
    filled: Decimal = ZERO
    notional: Decimal = ZERO
    last_price: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return Decimal(repr(self.order.totalQuantity))

    @property
    def avg_price(self) -> Decimal:
        return self.notional / self.filled if self.filled else ZERO

    @property
    def is_open(self) -> bool:
        return self.status not in (FILLED, CANCELLED)


@dataclass
class VenuePosition:
    contract: Contract
    qty: Decimal = ZERO
    avg_cost: Decimal = ZERO  # per share, or per contract (x multiplier) for options


@dataclass
class FakeIbVenue:
    """One account at a fake IB, reached through `FakeClient` connections."""

    clock: FakeClock
    account: str = FAKE_ACCOUNT
    cash: Decimal = Decimal("100000.00")
    commission_per_share: Decimal = Decimal("0.005")
    commission_per_contract: Decimal = Decimal("0.65")
    min_commission: Decimal = Decimal("1.00")
    logged_in_accounts: list[str] = field(default_factory=lambda: [FAKE_ACCOUNT])
    reachable: bool = True
    client_id_in_use: bool = False
    reject_next: str | None = None
    silent_accepts: int = 0
    server_errors: list[bool] = field(default_factory=list)
    rate_limits: int = 0
    withhold_commissions: bool = False  # commission reports never arrive (grace-period tests)
    quotes: dict[str, tuple[Decimal, Decimal, Decimal]] = field(default_factory=dict)
    index_values: dict[str, Decimal] = field(default_factory=dict)
    index_data_subscribed: bool = True
    bars: dict[str, list[tuple[datetime, str, str, str, str, int, str]]] = field(
        default_factory=dict
    )
    imbalances: dict[str, int] = field(default_factory=dict)
    shortable_ticks: dict[str, float] = field(default_factory=dict)
    unknown_symbols: set[str] = field(default_factory=set)
    option_chains: dict[str, list[OptionChain]] = field(default_factory=dict)
    option_quotes: dict[str, tuple[Decimal | None, ...]] = field(default_factory=dict)
    option_data_subscribed: bool = True
    secdef_requests: list[tuple[str, str, str, int]] = field(default_factory=list)
    orders: dict[int, VenueOrder] = field(default_factory=dict)
    executions: list[tuple[Contract, Execution, CommissionReport]] = field(default_factory=list)
    positions: dict[int, VenuePosition] = field(default_factory=dict)
    withheld: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    clients: dict[int, FakeClient] = field(default_factory=dict)
    next_order_id: int = 1
    _next_perm: int = 900_001
    _next_exec: int = 1
    _con_ids: dict[tuple[Any, ...], int] = field(default_factory=dict)

    # -- contracts -----------------------------------------------------------------------------
    def qualified(self, contract: Contract) -> Contract:
        """A copy with a stable conId (and OCC local symbol for options), like TWS returns."""
        key = (
            contract.secType,
            contract.symbol,
            contract.lastTradeDateOrContractMonth,
            contract.strike,
            contract.right,
        )
        con_id = self._con_ids.setdefault(key, 10_000 + len(self._con_ids))
        result = Contract.create(**{**util.dataclassAsDict(contract), "conId": con_id})
        if contract.secType == "OPT":
            strike = int(Decimal(repr(contract.strike)) * 1000)
            expiry = contract.lastTradeDateOrContractMonth[2:8]
            result.localSymbol = f"{contract.symbol:<6}{expiry}{contract.right}{strike:08d}"
            result.multiplier = contract.multiplier or "100"
        return result

    def is_known(self, contract: Contract) -> bool:
        if contract.secType == "IND":
            return contract.symbol in self.index_values or contract.symbol == "VIX"
        if contract.symbol in self.unknown_symbols:
            return False
        if contract.secType == "OPT" and contract.symbol in self.option_chains:
            return self._listed(contract)
        return True

    def _listed(self, contract: Contract) -> bool:
        """An option exists when a SMART chain of its underlying lists its expiry and strike."""
        return any(
            chain.exchange == "SMART"
            and contract.lastTradeDateOrContractMonth in chain.expirations
            and contract.strike in chain.strikes
            for chain in self.option_chains[contract.symbol]
        )

    def stock_con_id(self, symbol: str) -> int:
        """The conId `qualified` gives the SMART stock `symbol`."""
        return self.qualified(Contract(secType="STK", symbol=symbol)).conId

    def occ_symbol(self, contract: Contract) -> str:
        """The OCC key of an option contract (its local symbol without padding)."""
        return self.qualified(contract).localSymbol.replace(" ", "")

    def details(self, contract: Contract) -> ContractDetails:
        return ContractDetails(contract=self.qualified(contract), minTick=0.01)

    # -- connections ---------------------------------------------------------------------------
    def attach(self, client: FakeClient) -> None:
        """Accept a connection; a previous socket of the same client id is dropped (restart)."""
        old = self.clients.get(client.clientId)
        if old is not None and old is not client:
            old.drop(replaced=True)
        self.clients[client.clientId] = client

    def detach(self, client: FakeClient) -> None:
        if self.clients.get(client.clientId) is client:
            del self.clients[client.clientId]

    def go_offline(self) -> None:
        self.reachable = False
        for client in list(self.clients.values()):
            client.drop()

    def announce(self, code: int, text: str) -> None:
        """A system message to every connection (1100 link lost, 1102 restored, ...)."""
        self._to_all(lambda c: lambda: c.wrapper.error(-1, code, text, ""))

    def take_rate_limit(self) -> bool:
        self.requests.append("request")
        if self.rate_limits > 0:
            self.rate_limits -= 1
            return True
        return False

    def _to(self, client_id: int, callback: Callable[[], None]) -> None:
        """Queue a message for the connection of `client_id` (lost when nobody is connected)."""
        client = self.clients.get(client_id)
        if client is not None:
            client.queue(callback)

    def _to_all(self, callback_for: Callable[[FakeClient], Callable[[], None]]) -> None:
        for client in list(self.clients.values()):
            client.queue(callback_for(client))

    # -- orders --------------------------------------------------------------------------------
    def place_order(
        self, client: FakeClient, order_id: int, contract: Contract, order: Order
    ) -> None:
        self.next_order_id = max(self.next_order_id, order_id + 1)
        wrapper = client.wrapper
        if self.take_rate_limit():
            client.queue(lambda: wrapper.error(order_id, 100, PACING_TEXT, ""))
            return
        if self.server_errors:
            if self.server_errors.pop(0):
                self._accept(client, order_id, contract, order, silent=True)
            client.queue(lambda: wrapper.error(-1, 1100, LINK_LOST_TEXT, ""))
            client.queue(lambda: wrapper.error(-1, 1102, LINK_KEPT_TEXT, ""))
            return
        if self.reject_next is not None:
            text = f"Order rejected - reason:{self.reject_next}"
            self.reject_next = None
            client.queue(lambda: wrapper.error(order_id, 201, text, ""))
            return
        silent = self.silent_accepts > 0
        self.silent_accepts -= 1 if silent else 0
        self._accept(client, order_id, contract, order, silent=silent)

    def _accept(
        self, client: FakeClient, order_id: int, contract: Contract, order: Order, *, silent: bool
    ) -> None:
        perm_id = self._next_perm
        self._next_perm += 1
        held = copy.copy(order)
        held.permId, held.clientId, held.orderId = perm_id, client.clientId, order_id
        held.account = held.account or self.account
        venue_order = VenueOrder(perm_id, order_id, client.clientId, self.qualified(contract), held)
        self.orders[perm_id] = venue_order
        if not silent:
            client.queue(lambda: self.send_order(client, venue_order))

    def send_order(self, client: FakeClient, vo: VenueOrder) -> None:
        """openOrder + orderStatus, as TWS sends for a new, changed or requested open order."""
        client.wrapper.openOrder(
            vo.order_id, vo.contract, copy.copy(vo.order), OrderState(vo.status)
        )
        self.send_status(client, vo)

    def send_status(self, client: FakeClient, vo: VenueOrder) -> None:
        client.wrapper.orderStatus(
            vo.order_id,
            vo.status,
            float(vo.filled),
            float(vo.total - vo.filled),
            float(vo.avg_price),
            vo.perm_id,
            0,
            float(vo.last_price),
            vo.client_id,
            "",
            0.0,
        )

    def find(self, order_ref: str) -> list[VenueOrder]:
        return [vo for vo in self.orders.values() if vo.order.orderRef == order_ref]

    def cancel_order(self, client: FakeClient, order_id: int) -> None:
        wrapper = client.wrapper
        if self.take_rate_limit():
            client.queue(lambda: wrapper.error(order_id, 100, PACING_TEXT, ""))
            return
        matches = [
            vo
            for vo in self.orders.values()
            if vo.client_id == client.clientId and vo.order_id == order_id
        ]
        if not matches:
            text = f"OrderId {order_id} that needs to be cancelled is not found."
            client.queue(lambda: wrapper.error(order_id, 10147, text, ""))
            return
        vo = matches[0]
        if not vo.is_open:
            text = f"Cancel attempted when order is not in a cancellable state. permId={vo.perm_id}"
            client.queue(lambda: wrapper.error(order_id, 161, text, ""))
            return
        vo.status = CANCELLED
        client.queue(lambda: self.send_status(client, vo))
        client.queue(lambda: wrapper.error(order_id, 202, "Order Canceled - reason:", ""))

    def venue_cancel(self, order_ref: str) -> None:
        """The venue cancels on its own (end of day, risk): status only, no 202."""
        for vo in self.find(order_ref):
            if vo.is_open:
                vo.status = CANCELLED
                self._to(vo.client_id, self._status_sender(vo))

    def _status_sender(self, vo: VenueOrder) -> Callable[[], None]:
        return lambda: self._status_to(vo)

    def _status_to(self, vo: VenueOrder) -> None:
        client = self.clients.get(vo.client_id)
        if client is not None:
            self.send_status(client, vo)

    # -- fills ---------------------------------------------------------------------------------
    def fill(self, order_ref: str, qty: Decimal, price: Decimal) -> Execution:
        """Execute `qty` of the open order carrying `order_ref` at `price`."""
        live = [vo for vo in self.find(order_ref) if vo.is_open]
        if not live:
            raise AssertionError(f"no open venue order with orderRef {order_ref}")
        vo = live[0]
        if qty <= ZERO or vo.filled + qty > vo.total:
            raise AssertionError(f"cannot fill {qty} of {order_ref}: {vo.filled}/{vo.total}")
        vo.filled += qty
        vo.notional += qty * price
        vo.last_price = price
        vo.status = FILLED if vo.filled == vo.total else OPEN
        buy = vo.order.action == "BUY"
        option = vo.contract.secType == "OPT"
        multiplier = Decimal(int(vo.contract.multiplier or 1)) if option else Decimal(1)
        rate = self.commission_per_contract if option else self.commission_per_share
        commission = max(self.min_commission, qty * rate)
        execution = Execution(
            execId=f"0000e{self._next_exec:04x}.{vo.perm_id}.01.01",
            time=self.clock.now_utc(),
            acctNumber=self.account,
            exchange="ISLAND",
            side="BOT" if buy else "SLD",
            shares=float(qty),
            price=float(price),
            permId=vo.perm_id,
            clientId=vo.client_id,
            orderId=vo.order_id,
            cumQty=float(vo.filled),
            avgPrice=float(vo.avg_price),
            orderRef=order_ref,
        )
        self._next_exec += 1
        report = CommissionReport(execution.execId, float(commission), "USD", 0.0, 0.0, 0)
        self.executions.append((vo.contract, execution, report))
        signed = qty if buy else -qty
        self.cash -= signed * price * multiplier + commission
        position = self._book(vo.contract, signed, price * multiplier)
        self._to(vo.client_id, lambda: self._status_to(vo))
        self._to(vo.client_id, lambda: self._execution_to(vo.client_id, -1, vo.contract, execution))
        if not self.withhold_commissions:
            self._to(vo.client_id, lambda: self._commission_to(vo.client_id, report))
        else:
            self.withheld.add(execution.execId)
        self._to_all(lambda c: lambda: self.send_position(c, position))
        self._to_all(lambda c: lambda: self.send_account(c, download_end=False))
        return execution

    def _book(self, contract: Contract, signed: Decimal, unit_cost: Decimal) -> VenuePosition:
        position = self.positions.setdefault(contract.conId, VenuePosition(contract))
        new_qty = position.qty + signed
        same_direction = position.qty == ZERO or (position.qty > ZERO) == (signed > ZERO)
        if new_qty == ZERO:
            position.avg_cost = ZERO
        elif same_direction:
            position.avg_cost = (
                position.avg_cost * abs(position.qty) + unit_cost * abs(signed)
            ) / abs(new_qty)
        elif (new_qty > ZERO) != (position.qty > ZERO):
            position.avg_cost = unit_cost  # flipped through zero
        position.qty = new_qty
        return position

    def _execution_to(self, client_id: int, req_id: int, contract: Contract, ex: Execution) -> None:
        client = self.clients.get(client_id)
        if client is not None:
            client.wrapper.execDetails(req_id, contract, copy.copy(ex))

    def _commission_to(self, client_id: int, report: CommissionReport) -> None:
        client = self.clients.get(client_id)
        if client is not None:
            client.wrapper.commissionReport(copy.copy(report))

    # -- replies to requests -------------------------------------------------------------------
    def send_position(self, client: FakeClient, position: VenuePosition) -> None:
        client.wrapper.position(
            self.account, position.contract, float(position.qty), float(position.avg_cost)
        )
        last = self._mark(position)
        multiplier = Decimal(int(position.contract.multiplier or 1))
        client.wrapper.updatePortfolio(
            position.contract,
            float(position.qty),
            float(last),
            float(position.qty * last * multiplier),
            float(position.avg_cost),
            0.0,
            0.0,
            self.account,
        )

    def _mark(self, position: VenuePosition) -> Decimal:
        quote = self.quotes.get(position.contract.symbol)
        if quote is not None and position.contract.secType == "STK":
            return quote[2]
        multiplier = Decimal(int(position.contract.multiplier or 1))
        return position.avg_cost / multiplier

    def account_values(self) -> dict[str, Decimal]:
        market = sum(
            (p.qty * self._mark(p) * Decimal(int(p.contract.multiplier or 1)))
            for p in self.positions.values()
        )
        net_liq = self.cash + Decimal(market)
        return {
            "NetLiquidation": net_liq,
            "TotalCashValue": self.cash,
            "BuyingPower": net_liq * 4,
            "AvailableFunds": net_liq,
        }

    def send_account(self, client: FakeClient, *, download_end: bool = True) -> None:
        for tag, value in self.account_values().items():
            client.wrapper.updateAccountValue(tag, format(value, "f"), "USD", self.account)
        if download_end:
            client.wrapper.accountDownloadEnd(self.account)

    def reply_positions(self, client: FakeClient) -> None:
        for position in self.positions.values():
            if position.qty != ZERO:
                client.wrapper.position(
                    self.account, position.contract, float(position.qty), float(position.avg_cost)
                )
        client.wrapper.positionEnd()

    def reply_account_updates(self, client: FakeClient) -> None:
        for position in self.positions.values():
            if position.qty != ZERO:
                self.send_position(client, position)
        self.send_account(client)

    def reply_open_orders(self, client: FakeClient, *, all_clients: bool) -> None:
        for vo in self.orders.values():
            if vo.is_open and (all_clients or vo.client_id == client.clientId):
                self.send_order(client, vo)
        client.wrapper.openOrderEnd()

    def reply_completed_orders(self, client: FakeClient) -> None:
        for vo in self.orders.values():
            if not vo.is_open:
                order = copy.copy(vo.order)
                order.filledQuantity = float(vo.filled)
                state = OrderState(status=vo.status, completedStatus=vo.status)
                client.wrapper.completedOrder(vo.contract, order, state)
        client.wrapper.completedOrdersEnd()

    def reply_executions(self, client: FakeClient, req_id: int, account: str) -> None:
        chosen = [e for e in self.executions if account in ("", e[1].acctNumber)]
        for contract, execution, _ in chosen:
            client.wrapper.execDetails(req_id, contract, copy.copy(execution))
        for _, _, report in chosen:
            if report.execId not in self.withheld:
                client.wrapper.commissionReport(copy.copy(report))
        client.wrapper.execDetailsEnd(req_id)

    def reply_bars(self, client: FakeClient, req_id: int, symbol: str, seconds: int) -> None:
        now = self.clock.now_utc().timestamp()
        for start, open_, high, low, close, volume, vwap in self.bars.get(symbol, []):
            epoch = int(start.timestamp())
            if now - seconds <= epoch < now:
                # The decoder hands the wrapper the date as text ("1752586200" with formatDate=2).
                text_date = cast(Any, str(epoch))
                bar = BarData(text_date, float(open_), float(high), float(low), float(close))
                bar.volume, bar.average, bar.barCount = float(volume), float(vwap), 1
                client.wrapper.historicalData(req_id, bar)
        client.wrapper.historicalDataEnd(req_id, "", "")

    def request_error(self, client: FakeClient, key: Any, code: int, text: str) -> None:
        """Fail a pending request the way ib_async does with RaiseRequestErrors."""
        client.wrapper._endReq(key, RequestError(-1, code, text), success=False)
