"""ib_async objects <-> TradeBot models: pure functions, no I/O (STYLE §2.5).

ib_async decodes the wire text into binary floats. `ib_decimal` recovers the decimal text through
`repr`, the shortest string that maps back to the same float: for prices and quantities (at most
15 significant digits) that is exactly what the gateway sent, so no binary error enters our
Decimal amounts. Unset values (nan, IB's UNSET_DOUBLE, -1 "no quote") become None.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from ib_async import (
    AccountValue,
    BarData,
    Contract,
    Fill,
    Option,
    Order,
    OrderStatus,
    Stock,
    Ticker,
    Trade,
    TradeLogEntry,
)
from ib_async import Position as IbPosition
from ib_async.util import UNSET_DOUBLE

from tbot_bot.broker.ibkr.errors import CANCEL_CODES, WARNING_CODES, clean_message
from tbot_bot.broker.models import (
    Account,
    AssetClass,
    FillReport,
    OptionContract,
    OrderReport,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
    Position,
    TimeInForce,
)
from tbot_bot.errors import BrokerError, DataError, OrderRejectedError
from tbot_bot.market.bars import Bar, Quote
from tbot_bot.money import ZERO

SMART = "SMART"
USD = "USD"
IN_FLIGHT_STATUSES = frozenset({OrderStatus.PendingSubmit, OrderStatus.ApiPending})
DEAD_STATUSES = frozenset({OrderStatus.Cancelled, OrderStatus.ApiCancelled, OrderStatus.Inactive})
_TYPE_TO_IB = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.STOP: "STP",
    OrderType.TRAILING_STOP: "TRAIL",
}
# Orders placed outside the bot may use other IB types; they map to the nearest of ours.
_TYPE_FROM_IB = {
    "MKT": OrderType.MARKET,
    "MOC": OrderType.MARKET,
    "LMT": OrderType.LIMIT,
    "LOC": OrderType.LIMIT,
    "STP": OrderType.STOP,
    "STP LMT": OrderType.STOP,
    "TRAIL": OrderType.TRAILING_STOP,
    "TRAIL LIMIT": OrderType.TRAILING_STOP,
}
_TIF_TO_IB = {TimeInForce.DAY: "DAY", TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC"}
_HUNDRED = Decimal(100)
_LOG_PREFIX = re.compile(r"^(?:Error|Warning) -?\d+, reqId -?\d+: ")  # ib_async's log wrapping


# -- numbers ------------------------------------------------------------------------------------
def ib_decimal(value: float | int | str | Decimal | None) -> Decimal | None:
    """An IB number as Decimal, or None when IB marks it unset (nan, inf, UNSET_DOUBLE)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        if not math.isfinite(value) or value == UNSET_DOUBLE:
            return None
        result = Decimal(repr(value))
        # repr(10.0) is "10.0": whole numbers (share counts above all) come back without ".0".
        return result.quantize(Decimal(1)) if result == result.to_integral_value() else result
    text = str(value).strip()
    if not text:
        return None
    try:
        result = Decimal(text)
    except ArithmeticError:
        return None
    return result if result.is_finite() else None


def positive(value: float | int | str | Decimal | None) -> Decimal | None:
    """A price or size that must be > 0; IB's -1 "no quote" and zero become None."""
    number = ib_decimal(value)
    return number if number is not None and number > ZERO else None


def _aware_utc(value: datetime | date | None) -> datetime | None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        return None
    return value.astimezone(UTC)


# -- contracts ----------------------------------------------------------------------------------
def stock_contract(symbol: str) -> Stock:
    """A SMART-routed USD stock or ETF."""
    return Stock(symbol, SMART, USD)


def option_to_ib(option: OptionContract) -> Option:
    """Our OptionContract -> an IB Option; never built from a ticker string (trading spec §5).

    IB's `strike` field is a float: strikes carry at most 4 decimals, so the float's shortest
    text (what ib_async writes on the wire) is the strike exactly.
    """
    return Option(
        symbol=option.underlying,
        lastTradeDateOrContractMonth=option.expiry.strftime("%Y%m%d"),
        strike=float(option.strike),
        right=option.right,
        exchange=SMART,
        multiplier=str(option.multiplier),
        currency=USD,
    )


def option_from_ib(contract: Contract) -> OptionContract:
    """An IB option contract -> OptionContract; malformed fields raise DataError."""
    try:
        text = contract.lastTradeDateOrContractMonth[:8]
        expiry = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        strike = ib_decimal(contract.strike)
        right = (contract.right or "")[:1].upper()
        multiplier = int(contract.multiplier or 100)
        if strike is None:
            raise ValueError("strike unset")
        return OptionContract(contract.symbol, expiry, strike, right, multiplier)
    except ValueError as exc:
        raise DataError(
            f"IBKR option contract {contract.localSymbol!r} is malformed: {exc}"
        ) from exc


def contract_for_request(request: OrderRequest) -> Contract:
    return (
        option_to_ib(request.option)
        if request.option is not None
        else stock_contract(request.symbol)
    )


def instrument_symbol(contract: Contract) -> str:
    """The key a position is reported under: the ticker, or the OCC symbol of an option."""
    if contract.secType == "OPT":
        return option_from_ib(contract).occ_symbol
    return contract.symbol


# -- orders -------------------------------------------------------------------------------------
def whole_quantity(qty: Decimal) -> float:
    """IB's `totalQuantity` is a float; whole shares and contracts below 2**53 are exact."""
    if qty != qty.to_integral_value():
        raise OrderRejectedError(f"IBKR trades whole shares and contracts only, got qty {qty}")
    return float(int(qty))


def build_ib_order(request: OrderRequest, account: str) -> Order:
    """An OrderRequest -> IB Order; `orderRef` carries our client_order_id both ways."""
    order = Order(
        action="BUY" if request.side is OrderSide.BUY else "SELL",
        totalQuantity=whole_quantity(request.qty),
        orderType=_TYPE_TO_IB[request.order_type],
        tif=_TIF_TO_IB[request.time_in_force],
        orderRef=request.client_order_id,
        account=account,
        outsideRth=False,
        transmit=True,
    )
    if request.limit_price is not None:
        order.lmtPrice = request.limit_price
    if request.stop_price is not None:
        order.auxPrice = request.stop_price
    if request.trail_percent is not None:
        # IB wants whole percent (2.25), our request carries the fraction (0.0225).
        order.trailingPercent = (request.trail_percent * _HUNDRED).normalize()
    return order


def side_from_action(action: str) -> OrderSide:
    return OrderSide.BUY if action.upper() == "BUY" else OrderSide.SELL


def side_from_execution(side: str) -> OrderSide:
    """Executions say BOT / SLD."""
    return OrderSide.BUY if side.upper() in {"BOT", "BUY"} else OrderSide.SELL


def order_type_from_ib(order: Order) -> OrderType:
    mapped = _TYPE_FROM_IB.get(order.orderType.upper())
    if mapped is not None:
        return mapped
    return OrderType.LIMIT if positive(order.lmtPrice) is not None else OrderType.MARKET


def filled_qty(trade: Trade) -> Decimal:
    """The largest filled quantity any source reports (status, fills, completed-order field)."""
    candidates = [ib_decimal(trade.orderStatus.filled), ib_decimal(trade.order.filledQuantity)]
    candidates.append(sum((ib_decimal(f.execution.shares) or ZERO for f in trade.fills), ZERO))
    return max((c for c in candidates if c is not None), default=ZERO)


def avg_fill_price(trade: Trade) -> Decimal | None:
    reported = positive(trade.orderStatus.avgFillPrice)
    if reported is not None:
        return reported
    qty = ZERO
    notional = ZERO
    for fill in trade.fills:
        shares = ib_decimal(fill.execution.shares) or ZERO
        price = ib_decimal(fill.execution.price) or ZERO
        qty += shares
        notional += shares * price
    return notional / qty if qty > ZERO else None


def fatal_error(trade: Trade) -> TradeLogEntry | None:
    """The last error that ended the order (not a warning, not a cancel confirmation)."""
    for entry in reversed(trade.log):
        code = entry.errorCode
        warning = code in WARNING_CODES or 2100 <= code < 2200
        if code and not warning and code not in CANCEL_CODES:
            return entry
    return None


def order_state(trade: Trade) -> tuple[OrderState, str | None]:
    """Map IB's order status (plus its error log) to our state and a reject reason."""
    status = trade.orderStatus.status
    filled = filled_qty(trade)
    total = ib_decimal(trade.order.totalQuantity) or ZERO
    if status == OrderStatus.Filled or (total > ZERO and filled >= total):
        return OrderState.FILLED, None
    if status in IN_FLIGHT_STATUSES:
        return OrderState.IN_FLIGHT, None
    if status in DEAD_STATUSES:
        error = fatal_error(trade)
        if filled > ZERO:
            return OrderState.CANCELLED, None
        if error is not None:
            text = clean_message(_LOG_PREFIX.sub("", error.message))
            return OrderState.REJECTED, f"IBKR error {error.errorCode}: {text}"
        if status == OrderStatus.Inactive:
            return OrderState.REJECTED, "IBKR marked the order inactive"
        return OrderState.CANCELLED, None
    # PreSubmitted, Submitted, ApiUpdate, PendingCancel and ValidationError (a warning) are live.
    return (OrderState.PARTIALLY_FILLED if filled > ZERO else OrderState.ACCEPTED), None


def client_order_id_of(trade: Trade) -> str:
    """Our id from `orderRef`; orders placed outside the bot get a synthetic IB-<permId> id."""
    return trade.order.orderRef or f"IB-{trade.order.permId or trade.orderStatus.permId}"


def order_report(trade: Trade, submitted_at: datetime | None = None) -> OrderReport:
    """The venue's view of one order. `submitted_at` is the adapter's own (injected-clock) send
    time when it sent the order: ib_async stamps its first log entry from the system clock."""
    state, reason = order_state(trade)
    perm_id = trade.order.permId or trade.orderStatus.permId
    times = [t for t in (_aware_utc(entry.time) for entry in trade.log) if t is not None]
    if submitted_at is not None:
        times = [submitted_at, *times[1:]]
    return OrderReport(
        client_order_id=client_order_id_of(trade),
        broker_order_id=str(perm_id) if perm_id else None,
        symbol=trade.contract.symbol,
        side=side_from_action(trade.order.action),
        qty=ib_decimal(trade.order.totalQuantity) or ZERO,
        filled_qty=filled_qty(trade),
        avg_fill_price=avg_fill_price(trade),
        state=state,
        order_type=order_type_from_ib(trade.order),
        submitted_at=times[0] if times else None,
        updated_at=times[-1] if times else None,
        limit_price=positive(trade.order.lmtPrice),
        stop_price=positive(trade.order.auxPrice) if trade.order.orderType == "STP" else None,
        reject_reason=reason,
    )


# -- executions ---------------------------------------------------------------------------------
def commission_known(fill: Fill) -> bool:
    """A commission report has arrived for this execution."""
    report = fill.commissionReport
    return bool(report.execId) and ib_decimal(report.commission) is not None


def fill_report(fill: Fill, *, fee_missing: bool = False) -> FillReport:
    """An IB execution -> FillReport; `execId` is the stable external id across sessions."""
    execution = fill.execution
    when = _aware_utc(execution.time)
    qty = positive(execution.shares)
    price = positive(execution.price)
    if when is None or qty is None or price is None:
        raise DataError(f"IBKR execution {execution.execId!r} lacks time, shares or price")
    fee = ZERO if fee_missing else abs(ib_decimal(fill.commissionReport.commission) or ZERO)
    option = option_from_ib(fill.contract) if fill.contract.secType == "OPT" else None
    return FillReport(
        external_id=execution.execId,
        client_order_id=execution.orderRef or None,
        broker_order_id=str(execution.permId),
        symbol=fill.contract.symbol,
        side=side_from_execution(execution.side),
        qty=qty,
        price=price,
        fee=fee,
        ts_utc=when,
        asset_class=AssetClass.OPTION if option is not None else AssetClass.EQUITY,
        option=option,
    )


# -- account and positions ----------------------------------------------------------------------
def position_from_ib(position: IbPosition, market_price: Decimal | None = None) -> Position:
    """Signed quantity; an option's average cost per contract is divided by its multiplier."""
    contract = position.contract
    qty = ib_decimal(position.position) or ZERO
    avg_cost = ib_decimal(position.avgCost) or ZERO
    asset_class = AssetClass.EQUITY
    if contract.secType == "OPT":
        asset_class = AssetClass.OPTION
        avg_cost = avg_cost / Decimal(int(contract.multiplier or 100))
    return Position(
        symbol=instrument_symbol(contract),
        qty=qty,
        avg_entry_price=avg_cost,
        market_price=market_price,
        asset_class=asset_class,
    )


def _tag_value(values: Iterable[AccountValue], tag: str) -> Decimal | None:
    """A tag's USD value (IB also reports BASE and other currencies for some tags)."""
    by_currency = {v.currency: v.value for v in values if v.tag == tag}
    for currency in (USD, "BASE", ""):
        if currency in by_currency:
            return ib_decimal(by_currency[currency])
    return None


def account_from_values(values: list[AccountValue], account: str) -> Account:
    """NetLiquidation -> equity, TotalCashValue -> cash, BuyingPower -> buying power."""
    mine = [v for v in values if v.account == account]
    equity = _tag_value(mine, "NetLiquidation")
    cash = _tag_value(mine, "TotalCashValue")
    buying_power = _tag_value(mine, "BuyingPower")
    if equity is None or cash is None or buying_power is None:
        raise BrokerError("IBKR account values lack NetLiquidation, TotalCashValue or BuyingPower")
    return Account(
        account_id=account,
        equity=equity,
        cash=cash,
        buying_power=buying_power,
        currency=USD,
        # Cash accounts cannot short; IB reports no reliable flag over the socket API, so the
        # capability stays on and the venue's reject (not_shortable) is the final word.
        shorting_enabled=True,
    )


# -- market data --------------------------------------------------------------------------------
def bar_from_ib(symbol: str, bar: BarData) -> Bar:
    """A 1-minute IB bar (formatDate=2: aware UTC start time) -> Bar."""
    start = _aware_utc(bar.date)
    values = [positive(v) for v in (bar.open, bar.high, bar.low, bar.close)]
    if start is None or any(v is None for v in values):
        raise DataError(f"IBKR bar of {symbol} at {bar.date!r} lacks a UTC time or a price")
    open_, high, low, close = (v for v in values if v is not None)
    volume = ib_decimal(bar.volume) or ZERO
    return Bar(
        symbol=symbol,
        ts_utc=start,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=int(volume),
        vwap=positive(bar.average),
    )


def quote_from_ticker(symbol: str, ticker: Ticker, now_utc: datetime) -> Quote | None:
    """Bid, ask and last (close when nothing traded yet); None when the book is empty."""
    bid = positive(ticker.bid)
    ask = positive(ticker.ask)
    last = positive(ticker.last) or positive(ticker.close)
    if bid is None or ask is None or last is None or ask < bid:
        return None
    stamp = _aware_utc(ticker.time) or now_utc
    return Quote(symbol=symbol, bid=bid, ask=ask, last=last, quote_ts=stamp)


def index_value(ticker: Ticker) -> Decimal | None:
    """An index has no book: its last value, else the previous close."""
    return positive(ticker.last) or positive(ticker.close)
