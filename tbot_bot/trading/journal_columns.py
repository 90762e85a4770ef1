"""How the order journal stores broker models in SQLite columns, and reads them back.

Quantities and prices are exact decimal text (never exponent notation, never floats), fees integer
cents, an option contract canonical JSON. These encoders and decoders are shared by every journal
table (`orders`, `fills`).

It is separate from `order_journal.py` because the column representation is independent of what
the journal means (intent records, the order state machine, idempotent fills); keeping it apart
lets the journal read as the state machine it is.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from decimal import Decimal

from tbot_bot.broker.models import (
    AssetClass,
    FillReport,
    OptionContract,
    OrderRequest,
    OrderSide,
    OrderType,
    PositionIntent,
    TimeInForce,
)
from tbot_bot.clock import parse_iso_utc
from tbot_bot.money import from_minor


def decimal_text(value: Decimal | None) -> str | None:
    """Exact decimal text without exponent notation ('0.000001', never '1E-6')."""
    return None if value is None else format(value, "f")


def decimal_or_none(value: str | None) -> Decimal | None:
    """The Decimal of a nullable decimal-text column."""
    return None if value is None else Decimal(value)


def option_json(option: OptionContract | None) -> str | None:
    """The contract as canonical JSON (sorted keys, exact strike), None for equities."""
    if option is None:
        return None
    return json.dumps(
        {
            "underlying": option.underlying,
            "expiry": option.expiry.isoformat(),
            "strike": decimal_text(option.strike),
            "right": option.right,
            "multiplier": option.multiplier,
        },
        sort_keys=True,
    )


def _option_from_json(text: str | None) -> OptionContract | None:
    if text is None:
        return None
    data = json.loads(text)
    return OptionContract(
        underlying=data["underlying"],
        expiry=date.fromisoformat(data["expiry"]),
        strike=Decimal(data["strike"]),
        right=data["right"],
        multiplier=int(data["multiplier"]),
    )


def request_from_row(row: sqlite3.Row) -> OrderRequest:
    """The broker request of an `orders` row."""
    return OrderRequest(
        client_order_id=row["client_order_id"],
        symbol=row["symbol"],
        side=OrderSide(row["side"]),
        qty=Decimal(row["qty"]),
        order_type=OrderType(row["order_type"]),
        time_in_force=TimeInForce(row["time_in_force"]),
        limit_price=decimal_or_none(row["limit_price"]),
        stop_price=decimal_or_none(row["stop_price"]),
        trail_percent=decimal_or_none(row["trail_percent"]),
        intent=PositionIntent(row["position_intent"]),
        asset_class=AssetClass(row["asset_class"]),
        option=_option_from_json(row["option_json"]),
    )


def fill_from_row(row: sqlite3.Row) -> FillReport:
    """The fill of a `fills` row (fees are stored as integer cents)."""
    return FillReport(
        external_id=row["external_id"],
        client_order_id=row["client_order_id"],
        broker_order_id=row["broker_order_id"],
        symbol=row["symbol"],
        side=OrderSide(row["side"]),
        qty=Decimal(row["qty"]),
        price=Decimal(row["price"]),
        fee=from_minor(row["fee_minor"]),
        ts_utc=parse_iso_utc(row["ts_utc"]),
    )
