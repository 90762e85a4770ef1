"""Crash safety, the single-writer lock and backup-API snapshots (accounting spec §1.2, §4.1, §8.4).

The crash test runs a real writer process and kills it (os._exit, no rollback, no cleanup) in the
middle of a posting transaction, right before the seal is inserted; the files must then hold
nothing of that posting and verify clean.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tbot_bot.accounting import Books, create_ledgers, open_books, snapshots, verify
from tbot_bot.accounting.schema import connect
from tbot_bot.accounting.snapshots import file_sha256
from tbot_bot.clock import FakeClock
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.errors import LedgerError
from tbot_bot.test.unit.accounting.builders import T0, at, deposit, fill

CHILD = textwrap.dedent(
    """
    import os, sys
    from datetime import timedelta
    from tbot_bot.accounting import open_books
    from tbot_bot.clock import FakeClock
    from tbot_bot.config.identity import BotIdentity
    from tbot_bot.config.path_resolver import RuntimePaths
    from tbot_bot.test.unit.accounting.builders import T0, at, deposit, fill

    paths = RuntimePaths.for_home(sys.argv[1])
    identity = BotIdentity.from_codes("TEST", "USA", "ALPACA", "01")
    books = open_books(paths.bot_outputs(identity.string), identity, actor="child", paths=paths,
                       clock=FakeClock(T0 + timedelta(hours=8)))
    with books.session("fills"):
        books.post(deposit("D1", "1000.00", at(0)))
        def die(statement):
            if statement.lstrip().startswith("INSERT INTO entry_seals"):
                os._exit(17)  # the process vanishes mid-transaction
        books.ledger.set_trace_callback(die)
        books.post(fill("F1", "XYZ", "buy", "3", "10.00", when=at(1)))
    sys.exit(0)
    """
)


def test_a_crash_in_the_middle_of_a_posting_leaves_nothing_partial(
    tbot_home: Path, outputs: BotOutputs, identity: BotIdentity, paths: RuntimePaths
) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tbot_home)], capture_output=True, timeout=120, check=False
    )
    assert child.returncode == 17, child.stderr.decode()
    conn = connect(outputs.ledger_db("ledger"), readonly=True)
    try:
        types = [r[0] for r in conn.execute("SELECT event_type FROM journal_events")]
        assert types == ["DEPOSIT"]
        for table in ("lots", "trades", "ledger_entries", "entry_seals"):
            rows = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
            assert rows == (
                2 if table == "ledger_entries" else 1 if table == "entry_seals" else 0
            ), table
        assert (
            conn.execute(
                "SELECT COUNT(*) FROM audit_trail WHERE event_type = 'EVENT_POSTED'"
            ).fetchone()[0]
            == 1
        )
    finally:
        conn.close()
    assert [i for i in verify(outputs, identity) if i.is_error] == []
    books = open_books(
        outputs, identity, actor="t", paths=paths, clock=FakeClock(T0)
    )  # the lock died too
    try:
        assert books.ledger_status == "ACTIVE"
        with books.session("fills"):  # the fill is re-delivered and now posts once
            assert books.post(fill("F1", "XYZ", "buy", "3", "10.00", when=at(1))).posted
    finally:
        books.close()


def test_only_one_writer_and_create_ledgers_holds_no_lock(
    books: Books, outputs: BotOutputs, identity: BotIdentity, paths: RuntimePaths
) -> None:
    with pytest.raises(LedgerError, match="held by another writer"):
        open_books(outputs, identity, actor="second", paths=paths, clock=FakeClock(T0))
    create_ledgers(outputs, identity)  # provisioning path: no lock taken, nothing changed
    books.close()
    again = open_books(outputs, identity, actor="third", paths=paths, clock=FakeClock(T0))
    again.close()


def test_snapshot_taken_while_another_connection_writes(
    books: Books, outputs: BotOutputs, paths: RuntimePaths, identity: BotIdentity
) -> None:
    with books.session("fills"):
        for i in range(200):
            books.post(deposit(f"D{i}", "1.00", at(0)))
    started, stop = threading.Event(), threading.Event()

    def other_writer() -> None:
        conn = sqlite3.connect(outputs.ledger_db("ledger"), timeout=5)
        try:
            n = 0
            while not stop.is_set() or n < 50:
                conn.execute(
                    "INSERT INTO raw_broker_records (broker_code, record_kind, external_id,"
                    " response_hash, payload_json, fetched_at_utc) VALUES ('ALPACA', 'order', ?, ?,"
                    " '{}', '2025-07-15T14:00:00.000Z')",
                    (str(n), f"{n:064d}"),
                )
                conn.commit()
                n += 1
                started.set()
        finally:
            conn.close()

    thread = threading.Thread(target=other_writer)
    thread.start()
    try:
        assert started.wait(30)
        taken = snapshots.take(
            paths, identity.string, {"ledger": books.ledger}, now=T0, sync_run_id="concurrent"
        )
    finally:
        stop.set()
        thread.join()
    copy = sqlite3.connect(f"{taken[0].path.as_uri()}?mode=ro", uri=True)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("SELECT COUNT(*) FROM journal_events").fetchone()[0] == 200
    finally:
        copy.close()
    assert file_sha256(taken[0].path) == taken[0].sha256


def test_each_session_snapshots_the_three_files_and_records_the_hash(
    books: Books, paths: RuntimePaths
) -> None:
    with books.session("sync") as session:
        run_id = session.sync_run_id
    path, sha = books.ledger.execute(
        "SELECT snapshot_path, snapshot_sha256 FROM sync_runs WHERE sync_run_id = ?", (run_id,)
    ).fetchone()
    snapshot = Path(path)
    assert snapshot.parent == paths.ledger_snapshots_dir
    assert snapshot.name.startswith("TEST_USA_ALPACA_01_BOT_ledger_") and snapshot.name.endswith(
        f"_{run_id}.db"
    )
    assert file_sha256(snapshot) == sha
    names = sorted(p.name for p in paths.ledger_snapshots_dir.glob(f"*_{run_id}.db"))
    assert [n.split("_BOT_")[1].split("_2025")[0] for n in names] == [
        "COA",
        "FLOAT_ledger",
        "ledger",
    ]
    audits = books.ledger.execute(
        "SELECT COUNT(*) FROM audit_trail WHERE event_type = 'SNAPSHOT_TAKEN' AND sync_run_id = ?",
        (run_id,),
    )
    assert audits.fetchone()[0] == 3
