"""COA template 1.0.0, publish/rollback rules and the ledger mirror (accounting spec §2)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tbot_bot.accounting import Books, open_books, verify
from tbot_bot.accounting.coa import TEMPLATE_PATH, CoaRollbackBlockedError, load_template
from tbot_bot.accounting.schema import connect
from tbot_bot.clock import FakeClock
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.errors import LedgerError
from tbot_bot.test.unit.accounting.builders import T0, deposit

# §2.2 postable leaves and headers, spot-checked against the template file and the database.
POSTABLE = {
    "1010",
    "1020",
    "1030",
    "1111",
    "1112",
    "1120",
    "1130",
    "2010",
    "2020",
    "2110",
    "3010",
    "3030",
    "3040",
    "3050",
    "4010",
    "4050",
    "4055",
    "4060",
    "4065",
    "4070",
    "4080",
    "5010",
    "5060",
    "5070",
    "5080",
    "5090",
}
HEADERS = {"1000", "1100", "1110", "2000", "2100", "3000", "3020", "4000", "4090", "5000", "5050"}


def test_template_1_0_0_matches_the_spec(books: Books) -> None:
    template = load_template()
    assert template.version == "1.0.0"
    codes = {a["code"]: a for a in template.tree}
    assert set(codes) == POSTABLE | HEADERS
    assert {c for c, a in codes.items() if a["postable"]} == POSTABLE
    assert codes["1030"]["name"] == "Broker – Cash"
    assert (codes["2110"]["account_type"], codes["2110"]["normal_side"]) == ("liability", "credit")
    assert (codes["5050"]["account_type"], codes["5050"]["parent_code"]) == ("memo", "5000")
    db = {
        r[0]: tuple(r)
        for r in books.coa.execute(
            "SELECT code, name, postable, introduced_in_version FROM coa_accounts"
        )
    }
    assert {c: (c, a["name"], a["postable"], "1.0.0") for c, a in codes.items()} == db
    meta = books.coa.execute("SELECT * FROM coa_metadata").fetchone()
    assert (meta["currency_code"], meta["entity_code"], meta["jurisdiction_code"]) == (
        "USD",
        "TEST",
        "USA",
    )
    assert (meta["coa_version"], meta["broker_code"], meta["bot_id"]) == ("1.0.0", "ALPACA", "01")
    assert len(meta["created_at_utc"]) == len(meta["last_updated_utc"]) == 24


def test_editing_the_template_in_place_is_refused(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    from tbot_bot.accounting import coa

    doc = json.loads(TEMPLATE_PATH.read_text(encoding="utf-8"))
    doc["accounts"][3]["name"] = "Renamed in place"
    edited = Path(str(tmp_path)) / "coa_template.json"
    edited.write_text(json.dumps(doc), encoding="utf-8")
    monkeypatch.setattr(coa, "TEMPLATE_PATH", edited)
    with pytest.raises(LedgerError, match="edited in place"):
        load_template()


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        ("DELETE FROM coa_accounts WHERE code = '5070'", "APPEND_ONLY"),
        ("UPDATE coa_accounts SET code = '5071' WHERE code = '5070'", "COA_FIELD_IMMUTABLE"),
        (
            "UPDATE coa_accounts SET account_type = 'asset' WHERE code = '5070'",
            "COA_FIELD_IMMUTABLE",
        ),
        (
            "UPDATE coa_accounts SET name = 'Servers' WHERE code = '5070'",
            "COA_EDIT_OUTSIDE_PUBLISH",
        ),
    ],
)
def test_accounts_change_only_through_publish(
    books: Books, outputs: BotOutputs, statement: str, code: str
) -> None:
    for kind in ("coa", "ledger"):
        conn = connect(outputs.ledger_db(kind))
        try:
            with pytest.raises(sqlite3.IntegrityError, match=code):
                conn.execute(statement)
        finally:
            conn.close()


def test_publish_bumps_version_updates_mirror_and_audits(
    books: Books, outputs: BotOutputs, identity: BotIdentity
) -> None:
    assert (
        books.publish_coa(
            [{"code": "5070", "name": "Servers and Hosting"}], actor="admin", reason="rename"
        )
        == "1.0.1"
    )
    new = {
        "code": "5095",
        "name": "Data Feeds",
        "parent_code": "5000",
        "account_type": "expense",
        "normal_side": "debit",
        "cash_flow_class": "operating",
        "postable": 1,
    }
    assert books.publish_coa([new], actor="admin", reason="new account") == "1.1.0"
    for conn in (books.coa, books.ledger):
        assert conn.execute("SELECT coa_version FROM coa_metadata").fetchone()[0] == "1.1.0"
        row = conn.execute(
            "SELECT name, changed_in_version FROM coa_accounts WHERE code='5070'"
        ).fetchone()
        assert tuple(row) == ("Servers and Hosting", "1.0.1")
        assert (
            conn.execute(
                "SELECT introduced_in_version FROM coa_accounts WHERE code='5095'"
            ).fetchone()[0]
            == "1.1.0"
        )
    audits = [
        r[0]
        for r in books.coa.execute(
            "SELECT related_id FROM coa_audit_log WHERE event_type='COA_PUBLISHED'"
        )
    ]
    assert audits[-2:] == ["1.0.1", "1.1.0"]
    assert books.coa_version == "1.1.0"
    assert verify(outputs, identity) == []


def test_publish_refuses_bad_trees_and_busy_accounts(books: Books) -> None:
    with pytest.raises(LedgerError, match="only"):
        books.publish_coa([{"code": "5070", "account_type": "asset"}], actor="a", reason="r")
    with pytest.raises(LedgerError, match="parent 1030 is postable"):
        books.publish_coa(
            [
                {
                    "code": "1031",
                    "name": "x",
                    "parent_code": "1030",
                    "account_type": "asset",
                    "normal_side": "debit",
                    "cash_flow_class": "control",
                    "postable": 1,
                }
            ],
            actor="a",
            reason="r",
        )
    with books.session("manual"):
        books.post(deposit("D1", "10.00"))
    with pytest.raises(LedgerError, match="non-zero balance"):
        books.publish_coa([{"code": "1030", "active": 0}], actor="a", reason="r")


def test_rollback_restores_names_and_deactivates_later_accounts(books: Books) -> None:
    books.publish_coa([{"code": "5070", "name": "Servers"}], actor="a", reason="r")
    books.publish_coa(
        [
            {
                "code": "5095",
                "name": "Data Feeds",
                "parent_code": "5000",
                "account_type": "expense",
                "normal_side": "debit",
                "cash_flow_class": "operating",
                "postable": 1,
            }
        ],
        actor="a",
        reason="r",
    )
    assert books.rollback_coa("1.0.0", actor="admin", reason="undo") == "1.2.0"
    row = books.ledger.execute("SELECT name FROM coa_accounts WHERE code='5070'").fetchone()
    assert row[0] == "Bot Infrastructure Costs"
    assert (
        books.ledger.execute("SELECT active FROM coa_accounts WHERE code='5095'").fetchone()[0] == 0
    )


def test_rollback_is_refused_when_a_later_account_has_a_balance(books: Books) -> None:
    books.publish_coa(
        [
            {
                "code": "5095",
                "name": "Data Feeds",
                "parent_code": "5000",
                "account_type": "expense",
                "normal_side": "debit",
                "cash_flow_class": "operating",
                "postable": 1,
            }
        ],
        actor="a",
        reason="r",
    )
    with books.session("manual"):
        fee = books.post(deposit("D1", "10.00"))
        books.reclass(fee.fitids[0], 1, "5095", reason="test", actor="a")
    versions = books.coa.execute("SELECT COUNT(*) FROM coa_versions").fetchone()[0]
    with pytest.raises(CoaRollbackBlockedError, match="COA_ROLLBACK_BLOCKED"):
        books.rollback_coa("1.0.0", actor="admin", reason="undo")
    assert books.coa.execute("SELECT COUNT(*) FROM coa_versions").fetchone()[0] == versions


def test_tampered_mirror_is_a_coa_mismatch_and_locks_the_ledger(
    books: Books, outputs: BotOutputs, identity: BotIdentity, paths: RuntimePaths
) -> None:
    books.close()
    conn = connect(outputs.ledger_db("ledger"))
    try:
        trigger_sql = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'coa_accounts_update'"
        ).fetchone()[0]
        conn.execute("DROP TRIGGER coa_accounts_update")
        conn.execute("UPDATE coa_accounts SET name = 'Tampered' WHERE code = '5070'")
        conn.execute(trigger_sql)  # put the trigger back exactly: only the data differs
    finally:
        conn.close()
    codes = {i.code for i in verify(outputs, identity)}
    assert "COA_MISMATCH" in codes
    reopened = open_books(outputs, identity, actor="t", paths=paths, clock=FakeClock(T0))
    try:
        assert reopened.ledger_status == "LOCKED"
    finally:
        reopened.close()
