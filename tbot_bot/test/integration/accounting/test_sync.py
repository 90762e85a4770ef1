"""Broker sync and reconciliation end to end through a fake Broker (accounting spec §6)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from tbot_bot.accounting import (
    Books,
    PostStatus,
    account_balances,
    normalize_fill,
    open_lots,
    sync_broker,
    verify,
)
from tbot_bot.accounting.reconcile import resolve
from tbot_bot.broker.models import (
    Account,
    ActivityKind,
    ActivityReport,
    FillReport,
    OrderSide,
    Position,
)
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.errors import NetworkError
from tbot_bot.test.integration.accounting.fake_broker import FakeLedgerBroker
from tbot_bot.test.unit.accounting.builders import ACCOUNT, BROKER, T0, at


def _fill(ext: str, side: str, qty: str, price: str, minutes: int, fee: str = "0") -> FillReport:
    return FillReport(
        ext,
        None,
        f"ord-{ext}",
        "XYZ",
        OrderSide(side),
        Decimal(qty),
        Decimal(price),
        Decimal(fee),
        at(minutes),
    )


@pytest.fixture
def broker() -> FakeLedgerBroker:
    fake = FakeLedgerBroker()
    fake.activities.append(
        ActivityReport("CSD-1", ActivityKind.DEPOSIT, Decimal("10000.00"), at(0))
    )
    fake.fills.append(_fill("X1", "buy", "10", "100.00", 1))
    fake.fills.append(_fill("X2", "sell", "4", "101.50", 2, "1.00"))
    fake.positions.append(Position("XYZ", Decimal("6"), Decimal("100.00"), Decimal("102.00")))
    fake.account = Account(
        "PA-TEST-1", equity=Decimal("10017.00"), cash=Decimal("9405.00"), buying_power=Decimal("0")
    )
    return fake


def _with_opening_cutover(books: Books) -> None:
    """An empty opening balance before the records, so the first sync imports history."""
    with books.session("opening_balance"):
        books.post_opening_balance([], 0, T0 - timedelta(hours=1), actor="t")


def test_sync_posts_missed_records_and_dedups_runner_fills(
    books: Books,
    broker: FakeLedgerBroker,
    outputs: BotOutputs,
    identity: BotIdentity,
    paths: RuntimePaths,
) -> None:
    _with_opening_cutover(books)
    with books.session("fills"):  # the runner posted the buy as it happened
        runner = books.post(
            normalize_fill(
                broker.fills[0],
                broker_code=BROKER,
                account_id=ACCOUNT,
                metadata={"strategy": "open", "session_id": "20250715-OPEN"},
            )
        )
    assert runner.status is PostStatus.POSTED
    result = sync_broker(books, broker, trigger="eod", actor="runner")
    assert result.status == "ok"
    assert result.counts["fetched"] == 3
    assert (result.counts["inserted"], result.counts["duplicates"]) == (2, 1)
    assert account_balances(outputs)["1030"] == 940500
    assert [r.status for r in result.reconciliation] == ["ok", "ok", "ok"]  # cash, XYZ, float
    assert result.new_problems == ()
    again = sync_broker(books, broker, trigger="eod", actor="runner")
    assert (again.counts["inserted"], again.counts["duplicates"]) == (0, 3)
    raw = books.ledger.execute(
        "SELECT record_kind, COUNT(*) FROM raw_broker_records GROUP BY record_kind"
    )
    assert dict(raw.fetchall()) == {"fill": 2, "activity": 1, "position": 1, "account": 1}
    runs = books.ledger.execute(
        "SELECT trigger, status FROM sync_runs ORDER BY started_at_utc, rowid"
    ).fetchall()
    assert [tuple(r) for r in runs][-2:] == [("eod", "ok"), ("eod", "ok")]
    log = paths.global_log("ledger_sync.log").read_text(encoding="utf-8").splitlines()
    assert json.loads(log[-1])["skipped_duplicates"] == 3
    assert verify(outputs, identity) == []


def test_reconciliation_reports_each_kind_of_difference(
    books: Books, broker: FakeLedgerBroker, outputs: BotOutputs
) -> None:
    _with_opening_cutover(books)
    broker.positions = [
        Position("XYZ", Decimal("5"), Decimal("100.00")),
        Position("ABC", Decimal("1"), Decimal("9")),
    ]
    broker.account = Account(
        "PA-TEST-1", equity=Decimal("0"), cash=Decimal("9400.00"), buying_power=Decimal("0")
    )
    broker.activities.append(
        ActivityReport("ODD-1", ActivityKind.OTHER, Decimal("1.00"), at(3), raw_type="XYZZY")
    )
    result = sync_broker(books, broker, trigger="eod", actor="runner")
    assert result.status == "partial"
    found = {(r.recon_type, r.symbol, r.status) for r in result.reconciliation}
    assert found == {
        ("record", None, "broker-only"),
        ("cash", None, "mismatch"),
        ("position", "XYZ", "mismatch"),
        ("position", "ABC", "broker-only"),
        ("float", None, "ok"),
    }
    cash = next(r for r in result.reconciliation if r.recon_type == "cash")
    assert (cash.ledger_value, cash.broker_value, cash.delta) == (940500, 940000, 500)
    assert all(r.error_code != "INTRADAY" for r in result.new_problems)
    broker.fills.pop()  # the broker no longer returns the sell
    later = sync_broker(books, broker, trigger="close", actor="runner")
    local = [r for r in later.reconciliation if r.status == "local-only"]
    assert [(r.recon_type, r.error_code) for r in local] == [("record", "not_returned_by_broker")]
    intraday = [r for r in later.reconciliation if r.recon_type in {"cash", "position"}]
    assert {r.error_code for r in intraday} == {"INTRADAY"}
    row_id = local[0].row_id
    assert row_id is not None
    resolved = resolve(books, row_id, actor="admin", resolution="broker bust confirmed")
    row = books.ledger.execute(
        "SELECT status, resolves_id FROM reconciliation_log WHERE id = ?", (resolved,)
    )
    assert tuple(row.fetchone()) == ("resolved", row_id)


def test_first_sync_of_an_empty_ledger_posts_the_opening_balance(
    books: Books, broker: FakeLedgerBroker, outputs: BotOutputs, identity: BotIdentity
) -> None:
    broker.positions = [
        Position("XYZ", Decimal("6"), Decimal("100.00"), Decimal("102.00")),
        Position("QQQ", Decimal("-2"), Decimal("0"), Decimal("400.00")),
    ]
    result = sync_broker(books, broker, trigger="eod", actor="runner")
    assert result.counts["inserted"] == 1  # the OB; older broker history is not imported
    ob = books.ledger.execute("SELECT FITID, DTPOSTED, tags FROM journal_events").fetchone()
    assert json.loads(ob["tags"]) == ["EST_BASIS"]
    lots = {
        (lot.symbol, lot.side): (lot.qty_remaining_e9, lot.basis_remaining_minor, lot.est_basis)
        for lot in open_lots(outputs)
    }
    assert lots == {
        ("XYZ", "long"): (6 * 10**9, 60000, False),
        ("QQQ", "short"): (2 * 10**9, 80000, True),
    }
    balances = account_balances(outputs)
    assert balances["1030"] == 940500 and balances["3030"] == -(940500 + 60000 - 80000)
    assert sync_broker(books, broker, trigger="eod", actor="runner").counts["inserted"] == 0
    assert books.meta["opening_balances_posted"] == ob["FITID"]
    assert verify(outputs, identity) == []


def test_adapter_failure_marks_the_run_failed_and_keeps_committed_data(
    books: Books, broker: FakeLedgerBroker
) -> None:
    _with_opening_cutover(books)
    with books.session("fills"):
        books.post(
            normalize_fill(broker.fills[0], broker_code=BROKER, account_id=ACCOUNT, metadata=None)
        )
    broker.fail_on = "get_positions"
    with pytest.raises(NetworkError):
        sync_broker(books, broker, trigger="eod", actor="runner")
    status, error = books.ledger.execute(
        "SELECT status, error FROM sync_runs WHERE trigger = 'eod'"
    ).fetchone()
    assert status == "failed" and "timed out" in error
    assert books.ledger.execute("SELECT COUNT(*) FROM journal_events").fetchone()[0] == 1
