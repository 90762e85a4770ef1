"""Batch posting (`Books.post_many`, the broker sync's path; accounting spec §4.1, §6.1).

A batch is one durable transaction with each record atomic inside it (SAVEPOINT): the books it
writes must be exactly the books that posting the same records one by one writes, and a hard
error must keep the records before it, leave nothing of the failing record and post nothing after.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from tbot_bot.accounting import Books, PostStatus, open_books, verify
from tbot_bot.accounting.models import NormalizedRecord
from tbot_bot.accounting.session import Session
from tbot_bot.clock import FakeClock
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import LedgerError
from tbot_bot.test.unit.accounting.builders import at, count, deposit, fill

# Columns that legitimately differ between two ledgers: the session's random sync_run_id and the
# hash chain that covers it. Everything economic must match.
_RUN_COLUMNS = {"sync_run_id", "prev_hash", "row_hash"}


def _records() -> list[NormalizedRecord]:
    """Buys, partial and full FIFO closes, a fee-carrying fill and a duplicate delivery."""
    records = [deposit("D1", "100000.00", when=at(0))]
    for i in range(12):
        symbol = ("AAA", "BBB", "CCC")[i % 3]
        side = "buy" if (i // 3) % 2 == 0 else "sell"
        qty = "4" if side == "buy" else "3"
        records.append(fill(f"F{i}", symbol, side, qty, f"{100 + i}.25", "0.01", when=at(i + 1)))
    records.append(records[3])  # re-delivered fill: a duplicate inside the same batch
    return records


def _dump(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    dumped: dict[str, list[tuple[object, ...]]] = {}
    for table in ("journal_events", "ledger_entries", "entry_seals", "trades", "lots"):
        columns = [
            str(r[1])
            for r in conn.execute(f'PRAGMA table_info("{table}")')
            if r[1] not in _RUN_COLUMNS
        ]
        names = ", ".join(f'"{c}"' for c in columns)
        rows = conn.execute(f"SELECT {names} FROM {table} ORDER BY rowid")  # noqa: S608
        dumped[table] = [tuple(r) for r in rows]
    return dumped


def _post_all(
    home: Path, identity: BotIdentity, clock: FakeClock, batch: int
) -> tuple[list[PostStatus], dict[str, list[tuple[object, ...]]]]:
    paths = RuntimePaths.for_home(home)
    outputs = paths.bot_outputs(identity.string)
    books = open_books(outputs, identity, actor="test", paths=paths, clock=clock)
    try:
        statuses: list[PostStatus] = []
        with books.session("fills"):
            records = _records()
            if batch == 1:
                statuses = [books.post(r).status for r in records]
            else:
                for k in range(0, len(records), batch):
                    statuses += [r.status for r in books.post_many(records[k : k + batch])]
        assert [i for i in verify(outputs, identity) if i.is_error] == []
        return statuses, _dump(books.ledger)
    finally:
        books.close()


@pytest.mark.parametrize("batch", [5, 100])
def test_batches_write_the_same_books_as_single_posts(
    tbot_home: Path, identity: BotIdentity, clock: FakeClock, batch: int
) -> None:
    single_status, single = _post_all(tbot_home / "single", identity, clock, 1)
    batch_status, batched = _post_all(tbot_home / "batched", identity, clock, batch)
    assert batch_status == single_status
    assert single_status[-1] is PostStatus.DUPLICATE
    assert single_status.count(PostStatus.POSTED) == len(single_status) - 1
    assert batched == single
    assert len(single["ledger_entries"]) > 2 * len(single["journal_events"])


def test_hard_error_keeps_earlier_records_and_posts_nothing_after(
    books: Books, session: Session
) -> None:
    good = fill("F1", "XYZ", "buy", "10", "100.00", when=at(1))
    foreign = dataclasses.replace(
        fill("F2", "XYZ", "buy", "1", "100.00", when=at(2)), broker_code="OTHER"
    )
    later = fill("F3", "XYZ", "buy", "2", "100.00", when=at(3))
    raw_before = count(books.ledger, "raw_broker_records")
    with pytest.raises(LedgerError, match="OTHER"):
        books.post_many([good, foreign, later])
    assert count(books.ledger, "journal_events") == 1
    assert count(books.ledger, "raw_broker_records") == raw_before + 1
    assert session.counts["rejected"] == 1
    assert books.post(later).status is PostStatus.POSTED
    assert books.post(good).status is PostStatus.DUPLICATE
