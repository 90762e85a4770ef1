"""Posting rules of accounting spec §4.2 / §4.3: exact legs, signs and lot effects per type."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tbot_bot.accounting import Books, PostStatus, open_lots, verify
from tbot_bot.accounting.session import Session
from tbot_bot.broker.models import ActivityKind
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs
from tbot_bot.test.unit.accounting.builders import (
    activity,
    at,
    balances,
    count,
    deposit,
    fill,
    legs_of,
    put_contract,
)

E9 = 10**9


def _post_ok(books: Books, record):  # type: ignore[no-untyped-def]
    result = books.post(record)
    assert result.status is PostStatus.POSTED, result
    return result


def test_worked_example_4_3(
    books: Books, session: Session, outputs: BotOutputs, identity: BotIdentity
) -> None:
    e1 = _post_ok(books, deposit("D1", "10000.00", at(0)))
    e2 = _post_ok(books, fill("F1", "XYZ", "buy", "10", "100.00", when=at(1)))
    e3 = _post_ok(books, fill("F2", "XYZ", "sell", "10", "101.50", "1.00", when=at(2)))
    assert legs_of(books.ledger, e1.fitids[0]) == [
        ("1030", 1000000, None, None),
        ("3010", -1000000, None, None),
    ]
    assert legs_of(books.ledger, e2.fitids[0]) == [
        ("1111", 100000, "XYZ", 10 * E9),
        ("1030", -100000, None, None),
    ]
    assert legs_of(books.ledger, e3.fitids[0]) == [
        ("1030", 101400, None, None),
        ("5010", 100, None, None),
        ("1111", -100000, "XYZ", -10 * E9),
        ("4010", -1500, None, None),
    ]
    lot = books.ledger.execute("SELECT qty_e9, basis_minor FROM lots").fetchone()
    assert tuple(lot) == (10 * E9, 100000)
    closure = books.ledger.execute(
        "SELECT qty_e9, basis_minor, proceeds_minor, realized_minor, term FROM lot_closures"
    ).fetchone()
    assert tuple(closure) == (10 * E9, 100000, 101500, 1500, "ST")
    bal = balances(books.ledger)
    assert bal == {"1030": 1001400, "1111": 0, "3010": -1000000, "4010": -1500, "5010": 100}
    assert sum(bal.values()) == 0
    assert open_lots(outputs) == []
    assert verify(outputs, identity) == []


def test_inverse_etf_buy_keeps_tags_and_metadata(books: Books, session: Session) -> None:
    meta = {
        "bearish_mode": "InverseETF",
        "target_symbol": "QQQ",
        "inverse_symbol": "PSQ",
        "leverage": "1",
        "session_id": "20250715-OPEN",
        "strategy": "open",
    }
    result = _post_ok(books, fill("F1", "PSQ", "buy", "5", "40.00", "0.02", metadata=meta))
    row = books.ledger.execute(
        "SELECT action, tags, json_metadata, strategy FROM journal_events WHERE FITID = ?",
        (result.fitids[0],),
    ).fetchone()
    assert row["action"] == "inverse"
    assert json.loads(row["tags"]) == ["inverse_etf"]
    assert json.loads(row["json_metadata"]) == meta
    assert row["strategy"] == "open"
    assert books.ledger.execute("SELECT instrument FROM lots").fetchone()[0] == "etf"
    assert legs_of(books.ledger, result.fitids[0]) == [
        ("1111", 20000, "PSQ", 5 * E9),
        ("5010", 2, None, None),
        ("1030", -20002, None, None),
    ]


def test_long_put_buy_sell_and_expire_use_the_multiplier(books: Books, session: Session) -> None:
    put = put_contract()
    symbol = put.occ_symbol
    buy = _post_ok(books, fill("P1", "XYZ", "buy", "2", "1.25", "1.30", option=put, when=at(1)))
    assert legs_of(books.ledger, buy.fitids[0]) == [
        ("1112", 25000, symbol, 2 * E9),
        ("5010", 130, None, None),
        ("1030", -25130, None, None),
    ]
    row = books.ledger.execute(
        "SELECT action, ofx_aggregate, ofx_subtype FROM journal_events WHERE FITID=?",
        (buy.fitids[0],),
    ).fetchone()
    assert tuple(row) == ("put", "BUYOPT", "BUYTOOPEN")
    sell = _post_ok(books, fill("P2", "XYZ", "sell", "1", "2.00", "0.65", option=put, when=at(2)))
    assert legs_of(books.ledger, sell.fitids[0]) == [
        ("1030", 19935, None, None),
        ("5010", 65, None, None),
        ("1112", -12500, symbol, -1 * E9),
        ("4010", -7500, None, None),
    ]
    expire = activity("X1", ActivityKind.OTHER, "0", raw_type="OPEXP", symbol=symbol, when=at(3))
    result = _post_ok(books, expire)
    assert legs_of(books.ledger, result.fitids[0]) == [
        ("4010", 12500, None, None),
        ("1112", -12500, symbol, -1 * E9),
    ]
    assert result.event_types == ("OPTION_EXPIRE",)


@pytest.mark.parametrize(
    ("cover_price", "pnl_leg"),
    [("45.00", ("4010", -5000, None, None)), ("52.00", ("4010", 2000, None, None))],
    ids=["gain", "loss"],
)
def test_short_open_and_cover(books: Books, cover_price: str, pnl_leg: tuple[object, ...]) -> None:
    books.shorting_enabled = True
    with books.session("fills"):
        opened = _post_ok(books, fill("S1", "XYZ", "sell", "10", "50.00", "0.10", when=at(1)))
        assert opened.event_types == ("SHORT_OPEN",)
        assert legs_of(books.ledger, opened.fitids[0]) == [
            ("1030", 49990, None, None),
            ("5010", 10, None, None),
            ("2110", -50000, "XYZ", -10 * E9),
        ]
        cover = _post_ok(books, fill("S2", "XYZ", "buy", "10", cover_price, "0.10", when=at(2)))
    assert cover.event_types == ("SHORT_COVER",)
    gross = int(Decimal(cover_price) * 1000)
    assert legs_of(books.ledger, cover.fitids[0]) == [
        ("2110", 50000, "XYZ", 10 * E9),
        ("5010", 10, None, None),
        ("1030", -(gross + 10), None, None),
        pnl_leg,
    ]


@pytest.mark.parametrize(
    ("kind", "amount", "raw_type", "description", "expected"),
    [
        (ActivityKind.DIVIDEND, "12.34", "", "", [("1030", 1234), ("4050", -1234)]),
        (
            ActivityKind.DIVIDEND,
            "12.34",
            "",
            "ordinary dividend",
            [("1030", 1234), ("4055", -1234)],
        ),
        (
            ActivityKind.CAPITAL_GAIN_DISTRIBUTION,
            "3.00",
            "DIVCGS",
            "",
            [("1030", 300), ("4060", -300)],
        ),
        (
            ActivityKind.CAPITAL_GAIN_DISTRIBUTION,
            "3.00",
            "DIVCGL",
            "",
            [("1030", 300), ("4070", -300)],
        ),
        (ActivityKind.INTEREST, "0.57", "", "", [("1030", 57), ("4065", -57)]),
        (ActivityKind.TAX_WITHHELD, "-1.85", "DIVNRA", "", [("5080", 185), ("1030", -185)]),
        (ActivityKind.FEE, "-0.03", "CFEE", "", [("5010", 3), ("1030", -3)]),
        (ActivityKind.FEE, "0.02", "PTR", "", [("1030", 2), ("5010", -2)]),
        (ActivityKind.DEPOSIT, "500.00", "", "", [("1030", 50000), ("3010", -50000)]),
        (ActivityKind.WITHDRAWAL, "-200.00", "", "", [("3010", 20000), ("1030", -20000)]),
        (ActivityKind.JOURNAL, "75.00", "", "", [("1030", 7500), ("3010", -7500)]),
        (ActivityKind.JOURNAL, "-75.00", "", "", [("3010", 7500), ("1030", -7500)]),
    ],
)
def test_cash_activities(
    books: Books,
    session: Session,
    kind: ActivityKind,
    amount: str,
    raw_type: str,
    description: str,
    expected: list[tuple[str, int]],
) -> None:
    record = activity("A1", kind, amount, symbol="XYZ", raw_type=raw_type, description=description)
    result = _post_ok(books, record)
    assert [(a, m) for a, m, _, _ in legs_of(books.ledger, result.fitids[0])] == expected


@pytest.mark.parametrize(
    ("kind", "amount", "float_type"),
    [
        (ActivityKind.DEPOSIT, "500.00", "INJECTION_RECEIVED"),
        (ActivityKind.WITHDRAWAL, "-200.00", "RETURN_SENT"),
        (ActivityKind.JOURNAL, "75.00", "INJECTION_RECEIVED"),
        (ActivityKind.JOURNAL, "-75.00", "RETURN_SENT"),
    ],
)
def test_capital_movements_write_their_float_event(
    books: Books, session: Session, kind: ActivityKind, amount: str, float_type: str
) -> None:
    result = _post_ok(books, activity("A1", kind, amount))
    rows = books.float_conn.execute(
        "SELECT event_type, amount_minor, ledger_fitid FROM float_events"
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        (float_type, abs(int(Decimal(amount) * 100)), result.fitids[0])
    ]


def test_wrong_sign_activity_is_queued_not_posted(books: Books, session: Session) -> None:
    result = books.post(activity("A1", ActivityKind.DIVIDEND, "-5.00"))
    assert result.status is PostStatus.QUEUED
    assert result.reason_code == "invalid_field"
    assert count(books.ledger, "journal_events") == 0


def test_buy_three_sell_one_then_two_splits_basis_exactly(books: Books, session: Session) -> None:
    _post_ok(books, fill("F1", "XYZ", "buy", "3", "33.3333", when=at(1)))
    assert books.ledger.execute("SELECT basis_minor FROM lots").fetchone()[0] == 10000
    _post_ok(books, fill("F2", "XYZ", "sell", "1", "40.00", when=at(2)))
    _post_ok(books, fill("F3", "XYZ", "sell", "2", "40.00", when=at(3)))
    bases = [r[0] for r in books.ledger.execute("SELECT basis_minor FROM lot_closures ORDER BY id")]
    assert bases == [3333, 6667]
