"""Alpaca's JSON shapes for the fake venue (fake_alpaca.py): orders, account, positions, assets,
latest quotes/trades and bars, as documented in Alpaca's trading and market data v2 references.
Trading numbers are decimal strings; market data numbers are JSON numbers (Decimals here).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
FINAL_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})


def stamp(value: datetime) -> str:
    """RFC 3339 UTC with a Z, as Alpaca writes timestamps."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def num(value: Decimal | None) -> str | None:
    """A decimal string (Alpaca's trading API sends numbers as strings)."""
    return None if value is None else format(value.normalize(), "f")


@dataclass
class FakeOrder:
    """One order as the venue holds it."""

    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal
    created_at: datetime
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_percent: Decimal | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "new"
    filled_qty: Decimal = ZERO
    filled_avg_price: Decimal | None = None
    updated_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        final = self.status in {"filled", "canceled", "expired", "rejected"}
        updated = self.updated_at or self.created_at
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": stamp(self.created_at),
            "updated_at": stamp(updated),
            "submitted_at": stamp(self.created_at),
            "filled_at": stamp(updated) if self.status == "filled" else None,
            "expired_at": None,
            "canceled_at": stamp(updated) if self.status == "canceled" else None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_OID, self.symbol)),
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": num(self.qty),
            "filled_qty": num(self.filled_qty),
            "filled_avg_price": num(self.filled_avg_price),
            "order_class": "",
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": None,
            "time_in_force": self.time_in_force,
            "limit_price": num(self.limit_price),
            "stop_price": num(self.stop_price),
            "status": self.status,
            "extended_hours": False,
            "legs": None,
            "trail_percent": num(self.trail_percent),
            "trail_price": None,
            "hwm": None,
            "subtag": None,
            "source": None,
            "expires_at": None if final else stamp(self.created_at + timedelta(hours=8)),
        }


def account_json(
    account_number: str, cash_amount: Decimal, market_value: Decimal
) -> dict[str, Any]:
    equity = cash_amount + market_value
    cash, equity_text = num(cash_amount), num(equity)
    return {
        "id": "1d9eed04-be39-4e01-9b84-a48ac5bbafcf",
        "account_number": account_number,
        "status": "ACTIVE",
        "crypto_status": "ACTIVE",
        "currency": "USD",
        "buying_power": num(equity * 2),
        "regt_buying_power": num(equity * 2),
        "non_marginable_buying_power": cash,
        "options_buying_power": cash,
        "cash": cash,
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "portfolio_value": equity_text,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "created_at": "2023-01-01T18:20:20.272275Z",
        "trade_suspended_by_user": False,
        "multiplier": "2",
        "shorting_enabled": True,
        "equity": equity_text,
        "last_equity": equity_text,
        "long_market_value": num(market_value),
        "short_market_value": "0",
        "initial_margin": "0",
        "maintenance_margin": "0",
        "last_maintenance_margin": "0",
        "sma": "0",
        "options_approved_level": 0,
        "options_trading_level": 0,
    }


def position_json(symbol: str, qty: Decimal, avg: Decimal, last: Decimal) -> dict[str, Any]:
    return {
        "asset_id": str(uuid.uuid5(uuid.NAMESPACE_OID, symbol)),
        "symbol": symbol,
        "exchange": "NASDAQ",
        "asset_class": "us_equity",
        "asset_marginable": True,
        "avg_entry_price": num(avg),
        "qty": num(qty),
        "side": "long" if qty > ZERO else "short",
        "market_value": num(qty * last),
        "cost_basis": num(qty * avg),
        "unrealized_pl": num(qty * (last - avg)),
        "unrealized_plpc": "0",
        "unrealized_intraday_pl": "0",
        "unrealized_intraday_plpc": "0",
        "current_price": num(last),
        "lastday_price": num(avg),
        "change_today": "0",
        "qty_available": num(qty),
    }


def asset_json(
    symbol: str,
    fractionable: bool,
    shortable: bool,
    tradable: bool,
    *,
    name: str | None = None,
    exchange: str = "NASDAQ",
    status: str = "active",
    easy_to_borrow: bool | None = None,
    asset_class: str = "us_equity",
    attributes: list[str] | None = None,
) -> dict[str, Any]:
    """An Asset object of `GET /v2/assets[/{symbol}]` (the wire key of the class is `class`)."""
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_OID, symbol)),
        "class": asset_class,
        "exchange": exchange,
        "symbol": symbol,
        "name": f"{symbol} Test Corp" if name is None else name,
        "status": status,
        "tradable": tradable,
        "marginable": True,
        "maintenance_margin_requirement": 30,
        "margin_requirement_long": "30",
        "margin_requirement_short": "100",
        "shortable": shortable,
        "easy_to_borrow": shortable if easy_to_borrow is None else easy_to_borrow,
        "fractionable": fractionable,
        "attributes": [] if attributes is None else attributes,
    }


def quote_json(bid: str, ask: str, at: datetime) -> dict[str, Any]:
    return {
        "t": stamp(at),
        "ax": "V",
        "ap": Decimal(ask),
        "as": 2,
        "bx": "V",
        "bp": Decimal(bid),
        "bs": 3,
        "c": ["R"],
        "z": "C",
    }


def trade_json(last: str, at: datetime) -> dict[str, Any]:
    return {
        "t": stamp(at),
        "x": "V",
        "p": Decimal(last),
        "s": 100,
        "c": ["@"],
        "i": 52983525029461,
        "z": "C",
    }


def bar_json(start: datetime, o: str, h: str, lo: str, c: str, v: int) -> dict[str, Any]:
    return {
        "t": stamp(start),
        "o": Decimal(o),
        "h": Decimal(h),
        "l": Decimal(lo),
        "c": Decimal(c),
        "v": v,
        "n": 12,
        "vw": Decimal(c),
    }
