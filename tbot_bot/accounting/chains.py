"""Recomputing the hash chains for `verify()` quickly, optionally in parallel (spec §8.3, §8.5).

A chain is checked row by row: `row_hash == sha256(prev_hash + canonical_json(row))` and each
`prev_hash` equals the previous row's `row_hash`. Both conditions are local to a pair of rows,
so a long chain splits into id ranges checked independently (in worker processes on a large
ledger) and joined by comparing each range's first `prev_hash` with the previous range's last
`row_hash`. Rows are hashed from plain tuples with their keys pre-sorted, which produces exactly
the bytes of `codec.canonical_json` without sorting each row again.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tbot_bot.accounting.codec import ZERO_HASH
from tbot_bot.accounting.sqlfiles import sql

_NOT_HASHED = frozenset({"id", "prev_hash", "row_hash", "datetime_utc"})
_NOT_HASHED_SPLIT = frozenset({"id", "event_id"})
PARALLEL_MIN_ROWS = 100_000


@dataclass(frozen=True)
class ChainPart:
    """The result of checking rows lo..hi of one chain."""

    first_id: int | None
    first_prev: str | None
    last_hash: str | None
    bad_id: int | None


@dataclass(frozen=True)
class ChainJob:
    path: str
    table: str
    lo: int
    hi: int


def _open(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None
    )
    conn.execute("PRAGMA mmap_size=268435456")
    return conn


def _columns(conn: sqlite3.Connection, table: str, skip: frozenset[str]) -> list[str]:
    """Hashed columns of a table in canonical (sorted) order, from the live schema."""
    names = [str(r[1]) for r in conn.execute(sql("audit", "table_columns"), {"table": table})]
    return sorted(n for n in names if n not in skip)


def _json_object(columns: Sequence[str]) -> str:
    # SQLite's json_object() writes exactly the bytes of codec.canonical_json (compact, UTF-8,
    # same escapes; a test pins this) when given the keys in sorted order. Only column names
    # taken from the schema are placed in the text; values stay in the database.
    return "json_object(" + ", ".join(f"'{c}', \"{c}\"" for c in columns) + ")"


def _statements(conn: sqlite3.Connection, table: str) -> tuple[str, str | None, int]:
    """The row query (id, prev_hash, row_hash, JSON parts) and, for events, the split query."""
    columns = _columns(conn, table, _NOT_HASHED)
    if table != "journal_events":
        body = f"{_json_object(columns)} AS body"
        return (
            f"SELECT id, prev_hash, row_hash, {body} FROM {table}"  # noqa: S608 - schema names
            " WHERE id BETWEEN :lo AND :hi ORDER BY id",
            None,
            len(columns),
        )
    before = [c for c in columns if c < "splits"]
    after = [c for c in columns if c > "splits"]
    split_columns = _columns(conn, "ledger_entries", _NOT_HASHED_SPLIT)
    return (
        f"SELECT id, prev_hash, row_hash, {_json_object(before)}, {_json_object(after)}"  # noqa: S608
        " FROM journal_events WHERE id BETWEEN :lo AND :hi ORDER BY id",
        f"SELECT event_id, {_json_object(split_columns)} FROM ledger_entries"  # noqa: S608
        " WHERE event_id BETWEEN :lo AND :hi ORDER BY event_id, leg_no",
        len(columns),
    )


def _splits(conn: sqlite3.Connection, query: str, lo: int, hi: int) -> Iterator[tuple[int, str]]:
    """(event_id, JSON array text of its splits) in event order."""
    current: int | None = None
    bucket: list[str] = []
    for event_id, text in conn.execute(query, {"lo": lo, "hi": hi}):
        if current is not None and event_id != current:
            yield current, "[" + ",".join(bucket) + "]"
            bucket = []
        current = event_id
        bucket.append(text)
    if current is not None:
        yield current, "[" + ",".join(bucket) + "]"


def scan(job: ChainJob) -> ChainPart:
    """Check one id range of one chain (runs in a worker process on large ledgers)."""
    conn = _open(job.path)
    try:
        return scan_connection(conn, job.table, job.lo, job.hi)
    finally:
        conn.close()


def scan_connection(conn: sqlite3.Connection, table: str, lo: int, hi: int) -> ChainPart:
    """Check rows lo..hi of one chain on an open connection."""
    rows_sql, splits_sql, _ = _statements(conn, table)
    splits = _splits(conn, splits_sql, lo, hi) if splits_sql else iter(())
    pending = next(splits, None)
    first_id: int | None = None
    first_prev: str | None = None
    prev: str | None = None
    for row in conn.execute(rows_sql, {"lo": lo, "hi": hi}):
        row_id, row_prev, row_hash = row[0], row[1], row[2]
        if splits_sql is None:
            text = row[3]
        else:
            while pending is not None and pending[0] < row_id:
                pending = next(splits, None)  # splits of a missing event: ORPHAN_SPLIT
            legs = "[]"
            if pending is not None and pending[0] == row_id:
                legs, pending = pending[1], next(splits, None)
            text = row[3][:-1] + ',"splits":' + legs + "," + row[4][1:]
        digest = hashlib.sha256((row_prev + text).encode("utf-8")).hexdigest()
        if first_id is None:
            first_id, first_prev = row_id, row_prev
        elif row_prev != prev:
            return ChainPart(first_id, first_prev, prev, row_id)
        if digest != row_hash:
            return ChainPart(first_id, first_prev, prev, row_id)
        prev = row_hash
    return ChainPart(first_id, first_prev, prev, None)


def jobs_for(path: Path, table: str, conn: sqlite3.Connection, parts: int) -> list[ChainJob]:
    lo, hi, count = conn.execute(sql("audit", f"bounds_{table}")).fetchone()
    if not count:
        return []
    parts = max(1, min(parts, count))
    step = (hi - lo) // parts + 1
    return [
        ChainJob(str(path), table, start, min(hi, start + step - 1))
        for start in range(lo, hi + 1, step)
    ]


def first_bad(parts: Sequence[ChainPart]) -> int | None:
    """Join consecutive ranges of one chain; the id of the first broken row, or None."""
    prev = ZERO_HASH
    for part in parts:
        if part.first_id is None:
            continue
        if part.first_prev != prev:
            return part.first_id
        if part.bad_id is not None:
            return part.bad_id
        prev = part.last_hash or prev
    return None


class ChainChecker:
    """Checks several chains; in worker processes when the ledger is large.

    Usage: `submit` every chain, do other work, then `results()`. Workers are started with the
    `spawn` method: they open their own read-only connections and share nothing with the caller.
    """

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._pending: dict[tuple[str, str], list[Future[ChainPart] | ChainPart]] = {}

    def submit(self, kind: str, path: Path, table: str, conn: sqlite3.Connection) -> None:
        jobs = jobs_for(path, table, conn, self._workers * 2 if self._workers > 1 else 1)
        if self._workers <= 1:
            self._pending[(kind, table)] = [
                scan_connection(conn, j.table, j.lo, j.hi) for j in jobs
            ]
            return
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self._workers, mp_context=context)
        self._pending[(kind, table)] = [self._pool.submit(scan, job) for job in jobs]

    def results(self) -> dict[tuple[str, str], int | None]:
        try:
            out: dict[tuple[str, str], int | None] = {}
            for key, items in self._pending.items():
                parts = [i.result() if isinstance(i, Future) else i for i in items]
                out[key] = first_bad(parts)
            return out
        finally:
            if self._pool is not None:
                self._pool.shutdown()
