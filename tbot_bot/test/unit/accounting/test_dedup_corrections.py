"""Idempotency, the unmapped queue and corrections (accounting spec §5.3, §5.4, §6.2, §8.4)."""

from __future__ import annotations

import pytest

from tbot_bot.accounting import Books, PostStatus, open_lots, verify
from tbot_bot.accounting.codec import broker_fitid, corrected_fitid
from tbot_bot.accounting.session import Session
from tbot_bot.broker.models import ActivityKind, PositionIntent
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs
from tbot_bot.errors import LedgerError
from tbot_bot.test.unit.accounting.builders import (
    ACCOUNT,
    BROKER,
    activity,
    at,
    balances,
    count,
    deposit,
    fill,
    legs_of,
)


def test_same_fill_twice_posts_once_even_after_its_lot_closed(
    books: Books, session: Session
) -> None:
    buy = fill("F1", "XYZ", "buy", "10", "100.00", when=at(1))
    assert books.post(buy).status is PostStatus.POSTED
    assert books.post(buy).status is PostStatus.DUPLICATE
    assert (
        books.post(fill("F2", "XYZ", "sell", "10", "101.00", when=at(2))).status
        is PostStatus.POSTED
    )
    again = books.post(buy)  # lot already closed: classification would now differ
    assert again.status is PostStatus.DUPLICATE
    assert again.fitids == (broker_fitid(BROKER, ACCOUNT, "F1", "BUY"),)
    assert count(books.ledger, "journal_events") == 2
    assert count(books.ledger, "raw_broker_records") == 2
    assert session.counts["duplicates"] == 2
    assert [r.status for r in books.post_many([buy, buy])] == [PostStatus.DUPLICATE] * 2
    assert session.counts["duplicates"] == 4


def test_sell_beyond_inventory_with_shorting_off_is_queued(books: Books, session: Session) -> None:
    books.post(fill("F1", "XYZ", "buy", "5", "10.00", when=at(1)))
    result = books.post(fill("F2", "XYZ", "sell", "8", "11.00", when=at(2)))
    assert result.status is PostStatus.QUEUED
    assert result.reason_code == "insufficient_inventory"
    assert count(books.ledger, "journal_events") == 1
    recon = books.ledger.execute("SELECT recon_type, status FROM reconciliation_log").fetchall()
    assert [tuple(r) for r in recon] == [("record", "mismatch")]
    queued = books.ledger.execute("SELECT reason_code FROM unmapped_queue").fetchall()
    assert [r[0] for r in queued] == ["insufficient_inventory"]


def test_sell_beyond_inventory_with_shorting_on_splits_into_sell_and_short_open(
    books: Books, session: Session
) -> None:
    books.post(fill("F1", "XYZ", "buy", "5", "10.00", when=at(1)))
    result = books.post(
        fill(
            "F2", "XYZ", "sell", "8", "11.00", "0.03", when=at(2), intent=PositionIntent.OPEN_SHORT
        )
    )
    assert result.status is PostStatus.POSTED
    assert result.event_types == ("SELL", "SHORT_OPEN")
    sell, short = (legs_of(books.ledger, f) for f in result.fitids)
    assert [(a, m) for a, m, _, _ in sell] == [
        ("1030", 5498),
        ("5010", 2),
        ("1111", -5000),
        ("4010", -500),
    ]
    assert [(a, m) for a, m, _, _ in short] == [("1030", 3299), ("5010", 1), ("2110", -3300)]
    trades = books.ledger.execute(
        "SELECT qty_e9, gross_minor, fee_minor FROM trades ORDER BY id"
    ).fetchall()
    assert [tuple(t) for t in trades][1:] == [(5 * 10**9, 5500, 2), (3 * 10**9, 3300, 1)]


def test_unknown_activity_and_corporate_action_are_queued(books: Books, session: Session) -> None:
    unknown = books.post(activity("A1", ActivityKind.OTHER, "1.00", raw_type="MYSTERY"))
    split = books.post(activity("A2", ActivityKind.OTHER, "0.01", raw_type="SPLIT", symbol="XYZ"))
    assert (unknown.status, unknown.reason_code) == (PostStatus.QUEUED, "unmapped")
    assert (split.status, split.reason_code) == (PostStatus.QUEUED, "corporate_action")
    assert count(books.ledger, "journal_events") == 0
    assert books.mapping.version == 1
    assert (
        books.post(activity("A1", ActivityKind.OTHER, "1.00", raw_type="MYSTERY")).queue_id
        == unknown.queue_id
    )
    assert count(books.ledger, "unmapped_queue") == 2


def test_changed_broker_record_is_flagged_then_corrected(books: Books, session: Session) -> None:
    books.post(deposit("D1", "5000.00", at(0)))
    original = fill("F1", "XYZ", "buy", "10", "100.00", when=at(1))
    first = books.post(original)
    changed = fill("F1", "XYZ", "buy", "10", "100.50", when=at(1))
    flagged = books.post(changed)
    assert flagged.status is PostStatus.CONTENT_CHANGED
    assert flagged.fitids == first.fitids
    assert count(books.ledger, "journal_events") == 2
    assert books.ledger.execute("SELECT status FROM reconciliation_log").fetchone()[0] == "mismatch"
    corrected = books.correct(changed, reason="broker corrected price", actor="admin")
    assert corrected.status is PostStatus.POSTED
    assert corrected.fitids == (corrected_fitid(first.fitids[0], 2),)
    types = [
        r[0] for r in books.ledger.execute("SELECT event_type FROM journal_events ORDER BY id")
    ]
    assert types == ["DEPOSIT", "BUY", "REVERSAL", "BUY"]
    assert balances(books.ledger)["1111"] == 100500
    assert balances(books.ledger)["1030"] == 500000 - 100500
    assert books.post(changed).status is PostStatus.DUPLICATE
    resolution = books.ledger.execute(
        "SELECT resolution, event_fitid FROM unmapped_resolutions"
    ).fetchone()
    assert tuple(resolution) == ("posted", corrected.fitids[0])


def test_reversal_of_a_sell_restores_the_lot(
    books: Books, session: Session, outputs: BotOutputs, identity: BotIdentity
) -> None:
    books.post(fill("F1", "XYZ", "buy", "3", "10.00", when=at(1)))
    sell = books.post(fill("F2", "XYZ", "sell", "1", "12.00", when=at(2)))
    assert open_lots(outputs)[0].qty_remaining_e9 == 2 * 10**9
    reversal = books.reverse(sell.fitids[0], reason="broker bust", actor="admin")
    assert reversal.event_types == ("REVERSAL",)
    lots = open_lots(outputs)
    assert [(lot.qty_remaining_e9, lot.basis_remaining_minor) for lot in lots] == [
        (3 * 10**9, 3000)
    ]
    assert balances(books.ledger)["4010"] == 0
    assert verify(outputs, identity) == []
    with pytest.raises(LedgerError, match="REVERSAL cannot"):
        books.reverse(reversal.fitids[0], reason="again", actor="admin")
    assert (
        books.reverse(sell.fitids[0], reason="twice", actor="admin").status is PostStatus.DUPLICATE
    )


def test_reversing_a_buy_with_closures_needs_the_closes_reversed_first(
    books: Books, session: Session, outputs: BotOutputs, identity: BotIdentity
) -> None:
    buy = books.post(fill("F1", "XYZ", "buy", "3", "10.00", when=at(1)))
    sell = books.post(fill("F2", "XYZ", "sell", "1", "12.00", when=at(2)))
    with pytest.raises(LedgerError, match="REVERSE_DEPENDENTS_FIRST"):
        books.reverse(buy.fitids[0], reason="wrong", actor="admin")
    books.reverse(sell.fitids[0], reason="wrong", actor="admin")
    books.reverse(buy.fitids[0], reason="wrong", actor="admin")
    assert open_lots(outputs) == []
    assert all(v == 0 for v in balances(books.ledger).values())
    assert verify(outputs, identity) == []


def test_reclass_moves_a_non_position_leg(books: Books, session: Session) -> None:
    fee = books.post(activity("A1", ActivityKind.FEE, "-4.00", raw_type="FEE"))
    result = books.reclass(fee.fitids[0], 1, "5070", reason="infra cost", actor="admin")
    assert [(a, m) for a, m, _, _ in legs_of(books.ledger, result.fitids[0])] == [
        ("5070", 400),
        ("5010", -400),
    ]
    with pytest.raises(LedgerError, match="RECLASS is not allowed"):
        books.reclass(fee.fitids[0], 1, "4010", reason="no", actor="admin")


def test_posting_without_a_session_is_refused(books: Books) -> None:
    with pytest.raises(LedgerError, match="session"):
        books.post(deposit("D1", "1.00"))
