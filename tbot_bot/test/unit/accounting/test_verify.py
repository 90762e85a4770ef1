"""verify() finds exactly the seeded defect (accounting spec §8.5).

Each defect is seeded in a copy of healthy files, as an attacker or a bug would: triggers are
dropped, rows edited, the triggers put back byte for byte, and (where the defect should be
caught by something other than the hash chain) the chain is recomputed with the public
algorithm, so only the seeded inconsistency remains.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tbot_bot.accounting import Books, OpeningPosition, verify
from tbot_bot.accounting.audit import event_hash_row
from tbot_bot.accounting.codec import ZERO_HASH, canonical_json, chain_hash
from tbot_bot.accounting.schema import connect
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs
from tbot_bot.test.unit.accounting.builders import T0, at, deposit, fill


@pytest.fixture
def healthy(books: Books, outputs: BotOutputs, identity: BotIdentity, tmp_path: Path) -> BotOutputs:
    """OB + deposit + buy/sell; then the files are copied so each test tampers with its own."""
    with books.session("opening_balance"):
        books.post_opening_balance(
            [OpeningPosition("ABC", Decimal("4"), Decimal("200.00"))],
            50000,
            T0 - timedelta(hours=1),
            actor="t",
        )
    with books.session("fills"):
        books.post(deposit("D1", "1000.00", at(0)))
        books.post(fill("F1", "XYZ", "buy", "3", "10.00", when=at(1)))
        books.post(fill("F2", "XYZ", "sell", "1", "12.00", "0.01", when=at(2)))
        books.post(fill("F3", "ABC", "sell", "1", "55.00", when=at(3)))
    assert verify(outputs, identity) == []
    books.close()
    copy = BotOutputs(tmp_path / "copy" / identity.string, identity.string)
    shutil.copytree(outputs.root, copy.root)
    return copy


@contextlib.contextmanager
def tamper(outputs: BotOutputs, kind: str = "ledger") -> Iterator[sqlite3.Connection]:
    conn = connect(outputs.ledger_db(kind))
    conn.execute("PRAGMA foreign_keys=OFF")
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    try:
        yield conn
    finally:
        for _, text in triggers:
            conn.execute(text)
        conn.close()


def rehash(conn: sqlite3.Connection) -> None:
    prev = ZERO_HASH
    for event in [dict(r) for r in conn.execute("SELECT * FROM journal_events ORDER BY id")]:
        splits = [
            dict(s)
            for s in conn.execute("SELECT * FROM ledger_entries WHERE event_id = ?", (event["id"],))
        ]
        new = chain_hash(prev, event_hash_row(event, splits))
        conn.execute(
            "UPDATE journal_events SET prev_hash = ?, row_hash = ? WHERE id = ?",
            (prev, new, event["id"]),
        )
        prev = new


def codes(outputs: BotOutputs, identity: BotIdentity) -> set[str]:
    return {issue.code for issue in verify(outputs, identity)}


def test_healthy_copy_is_clean(healthy: BotOutputs, identity: BotIdentity) -> None:
    assert verify(healthy, identity, deep=True) == []


def test_unbalanced_event(healthy: BotOutputs, identity: BotIdentity) -> None:
    with tamper(healthy) as conn:
        conn.execute(
            "UPDATE ledger_entries SET amount_minor = amount_minor + 1 WHERE account_code = '5010'"
        )
        conn.execute(
            "UPDATE ledger_entries SET amount_minor = amount_minor - 1 WHERE account_code = '3010'"
        )
        rehash(conn)
    issues = verify(healthy, identity)
    assert {i.code for i in issues} == {"UNBALANCED_EVENT"}
    assert len(issues) == 2


def test_unsealed_event(healthy: BotOutputs, identity: BotIdentity) -> None:
    with tamper(healthy) as conn:
        conn.execute("DELETE FROM entry_seals WHERE event_id = 3")
    # the missing seal is also a dangling FOREIGN KEY and leaves the event's splits orphaned
    assert codes(healthy, identity) == {"UNSEALED_EVENT", "ORPHAN_SPLIT", "INTEGRITY"}


def test_orphan_split(healthy: BotOutputs, identity: BotIdentity) -> None:
    with tamper(healthy) as conn:
        for leg, amount in ((1, 5), (2, -5)):
            conn.execute(
                "INSERT INTO ledger_entries (event_id, leg_no, FITID, account_code,"
                " amount_minor, currency_code)"
                " VALUES (999, ?, ?, '5010', ?, 'USD')",
                (leg, f"x:{leg}", amount),
            )
    assert codes(healthy, identity) == {"ORPHAN_SPLIT", "INTEGRITY"}


def test_broken_hash_chain_names_the_row(healthy: BotOutputs, identity: BotIdentity) -> None:
    with tamper(healthy) as conn:
        conn.execute("UPDATE journal_events SET memo = 'x' WHERE id = 3")
    issues = verify(healthy, identity)
    assert [(i.code, i.table, i.ref) for i in issues] == [
        ("HASH_CHAIN_BROKEN", "journal_events", "3")
    ]


def test_broken_audit_chain(healthy: BotOutputs, identity: BotIdentity) -> None:
    with tamper(healthy) as conn:
        conn.execute("UPDATE audit_trail SET actor = 'mallory' WHERE id = 5")
    issues = verify(healthy, identity)
    assert [(i.code, i.table, i.ref) for i in issues] == [("HASH_CHAIN_BROKEN", "audit_trail", "5")]


def test_coa_mismatch(healthy: BotOutputs, identity: BotIdentity) -> None:
    with tamper(healthy) as conn:
        conn.execute("UPDATE coa_accounts SET name = 'Other' WHERE code = '5060'")
    assert codes(healthy, identity) == {"COA_MISMATCH"}


def test_lot_ledger_mismatch(healthy: BotOutputs, identity: BotIdentity) -> None:
    with tamper(healthy) as conn:
        conn.execute("UPDATE lots SET basis_minor = basis_minor + 7 WHERE symbol = 'XYZ'")
    issues = verify(healthy, identity)
    assert {i.code for i in issues} == {"LOT_LEDGER_MISMATCH"}
    assert {i.ref for i in issues} == {"XYZ"}


def test_negative_lot(healthy: BotOutputs, identity: BotIdentity) -> None:
    with tamper(healthy) as conn:
        conn.execute("UPDATE lot_closures SET qty_e9 = qty_e9 * 10 WHERE id = 1")
    assert "LOT_NEGATIVE" in codes(healthy, identity)


def test_ob_order(healthy: BotOutputs, identity: BotIdentity) -> None:
    with tamper(healthy) as conn:
        conn.execute(
            "UPDATE journal_events SET DTPOSTED = '2025-07-15T12:00:00.000Z'"
            " WHERE event_type = 'DEPOSIT'"
        )
        rehash(conn)
    assert codes(healthy, identity) == {"OB_ORDER"}


def test_float_link(healthy: BotOutputs, identity: BotIdentity) -> None:
    from tbot_bot.accounting.floatbook import FloatBook

    conn = connect(healthy.ledger_db("float"))
    try:
        FloatBook(conn, identity, "mallory").record_capital_event(
            "INJECTION_RECEIVED",
            ledger_fitid="9" * 64,
            amount_minor=100,
            at_utc="2025-07-15T15:00:00.000Z",
            trading_day=date(2025, 7, 15),
        )
    finally:
        conn.close()
    assert codes(healthy, identity) == {"FLOAT_LINK"}


def test_open_items_are_warnings(books: Books, outputs: BotOutputs, identity: BotIdentity) -> None:
    with books.session("fills"):
        books.post(fill("F9", "XYZ", "sell", "1", "10.00", when=at(1)))  # nothing to sell: queued
    issues = verify(outputs, identity)
    assert {(i.code, i.severity) for i in issues} == {
        ("OPEN_RECON", "warning"),
        ("UNMAPPED_PENDING", "warning"),
    }


def test_parallel_chain_check_reports_the_same_row(
    healthy: BotOutputs, identity: BotIdentity
) -> None:
    assert verify(healthy, identity, workers=2) == []
    with tamper(healthy) as conn:
        conn.execute("UPDATE audit_trail SET reason = 'x' WHERE id = 7")
    issues = verify(healthy, identity, workers=2)
    assert [(i.code, i.table, i.ref) for i in issues] == [("HASH_CHAIN_BROKEN", "audit_trail", "7")]


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=30)),
        max_size=6,
    )
)
def test_sqlite_json_object_writes_the_canonical_json_bytes(row: dict[str, object]) -> None:
    """verify() hashes rows serialised by SQLite's json_object(); the writer hashes
    codec.canonical_json. They must agree byte for byte for every TEXT/INTEGER/NULL value."""
    keys = sorted(row)
    conn = sqlite3.connect(":memory:")
    try:
        args: list[object] = [item for key in keys for item in (key, row[key])]
        placeholders = ", ".join("?" for _ in args)
        text = conn.execute(f"SELECT json_object({placeholders})", args).fetchone()[0]
    finally:
        conn.close()
    assert text.encode("utf-8") == canonical_json(row)


def test_parallel_verify_lists_the_same_issues_in_the_same_order(
    healthy: BotOutputs, identity: BotIdentity
) -> None:
    """With workers > 1 the ledger's quick_check/foreign_key_check run in a thread on their own
    connection; the issue list must not change, in content or order."""
    with tamper(healthy) as conn:
        conn.execute("DELETE FROM entry_seals WHERE event_id = 3")
        conn.execute("UPDATE audit_trail SET reason = 'x' WHERE id = 7")
    for deep in (False, True):
        serial = verify(healthy, identity, deep=deep, workers=1)
        assert {"INTEGRITY", "UNSEALED_EVENT", "ORPHAN_SPLIT", "HASH_CHAIN_BROKEN"} <= {
            i.code for i in serial
        }
        assert verify(healthy, identity, deep=deep, workers=2) == serial
