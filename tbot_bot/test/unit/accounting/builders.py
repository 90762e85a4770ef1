"""Record builders and small readers shared by the accounting tests.

Records go through the real converters (`normalize_fill` / `normalize_activity`) from the broker
layer's typed reports, exactly as the runner and the sync produce them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tbot_bot.accounting import normalize_activity, normalize_fill
from tbot_bot.accounting.models import NormalizedRecord
from tbot_bot.broker.models import (
    ActivityKind,
    ActivityReport,
    AssetClass,
    FillReport,
    OptionContract,
    OrderSide,
    PositionIntent,
)

BROKER = "ALPACA"
ACCOUNT = "PA-TEST-1"
T0 = datetime(2025, 7, 15, 14, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fill(
    ext: str,
    symbol: str,
    side: str,
    qty: str,
    price: str,
    fee: str = "0",
    *,
    when: datetime | None = None,
    order: str | None = None,
    metadata: Mapping[str, str] | None = None,
    option: OptionContract | None = None,
    intent: PositionIntent | None = None,
) -> NormalizedRecord:
    report = FillReport(
        external_id=ext,
        client_order_id=None,
        broker_order_id=order or f"ord-{ext}",
        symbol=symbol,
        side=OrderSide(side),
        qty=Decimal(qty),
        price=Decimal(price),
        fee=Decimal(fee),
        ts_utc=when or T0,
        asset_class=AssetClass.OPTION if option else AssetClass.EQUITY,
        option=option,
        intent=intent,
    )
    return normalize_fill(report, broker_code=BROKER, account_id=ACCOUNT, metadata=metadata)


def activity(
    ext: str,
    kind: ActivityKind,
    amount: str,
    *,
    when: datetime | None = None,
    symbol: str | None = None,
    raw_type: str = "",
    description: str = "",
) -> NormalizedRecord:
    report = ActivityReport(
        external_id=ext,
        kind=kind,
        net_amount=Decimal(amount),
        ts_utc=when or T0,
        symbol=symbol,
        description=description,
        raw_type=raw_type,
    )
    return normalize_activity(report, broker_code=BROKER, account_id=ACCOUNT)


def deposit(ext: str, amount: str, when: datetime | None = None) -> NormalizedRecord:
    return activity(ext, ActivityKind.DEPOSIT, amount, when=when)


def put_contract(strike: str = "100", expiry: date = date(2025, 8, 15)) -> OptionContract:
    return OptionContract("XYZ", expiry, Decimal(strike), "P", 100)


def legs_of(conn: sqlite3.Connection, fitid: str) -> list[tuple[str, int, str | None, int | None]]:
    """(account, amount_minor, symbol, qty_e9) of one event, by leg number."""
    rows = conn.execute(
        "SELECT s.account_code, s.amount_minor, s.symbol, s.qty_e9 FROM ledger_entries s "
        "JOIN journal_events e ON e.id = s.event_id WHERE e.FITID = ? ORDER BY s.leg_no",
        (fitid,),
    )
    return [tuple(r) for r in rows]


def balances(conn: sqlite3.Connection) -> dict[str, int]:
    rows = conn.execute(
        "SELECT account_code, SUM(amount_minor) FROM ledger_entries GROUP BY account_code"
    )
    return {str(code): int(total) for code, total in rows}


def count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608 - test table names
