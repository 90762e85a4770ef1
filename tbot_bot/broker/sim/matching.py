"""The SIM venue's order matching: accepted orders, their matching against due bars, the fills.

`SimMatchingEngine` accepts orders (after the venue's checks), matches every open one against the
bars that have become due, executes fills into the account book (`book.py`) and keeps the fills
sorted by time for `get_fills(since)`. Equities match with the backtester's `fill_model`; puts fill
at the synthetic quote of the bar's open (`options.py`). The engine never reads the clock: the
broker hands it the instant to match up to, and it never goes back in time.

It is separate from `broker.py` because matching is the venue's internal machinery; the broker
module keeps the `Broker` interface (locking, faults, the clock, market data, account views).
Not thread-safe on its own: only `SimBroker` calls it, under its lock.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal

from tbot_bot.broker.base import DuplicateClientOrderIdError
from tbot_bot.broker.models import (
    AssetClass,
    FillReport,
    OptionContract,
    OrderRequest,
    OrderState,
    OrderType,
    TimeInForce,
)
from tbot_bot.broker.sim.book import SimBook
from tbot_bot.broker.sim.fill_model import (
    FillModelConfig,
    fill_fee,
    is_fractional,
    match_bar,
    quote_from_bar,
    slippage_fraction,
)
from tbot_bot.broker.sim.options import check_option_request, option_fill_price
from tbot_bot.broker.sim.orders import SimOrder, check_inventory_and_cash, new_sim_order
from tbot_bot.broker.sim.replay import SymbolTape
from tbot_bot.errors import OrderRejectedError
from tbot_bot.market.bars import Quote
from tbot_bot.money import ZERO

OptionQuoter = Callable[[OptionContract, Decimal, datetime], Quote | None]


class SimMatchingEngine:
    """Orders, matching and fills of the SIM venue (see the module docstring)."""

    def __init__(
        self,
        tapes: Mapping[str, SymbolTape],
        book: SimBook,
        config: FillModelConfig,
        start: datetime,
        *,
        option_quote_at: OptionQuoter,
        is_shortable: Callable[[str], bool],
        supports_fractional: Callable[[str], bool],
        enforce_unique_client_ids: bool = True,
    ) -> None:
        self._tapes = tapes
        self._book = book
        self._config = config
        self._option_quote_at = option_quote_at  # synthetic put quote: contract, spot, instant
        self._is_shortable = is_shortable
        self._supports_fractional = supports_fractional
        # A real broker refuses a second order with the same client id; switching that off
        # lets the contract suite count what a careless caller would have created.
        self._enforce_unique = enforce_unique_client_ids
        self.orders: dict[str, list[SimOrder]] = {}  # client order id -> venue orders
        self.open: dict[str, SimOrder] = {}  # broker order id -> open order
        self.contracts: dict[str, OptionContract] = {}  # OCC symbol -> contract ever ordered
        self._fills: list[FillReport] = []
        self._fill_keys: list[tuple[datetime, int]] = []  # (ts, delivery number), sorted
        self.delivered: list[FillReport] = []  # the same fills in delivery order
        self._next_order_no = 1
        self.synced_to = start

    # -- matching --------------------------------------------------------------------------------
    def sync(self, now: datetime) -> None:
        """Match every open order against the bars due by `now`."""
        if now < self.synced_to:
            now = self.synced_to  # the venue never goes back in time
        for order in list(self.open.values()):
            self._advance_order(order, now)
        self.synced_to = now

    def _advance_order(self, order: SimOrder, now: datetime) -> None:
        if order.request.option is not None:
            self._advance_option(order, now)
            return
        bars = order.tape.bars
        latency = self._config.latency
        while order.is_open and order.next_bar < len(bars):
            bar = bars[order.next_bar]
            fill_ts = bar.ts_utc + latency
            if fill_ts > now or (order.expires_at is not None and bar.ts_utc >= order.expires_at):
                break
            working = order.working
            slippage = (
                slippage_fraction(self._config, f"{order.client_order_id}|{order.fill_count}")
                if working.marketable
                else ZERO
            )
            match = match_bar(
                working, bar, self._config, slippage=slippage, bar_complete=bar.end_utc <= now
            )
            if match.needs_complete_bar:
                break
            order.working = match.order
            order.next_bar += 1
            if match.qty > ZERO and match.price is not None:
                self.execute(order, match.qty, match.price, fill_ts)
            if order.is_open and order.request.time_in_force is TimeInForce.IOC:
                self.finish(order, OrderState.CANCELLED, fill_ts)
        if order.is_open and order.expires_at is not None and now >= order.expires_at:
            self.finish(order, OrderState.EXPIRED, order.expires_at)

    def _advance_option(self, order: SimOrder, now: datetime) -> None:
        """Like an equity, from the first bar at or after the send, at that bar open's synthetic
        quote (buy at the ask, sell at the bid, within the limit); the whole quantity at once."""
        contract = order.request.option
        assert contract is not None  # noqa: S101 - only option orders come here
        bars = order.tape.bars
        while order.is_open and order.next_bar < len(bars):
            bar = bars[order.next_bar]
            fill_ts = bar.ts_utc + self._config.latency
            if fill_ts > now or (order.expires_at is not None and bar.ts_utc >= order.expires_at):
                break
            order.next_bar += 1
            quote = self._option_quote_at(contract, bar.open, bar.ts_utc)
            price = option_fill_price(order.request, quote)
            if price is not None:
                qty = order.working.remaining
                order.working = order.working.after_fill(qty, partial_done=True)
                self.execute(order, qty, price, fill_ts)
            elif order.request.time_in_force is TimeInForce.IOC:
                self.finish(order, OrderState.CANCELLED, fill_ts)
        if order.is_open and order.expires_at is not None and now >= order.expires_at:
            self.finish(order, OrderState.EXPIRED, order.expires_at)

    def execute(self, order: SimOrder, qty: Decimal, price: Decimal, ts: datetime) -> FillReport:
        """Fill `qty` of `order` at `price`: book it, update the order, record the fill."""
        request = order.request
        fee = fill_fee(qty, self._config, first_fill_of_order=order.fill_count == 0)
        order.fill_count += 1
        option = request.option
        symbol = option.occ_symbol if option else request.symbol
        multiplier = option.multiplier if option else 1
        self._book.apply_fill(symbol, request.side, qty, price, fee, multiplier)
        order.filled_qty += qty
        order.filled_notional += qty * price
        order.updated_at = ts
        if order.working.remaining <= ZERO:
            self.finish(order, OrderState.FILLED, ts)
        else:
            order.state = OrderState.PARTIALLY_FILLED
        fill = FillReport(
            external_id=f"{order.broker_order_id}-F{order.fill_count:03d}",
            client_order_id=request.client_order_id,
            broker_order_id=order.broker_order_id,
            symbol=symbol,
            side=request.side,
            qty=qty,
            price=price,
            fee=fee,
            ts_utc=ts,
            asset_class=request.asset_class,
            option=option,
            intent=request.intent,
        )
        # Fills are kept sorted by time for `get_fills(since)`. A touched limit is only known at
        # its bar's end but stamped at bar start + latency, so it can land before a fill that was
        # delivered earlier: insert in place rather than append.
        key = (ts, len(self.delivered))
        index = bisect.bisect_right(self._fill_keys, key)
        self._fill_keys.insert(index, key)
        self._fills.insert(index, fill)
        self.delivered.append(fill)
        return fill

    def finish(self, order: SimOrder, state: OrderState, ts: datetime) -> None:
        """Close `order` in `state` (filled, cancelled, expired) at `ts`."""
        order.state = state
        order.updated_at = max(order.updated_at, ts)
        self.open.pop(order.broker_order_id, None)

    def fills_since(self, since_utc: datetime | None) -> list[FillReport]:
        """Fills with `ts_utc >= since_utc` (all when None), in time order."""
        if since_utc is None:
            return list(self._fills)
        start = bisect.bisect_left(self._fill_keys, (since_utc, -1))
        return self._fills[start:]

    def open_order(self, client_order_id: str) -> SimOrder:
        for order in self.orders.get(client_order_id, []):
            if order.is_open:
                return order
        raise ValueError(f"SIM holds no open order with client id {client_order_id}")

    # -- acceptance ------------------------------------------------------------------------------
    def accept(self, request: OrderRequest, now: datetime) -> SimOrder:
        """Check `request` as the venue would and open it, or raise the venue's refusal."""
        cid = request.client_order_id
        if self._enforce_unique and cid in self.orders:
            raise DuplicateClientOrderIdError(f"SIM already holds an order with client id {cid}")
        if request.asset_class is AssetClass.OPTION:
            return self._accept_option(request, now)
        tape = self._tapes.get(request.symbol)
        if tape is None:
            raise OrderRejectedError(f"SIM: symbol {request.symbol!r} is not in the replay")
        fractional = is_fractional(request.qty)
        if fractional and not self._supports_fractional(request.symbol):
            raise OrderRejectedError(f"SIM: {request.symbol} is not fractionable")
        if fractional and request.order_type not in {OrderType.MARKET, OrderType.LIMIT}:
            raise OrderRejectedError("SIM: fractional orders must be market or limit orders")
        last = tape.last_completed(now)
        quote = quote_from_bar(last, self._config.spread_bps) if last else None
        estimate = request.limit_price or (quote.ask if quote else None)
        check_inventory_and_cash(
            request,
            open_orders=self.open.values(),
            position_qty=self._book.qty(request.symbol),
            cash=self._book.cash,
            estimate=estimate,
            fractional=fractional,
            shortable=self._is_shortable(request.symbol),
        )
        order = new_sim_order(request, f"SIM-{self._next_order_no:08d}", tape, quote, now, estimate)
        self._next_order_no += 1
        self.orders.setdefault(cid, []).append(order)
        self.open[order.broker_order_id] = order
        return order

    def _accept_option(self, request: OrderRequest, now: datetime) -> SimOrder:
        """An order for a synthetic put: qty in contracts, cash checked with the multiplier."""
        contract = request.option
        tape = self._tapes.get(contract.underlying) if contract else None
        refusal = check_option_request(request, tape is not None)
        if refusal is not None or contract is None or tape is None:
            raise OrderRejectedError(f"SIM: {refusal}")
        self.contracts[contract.occ_symbol] = contract
        quote = self.option_quote_now(contract)
        unit = request.limit_price or (quote.ask if quote else None)
        estimate = None if unit is None else unit * contract.multiplier
        check_inventory_and_cash(
            request,
            open_orders=self.open.values(),
            position_qty=self._book.qty(contract.occ_symbol),
            cash=self._book.cash,
            estimate=estimate,
            fractional=False,
            shortable=False,  # the SIM does not write options
        )
        order = new_sim_order(request, f"SIM-{self._next_order_no:08d}", tape, None, now, estimate)
        self._next_order_no += 1
        self.orders.setdefault(request.client_order_id, []).append(order)
        self.open[order.broker_order_id] = order
        return order

    def option_quote_now(self, contract: OptionContract) -> Quote | None:
        """The synthetic quote of `contract` at the close of its underlying's last completed bar."""
        tape = self._tapes.get(contract.underlying)
        bar = tape.last_completed(self.synced_to) if tape else None
        if bar is None:
            return None
        return self._option_quote_at(contract, bar.close, bar.end_utc)
