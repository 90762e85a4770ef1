"""Reconciliation with the broker (accounting spec §6.5): record, cash, position and float.

Rows are append-only: every cash/position/float comparison writes one row (ok or not); record
comparisons write a row only for problems. A later `ok` comparison of the same kind (and symbol)
resolves the earlier open rows with a new `resolved` row pointing at them. Non-authoritative
(intraday) cash/position rows carry `error_code='INTRADAY'` and never block exports. The typed
results go back to the runner, which logs new problems to `unresolved_orders.log`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from tbot_bot.accounting.books import Books
from tbot_bot.accounting.codec import qty_to_e9, to_minor_exact
from tbot_bot.accounting.intake import recon_row
from tbot_bot.accounting.models import NormalizedRecord, ReconResult
from tbot_bot.accounting.rules import record_content_hash
from tbot_bot.accounting.schema import transaction
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.broker.models import Account, Position

INTRADAY = "INTRADAY"


def reconcile(
    books: Books,
    *,
    account: Account,
    positions: Sequence[Position],
    records: Sequence[NormalizedRecord],
    raw_ids: dict[str, int],
    window: tuple[str, str],
    authoritative: bool,
) -> list[ReconResult]:
    """Compare the ledger with the broker and append the reconciliation rows (one transaction)."""
    session = books.require_session()
    results: list[ReconResult] = []
    with transaction(books.ledger):
        results += _records(books, records, raw_ids, window, session.sync_run_id)
        code = None if authoritative else INTRADAY
        results.append(_cash(books, account, code, session.sync_run_id))
        results += _positions(books, positions, code, session.sync_run_id)
        results.append(_float(books, session.sync_run_id))
    return results


def resolve(books: Books, row_id: int, *, actor: str, resolution: str) -> int:
    """Manual resolution of an open row: a new `resolved` row with `resolves_id` (audited)."""
    from tbot_bot.accounting import audit

    with transaction(books.ledger):
        new_id = _resolve_row(books, row_id, actor=actor, resolution=resolution, sync_run_id=None)
        audit.append(
            books.ledger,
            "audit_trail",
            ts_utc=books.now_text(),
            event_type="RECON_RESOLVED",
            actor=actor,
            related_table="reconciliation_log",
            related_id=str(row_id),
            reason=resolution,
        )
    return new_id


def _resolve_row(
    books: Books, row_id: int, *, actor: str, resolution: str, sync_run_id: str | None
) -> int:
    old = books.ledger.execute(sql("reconcile", "row_by_id"), {"id": row_id}).fetchone()
    return recon_row(
        books.ledger,
        books.identity,
        recon_type=old["recon_type"],
        status="resolved",
        now=books.now_text(),
        sync_run_id=sync_run_id,
        resolves_id=row_id,
        resolution=resolution,
        resolved_by=actor,
        resolved_at=books.now_text(),
        error_code=old["error_code"],
        json_metadata=old["json_metadata"],
        ledger_entry_id=old["ledger_entry_id"],
        raw_record=old["raw_record"],
    )


def _row(
    books: Books,
    recon_type: str,
    status: str,
    *,
    symbol: str | None,
    ledger_value: int | None,
    broker_value: int | None,
    error_code: str | None,
    sync_run_id: str,
    fitid: str | None = None,
    raw_record: int | None = None,
    trade_id: str | None = None,
    notes: str | None = None,
    client_order_id: str | None = None,
) -> ReconResult:
    delta = None if ledger_value is None or broker_value is None else ledger_value - broker_value
    meta = {"symbol": symbol, "client_order_id": client_order_id}
    row_id = recon_row(
        books.ledger,
        books.identity,
        recon_type=recon_type,
        status=status,
        now=books.now_text(),
        sync_run_id=sync_run_id,
        error_code=error_code,
        ledger_balance_minor=ledger_value,
        broker_balance_minor=broker_value,
        delta_minor=delta,
        ledger_entry_id=fitid,
        raw_record=raw_record,
        trade_id=trade_id,
        notes=notes,
        json_metadata=meta,
        compare_fields={recon_type: [ledger_value, broker_value]},
        mapping_version=books.mapping.version,
    )
    if status == "ok":
        for (open_id,) in books.ledger.execute(
            sql("reconcile", "open_rows_of"), {"recon_type": recon_type, "symbol": symbol or ""}
        ).fetchall():
            _resolve_row(
                books,
                int(open_id),
                actor="system:reconcile",
                resolution=f"later {recon_type} check ok (row {row_id})",
                sync_run_id=sync_run_id,
            )
    return ReconResult(
        recon_type,
        status,
        symbol,
        ledger_value,
        broker_value,
        delta,
        fitid,
        error_code,
        row_id,
        client_order_id,
    )


def _records(
    books: Books,
    records: Sequence[NormalizedRecord],
    raw_ids: dict[str, int],
    window: tuple[str, str],
    run_id: str,
) -> list[ReconResult]:
    results: list[ReconResult] = []
    seen = {r.external_id for r in records}
    queued = _queued(books, raw_ids.values())
    for record in records:
        raw_id = raw_ids.get(record.external_id)
        live = books.ledger.execute(
            sql("ledger_write", "live_events_by_external"),
            {"broker_code": record.broker_code, "external_id": record.external_id},
        ).fetchall()
        if live:
            chash = record_content_hash(record, books.currencies.get(record.currency, 2))
            if all(row[3] == chash for row in live):
                continue  # ok records are not logged: one row per record per sync would swamp it
            status = "mismatch"
        elif raw_id is not None and raw_id in queued:
            status = "broker-only"
        else:
            continue  # neither posted nor queued: the sync just rejected it and raised
        if _already_open(books, raw_id, live[0][1] if live else None):
            continue
        results.append(
            _row(
                books,
                "record",
                status,
                symbol=record.symbol,
                ledger_value=None,
                broker_value=None,
                error_code=queued.get(raw_id or -1, "content_changed"),
                sync_run_id=run_id,
                fitid=live[0][1] if live else None,
                raw_record=raw_id,
                trade_id=record.order_id,
                client_order_id=record.client_order_id,
            )
        )
    for row in books.ledger.execute(
        sql("reconcile", "window_broker_events"), {"start": window[0], "end": window[1]}
    ).fetchall():
        if row["external_id"] in seen or _already_open(books, None, row["FITID"]):
            continue
        results.append(
            _row(
                books,
                "record",
                "local-only",
                symbol=row["symbol"],
                ledger_value=None,
                broker_value=None,
                error_code="not_returned_by_broker",
                sync_run_id=run_id,
                fitid=row["FITID"],
                trade_id=row["trade_id"],
            )
        )
    return results


def _queued(books: Books, raw_ids: Iterable[int]) -> dict[int, str]:
    rows = books.ledger.execute(
        sql("reconcile", "queued_raw_records"), {"ids": json.dumps(sorted(set(raw_ids)))}
    )
    return {int(r[0]): str(r[1]) for r in rows}


def _already_open(books: Books, raw_id: int | None, fitid: str | None) -> bool:
    row = books.ledger.execute(
        sql("reconcile", "open_row_for_record"), {"raw_record": raw_id, "fitid": fitid}
    ).fetchone()
    return row is not None


def _cash(books: Books, account: Account, code: str | None, run_id: str) -> ReconResult:
    ledger_cash = int(books.ledger.execute(sql("reconcile", "cash_balance")).fetchone()[0])
    broker_cash = to_minor_exact(account.cash, books.currencies.get(account.currency, 2))
    status = "ok" if ledger_cash == broker_cash else "mismatch"
    return _row(
        books,
        "cash",
        status,
        symbol=None,
        ledger_value=ledger_cash,
        broker_value=broker_cash,
        error_code=code,
        sync_run_id=run_id,
    )


def _positions(
    books: Books, positions: Sequence[Position], code: str | None, run_id: str
) -> list[ReconResult]:
    ledger_qty = {
        str(s): int(q) for s, q in books.ledger.execute(sql("reconcile", "position_qty")) if int(q)
    }
    broker_qty = {p.symbol: qty_to_e9(p.qty) for p in positions if p.qty != 0}
    results = []
    for symbol in sorted(set(ledger_qty) | set(broker_qty)):
        mine, theirs = ledger_qty.get(symbol), broker_qty.get(symbol)
        if mine is None:
            status = "broker-only"
        elif theirs is None:
            status = "local-only"
        else:
            status = "ok" if mine == theirs else "mismatch"
        results.append(
            _row(
                books,
                "position",
                status,
                symbol=symbol,
                ledger_value=mine,
                broker_value=theirs,
                error_code=code,
                sync_run_id=run_id,
            )
        )
    return results


def _float(books: Books, run_id: str) -> ReconResult:
    contributed = int(books.float_conn.execute(sql("float", "contributed_capital")).fetchone()[0])
    capital = -int(books.ledger.execute(sql("reconcile", "capital_float_balance")).fetchone()[0])
    status = "ok" if contributed == capital else "mismatch"
    return _row(
        books,
        "float",
        status,
        symbol=None,
        ledger_value=capital,
        broker_value=contributed,
        error_code=None,
        sync_run_id=run_id,
    )


def blocking_rows(books_or_conn_rows: Sequence[dict[str, object]]) -> list[dict[str, object]]:
    """Open rows that block exports: every open row except INTRADAY ones."""
    return [r for r in books_or_conn_rows if r.get("error_code") != INTRADAY]
