"""FLOAT sub-ledger, CORE part (accounting spec §7.2)."""

from __future__ import annotations

from datetime import date

from tbot_bot.accounting import Books, FloatSnapshot, latest_float_snapshot, session_numbers
from tbot_bot.config.path_resolver import BotOutputs

DAY = date(2025, 7, 15)
TS = "2025-07-15T13:25:00.000Z"


def _snap(
    books: Books,
    session: str,
    cash: int,
    *,
    account_value: int,
    f_day: int | None = None,
    allocation_bp: int = 200,
    day: date = DAY,
) -> FloatSnapshot:
    numbers = session_numbers(
        cash,
        0,
        allocation_bp=allocation_bp,
        daily_loss_limit_bp=500,
        first_float_of_day_minor=f_day,
    )
    return books.float_ledger.record_snapshot(
        day,
        session,
        taken_at_utc=TS,
        account_value_minor=account_value,
        cash_minor=cash,
        reserved_minor=0,
        float_minor=numbers.float_minor,
        session_cap_minor=numbers.session_cap_minor,
        daily_loss_limit_minor=numbers.daily_loss_limit_minor,
    )


def test_session_numbers_of_the_spec_example() -> None:
    normal = session_numbers(250000, 0, allocation_bp=200, daily_loss_limit_bp=500)
    assert (normal.float_minor, normal.session_cap_minor, normal.daily_loss_limit_minor) == (
        250000,
        5000,
        12500,
    )
    defense = session_numbers(250000, 0, allocation_bp=100, daily_loss_limit_bp=500)
    assert defense.session_cap_minor == 2500
    later = session_numbers(
        240000, 0, allocation_bp=200, daily_loss_limit_bp=500, first_float_of_day_minor=250000
    )
    assert (later.session_cap_minor, later.daily_loss_limit_minor) == (4800, 12500)
    assert session_numbers(1000, 5000, allocation_bp=200, daily_loss_limit_bp=500).float_minor == 0


def test_snapshots_once_per_session_and_daily_allocation_once(
    books: Books, outputs: BotOutputs
) -> None:
    first = _snap(books, "open", 250000, account_value=2500000)
    again = _snap(books, "open", 999999, account_value=2500000)
    assert again == first
    _snap(books, "holdings_open", 250000, account_value=2500000, f_day=250000)
    mid = _snap(books, "mid", 240000, account_value=2400000, f_day=250000)
    assert (mid.session_cap_minor, mid.daily_loss_limit_minor) == (4800, 12500)
    rows = books.float_conn.execute(
        "SELECT trading_day, session FROM float_session_snapshots ORDER BY id"
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("2025-07-15", "open"),
        ("2025-07-15", "holdings_open"),
        ("2025-07-15", "mid"),
    ]
    events = books.float_conn.execute(
        "SELECT event_type, amount_minor FROM float_events ORDER BY id"
    ).fetchall()
    assert [tuple(e) for e in events] == [("DAILY_ALLOCATION", 250000)]
    assert latest_float_snapshot(outputs, DAY, "mid") == mid
    assert latest_float_snapshot(outputs) == mid


def test_deviation_is_logged_once_per_direction(books: Books) -> None:
    _snap(books, "open", 400000, account_value=2500000)  # target 250000: 6000 bp above
    _snap(books, "mid", 390000, account_value=2500000, f_day=400000)
    rows = books.float_conn.execute(
        "SELECT amount_minor, json_extract(details_json, '$.direction') FROM float_events"
        " WHERE event_type = 'DEVIATION_DETECTED'"
    ).fetchall()
    assert [tuple(r) for r in rows] == [(6000, "above")]


def test_no_deviation_within_the_trigger(books: Books) -> None:
    _snap(books, "open", 260000, account_value=2500000)  # 400 bp < 1000 bp
    types = [r[0] for r in books.float_conn.execute("SELECT event_type FROM float_events")]
    assert types == ["DAILY_ALLOCATION"]


def test_loss_limit_halt_is_written_once(books: Books) -> None:
    halt = books.float_ledger.record_loss_limit_halt
    assert (
        halt(
            DAY,
            at_utc=TS,
            loss_minor=12500,
            limit_minor=12500,
            session="open",
            realized_net_minor=-12500,
        )
        is True
    )
    assert (
        halt(
            DAY,
            at_utc=TS,
            loss_minor=12600,
            limit_minor=12500,
            session="mid",
            realized_net_minor=-12600,
        )
        is False
    )
    assert books.float_conn.execute("SELECT COUNT(*) FROM float_events").fetchone()[0] == 1
