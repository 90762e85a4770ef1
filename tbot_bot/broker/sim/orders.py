"""A live order inside the SIM venue: its creation, the venue's acceptance checks, its report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from tbot_bot.broker.models import OrderReport, OrderRequest, OrderSide, OrderState, TimeInForce
from tbot_bot.broker.sim.fill_model import WorkingOrder, is_marketable
from tbot_bot.broker.sim.replay import SymbolTape
from tbot_bot.errors import InsufficientFundsError, OrderRejectedError
from tbot_bot.market.bars import Quote
from tbot_bot.money import SIX_DP, ZERO


@dataclass(slots=True)
class SimOrder:
    """Mutable venue-side order; only the SIM broker touches it, under its lock."""

    request: OrderRequest
    broker_order_id: str
    tape: SymbolTape
    state: OrderState
    working: WorkingOrder
    next_bar: int  # index of the next bar of `tape` to match
    submitted_at: datetime
    updated_at: datetime
    expires_at: datetime | None  # DAY/IOC: end of the session it was placed into
    price_estimate: Decimal | None  # for the buying-power check of later orders
    filled_qty: Decimal = ZERO
    filled_notional: Decimal = ZERO
    fill_count: int = 0

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def is_open(self) -> bool:
        state = self.state
        return state is OrderState.ACCEPTED or state is OrderState.PARTIALLY_FILLED

    @property
    def avg_fill_price(self) -> Decimal | None:
        if self.filled_qty <= ZERO:
            return None
        return (self.filled_notional / self.filled_qty).quantize(SIX_DP, ROUND_HALF_EVEN)

    def report(self) -> OrderReport:
        request = self.request
        return OrderReport(
            client_order_id=request.client_order_id,
            broker_order_id=self.broker_order_id,
            symbol=request.symbol,
            side=request.side,
            qty=request.qty,
            filled_qty=self.filled_qty,
            avg_fill_price=self.avg_fill_price,
            state=self.state,
            order_type=request.order_type,
            submitted_at=self.submitted_at,
            updated_at=self.updated_at,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
        )


def new_sim_order(
    request: OrderRequest,
    broker_order_id: str,
    tape: SymbolTape,
    quote: Quote | None,
    now: datetime,
    price_estimate: Decimal | None,
) -> SimOrder:
    """An accepted order, matched from the first bar starting at or after `now`.

    DAY and IOC orders expire at the end of the session of that first bar. A trailing stop
    starts its peak/trough at the last price (or, before any bar, at the first bar's open).
    """
    first = tape.first_index_at_or_after(now)
    expires_at = None
    if request.time_in_force is not TimeInForce.GTC and first < len(tape.bars):
        expires_at = tape.session_ends[first]
    working = WorkingOrder(
        side=request.side,
        order_type=request.order_type,
        remaining=request.qty,
        limit_price=request.limit_price,
        stop_price=request.stop_price,
        trail_fraction=request.trail_percent,
        trail_extreme=quote.last if quote else None,
        marketable=is_marketable(request.side, request.order_type, request.limit_price, quote),
    )
    return SimOrder(
        request=request,
        broker_order_id=broker_order_id,
        tape=tape,
        state=OrderState.ACCEPTED,
        working=working,
        next_bar=first,
        submitted_at=now,
        updated_at=now,
        expires_at=expires_at,
        price_estimate=price_estimate,
    )


def check_inventory_and_cash(
    request: OrderRequest,
    *,
    open_orders: Iterable[SimOrder],
    position_qty: Decimal,
    cash: Decimal,
    estimate: Decimal | None,
    fractional: bool,
    shortable: bool,
) -> None:
    """The venue's acceptance checks; a refusal raises like a broker's 4xx would.

    A sell beyond the long position (net of open sells) is a short sale for the excess: the
    symbol must be shortable and the quantity whole. A buy needs cash for qty x (limit or ask)
    on top of what open buys already reserve; with no price known yet nothing is checked.
    """
    symbol = request.symbol
    orders = list(open_orders)
    if request.side is OrderSide.SELL:
        pending = sum(
            (
                o.working.remaining
                for o in orders
                if o.request.symbol == symbol and o.request.side is OrderSide.SELL
            ),
            ZERO,
        )
        if request.qty > max(position_qty - pending, ZERO):
            if not shortable:
                raise OrderRejectedError(f"SIM: {symbol} is not shortable")
            if fractional:
                raise OrderRejectedError("SIM: short sales must be whole shares")
        return
    if estimate is None:
        return
    reserved = sum(
        (
            o.working.remaining * o.price_estimate
            for o in orders
            if o.request.side is OrderSide.BUY and o.price_estimate is not None
        ),
        ZERO,
    )
    cost = request.qty * estimate
    if cost > cash - reserved:
        raise InsufficientFundsError(
            f"SIM: buying {request.qty} {symbol} needs about {cost:.2f}, "
            f"available {cash - reserved:.2f}"
        )
