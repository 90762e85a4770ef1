"""ADJUSTMENT: basis fixes of opening-balance lots (accounting spec §4.2, §5.1, §6.2, §6.4, §8.4).

The opening balance below holds an estimated long lot (ABC, market value 1000.00, no broker
basis), a short lot (SHT, proceeds 500.00) and a long put (2 contracts, basis 300.00).
"""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import ofxparse
import pytest

from tbot_bot.accounting import (
    Books,
    OpeningPosition,
    PostStatus,
    list_events,
    open_lots,
    verify,
)
from tbot_bot.accounting import audit as audit_module
from tbot_bot.accounting.codec import internal_fitid
from tbot_bot.accounting.corrections import adjustment_draft
from tbot_bot.accounting.export_data import load_day
from tbot_bot.accounting.models import PostResult
from tbot_bot.accounting.ofx import build_statement
from tbot_bot.clock import FakeClock, iso_utc
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs
from tbot_bot.errors import LedgerError
from tbot_bot.test.unit.accounting.builders import T0, balances, count, fill, legs_of

PUT = "XYZ250815P00100000"
CUTOVER = T0 - timedelta(hours=1)
T0_TEXT = iso_utc(T0)


@pytest.fixture
def ob_fitid(books: Books) -> str:
    with books.session("opening_balance"):
        result = books.post_opening_balance(
            [
                OpeningPosition("ABC", Decimal("10"), None, market_value=Decimal("1000.00")),
                OpeningPosition("SHT", Decimal("-5"), Decimal("500.00")),
                OpeningPosition(PUT, Decimal("2"), Decimal("300.00"), None, "option", 100),
            ],
            0,
            CUTOVER,
            actor="t",
        )
    assert result.status is PostStatus.POSTED
    return result.fitids[0]


def lot_of(books: Books, symbol: str) -> int:
    row = books.ledger.execute("SELECT id FROM lots WHERE symbol = ?", (symbol,)).fetchone()
    return int(row[0])


def adjust(books: Books, lot_id: int, basis: str, reason: str = "broker statement") -> PostResult:
    with books.session("manual"):
        return books.adjust_opening_basis(lot_id, Decimal(basis), reason=reason, actor="admin")


def remaining_basis(outputs: BotOutputs, symbol: str) -> int:
    (lot,) = [lot for lot in open_lots(outputs) if lot.symbol == symbol]
    return lot.basis_remaining_minor


def adjustment_rows(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    rows = conn.execute(
        "SELECT lot_id, qty_delta_e9, basis_delta_minor, reason FROM lot_adjustments ORDER BY id"
    )
    return [tuple(r) for r in rows]


def event_row(conn: sqlite3.Connection, fitid: str) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM journal_events WHERE FITID = ?", (fitid,)).fetchone()
    return dict(row)


def test_estimated_long_basis_fixed_upward(
    books: Books, ob_fitid: str, outputs: BotOutputs, identity: BotIdentity
) -> None:
    lot = lot_of(books, "ABC")
    result = adjust(books, lot, "1200.00")
    assert result.status is PostStatus.POSTED
    assert result.event_types == ("ADJUSTMENT",)
    fitid = result.fitids[0]
    assert fitid == internal_fitid(identity.string, "ADJUSTMENT", f"{ob_fitid}|ADJ|1")
    assert legs_of(books.ledger, fitid) == [
        ("1111", 20000, "ABC", None),
        ("3030", -20000, None, None),
    ]
    assert adjustment_rows(books.ledger) == [(lot, 0, 20000, "ob_correction")]
    assert remaining_basis(outputs, "ABC") == 120000
    event = event_row(books.ledger, fitid)
    assert (event["TRNTYPE"], event["ofx_aggregate"], event["source"]) == (
        "OTHER",
        "NONE",
        "correction",
    )
    assert json.loads(event["tags"]) == ["EST_BASIS_FIXED"]
    meta = json.loads(event["json_metadata"])
    assert (meta["old_basis_minor"], meta["new_basis_minor"], meta["reason"]) == (
        100000,
        120000,
        "broker statement",
    )
    assert event["DTPOSTED"] == books.now_text()
    # The lot row itself is untouched: still the OB's estimate, flagged est_basis.
    original = books.ledger.execute(
        "SELECT basis_minor, est_basis FROM lots WHERE id = ?", (lot,)
    ).fetchone()
    assert tuple(original) == (100000, 1)
    audit_row = books.ledger.execute(
        "SELECT actor, related_id, before_json, after_json, reason FROM audit_trail "
        "WHERE event_type = 'ADJUSTMENT' AND fitid = ?",
        (fitid,),
    ).fetchone()
    assert audit_row["actor"] == "admin"
    assert audit_row["related_id"] == str(lot)
    assert json.loads(audit_row["before_json"])["basis_remaining"] == "1000.00"
    assert json.loads(audit_row["after_json"])["basis_remaining"] == "1200.00"
    assert verify(outputs, identity) == []


def test_estimated_long_basis_fixed_downward(
    books: Books, ob_fitid: str, outputs: BotOutputs, identity: BotIdentity
) -> None:
    lot = lot_of(books, "ABC")
    result = adjust(books, lot, "950.00")
    assert legs_of(books.ledger, result.fitids[0]) == [
        ("1111", -5000, "ABC", None),
        ("3030", 5000, None, None),
    ]
    assert adjustment_rows(books.ledger) == [(lot, 0, -5000, "ob_correction")]
    assert remaining_basis(outputs, "ABC") == 95000
    assert balances(books.ledger)["1111"] == 95000
    assert verify(outputs, identity) == []


def test_short_lot_debits_3030_and_credits_2110(
    books: Books, ob_fitid: str, outputs: BotOutputs, identity: BotIdentity
) -> None:
    lot = lot_of(books, "SHT")
    up = adjust(books, lot, "520.00")
    assert legs_of(books.ledger, up.fitids[0]) == [
        ("3030", 2000, None, None),
        ("2110", -2000, "SHT", None),
    ]
    down = adjust(books, lot, "490.00")
    assert legs_of(books.ledger, down.fitids[0]) == [
        ("3030", -3000, None, None),
        ("2110", 3000, "SHT", None),
    ]
    assert adjustment_rows(books.ledger) == [
        (lot, 0, 2000, "ob_correction"),
        (lot, 0, -3000, "ob_correction"),
    ]
    assert remaining_basis(outputs, "SHT") == 49000
    assert balances(books.ledger)["2110"] == -49000
    # The SHT basis came from the broker, not an estimate: no EST_BASIS_FIXED tag.
    assert json.loads(event_row(books.ledger, up.fitids[0])["tags"]) == []
    assert verify(outputs, identity) == []


def test_option_lot_uses_1112(
    books: Books, ob_fitid: str, outputs: BotOutputs, identity: BotIdentity
) -> None:
    result = adjust(books, lot_of(books, PUT), "250.00")
    assert legs_of(books.ledger, result.fitids[0]) == [
        ("1112", -5000, PUT, None),
        ("3030", 5000, None, None),
    ]
    assert remaining_basis(outputs, PUT) == 25000
    assert verify(outputs, identity) == []


def test_second_adjustment_gets_n2_and_both_apply(
    books: Books, ob_fitid: str, outputs: BotOutputs, identity: BotIdentity
) -> None:
    lot = lot_of(books, "ABC")
    first = adjust(books, lot, "1200.00")
    second = adjust(books, lot, "1150.00", reason="second statement")
    assert first.fitids[0] == internal_fitid(identity.string, "ADJUSTMENT", f"{ob_fitid}|ADJ|1")
    assert second.fitids[0] == internal_fitid(identity.string, "ADJUSTMENT", f"{ob_fitid}|ADJ|2")
    assert [row[2] for row in adjustment_rows(books.ledger)] == [20000, -5000]
    assert remaining_basis(outputs, "ABC") == 100000 + 20000 - 5000
    meta = json.loads(event_row(books.ledger, second.fitids[0])["json_metadata"])
    assert (meta["old_basis_minor"], meta["new_basis_minor"], meta["adjustment_no"]) == (
        120000,
        115000,
        2,
    )
    # n counts per target OB event, whichever of its lots is fixed.
    third = adjust(books, lot_of(books, "SHT"), "501.00")
    assert third.fitids[0] == internal_fitid(identity.string, "ADJUSTMENT", f"{ob_fitid}|ADJ|3")
    assert balances(books.ledger)["3030"] == -(115000 + 30000 - 50100)
    assert verify(outputs, identity) == []


def test_lot_of_a_trade_is_refused(books: Books, ob_fitid: str) -> None:
    with books.session("fills"):
        books.post(fill("F1", "XYZ", "buy", "3", "10.00", when=T0))
    lot = lot_of(books, "XYZ")
    with pytest.raises(LedgerError, match=rf"lot {lot} has source 'trade'.*REVERSAL"):
        adjust(books, lot, "31.00")
    assert count(books.ledger, "lot_adjustments") == 0


def test_bad_amounts_are_refused(books: Books, ob_fitid: str) -> None:
    lot = lot_of(books, "ABC")
    events = count(books.ledger, "journal_events")
    with pytest.raises(LedgerError, match="must stay >= 0"):
        adjust(books, lot, "-0.01")
    with pytest.raises(LedgerError, match="nothing to adjust"):
        adjust(books, lot, "1000.00")
    with pytest.raises(LedgerError, match="more decimals"):
        adjust(books, lot, "1000.005")
    with pytest.raises(LedgerError, match="no lot with id 999"):
        adjust(books, 999, "1.00")
    with books.session("manual"), pytest.raises(LedgerError, match="reason is required"):
        books.adjust_opening_basis(lot, Decimal("1.00"), reason=" ", actor="admin")
    # The signed-delta form of the draft builder applies the same rules.
    with pytest.raises(LedgerError, match="must stay >= 0"):
        adjustment_draft(books.ledger, "X", lot, delta_minor=-100001, reason="r", dtposted=T0_TEXT)
    with pytest.raises(LedgerError, match="nothing to adjust"):
        adjustment_draft(books.ledger, "X", lot, delta_minor=0, reason="r", dtposted=T0_TEXT)
    assert count(books.ledger, "journal_events") == events
    assert count(books.ledger, "lot_adjustments") == 0


def test_adjusting_to_zero_is_allowed(books: Books, ob_fitid: str, outputs: BotOutputs) -> None:
    adjust(books, lot_of(books, "ABC"), "0")
    assert remaining_basis(outputs, "ABC") == 0


def test_later_sell_realizes_against_the_adjusted_basis(
    books: Books, ob_fitid: str, clock: FakeClock, outputs: BotOutputs, identity: BotIdentity
) -> None:
    lot = lot_of(books, "ABC")
    adjust(books, lot, "1200.00")
    clock.advance(timedelta(minutes=10))
    with books.session("fills"):
        first = books.post(fill("S1", "ABC", "sell", "4", "130.00", when=clock.now_utc()))
        rest = books.post(fill("S2", "ABC", "sell", "6", "110.00", when=clock.now_utc()))
    # 4 of 10 units carry floor(120000 x 4 / 10) = 48000; the last 6 take the remaining 72000.
    assert legs_of(books.ledger, first.fitids[0]) == [
        ("1030", 52000, None, None),
        ("1111", -48000, "ABC", -4 * 10**9),
        ("4010", -4000, None, None),
    ]
    assert legs_of(books.ledger, rest.fitids[0]) == [
        ("1030", 66000, None, None),
        ("1111", -72000, "ABC", -6 * 10**9),
        ("4010", 6000, None, None),
    ]
    closures = books.ledger.execute(
        "SELECT basis_minor, proceeds_minor, realized_minor FROM lot_closures "
        "WHERE lot_id = ? ORDER BY id",
        (lot,),
    ).fetchall()
    assert [tuple(c) for c in closures] == [(48000, 52000, 4000), (72000, 66000, -6000)]
    assert balances(books.ledger)["1111"] == 0
    assert verify(outputs, identity) == []


def test_partly_closed_lot_adjusts_its_remaining_basis(
    books: Books, ob_fitid: str, clock: FakeClock, outputs: BotOutputs, identity: BotIdentity
) -> None:
    lot = lot_of(books, "ABC")
    with books.session("fills"):
        books.post(fill("S1", "ABC", "sell", "4", "130.00", when=T0))
    assert remaining_basis(outputs, "ABC") == 60000
    result = adjust(books, lot, "720.00")
    assert legs_of(books.ledger, result.fitids[0])[0] == ("1111", 12000, "ABC", None)
    assert remaining_basis(outputs, "ABC") == 72000
    assert verify(outputs, identity) == []
    clock.advance(timedelta(minutes=10))
    with books.session("fills"):
        books.post(fill("S2", "ABC", "sell", "6", "110.00", when=clock.now_utc()))
    with pytest.raises(LedgerError, match="fully closed"):
        adjust(books, lot, "1.00")
    assert verify(outputs, identity) == []


def test_event_is_balanced_sealed_and_immutable(books: Books, ob_fitid: str) -> None:
    fitid = adjust(books, lot_of(books, "ABC"), "1200.00").fitids[0]
    event = event_row(books.ledger, fitid)
    total, legs = books.ledger.execute(
        "SELECT SUM(amount_minor), COUNT(*) FROM ledger_entries WHERE event_id = ?", (event["id"],)
    ).fetchone()
    assert (total, legs) == (0, 2)
    seal = books.ledger.execute(
        "SELECT leg_count FROM entry_seals WHERE FITID = ?", (fitid,)
    ).fetchone()
    assert seal[0] == 2
    for statement in (
        "UPDATE ledger_entries SET amount_minor = 1 WHERE event_id = :id",
        "DELETE FROM ledger_entries WHERE event_id = :id",
        "UPDATE journal_events SET memo = 'x' WHERE id = :id",
        "UPDATE lot_adjustments SET basis_delta_minor = 0 WHERE event_id = :id",
        "DELETE FROM lot_adjustments WHERE event_id = :id",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="APPEND_ONLY"):
            books.ledger.execute(statement, {"id": event["id"]})


def test_failure_midway_leaves_nothing(
    books: Books, ob_fitid: str, monkeypatch: pytest.MonkeyPatch, identity: BotIdentity
) -> None:
    lot = lot_of(books, "ABC")
    tables = ("journal_events", "ledger_entries", "entry_seals", "lot_adjustments", "audit_trail")
    seen: list[int] = []

    def fail_after_the_inserts(*args: object, **kwargs: object) -> int:
        seen.append(count(books.ledger, "lot_adjustments"))  # inside the open transaction
        raise RuntimeError("disk on fire")

    with books.session("manual"):
        before = {t: count(books.ledger, t) for t in tables}  # the session audits its start
        with monkeypatch.context() as patch:
            patch.setattr(audit_module, "append", fail_after_the_inserts)
            with pytest.raises(RuntimeError, match="disk on fire"):
                books.adjust_opening_basis(lot, Decimal("1200.00"), reason="r", actor="admin")
        assert seen == [1]  # the event and its lot row were written before the failure
        assert {t: count(books.ledger, t) for t in tables} == before
        result = books.adjust_opening_basis(lot, Decimal("1200.00"), reason="r", actor="admin")
    assert result.fitids[0] == internal_fitid(identity.string, "ADJUSTMENT", f"{ob_fitid}|ADJ|1")


def test_adjustment_and_ob_cannot_be_reversed(books: Books, ob_fitid: str) -> None:
    fitid = adjust(books, lot_of(books, "ABC"), "1200.00").fitids[0]
    with books.session("manual"):
        with pytest.raises(LedgerError, match="another ADJUSTMENT"):
            books.reverse(fitid, reason="oops", actor="admin")
        with pytest.raises(LedgerError, match="ADJUSTMENT events, not reversed"):
            books.reverse(ob_fitid, reason="oops", actor="admin")


def test_needs_a_session(books: Books, ob_fitid: str) -> None:
    with pytest.raises(LedgerError, match="session"):
        books.adjust_opening_basis(
            lot_of(books, "ABC"), Decimal("1200.00"), reason="r", actor="admin"
        )


def test_readers_and_exports_show_it_without_cash(
    books: Books, ob_fitid: str, outputs: BotOutputs, identity: BotIdentity
) -> None:
    fitid = adjust(books, lot_of(books, "ABC"), "1200.00").fitids[0]
    (view,) = list_events(outputs, event_type="ADJUSTMENT")
    assert (view.fitid, view.symbol, view.tags) == (fitid, "ABC", ("EST_BASIS_FIXED",))
    assert [(s.account_code, s.amount_minor) for s in view.splits] == [
        ("1111", 20000),
        ("3030", -20000),
    ]
    assert fitid in {e.fitid for e in list_events(outputs, symbol="ABC")}
    data = load_day(books.ledger, date(2025, 7, 15))
    assert fitid in {e["FITID"] for e in data.events}
    tb = {row.account_code: row.debit_minor - row.credit_minor for row in data.trial_balance}
    assert tb["1111"] == 120000
    ofx = build_statement(data, bot_identity=identity.string, broker_code="ALPACA")
    assert fitid.encode() not in ofx  # no cash effect: not an OFX transaction
    parsed = ofxparse.OfxParser.parse(io.BytesIO(ofx))
    (abc,) = [p for p in parsed.account.statement.positions if p.security == "ABC"]
    assert abc.unit_price == Decimal("120.0000")  # basis per unit, adjusted
