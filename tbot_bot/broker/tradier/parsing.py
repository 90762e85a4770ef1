"""Tradier shapes <-> our typed records (STYLE §2.5): Tradier JSON stops here.

Input documents come from `client.TradierClient`: numbers are Decimal, "null" strings are None.
Tradier has no client order id; we carry ours in the order `tag` (letters, digits and `-`, at most
255 characters, which our `[A-Za-z0-9-]{1,48}` ids always satisfy).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tbot_bot.broker.models import (
    Account,
    ActivityKind,
    ActivityReport,
    AssetClass,
    MarketClock,
    OptionContract,
    OrderReport,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
    Position,
    PositionIntent,
    TimeInForce,
)
from tbot_bot.clock import parse_iso_utc
from tbot_bot.errors import OrderRejectedError
from tbot_bot.market.bars import Bar, Quote
from tbot_bot.money import ZERO, to_decimal

EXCHANGE_TZ = ZoneInfo("America/New_York")  # Tradier's local times (clock, timesales) are ET
OCC_PATTERN = re.compile(r"^(?P<root>[A-Z]{1,6})(?P<expiry>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")

_STATE_BY_STATUS: Mapping[str, OrderState] = {
    "open": OrderState.ACCEPTED,
    "pending": OrderState.ACCEPTED,
    "calculated": OrderState.ACCEPTED,
    "accepted_for_bidding": OrderState.ACCEPTED,
    "held": OrderState.ACCEPTED,
    "partially_filled": OrderState.PARTIALLY_FILLED,
    "filled": OrderState.FILLED,
    "expired": OrderState.EXPIRED,
    "canceled": OrderState.CANCELLED,
    "rejected": OrderState.REJECTED,
    "error": OrderState.REJECTED,
}
_TYPE_BY_TEXT: Mapping[str, OrderType] = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "stop": OrderType.STOP,
    "stop_limit": OrderType.STOP,
    "debit": OrderType.LIMIT,
    "credit": OrderType.LIMIT,
    "even": OrderType.LIMIT,
}
_BUY_SIDES = frozenset({"buy", "buy_to_cover", "buy_to_open", "buy_to_close"})
_SELL_SIDES = frozenset({"sell", "sell_short", "sell_to_open", "sell_to_close"})
_INTENT_BY_SIDE: Mapping[str, PositionIntent] = {
    "buy": PositionIntent.OPEN_LONG,
    "buy_to_open": PositionIntent.OPEN_LONG,
    "sell": PositionIntent.CLOSE_LONG,
    "sell_to_close": PositionIntent.CLOSE_LONG,
    "sell_short": PositionIntent.OPEN_SHORT,
    "sell_to_open": PositionIntent.OPEN_SHORT,
    "buy_to_cover": PositionIntent.CLOSE_SHORT,
    "buy_to_close": PositionIntent.CLOSE_SHORT,
}
_EQUITY_SIDE: Mapping[tuple[OrderSide, PositionIntent], str] = {
    (OrderSide.BUY, PositionIntent.OPEN_LONG): "buy",
    (OrderSide.SELL, PositionIntent.CLOSE_LONG): "sell",
    # OPEN_LONG is OrderRequest's default: a SELL that kept it is a plain sell (an exit must never
    # fail on a missing intent); a short sale has to say OPEN_SHORT to become `sell_short`.
    (OrderSide.SELL, PositionIntent.OPEN_LONG): "sell",
    (OrderSide.SELL, PositionIntent.OPEN_SHORT): "sell_short",
    (OrderSide.BUY, PositionIntent.CLOSE_SHORT): "buy_to_cover",
}
_OPTION_SIDE: Mapping[tuple[OrderSide, PositionIntent], str] = {
    (OrderSide.BUY, PositionIntent.OPEN_LONG): "buy_to_open",
    (OrderSide.SELL, PositionIntent.CLOSE_LONG): "sell_to_close",
    (OrderSide.SELL, PositionIntent.OPEN_SHORT): "sell_to_open",
    (OrderSide.BUY, PositionIntent.CLOSE_SHORT): "buy_to_close",
}
_KIND_BY_EVENT: Mapping[str, ActivityKind] = {
    "dividend": ActivityKind.DIVIDEND,
    "interest": ActivityKind.INTEREST,
    "fee": ActivityKind.FEE,
    "tax": ActivityKind.TAX_WITHHELD,
    "journal": ActivityKind.JOURNAL,
}
_CASH_MOVES = frozenset({"ach", "wire", "check", "transfer"})


def dec(value: Any, field: str) -> Decimal:
    """A Decimal from a Tradier value (Decimal or int after decoding), naming `field`."""
    if value is None or isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValueError(f"Tradier field {field!r}: expected a number, got {value!r}")
    return to_decimal(value)


def opt_dec(value: Any, field: str) -> Decimal | None:
    return None if value is None or value == "" else dec(value, field)


def _epoch(value: Any, field: str, scale: int = 1) -> datetime:
    return datetime.fromtimestamp(int(dec(value, field)) / scale, tz=UTC)


def _side(text: str) -> OrderSide:
    if text in _BUY_SIDES:
        return OrderSide.BUY
    if text in _SELL_SIDES:
        return OrderSide.SELL
    raise ValueError(f"Tradier field 'side': unknown side {text!r}")


def option_from_occ(symbol: str) -> OptionContract | None:
    match = OCC_PATTERN.fullmatch(symbol)
    if match is None:
        return None
    return OptionContract(
        underlying=match["root"],
        expiry=datetime.strptime(match["expiry"], "%y%m%d").date(),  # noqa: DTZ007 - a date
        strike=Decimal(int(match["strike"])) / 1000,
        right=match["right"],
    )


# -- orders -------------------------------------------------------------------------------------
def order_report(raw: Mapping[str, Any]) -> OrderReport:
    filled = opt_dec(raw.get("exec_quantity"), "exec_quantity") or ZERO
    avg = opt_dec(raw.get("avg_fill_price"), "avg_fill_price")
    status = str(raw.get("status", ""))
    state = _STATE_BY_STATUS.get(status, OrderState.ACCEPTED)  # unknown: keep watching it
    if state is OrderState.ACCEPTED and filled > ZERO:
        state = OrderState.PARTIALLY_FILLED
    return OrderReport(
        client_order_id=str(raw.get("tag") or ""),
        broker_order_id=str(raw["id"]),
        symbol=str(raw.get("symbol", "")),
        side=_side(str(raw.get("side", ""))),
        qty=dec(raw.get("quantity"), "quantity"),
        filled_qty=filled,
        avg_fill_price=avg if avg is not None and avg > ZERO else None,
        state=state,
        order_type=_TYPE_BY_TEXT.get(str(raw.get("type", "")), OrderType.MARKET),
        submitted_at=parse_iso_utc(str(raw["create_date"])) if raw.get("create_date") else None,
        updated_at=(
            parse_iso_utc(str(raw["transaction_date"])) if raw.get("transaction_date") else None
        ),
        limit_price=opt_dec(raw.get("price"), "price"),
        stop_price=opt_dec(raw.get("stop"), "stop"),
        reject_reason=str(raw.get("reason_description") or status)
        if state is OrderState.REJECTED
        else None,
    )


def intent_for_side(side: str) -> PositionIntent | None:
    """What a Tradier order side says about the position (sell_short opens a short, ...)."""
    return _INTENT_BY_SIDE.get(side)


def _whole(value: Decimal, what: str) -> str:
    if value != value.to_integral_value():
        raise OrderRejectedError(f"TRADIER trades whole {what} only, got {value}")
    return str(int(value))


def order_form(request: OrderRequest) -> dict[str, str]:
    """The POST /v1/accounts/{id}/orders form for one request; our client id goes in `tag`.

    Raises:
        OrderRejectedError: for what Tradier cannot do (fractions, trailing stops, IOC).
    """
    if request.order_type is OrderType.TRAILING_STOP:
        raise OrderRejectedError("TRADIER has no native trailing stops; trail locally")
    if request.time_in_force is TimeInForce.IOC:
        raise OrderRejectedError("TRADIER has no IOC duration (day or gtc only)")
    key = (request.side, request.intent)
    form = {
        "type": request.order_type.value,
        "duration": request.time_in_force.value,
        "tag": request.client_order_id,
    }
    if request.option is not None:
        if key not in _OPTION_SIDE:
            raise OrderRejectedError(f"TRADIER: {request.side} cannot {request.intent}")
        form |= {
            "class": "option",
            "symbol": request.option.underlying,
            "option_symbol": request.option.occ_symbol,
            "side": _OPTION_SIDE[key],
            "quantity": _whole(request.qty, "contracts"),
        }
    else:
        if key not in _EQUITY_SIDE:
            raise OrderRejectedError(f"TRADIER: {request.side} cannot {request.intent}")
        form |= {
            "class": "equity",
            "symbol": request.symbol,
            "side": _EQUITY_SIDE[key],
            "quantity": _whole(request.qty, "shares"),
        }
    if request.limit_price is not None:
        form["price"] = format(request.limit_price.normalize(), "f")
    if request.stop_price is not None:
        form["stop"] = format(request.stop_price.normalize(), "f")
    return form


# -- account --------------------------------------------------------------------------------------
def position(raw: Mapping[str, Any]) -> Position:
    symbol = str(raw["symbol"])
    qty = dec(raw.get("quantity"), "quantity")
    cost = dec(raw.get("cost_basis"), "cost_basis")
    option = option_from_occ(symbol)
    multiplier = Decimal(option.multiplier) if option is not None else Decimal(1)
    avg = abs(cost) / (abs(qty) * multiplier) if qty != ZERO else ZERO
    return Position(
        symbol=symbol,
        qty=qty,  # Tradier signs short quantities negative, as we do
        avg_entry_price=avg,
        asset_class=AssetClass.OPTION if option is not None else AssetClass.EQUITY,
    )


def account(raw: Mapping[str, Any]) -> Account:
    kind = str(raw.get("account_type", ""))
    found = raw.get(kind)  # the "margin", "cash" or "pdt" block
    detail: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    if kind == "cash":
        buying_power = opt_dec(detail.get("cash_available"), "cash.cash_available")
    else:
        buying_power = opt_dec(detail.get("stock_buying_power"), f"{kind}.stock_buying_power")
    cash = dec(raw.get("total_cash"), "total_cash")
    return Account(
        account_id=str(raw.get("account_number", "")),
        equity=dec(raw.get("total_equity"), "total_equity"),
        cash=cash,
        buying_power=buying_power if buying_power is not None else cash,
        shorting_enabled=kind in {"margin", "pdt"},
    )


def market_clock(raw: Mapping[str, Any]) -> MarketClock:
    """Tradier's clock gives today's state and the local time of the next change."""
    now = _epoch(raw.get("timestamp"), "timestamp")
    state, next_state = str(raw.get("state", "")), str(raw.get("next_state", ""))
    change: datetime | None = None
    if raw.get("next_change") and raw.get("date"):
        local_day = date.fromisoformat(str(raw["date"]))
        at = time.fromisoformat(str(raw["next_change"]))
        change = datetime.combine(local_day, at, tzinfo=EXCHANGE_TZ).astimezone(UTC)
        if change <= now:
            change += timedelta(days=1)
    return MarketClock(
        timestamp=now,
        is_open=state == "open",
        next_open=change if next_state == "open" else None,
        next_close=change if state == "open" and next_state != "open" else None,
    )


def activity(raw: Mapping[str, Any], occurrence: int) -> ActivityReport | None:
    """One history event -> ActivityReport; trades are None (fills come from orders).

    History events carry no id, so the external id is a digest of the event's content plus its
    occurrence number among identical events: stable across reads of the same history.
    """
    kind_text = str(raw.get("type", ""))
    if kind_text == "trade":
        return None
    amount = dec(raw.get("amount"), "amount")
    # The detail block is usually named after the type (Tradier's own example names a dividend's
    # block "adjustment"), so fall back to the first nested object.
    blocks = [raw.get(kind_text), *raw.values()]
    detail: Mapping[str, Any] = next((b for b in blocks if isinstance(b, Mapping)), {})
    if kind_text in _CASH_MOVES:
        kind = ActivityKind.DEPOSIT if amount >= ZERO else ActivityKind.WITHDRAWAL
    else:
        kind = _KIND_BY_EVENT.get(kind_text, ActivityKind.OTHER)
    raw_type = kind_text
    if kind_text == "option" and detail.get("option_type"):
        raw_type = f"option:{detail['option_type']}"
    canonical = json.dumps(raw, sort_keys=True, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:20]
    return ActivityReport(
        external_id=f"hist-{digest}-{occurrence}",
        kind=kind,
        net_amount=amount,
        ts_utc=parse_iso_utc(str(raw["date"])),
        symbol=str(detail["symbol"]) if detail.get("symbol") else None,
        description=str(detail.get("description") or ""),
        raw_type=raw_type,
    )


def digest_key(raw: Mapping[str, Any]) -> str:
    """Content key used to number identical history events (see `activity`)."""
    return json.dumps(raw, sort_keys=True, default=str)


# -- market data --------------------------------------------------------------------------------
def quote(raw: Mapping[str, Any]) -> Quote | None:
    """A Quote, or None when bid, ask or last is missing (never an invented price)."""
    bid = opt_dec(raw.get("bid"), "bid")
    ask = opt_dec(raw.get("ask"), "ask")
    last = opt_dec(raw.get("last"), "last")
    stamps = [raw.get(name) for name in ("bid_date", "ask_date", "trade_date")]
    known = [_epoch(s, "quote date", scale=1000) for s in stamps if s]
    if bid is None or ask is None or last is None or not known or bid <= ZERO or ask <= ZERO:
        return None
    return Quote(symbol=str(raw["symbol"]), bid=bid, ask=ask, last=last, quote_ts=max(known))


def index_value(raw: Mapping[str, Any]) -> Decimal | None:
    """The last value of an index quote (VIX has no bid/ask worth reading)."""
    return opt_dec(raw.get("last"), "last")


def bar(symbol: str, raw: Mapping[str, Any]) -> Bar:
    if raw.get("timestamp") is not None:
        start = _epoch(raw["timestamp"], "timestamp")
    else:  # `time` is exchange-local without an offset
        naive = datetime.fromisoformat(str(raw["time"]))
        start = naive.replace(tzinfo=EXCHANGE_TZ).astimezone(UTC)
    volume = dec(raw.get("volume"), "volume")
    return Bar(
        symbol=symbol,
        ts_utc=start,
        open=dec(raw.get("open"), "open"),
        high=dec(raw.get("high"), "high"),
        low=dec(raw.get("low"), "low"),
        close=dec(raw.get("close"), "close"),
        volume=int(volume),
        vwap=opt_dec(raw.get("vwap"), "vwap"),
    )
