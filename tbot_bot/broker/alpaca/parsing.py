"""Alpaca shapes <-> our typed records (STYLE §2.5): Alpaca JSON stops here.

Trading objects arrive as alpaca-py models whose money fields are decimal strings; account
activities and market data arrive as raw JSON (alpaca-py models would turn their prices into
floats), decoded with Decimal numbers by `transport.BoundedSession`. Every parser names the field
it could not read, so a changed wire format fails loudly instead of posting a wrong amount.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from alpaca.trading.models import Clock as AlpacaClock
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import Position as AlpacaPosition
from alpaca.trading.models import TradeAccount

from tbot_bot.broker.models import (
    Account,
    ActivityKind,
    ActivityReport,
    AssetClass,
    AssetInfo,
    FillReport,
    MarketClock,
    OrderReport,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
    Position,
    PositionIntent,
)
from tbot_bot.clock import parse_iso_utc, require_utc
from tbot_bot.errors import OrderRejectedError
from tbot_bot.market.bars import Bar, Quote
from tbot_bot.money import ZERO, to_decimal

_HUNDRED = Decimal(100)
_WORD = re.compile(r"[A-Za-z0-9]+")

# Alpaca order status -> our state. Statuses that still work the order stay open (ACCEPTED, or
# PARTIALLY_FILLED once something filled); `replaced` ends this order (a new one carries on).
_STATE_BY_STATUS: Mapping[str, OrderState] = {
    "filled": OrderState.FILLED,
    "canceled": OrderState.CANCELLED,
    "expired": OrderState.EXPIRED,
    "rejected": OrderState.REJECTED,
    "replaced": OrderState.CANCELLED,
    "partially_filled": OrderState.PARTIALLY_FILLED,
}

# Alpaca order types we may meet (our own, or orders placed by hand) -> ours.
_TYPE_BY_TEXT: Mapping[str, OrderType] = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "stop": OrderType.STOP,
    "stop_limit": OrderType.STOP,
    "trailing_stop": OrderType.TRAILING_STOP,
}

# Alpaca non-trade activity codes -> broker-neutral kinds (accounting spec §6.3). The raw code is
# kept on every report, so the accounting mapping (keyed on Alpaca's names) loses nothing.
_KIND_BY_ACTIVITY: Mapping[str, ActivityKind] = {
    "DIV": ActivityKind.DIVIDEND,
    "DIVTXEX": ActivityKind.DIVIDEND,
    "DIVCGL": ActivityKind.CAPITAL_GAIN_DISTRIBUTION,
    "DIVCGS": ActivityKind.CAPITAL_GAIN_DISTRIBUTION,
    "DIVNRA": ActivityKind.TAX_WITHHELD,
    "DIVTW": ActivityKind.TAX_WITHHELD,
    "DIVWH": ActivityKind.TAX_WITHHELD,
    "INTNRA": ActivityKind.TAX_WITHHELD,
    "INTTW": ActivityKind.TAX_WITHHELD,
    "WH": ActivityKind.TAX_WITHHELD,
    "INT": ActivityKind.INTEREST,
    "FEE": ActivityKind.FEE,
    "CFEE": ActivityKind.FEE,
    "DIVFEE": ActivityKind.FEE,
    "PTC": ActivityKind.FEE,
    "PTR": ActivityKind.FEE,
    "CSD": ActivityKind.DEPOSIT,
    "CSW": ActivityKind.WITHDRAWAL,
    "JNLC": ActivityKind.JOURNAL,
}


def dec(value: Any, field: str) -> Decimal:
    """A Decimal from an Alpaca value, naming `field` when it is missing or malformed.

    alpaca-py types a few order fields `str | float`; Alpaca sends decimal strings there. Should a
    JSON number ever arrive, repr() gives back the shortest text that round-trips, which is the
    number Alpaca sent for any price or quantity under 15 significant digits.
    """
    if isinstance(value, float):
        value = repr(value)
    if value is None or isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"Alpaca field {field!r}: expected a number, got {value!r}")
    try:
        return to_decimal(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Alpaca field {field!r}: not a number: {value!r}") from exc


def opt_dec(value: Any, field: str) -> Decimal | None:
    return None if value is None or value == "" else dec(value, field)


def _enum_text(value: Any) -> str:
    """The wire text of an alpaca-py enum member (or a plain string)."""
    return str(getattr(value, "value", value))


def ts(value: Any, field: str) -> datetime:
    """An aware UTC datetime from an SDK datetime or an RFC 3339 string (nanoseconds allowed)."""
    if isinstance(value, datetime):
        return require_utc(value, f"Alpaca field {field!r}")
    if isinstance(value, str) and value:
        return parse_iso_utc(value)
    raise ValueError(f"Alpaca field {field!r}: expected a timestamp, got {value!r}")


# -- trading objects ---------------------------------------------------------------------------
def order_state(status: str, filled_qty: Decimal) -> OrderState:
    """Our order state for an Alpaca status; a live order with fills is PARTIALLY_FILLED."""
    state = _STATE_BY_STATUS.get(status)
    if state is not None:
        return state
    return OrderState.PARTIALLY_FILLED if filled_qty > ZERO else OrderState.ACCEPTED


def order_report(order: AlpacaOrder) -> OrderReport:
    filled = opt_dec(order.filled_qty, "filled_qty") or ZERO
    status = _enum_text(order.status)
    order_type = _enum_text(order.type or order.order_type)
    avg = opt_dec(order.filled_avg_price, "filled_avg_price")
    return OrderReport(
        client_order_id=order.client_order_id,
        broker_order_id=str(order.id),
        symbol=order.symbol or "",
        side=OrderSide(_enum_text(order.side)),
        qty=dec(order.qty, "qty"),
        filled_qty=filled,
        avg_fill_price=avg if avg is not None and avg > ZERO else None,
        state=order_state(status, filled),
        order_type=_TYPE_BY_TEXT.get(order_type, OrderType.MARKET),
        submitted_at=ts(order.submitted_at, "submitted_at"),
        updated_at=ts(order.updated_at, "updated_at"),
        limit_price=opt_dec(order.limit_price, "limit_price"),
        stop_price=opt_dec(order.stop_price, "stop_price"),
        reject_reason=status if status == "rejected" else None,
    )


def position(raw: AlpacaPosition) -> Position:
    qty = abs(dec(raw.qty, "qty"))
    signed = -qty if _enum_text(raw.side) == "short" else qty
    asset_class = (
        AssetClass.OPTION if _enum_text(raw.asset_class) == "us_option" else AssetClass.EQUITY
    )
    return Position(
        symbol=raw.symbol,
        qty=signed,
        avg_entry_price=dec(raw.avg_entry_price, "avg_entry_price"),
        market_price=opt_dec(raw.current_price, "current_price"),
        asset_class=asset_class,
    )


def account(raw: TradeAccount) -> Account:
    return Account(
        account_id=raw.account_number,
        equity=dec(raw.equity, "equity"),
        cash=dec(raw.cash, "cash"),
        buying_power=dec(raw.buying_power, "buying_power"),
        currency=raw.currency or "USD",
        shorting_enabled=bool(raw.shorting_enabled),
    )


def market_clock(raw: AlpacaClock) -> MarketClock:
    return MarketClock(
        timestamp=ts(raw.timestamp, "timestamp"),
        is_open=bool(raw.is_open),
        next_open=ts(raw.next_open, "next_open"),
        next_close=ts(raw.next_close, "next_close"),
    )


# -- outgoing order payload --------------------------------------------------------------------
def wire_decimal(value: Decimal) -> str:
    """Plain decimal text for the wire (no exponent, no trailing zeros): 2.2500 -> '2.25'."""
    return format(value.normalize(), "f")


def order_payload(request: OrderRequest) -> dict[str, str]:
    """The POST /v2/orders body for one request, with exact decimal strings.

    alpaca-py's request models hold quantities and prices as float; Alpaca's API takes decimal
    strings, so the body is built here and sent through the SDK's own client.

    Raises:
        OrderRejectedError: for what Alpaca cannot do (options in v1, fractional trailing stops).
    """
    if request.asset_class is AssetClass.OPTION:
        raise OrderRejectedError("ALPACA adapter does not trade options in v1")
    payload = {
        "symbol": request.symbol,
        "qty": wire_decimal(request.qty),
        "side": request.side.value,
        "type": request.order_type.value,
        "time_in_force": request.time_in_force.value,
        "client_order_id": request.client_order_id,
    }
    if request.limit_price is not None:
        payload["limit_price"] = wire_decimal(request.limit_price)
    if request.stop_price is not None:
        payload["stop_price"] = wire_decimal(request.stop_price)
    if request.trail_percent is not None:
        if request.qty != request.qty.to_integral_value():
            raise OrderRejectedError(
                "ALPACA native trailing stops need whole shares; trail fractions locally"
            )
        # Our trail is a fraction (0.0225); Alpaca's trail_percent is whole percent (2.25).
        payload["trail_percent"] = wire_decimal(request.trail_percent * _HUNDRED)
    return payload


# -- account activities (raw JSON) -------------------------------------------------------------
def fill_from_activity(raw: Mapping[str, Any], client_order_id: str | None) -> FillReport:
    """One FILL activity -> FillReport; the activity id is the stable external id."""
    side_text = str(raw.get("side", ""))
    # Alpaca reports short sales as side "sell_short" in the activity feed.
    side = OrderSide.BUY if side_text == "buy" else OrderSide.SELL
    if side_text not in {"buy", "sell", "sell_short"}:
        raise ValueError(f"Alpaca field 'side': unknown fill side {side_text!r}")
    return FillReport(
        external_id=str(raw["id"]),
        client_order_id=client_order_id,
        broker_order_id=str(raw["order_id"]),
        symbol=str(raw["symbol"]),
        side=side,
        qty=dec(raw.get("qty"), "qty"),
        price=dec(raw.get("price"), "price"),
        fee=ZERO,  # Alpaca charges no commission; regulatory fees arrive as FEE activities
        ts_utc=ts(raw.get("transaction_time"), "transaction_time"),
        intent=PositionIntent.OPEN_SHORT if side_text == "sell_short" else None,
    )


def _activity_time(raw: Mapping[str, Any]) -> datetime:
    for name in ("transaction_time", "created_at"):
        if raw.get(name):
            return ts(raw[name], name)
    # Non-trade activities carry only a settlement date: stamp it at 00:00 UTC of that date.
    day = date.fromisoformat(str(raw["date"]))
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def activity_from_raw(raw: Mapping[str, Any]) -> ActivityReport:
    """One non-trade activity -> ActivityReport (unknown codes become OTHER, code kept)."""
    code = str(raw.get("activity_type", ""))
    symbol = raw.get("symbol")
    return ActivityReport(
        external_id=str(raw["id"]),
        kind=_KIND_BY_ACTIVITY.get(code, ActivityKind.OTHER),
        net_amount=dec(raw.get("net_amount"), "net_amount"),
        ts_utc=_activity_time(raw),
        symbol=str(symbol) if symbol else None,
        description=str(raw.get("description") or ""),
        raw_type=code,
    )


# -- market data (raw JSON, Decimal numbers) ---------------------------------------------------
def quote_from_raw(
    symbol: str, quote: Mapping[str, Any], trade: Mapping[str, Any] | None
) -> Quote | None:
    """Latest quote + latest trade -> Quote; None when a side of the book or the last is missing."""
    bid = opt_dec(quote.get("bp"), "bp")
    ask = opt_dec(quote.get("ap"), "ap")
    last = opt_dec(trade.get("p"), "p") if trade else None
    if bid is None or ask is None or last is None or bid <= ZERO or ask <= ZERO:
        return None  # never invent a price: the caller sees the symbol as missing
    return Quote(symbol=symbol, bid=bid, ask=ask, last=last, quote_ts=ts(quote.get("t"), "t"))


def bar_from_raw(symbol: str, raw: Mapping[str, Any]) -> Bar:
    volume = raw.get("v")
    if isinstance(volume, Decimal) and volume == volume.to_integral_value():
        volume = int(volume)
    if not isinstance(volume, int) or isinstance(volume, bool):
        raise ValueError(f"Alpaca field 'v': expected whole shares, got {volume!r}")
    return Bar(
        symbol=symbol,
        ts_utc=ts(raw.get("t"), "t"),
        open=dec(raw.get("o"), "o"),
        high=dec(raw.get("h"), "h"),
        low=dec(raw.get("l"), "l"),
        close=dec(raw.get("c"), "c"),
        volume=volume,
        vwap=opt_dec(raw.get("vw"), "vw"),
    )


# -- assets ------------------------------------------------------------------------------------
def _flag(raw: Mapping[str, Any], field: str) -> bool | None:
    """A JSON boolean; anything else is unknown (the provider then asks the adapter)."""
    value = raw.get(field)
    return value if isinstance(value, bool) else None


def asset_type(name: str | None, attributes: Any) -> str:
    """`etf` or `common` for a `us_equity` asset (Alpaca's asset has no security type).

    Rule: `etf` when an attribute reads "etf" or the name has the word ETF (e.g. "SPDR S&P 500
    ETF Trust"), else `common`. ETFs whose name lacks the word (e.g. "Invesco QQQ Trust") stay
    `common`; an enrichment provider or the filters' ETF handling must not rely on this alone.
    """
    listed = attributes if isinstance(attributes, list) else []
    if any(str(item).strip().lower() == "etf" for item in listed):
        return "etf"
    words = {word.upper() for word in _WORD.findall(name or "")}
    return "etf" if "ETF" in words else "common"


def asset_from_raw(raw: Mapping[str, Any]) -> AssetInfo | None:
    """One `GET /v2/assets` row; None for a row that is not a US equity or has no symbol.

    `shortable` folds in `easy_to_borrow`, as `AlpacaBroker.is_shortable` does: Alpaca only
    accepts shorts of easy-to-borrow names.
    """
    symbol = raw.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip() or raw.get("class") != "us_equity":
        return None
    name = raw.get("name") if isinstance(raw.get("name"), str) else None
    exchange = raw.get("exchange")
    shortable, borrow = _flag(raw, "shortable"), _flag(raw, "easy_to_borrow")
    if shortable is True and borrow is not None:
        shortable = borrow
    return AssetInfo(
        symbol=symbol.strip().upper(),
        exchange=exchange if isinstance(exchange, str) and exchange else None,
        asset_type=asset_type(name, raw.get("attributes")),
        name=name or None,
        active=raw.get("status") == "active",
        tradable=_flag(raw, "tradable"),
        fractionable=_flag(raw, "fractionable"),
        shortable=shortable,
        easy_to_borrow=borrow,
    )
