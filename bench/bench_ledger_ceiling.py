"""What the ledger database alone costs per posted fill (run via `make bench`; not a test).

The posting target is 5,000 fills/s with durable commits (`bench_ledger.py`). This benchmark
asks what the SQLite schema by itself allows: it posts fills through the real code, takes the
finished rows of the last N events (raw record, event, lots, splits, seal, trade, closures, audit
row), removes them from a copy of the file, and inserts exactly those rows again with one
`executemany` per table in one durable transaction: no Python drafting, hashing or lookups, the
cheapest possible writer. It does so twice: with the schema's integrity triggers (what the spec
requires: balanced seals, postable accounts, identity, immutability, no over-closing) and
without them. The first number is the ceiling any posting code can reach on this schema.

Writes `bench/results/ledger_ceiling.json`.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_ledger import fills, open_bench_books
from benchlib import git_commit, save_results

# Child tables first when deleting, parents first when inserting.
TABLES = (
    "raw_broker_records",
    "journal_events",
    "lots",
    "ledger_entries",
    "entry_seals",
    "trades",
    "lot_closures",
    "audit_trail",
)
# Which rows belong to the events from `first` on (the bench ledger has no other writers).
WHERE = {
    "raw_broker_records": "id >= :first_raw",
    "journal_events": "id >= :first",
    "lots": "opened_event_id >= :first",
    "ledger_entries": "event_id >= :first",
    "entry_seals": "event_id >= :first",
    "trades": "event_id >= :first",
    "lot_closures": "close_event_id >= :first",
    "audit_trail": "event_type = 'EVENT_POSTED' AND CAST(related_id AS INTEGER) >= :first",
}


def stored_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """Columns that are stored (generated columns are computed, never inserted)."""
    return [row[1] for row in conn.execute(f"PRAGMA table_xinfo({table})") if row[6] == 0]


def build_ledger(home: Path, warmup: int, measured: int) -> Path:
    books = open_bench_books(home)
    try:
        with books.session("fills"):
            records = list(fills(0, warmup + measured))
            for k in range(0, len(records), 500):
                books.post_many(records[k : k + 500])
        return books.outputs.ledger_db("ledger")
    finally:
        books.close()


def take_rows(db: Path, cut: dict[str, int]) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    with sqlite3.connect(db) as conn:
        taken = {}
        for table in TABLES:
            columns = stored_columns(conn, table)
            query = f"SELECT {','.join(columns)} FROM {table} WHERE {WHERE[table]} ORDER BY rowid"  # noqa: S608
            taken[table] = (columns, conn.execute(query, cut).fetchall())
    return taken


def reinsert(
    db: Path, copy: Path, rows: dict[str, Any], *, triggers: bool, cut: dict[str, int]
) -> float:
    """Seconds to insert `rows` again into a copy of `db` cut back to before event `first`."""
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{db}{suffix}")
        if source.exists():
            shutil.copy(source, f"{copy}{suffix}")
    conn = sqlite3.connect(copy, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys=OFF")
        saved = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall()
        for name, _ in saved:
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("BEGIN")
        for table in reversed(TABLES):
            conn.execute(f"DELETE FROM {table} WHERE {WHERE[table]}", cut)  # noqa: S608
        conn.execute("COMMIT")
        if triggers:
            for _, text in saved:
                conn.execute(text)
        for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=FULL"):
            conn.execute(f"PRAGMA {pragma}")
        began = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for table in TABLES:
            columns, values = rows[table]
            marks = ",".join("?" * len(columns))
            conn.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", values)  # noqa: S608
        conn.execute("COMMIT")
        return time.perf_counter() - began
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=1_000, help="fills posted before")
    parser.add_argument("--fills", type=int, default=5_000, help="fills whose rows are re-inserted")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tbot_bench_ceiling_") as folder:
        home = Path(folder)
        db = build_ledger(home, args.warmup, args.fills)
        with sqlite3.connect(db) as conn:
            first, first_raw = conn.execute(
                "SELECT id, raw_record_id FROM journal_events ORDER BY id LIMIT 1 OFFSET ?",
                (args.warmup + 1,),  # +1: the funding deposit is the first event
            ).fetchone()
        cut = {"first": int(first), "first_raw": int(first_raw)}
        rows = take_rows(db, cut)
        events = len(rows["journal_events"][1])
        timings = {
            label: reinsert(db, home / f"copy_{label}.db", rows, triggers=label == "with", cut=cut)
            for label in ("with", "without")
        }
    results: dict[str, Any] = {
        "commit": git_commit(),
        "events": events,
        "rows": {table: len(rows[table][1]) for table in TABLES},
        "with_triggers": {
            "us_per_fill": round(timings["with"] / events * 1e6, 1),
            "fills_per_s": round(events / timings["with"], 1),
        },
        "without_triggers": {
            "us_per_fill": round(timings["without"] / events * 1e6, 1),
            "fills_per_s": round(events / timings["without"], 1),
        },
    }
    for label in ("with_triggers", "without_triggers"):
        numbers = results[label]
        print(
            f"bulk insert of finished rows, {label.replace('_', ' ')}: "
            f"{numbers['us_per_fill']} us/fill = {numbers['fills_per_s']:,.0f} fills/s"
        )
    save_results("ledger_ceiling", results, lambda previous, current: None)


if __name__ == "__main__":
    main()
