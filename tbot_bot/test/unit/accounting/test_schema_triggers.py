"""Files, PRAGMAs, CHECKs and the triggers that make the database enforce the books (§1.2,
§1.3, §3.3, §8.1). Direct SQL here plays the part of a buggy or malicious writer."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tbot_bot.accounting import Books, create_ledgers, open_books, verify
from tbot_bot.accounting.admin import resolve_queue_entry
from tbot_bot.accounting.schema import APPLICATION_ID, connect, schema_version
from tbot_bot.broker.models import ActivityKind
from tbot_bot.clock import FakeClock
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.errors import LedgerError
from tbot_bot.test.unit.accounting.builders import T0, activity, at, deposit, fill

TS = "2025-07-15T14:00:00.000Z"
HASH = "a" * 64


@contextlib.contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(path)
    try:
        yield conn
    finally:
        conn.close()


def insert_event(
    conn: sqlite3.Connection, fitid: str, *, entity: str = "TEST", row_hash: str = HASH
) -> int:
    cursor = conn.execute(
        "INSERT INTO journal_events (FITID, group_id, event_type, TRNTYPE, ofx_aggregate, DTPOSTED,"
        " entity_code, jurisdiction_code, broker_code, bot_id, currency_code, action,"
        " position_effect, source, mapping_version, coa_version, content_hash, created_at_utc,"
        " created_by, prev_hash, row_hash)"
        " VALUES (?, 'g', 'FEE', 'FEE', 'INVBANKTRAN', ?, ?, 'USA',"
        " 'ALPACA', '01', 'USD', 'other', 'none', 'manual', 1, '1.0.0', ?, ?, 'test', ?, ?)",
        (fitid, TS, entity, HASH, TS, "0" * 64, row_hash),
    )
    return int(cursor.lastrowid or 0)


def insert_leg(
    conn: sqlite3.Connection, event_id: int, fitid: str, leg: int, account: str, amount: int
) -> None:
    conn.execute(
        "INSERT INTO ledger_entries (event_id, leg_no, FITID, account_code, amount_minor,"
        " currency_code)"
        " VALUES (?, ?, ?, ?, ?, 'USD')",
        (event_id, leg, f"{fitid}:{leg}", account, amount),
    )


def seal(conn: sqlite3.Connection, event_id: int, fitid: str, legs: int) -> None:
    conn.execute(
        "INSERT INTO entry_seals (event_id, FITID, leg_count, sealed_at_utc) VALUES (?, ?, ?, ?)",
        (event_id, fitid, legs, TS),
    )


@pytest.fixture
def ledger_path(outputs: BotOutputs, identity: BotIdentity) -> Path:
    create_ledgers(outputs, identity, clock=FakeClock(T0))
    return outputs.ledger_db("ledger")


def test_creates_exactly_three_files_with_pragmas(books: Books, outputs: BotOutputs) -> None:
    names = sorted(p.name for p in outputs.ledgers_dir.glob("*.db"))
    assert names == [
        "TEST_USA_ALPACA_01_BOT_COA.db",
        "TEST_USA_ALPACA_01_BOT_FLOAT_ledger.db",
        "TEST_USA_ALPACA_01_BOT_ledger.db",
    ]
    for kind, meta_sql in (
        ("coa", "SELECT db_kind FROM coa_metadata"),
        ("ledger", "SELECT value FROM ledger_meta WHERE key='db_kind'"),
        ("float", "SELECT value FROM float_meta WHERE key='db_kind'"),
    ):
        with raw(outputs.ledger_db(kind)) as conn:
            assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
            assert conn.execute("PRAGMA user_version").fetchone()[0] == schema_version(kind)
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
            assert conn.execute(meta_sql).fetchone()[0] == kind
    with raw(outputs.ledger_db("ledger")) as conn:
        assert conn.execute("SELECT db_kind FROM coa_metadata").fetchone()[0] == "coa"


def test_create_ledgers_is_idempotent(outputs: BotOutputs, identity: BotIdentity) -> None:
    create_ledgers(outputs, identity, clock=FakeClock(T0))
    create_ledgers(outputs, identity, clock=FakeClock(T0))
    with raw(outputs.ledger_db("ledger")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM ledger_status_log").fetchone()[0] == 1
    assert verify(outputs, identity) == []


def test_a_column_added_by_hand_makes_startup_fail(
    ledger_path: Path, outputs: BotOutputs, identity: BotIdentity, paths: RuntimePaths
) -> None:
    with raw(ledger_path) as conn:
        conn.execute("ALTER TABLE trades ADD COLUMN note TEXT")
    with pytest.raises(LedgerError, match="SCHEMA_VERSION"):
        open_books(outputs, identity, actor="t", paths=paths, clock=FakeClock(T0))
    assert [i.code for i in verify(outputs, identity)] == ["SCHEMA_VERSION"]


def test_a_dropped_trigger_is_reported(
    ledger_path: Path, outputs: BotOutputs, identity: BotIdentity
) -> None:
    with raw(ledger_path) as conn:
        conn.execute("DROP TRIGGER seal_check")
    assert [(i.code, i.table) for i in verify(outputs, identity)] == [
        ("TRIGGER_MISSING", "seal_check")
    ]


def test_checks_reject_bad_values(ledger_path: Path) -> None:
    with raw(ledger_path) as conn:
        conn.execute("BEGIN")
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):  # timestamp not 24-char UTC
            conn.execute(
                "INSERT INTO ledger_status_log (status, at_utc, actor, reason)"
                " VALUES ('ACTIVE', '2025-07-15 14:00:00', 'a', 'r')"
            )
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):  # price in exponent form
            conn.execute(
                "INSERT INTO trades (event_id, symbol, instrument, side, position_effect, action,"
                " qty_e9,"
                " price, gross_minor, commission_minor, fee_minor, status, filled_at_utc)"
                " VALUES (1, 'X', 'equity', 'buy', 'open', 'long', 1, '1E+2', 1, 0, 0,"
                " 'filled', ?)",
                (TS,),
            )
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):  # currency code case
            conn.execute("INSERT INTO currencies (code, minor_unit) VALUES ('usd', 2)")
        event_id = insert_event(conn, "c" * 64)
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):  # zero amount
            insert_leg(conn, event_id, "c" * 64, 1, "1030", 0)
        conn.execute("ROLLBACK")
    coa_path = ledger_path.with_name(ledger_path.name.replace("_ledger.db", "_COA.db"))
    with raw(coa_path) as conn, pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute(
            "INSERT INTO coa_accounts (code, name, account_type, normal_side, cash_flow_class,"
            " postable, active, introduced_in_version)"
            " VALUES ('12A4', 'x', 'asset', 'debit', 'control', 1, 1, '1.0.0')"
        )


def test_seal_refuses_unbalanced_and_wrong_leg_count(ledger_path: Path) -> None:
    fitid = "d" * 64
    with raw(ledger_path) as conn:
        conn.execute("BEGIN")
        event_id = insert_event(conn, fitid)
        insert_leg(conn, event_id, fitid, 1, "5010", 100)
        insert_leg(conn, event_id, fitid, 2, "1030", -99)
        with pytest.raises(sqlite3.IntegrityError, match="SEAL_UNBALANCED"):
            seal(conn, event_id, fitid, 2)
        with pytest.raises(sqlite3.IntegrityError, match="SEAL_LEG_COUNT"):
            seal(conn, event_id, fitid, 3)
        with pytest.raises(sqlite3.IntegrityError, match="LEG_FITID"):
            conn.execute(
                "INSERT INTO ledger_entries (event_id, leg_no, FITID, account_code, amount_minor,"
                " currency_code) VALUES (?, 3, 'wrong', '1030', -1, 'USD')",
                (event_id,),
            )
        insert_leg(conn, event_id, fitid, 3, "1030", -1)
        seal(conn, event_id, fitid, 3)
        with pytest.raises(sqlite3.IntegrityError, match="LEDGER_SEALED"):
            insert_leg(conn, event_id, fitid, 4, "1030", 5)
        other = insert_event(conn, "e" * 64, row_hash="b" * 64)
        with pytest.raises(sqlite3.IntegrityError, match="ACCOUNT_NOT_POSTABLE"):
            insert_leg(conn, other, "e" * 64, 1, "1000", 5)
        conn.execute("ROLLBACK")


def test_an_event_without_seal_fails_at_commit(ledger_path: Path) -> None:
    fitid = "f" * 64
    with raw(ledger_path) as conn:
        conn.execute("BEGIN")
        event_id = insert_event(conn, fitid)
        insert_leg(conn, event_id, fitid, 1, "5010", 100)
        insert_leg(conn, event_id, fitid, 2, "1030", -100)
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            conn.execute("COMMIT")
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT COUNT(*) FROM journal_events").fetchone()[0] == 0


def test_identity_mismatch_and_locked_ledger(books: Books, ledger_path: Path) -> None:
    with raw(ledger_path) as conn:
        conn.execute("BEGIN")
        with pytest.raises(sqlite3.IntegrityError, match="IDENTITY_MISMATCH"):
            insert_event(conn, "1" * 64, entity="OTHER")
        conn.execute("ROLLBACK")
    books.set_status("LOCKED", actor="admin", reason="test")
    with raw(ledger_path) as conn:
        conn.execute("BEGIN")
        with pytest.raises(sqlite3.IntegrityError, match="LEDGER_NOT_ACTIVE"):
            insert_event(conn, "2" * 64)
        conn.execute("ROLLBACK")
    with books.session("manual"), pytest.raises(LedgerError, match="LEDGER_NOT_ACTIVE"):
        books.post(deposit("D1", "1.00"))
    books.set_status("ACTIVE", actor="admin", reason="unlock")
    with books.session("manual"):
        assert books.post(deposit("D1", "1.00")).posted


def test_over_close_is_refused(books: Books, ledger_path: Path) -> None:
    with books.session("fills"):
        books.post(fill("F1", "XYZ", "buy", "2", "10.00", when=at(1)))
        sell = books.post(fill("F2", "XYZ", "sell", "1", "10.00", when=at(2)))
    event_id = books.ledger.execute(
        "SELECT id FROM journal_events WHERE FITID=?", (sell.fitids[0],)
    ).fetchone()[0]
    with raw(ledger_path) as conn, pytest.raises(sqlite3.IntegrityError, match="LOT_OVERCLOSE"):
        conn.execute(
            "INSERT INTO lot_closures (lot_id, close_event_id, qty_e9, basis_minor, proceeds_minor,"
            " realized_minor, term, closed_at_utc) VALUES (1, ?, ?, 0, 0, 0, 'ST', ?)",
            (event_id, 2 * 10**9, TS),
        )


APPEND_ONLY = {
    "ledger": (
        "journal_events",
        "ledger_entries",
        "entry_seals",
        "trades",
        "lots",
        "lot_closures",
        "lot_adjustments",
        "raw_broker_records",
        "reconciliation_log",
        "audit_trail",
        "unmapped_queue",
        "unmapped_resolutions",
        "ledger_meta",
        "ledger_status_log",
        "exports",
        "coa_versions",
        "currencies",
    ),
    "coa": ("coa_versions", "coa_audit_log", "mapping_versions", "mapping_rules", "currencies"),
    "float": (
        "float_meta",
        "currencies",
        "audit_trail",
        "float_policy_versions",
        "float_session_snapshots",
        "float_events",
    ),
}


def test_update_and_delete_of_posted_rows_fail(
    books: Books, outputs: BotOutputs, clock: FakeClock
) -> None:
    from datetime import date

    from tbot_bot.accounting import session_numbers

    with books.session("fills"):
        books.post(deposit("D1", "1000.00", at(0)))
        books.post(fill("F1", "XYZ", "buy", "2", "10.00", when=at(1)))
        sell = books.post(fill("F2", "XYZ", "sell", "1", "12.00", when=at(2)))
        books.reverse(sell.fitids[0], reason="test", actor="admin")
        queued = books.post(activity("A1", ActivityKind.OTHER, "1.00", raw_type="MYSTERY"))
        resolve_queue_entry(
            books, int(queued.queue_id or 0), resolution="ignored", actor="a", reason="r"
        )
        books.post(fill("F3", "XYZ", "sell", "5", "12.00", when=at(3)))  # insufficient -> recon row
        numbers = session_numbers(100000, 0, allocation_bp=200, daily_loss_limit_bp=500)
        books.float_ledger.record_snapshot(
            date(2025, 7, 15),
            "open",
            taken_at_utc=TS,
            account_value_minor=100000,
            cash_minor=100000,
            reserved_minor=0,
            float_minor=numbers.float_minor,
            session_cap_minor=numbers.session_cap_minor,
            daily_loss_limit_minor=numbers.daily_loss_limit_minor,
        )
        books.ledger.execute("BEGIN")
        books.ledger.execute(
            "INSERT INTO exports (kind, period_start, period_end, path, sha256, chain_head,"
            " created_at_utc)"
            " VALUES ('MANIFEST', ?, ?, 'x', ?, 'h', ?)",
            (TS, TS, HASH, TS),
        )
        books.ledger.execute("COMMIT")
    del clock
    for kind, tables in APPEND_ONLY.items():
        with raw(outputs.ledger_db(kind)) as conn:
            for table in tables:
                assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] > 0, table  # noqa: S608
                column = conn.execute(f"PRAGMA table_info({table})").fetchall()[1][1]
                with pytest.raises(sqlite3.IntegrityError, match="APPEND_ONLY"):
                    conn.execute(f"UPDATE {table} SET {column} = {column}")  # noqa: S608
                with pytest.raises(sqlite3.IntegrityError, match="APPEND_ONLY"):
                    conn.execute(f"DELETE FROM {table}")  # noqa: S608
