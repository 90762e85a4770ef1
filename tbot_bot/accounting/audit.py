"""Hash-chained audit rows and chain verification (accounting spec §8.2, §8.3).

`row_hash = sha256_hex(prev_hash + canonical_json(row))`, the first `prev_hash` is 64 zeros and
the chain runs in ascending `id`. The canonical row is every column except `id`, `prev_hash` and
`row_hash`; for `journal_events` it also leaves out the generated `datetime_utc` and adds the
event's splits (every split column except `id` and `event_id`, sorted by `leg_no`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from tbot_bot.accounting.codec import ZERO_HASH, canonical_text, chain_hash
from tbot_bot.accounting.sqlfiles import sql

AUDIT_FIELDS: tuple[str, ...] = (
    "ts_utc",
    "event_type",
    "actor",
    "source",
    "related_table",
    "related_id",
    "group_id",
    "trade_id",
    "fitid",
    "sync_run_id",
    "mapping_version",
    "before_json",
    "after_json",
    "reason",
    "request_id",
    "ip",
    "user_agent",
    "extra_json",
)
_JSON_FIELDS = frozenset({"before_json", "after_json", "extra_json"})
_NOT_HASHED = frozenset({"id", "prev_hash", "row_hash"})
_NOT_HASHED_EVENT = frozenset({"id", "prev_hash", "row_hash", "datetime_utc"})
_NOT_HASHED_SPLIT = frozenset({"id", "event_id"})
CHAINED_TABLES = ("journal_events", "audit_trail", "coa_audit_log", "float_events")


def head(conn: sqlite3.Connection, table: str) -> str:
    """The newest `row_hash` of a chained table, or 64 zeros when it is empty."""
    row = conn.execute(sql("audit", f"head_{table}")).fetchone()
    return str(row[0]) if row else ZERO_HASH


def append(
    conn: sqlite3.Connection,
    table: str,
    *,
    ts_utc: str,
    event_type: str,
    actor: str,
    **fields: Any,
) -> int:
    """Insert one audit row chained to the current head; call inside the change's transaction."""
    unknown = set(fields) - set(AUDIT_FIELDS)
    if unknown:
        raise ValueError(f"unknown audit fields {sorted(unknown)}")
    row: dict[str, Any] = {name: None for name in AUDIT_FIELDS}
    row.update(fields)
    row.update(ts_utc=ts_utc, event_type=event_type, actor=actor)
    for name in _JSON_FIELDS:
        if row[name] is not None and not isinstance(row[name], str):
            row[name] = canonical_text(row[name])
    prev = head(conn, table)
    row["prev_hash"] = prev
    row["row_hash"] = chain_hash(prev, {k: row[k] for k in AUDIT_FIELDS})
    cursor = conn.execute(sql("audit", f"insert_{table}"), row)
    return int(cursor.lastrowid or 0)


def event_hash_row(
    header: Mapping[str, Any], splits: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The canonical row hashed for one journal event (header + splits by leg_no)."""
    row = {k: v for k, v in header.items() if k not in _NOT_HASHED_EVENT}
    row["splits"] = [
        {k: v for k, v in split.items() if k not in _NOT_HASHED_SPLIT}
        for split in sorted(splits, key=lambda s: int(s["leg_no"]))
    ]
    return row


def first_broken_link(conn: sqlite3.Connection, table: str) -> int | None:
    """Recompute a chain; return the id of the first row whose hashes do not match, else None."""
    from tbot_bot.accounting import chains  # chains imports nothing from here at module level

    lo, hi, count = conn.execute(sql("audit", f"bounds_{table}")).fetchone()
    if not count:
        return None
    return chains.first_bad([chains.scan_connection(conn, table, int(lo), int(hi))])
