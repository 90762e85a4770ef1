"""Read-only query functions for the web, reporting and the runner (accounting spec §1.5).

Every function opens the files with `file:...?mode=ro` and reads sealed events only. Money is
returned as `int` minor units, quantities as `int` units x 10^9.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from tbot_bot.accounting.codec import ny_day_bounds
from tbot_bot.accounting.floatbook import snapshot_from_row
from tbot_bot.accounting.models import EventView, FloatSnapshot, OpenLot, SplitView, TrialBalanceRow
from tbot_bot.accounting.reconcile import blocking_rows
from tbot_bot.accounting.schema import connect
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.clock import iso_utc
from tbot_bot.config.path_resolver import BotOutputs
from tbot_bot.errors import LedgerError

END_OF_TIME = "9999-12-31T23:59:59.999Z"
REALIZED_KINDS = {
    "trading": ("4010", None),
    "float_topup": ("4080", "holdings_topup"),
    "holdings_rebalance": ("4080", "holdings_rebalance"),
}


@contextlib.contextmanager
def reader(outputs: BotOutputs, kind: str = "ledger") -> Iterator[sqlite3.Connection]:
    """A read-only connection to one of the bot's files, closed afterwards."""
    conn = connect(outputs.ledger_db(kind), readonly=True)
    try:
        yield conn
    finally:
        conn.close()


def _as_of_text(as_of: datetime | str | None) -> str:
    if as_of is None:
        return END_OF_TIME
    return as_of if isinstance(as_of, str) else iso_utc(as_of)


def account_balances(outputs: BotOutputs, *, as_of: datetime | str | None = None) -> dict[str, int]:
    """Balance (+ debit, - credit) per account of every sealed split with DTPOSTED <= as_of."""
    with reader(outputs) as conn:
        rows = conn.execute(sql("queries", "balances_as_of"), {"as_of": _as_of_text(as_of)})
        return {str(code): int(total) for code, total in rows}


def trial_balance(
    outputs: BotOutputs, *, as_of: datetime | str | None = None
) -> list[TrialBalanceRow]:
    """Accounts with activity, ordered by code; Σ balance is always 0."""
    with reader(outputs) as conn:
        rows = conn.execute(sql("queries", "trial_balance_as_of"), {"as_of": _as_of_text(as_of)})
        return [
            TrialBalanceRow(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5]))
            for r in rows
        ]


def open_lots(outputs: BotOutputs, *, symbol: str | None = None) -> list[OpenLot]:
    with reader(outputs) as conn:
        lots = [
            OpenLot(
                int(r[0]),
                str(r[1]),
                str(r[2]),
                str(r[3]),
                str(r[4]),
                int(r[5]),
                int(r[6]),
                int(r[7]),
                str(r[8]),
                bool(r[9]),
                r[10],
            )
            for r in conn.execute(sql("queries", "open_lots"))
        ]
    return [lot for lot in lots if symbol is None or lot.symbol == symbol]


def positions(outputs: BotOutputs) -> dict[str, int]:
    """Signed open quantity (qty_e9) per symbol: long positive, short negative."""
    with reader(outputs) as conn:
        return {
            str(r[0]): int(r[2]) for r in conn.execute(sql("queries", "positions")) if int(r[2])
        }


def realized_net(outputs: BotOutputs, day: date, kind: str = "trading") -> int:
    """Net realized P&L of one New York trading day (§7.3): -Σ P&L-account splits that day."""
    if kind not in REALIZED_KINDS:
        raise LedgerError(f"realized kind {kind!r} must be one of {sorted(REALIZED_KINDS)}")
    account, strategy = REALIZED_KINDS[kind]
    start, end = ny_day_bounds(day)
    with reader(outputs) as conn:
        if strategy is None:
            row = conn.execute(
                sql("queries", "realized_on_account"),
                {"account": account, "start": start, "end": end},
            ).fetchone()
        else:
            row = conn.execute(
                sql("queries", "realized_on_account_for_strategy"),
                {"account": account, "strategy": strategy, "start": start, "end": end},
            ).fetchone()
        return int(row[0])


def list_events(
    outputs: BotOutputs,
    *,
    limit: int = 100,
    offset: int = 0,
    symbol: str | None = None,
    event_type: str | None = None,
    start_utc: str | None = None,
    end_utc: str | None = None,
) -> list[EventView]:
    """Newest first, with splits; for the web ledger page (grouped by `group_id` there)."""
    if not 1 <= limit <= 1000 or offset < 0:
        raise LedgerError("list_events: limit must be 1..1000 and offset >= 0")
    params = {
        "symbol": symbol,
        "event_type": event_type,
        "start": start_utc,
        "end": end_utc,
        "limit": limit,
        "offset": offset,
    }
    with reader(outputs) as conn:
        events = [dict(r) for r in conn.execute(sql("queries", "events_page"), params)]
        ids = json.dumps([e["id"] for e in events])
        splits: dict[int, list[SplitView]] = {}
        for s in conn.execute(sql("queries", "splits_of_events"), {"ids": ids}):
            splits.setdefault(int(s["event_id"]), []).append(
                SplitView(
                    int(s["leg_no"]),
                    s["account_code"],
                    int(s["amount_minor"]),
                    s["symbol"],
                    s["qty_e9"],
                    s["price"],
                    s["lot_id"],
                )
            )
    return [_event_view(e, splits.get(int(e["id"]), [])) for e in events]


def _event_view(e: dict[str, Any], splits: list[SplitView]) -> EventView:
    return EventView(
        int(e["id"]),
        e["FITID"],
        e["group_id"],
        e["event_type"],
        e["DTPOSTED"],
        e["symbol"],
        e["action"],
        e["position_effect"],
        e["strategy"],
        tuple(json.loads(e["tags"])),
        json.loads(e["json_metadata"]),
        e["memo"],
        e["source"],
        e["external_id"],
        e["trade_id"],
        e["reverses_event_id"],
        tuple(splits),
    )


def latest_float_snapshot(
    outputs: BotOutputs, day: date | None = None, session: str | None = None
) -> FloatSnapshot | None:
    """The session's snapshot, the day's latest, or the latest overall (§7.2)."""
    with reader(outputs, "float") as conn:
        if day is not None and session is not None:
            row = conn.execute(
                sql("float", "snapshot_of"), {"trading_day": day.isoformat(), "session": session}
            ).fetchone()
        elif day is not None:
            row = conn.execute(
                sql("float", "latest_snapshot_of_day"), {"trading_day": day.isoformat()}
            ).fetchone()
        else:
            row = conn.execute(sql("float", "latest_snapshot")).fetchone()
        return None if row is None else snapshot_from_row(row)


def ledger_status(outputs: BotOutputs) -> str:
    """ACTIVE, LOCKED or DECOMMISSIONED (latest status row)."""
    with reader(outputs) as conn:
        row = conn.execute(sql("ledger_write", "current_status")).fetchone()
        return "ACTIVE" if row is None else str(row[0])


def unmapped_open(outputs: BotOutputs) -> list[dict[str, Any]]:
    with reader(outputs) as conn:
        return [dict(r) for r in conn.execute(sql("queries", "unmapped_open"))]


def open_reconciliation(outputs: BotOutputs) -> list[dict[str, Any]]:
    with reader(outputs) as conn:
        return [dict(r) for r in conn.execute(sql("reconcile", "open_rows"))]


def reconciliation_summary(outputs: BotOutputs) -> dict[str, Any]:
    """The status view of reconciliation (§6.5): the latest broker sync's end and status, and
    the open problem rows that block exports (INTRADAY rows excluded). Every sync counts, the
    runner's own and those asked for through `tbot ledger sync`."""
    with reader(outputs) as conn:
        row = conn.execute(sql("queries", "latest_sync_run")).fetchone()
        open_rows = [dict(r) for r in conn.execute(sql("reconcile", "open_rows"))]
    return {
        "last_run_utc": None if row is None else row["finished_at_utc"] or row["started_at_utc"],
        "status": None if row is None else row["status"],
        "open_mismatches": len(blocking_rows(open_rows)),
    }
