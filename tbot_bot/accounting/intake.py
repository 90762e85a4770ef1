"""Raw records, dedup, the unmapped queue and reconciliation rows (accounting spec §6.1-§6.5).

Raw broker records are stored once (dedup by `response_hash`). Dedup of postings runs per broker
record inside the posting transaction, before classification: live events with the same
(`broker_code`, `external_id`) and equal `content_hash` mean duplicate; a different hash means
`content_changed` (a `mismatch` row plus a queue entry, nothing posted).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tbot_bot.accounting.codec import canonical_text, sha256_hex
from tbot_bot.accounting.models import NormalizedRecord
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.config.identity import BotIdentity


@dataclass(frozen=True)
class LiveEvent:
    event_id: int
    fitid: str
    event_type: str
    content_hash: str


def store_raw(
    conn: sqlite3.Connection,
    *,
    broker_code: str,
    record_kind: str,
    external_id: str | None,
    payload: Mapping[str, Any],
    now: str,
    sync_run_id: str | None,
) -> tuple[int, str]:
    """Insert a raw record unless its `response_hash` is known; returns (id, response_hash)."""
    text = canonical_text(dict(payload))
    response_hash = sha256_hex(text)
    inserted = conn.execute(
        sql("ledger_write", "insert_raw"),
        {
            "broker_code": broker_code,
            "record_kind": record_kind,
            "external_id": external_id,
            "response_hash": response_hash,
            "payload_json": text,
            "fetched_at_utc": now,
            "sync_run_id": sync_run_id,
        },
    )
    new = inserted.fetchone()
    if new is not None:
        return int(new[0]), response_hash
    row = conn.execute(sql("ledger_write", "raw_id_by_hash"), {"response_hash": response_hash})
    return int(row.fetchone()[0]), response_hash


def store_record(
    conn: sqlite3.Connection, record: NormalizedRecord, now: str, sync_run_id: str | None
) -> tuple[int, str]:
    payload = dict(record.payload) or {"external_id": record.external_id}
    return store_raw(
        conn,
        broker_code=record.broker_code,
        record_kind=record.kind,
        external_id=record.external_id,
        payload=payload,
        now=now,
        sync_run_id=sync_run_id,
    )


def live_events(conn: sqlite3.Connection, broker_code: str, external_id: str) -> list[LiveEvent]:
    rows = conn.execute(
        sql("ledger_write", "live_events_by_external"),
        {"broker_code": broker_code, "external_id": external_id},
    ).fetchall()
    return [LiveEvent(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


def enqueue(
    conn: sqlite3.Connection,
    *,
    raw_record_id: int,
    reason_code: str,
    reason: str,
    mapping_version: int,
    now: str,
    sync_run_id: str | None,
) -> int:
    """Queue a raw record once per reason (UNIQUE(raw_record_id, reason_code)); returns its id."""
    conn.execute(
        sql("ledger_write", "insert_queue"),
        {
            "raw_record_id": raw_record_id,
            "sync_run_id": sync_run_id,
            "reason_code": reason_code,
            "reason": reason,
            "mapping_version": mapping_version,
            "flagged_at_utc": now,
        },
    )
    row = conn.execute(
        sql("ledger_write", "queue_id"),
        {"raw_record_id": raw_record_id, "reason_code": reason_code},
    ).fetchone()
    return int(row[0])


def recon_row(
    conn: sqlite3.Connection,
    identity: BotIdentity,
    *,
    recon_type: str,
    status: str,
    now: str,
    sync_run_id: str | None,
    **fields: Any,
) -> int:
    """Append one reconciliation_log row; unspecified columns are NULL."""
    row: dict[str, Any] = {
        "trade_id": None,
        "error_code": None,
        "account_id": None,
        "statement_date": None,
        "ledger_balance_minor": None,
        "ledger_entry_id": None,
        "broker_balance_minor": None,
        "delta_minor": None,
        "resolution": None,
        "resolved_by": None,
        "resolved_at": None,
        "raw_record": None,
        "notes": None,
        "raw_record_json": None,
        "compare_fields": None,
        "json_metadata": None,
        "api_hash": None,
        "mapping_version": None,
        "imported_at": None,
        "user_action": None,
        "resolves_id": None,
    }
    unknown = set(fields) - set(row)
    if unknown:
        raise ValueError(f"unknown reconciliation fields {sorted(unknown)}")
    row.update(fields)
    for name in ("compare_fields", "json_metadata", "raw_record_json"):
        if row[name] is not None and not isinstance(row[name], str):
            row[name] = canonical_text(row[name])
    row.update(
        entity_code=identity.entity_code,
        jurisdiction_code=identity.jurisdiction_code,
        broker_code=identity.broker_code,
        broker=identity.broker_code,
        status=status,
        recon_type=recon_type,
        timestamp_utc=now,
        sync_run_id=sync_run_id,
    )
    return int(conn.execute(sql("reconcile", "insert_recon"), row).lastrowid or 0)
