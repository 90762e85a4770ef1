"""Everything one daily export package needs, read in one snapshot (accounting spec §9).

Built only from sealed events; positions and balances are computed as of the period end from
the event dates, so re-exporting an unchanged period yields identical bytes.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tbot_bot.accounting.codec import ZERO_HASH, e9_to_qty, utc_day_bounds
from tbot_bot.accounting.models import TrialBalanceRow
from tbot_bot.accounting.sqlfiles import sql

CASH_ACCOUNTS = ("1030", "1120", "1130")
PRICE_QUANTUM = Decimal("0.0001")


@dataclass(frozen=True)
class PositionRow:
    symbol: str
    instrument: str
    side: str
    multiplier: int
    qty_e9: int
    basis_minor: int
    unit_price: str
    price_is_basis: bool


@dataclass(frozen=True)
class DayData:
    day: date
    period_start: str
    period_end: str
    events: tuple[dict[str, Any], ...]
    positions: tuple[PositionRow, ...]
    avail_cash_minor: int
    short_balance_minor: int
    trial_balance: tuple[TrialBalanceRow, ...]
    first_event_id: int | None
    last_event_id: int | None
    journal_chain_head: str
    audit_chain_head: str
    row_counts: dict[str, int]


def load_day(conn: sqlite3.Connection, day: date) -> DayData:
    start, end = utc_day_bounds(day)
    events = tuple(
        dict(r) for r in conn.execute(sql("export", "period_events"), {"start": start, "end": end})
    )
    head = conn.execute(sql("export", "chain_head_as_of"), {"end": end}).fetchone()
    journal_head, audit_head = ZERO_HASH, ZERO_HASH
    if head is not None:
        journal_head = str(head[1])
        row = conn.execute(
            sql("export", "audit_head_for_event"), {"event_id": str(head[0])}
        ).fetchone()
        audit_head = ZERO_HASH if row is None else str(row[0])
    counts = conn.execute(
        sql("export", "period_row_counts"), {"start": start, "end": end}
    ).fetchone()
    tb = tuple(
        TrialBalanceRow(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5]))
        for r in conn.execute(sql("queries", "trial_balance_as_of"), {"as_of": end})
    )
    return DayData(
        day=day,
        period_start=start,
        period_end=end,
        events=events,
        positions=tuple(_positions(conn, end)),
        avail_cash_minor=_balance(conn, CASH_ACCOUNTS, end),
        short_balance_minor=abs(_balance(conn, ("2110",), end)),
        trial_balance=tb,
        first_event_id=min((int(e["id"]) for e in events), default=None),
        last_event_id=max((int(e["id"]) for e in events), default=None),
        journal_chain_head=journal_head,
        audit_chain_head=audit_head,
        row_counts=dict(
            zip(
                ("journal_events", "ledger_entries", "lots", "lot_closures"),
                (int(c) for c in counts),
                strict=True,
            )
        ),
    )


def _balance(conn: sqlite3.Connection, codes: tuple[str, ...], end: str) -> int:
    row = conn.execute(
        sql("export", "balance_of_accounts_as_of"), {"end": end, "codes": json.dumps(list(codes))}
    )
    return int(row.fetchone()[0])


def _positions(conn: sqlite3.Connection, end: str) -> list[PositionRow]:
    rows: list[PositionRow] = []
    for r in conn.execute(sql("export", "lots_as_of"), {"end": end}).fetchall():
        qty, basis, multiplier = int(r["qty_e9"]), int(r["basis_minor"]), int(r["multiplier"])
        if qty <= 0:
            continue
        price, from_basis = _market_price(conn, str(r["symbol"]), end), False
        if price is None:
            from_basis = True
            per_unit = Decimal(basis).scaleb(-2) / (e9_to_qty(qty) * multiplier)
            price = format(per_unit.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN), "f")
        rows.append(
            PositionRow(
                str(r["symbol"]),
                str(r["instrument"]),
                str(r["side"]),
                multiplier,
                qty,
                basis,
                price,
                from_basis,
            )
        )
    return rows


def _market_price(conn: sqlite3.Connection, symbol: str, end: str) -> str | None:
    row = conn.execute(
        sql("export", "latest_position_record"), {"symbol": symbol, "end": end}
    ).fetchone()
    if row is None:
        return None
    price = json.loads(row[0]).get("market_price")
    return str(price) if price else None
