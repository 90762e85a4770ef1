"""`tbot ledger sync|opening-balance|adjust-basis|export` through request files (accounting spec
§1.2, §6.1, §6.4, §9; web_runtime §1.3), on a provisioned demo home with the SIM broker (no
network)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tbot_bot.accounting import normalize_activity
from tbot_bot.accounting.models import OpeningPosition
from tbot_bot.accounting.queries import open_reconciliation, reconciliation_summary
from tbot_bot.accounting.schema import connect
from tbot_bot.broker.models import ActivityKind, ActivityReport
from tbot_bot.clock import Clock, FakeClock, SystemClock, iso_utc, parse_iso_utc
from tbot_bot.config import locks
from tbot_bot.config.path_resolver import RuntimePaths, data_set_dir
from tbot_bot.money import to_minor
from tbot_bot.runtime.cli import build_parser
from tbot_bot.runtime.cli_demo import DEMO_IDENTITY, provision_demo
from tbot_bot.runtime.home_broker import build_home_broker, home_broker_factory
from tbot_bot.runtime.ledger_cli import (
    cmd_adjust_basis,
    cmd_export,
    cmd_opening_balance,
    cmd_sync,
)
from tbot_bot.runtime.requests import (
    is_pending,
    open_bot_books,
    process_ledger_requests,
    read_result,
    submit_request,
)

DEMO = data_set_dir("synthetic/demo")
pytestmark = [
    pytest.mark.data,
    pytest.mark.skipif(not (DEMO / "manifest.json").is_file(), reason="run `make data` first"),
]
Command = Callable[..., int]


@pytest.fixture
def home(tbot_home: Path) -> RuntimePaths:
    paths = RuntimePaths.for_home(tbot_home)
    provision_demo(paths)  # identity, settings (BROKER_NAME=SIM), credentials, empty ledgers
    return paths


def _args(home: RuntimePaths, argv: list[str]) -> argparse.Namespace:
    """Parse like `tbot ledger ...` does, so the flags and defaults are the real ones."""
    return build_parser().parse_args(["ledger", *argv, "--home", str(home.home)])


def _run(command: Command, args: argparse.Namespace) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = command(args, out, err)
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def _ledger(home: RuntimePaths) -> Iterator[sqlite3.Connection]:
    conn = connect(home.bot_outputs(DEMO_IDENTITY.string).ledger_db("ledger"), readonly=True)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def _rows(home: RuntimePaths, query: str) -> list[dict[str, Any]]:
    with _ledger(home) as conn:
        return [dict(r) for r in conn.execute(query)]


def _counts(home: RuntimePaths) -> dict[str, int]:
    tables = ("journal_events", "ledger_entries", "sync_runs", "raw_broker_records", "ledger_meta")
    with _ledger(home) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608


def _pending_files(home: RuntimePaths) -> list[str]:
    return [p.name for p in home.requests_dir.glob("*.json") if ".result." not in p.name]


def _sim_cash_minor(home: RuntimePaths) -> int:
    broker = build_home_broker(home, SystemClock())
    broker.connect()
    try:
        return to_minor(broker.get_account().cash)
    finally:
        broker.close()


def test_opening_balance_at_a_cutover_posts_once(home: RuntimePaths) -> None:
    cutover = SystemClock().now_utc().replace(microsecond=123_000) - timedelta(minutes=2)
    text = cutover.strftime("%Y-%m-%dT%H:%M:%S.123Z")
    code, out, err = _run(cmd_opening_balance, _args(home, ["opening-balance", "--cutover", text]))
    assert (code, err) == (0, ""), err
    assert out.startswith(f"opening balance posted at cutover {text}")

    events = _rows(home, "SELECT id, event_type, DTPOSTED, source FROM journal_events")
    assert len(events) == 1
    assert events[0]["event_type"] == "OPENING_BALANCE"
    assert events[0]["DTPOSTED"] == iso_utc(parse_iso_utc(text) - timedelta(milliseconds=1))
    assert events[0]["DTPOSTED"].endswith(".122Z")
    cash = _rows(home, "SELECT amount_minor FROM ledger_entries WHERE account_code = '1030'")
    assert [r["amount_minor"] for r in cash] == [_sim_cash_minor(home)]
    meta = {r["key"]: r["value"] for r in _rows(home, "SELECT key, value FROM ledger_meta")}
    assert meta["ob_cutover_utc"] == text
    # the audit row names where the positions came from and the raw records they were read from
    (audit,) = _rows(home, "SELECT extra_json FROM audit_trail WHERE event_type = 'OB_POSTED'")
    extra = json.loads(audit["extra_json"])
    raw = _rows(
        home, "SELECT id FROM raw_broker_records WHERE record_kind IN ('position', 'account')"
    )
    assert extra["position_source"] == "broker_positions"
    assert sorted(extra["raw_record_ids"]) == sorted(r["id"] for r in raw) and raw
    before = _counts(home)

    code, out, err = _run(cmd_opening_balance, _args(home, ["opening-balance"]))
    assert (code, err) == (0, "")
    assert out.startswith("opening balance already posted (")
    assert "nothing written" in out
    assert _counts(home) == before  # not even a sync_runs row or a raw record


def test_opening_balance_refuses_an_old_cutover(home: RuntimePaths) -> None:
    """Positions and cash are read now: a cutover a day back would count a day twice."""
    old = iso_utc(SystemClock().now_utc() - timedelta(days=1))
    code, out, err = _run(cmd_opening_balance, _args(home, ["opening-balance", "--cutover", old]))
    assert code == 2 and out == ""
    assert old in err and "more than 5 minutes before now" in err
    assert _counts(home)["journal_events"] == 0


def test_opening_balance_refuses_a_future_or_unparsable_cutover(home: RuntimePaths) -> None:
    future = iso_utc(SystemClock().now_utc() + timedelta(days=1))
    code, out, err = _run(
        cmd_opening_balance, _args(home, ["opening-balance", "--cutover", future])
    )
    assert code == 2 and out == ""
    assert "rejected" in err and future in err and "future" in err
    code, _, err = _run(
        cmd_opening_balance, _args(home, ["opening-balance", "--cutover", "2025-01-02 9am"])
    )
    assert code == 2 and "'2025-01-02 9am'" in err and "ISO-8601 UTC" in err
    assert _counts(home)["journal_events"] == 0
    assert _pending_files(home) == []  # both were answered (rejected), none left behind


def test_sync_runs_a_broker_sync_with_the_trigger(home: RuntimePaths) -> None:
    code, out, err = _run(cmd_sync, _args(home, ["sync", "--trigger", "manual"]))
    assert (code, err) == (0, ""), err
    runs = _rows(home, "SELECT sync_run_id, trigger, status, actor FROM sync_runs")
    syncs = [r for r in runs if r["trigger"] == "manual"]
    assert len(syncs) == 1 and syncs[0]["status"] == "ok"
    assert out.startswith(f"sync {syncs[0]['sync_run_id']} ok (trigger manual)")
    # The first sync of an empty ledger posts the opening balance at "now" (§6.4).
    events = _rows(home, "SELECT event_type FROM journal_events")
    assert [e["event_type"] for e in events] == ["OPENING_BALANCE"]
    code, out, _ = _run(cmd_sync, _args(home, ["sync"]))  # default trigger: cli
    assert code == 0 and "(trigger cli)" in out
    assert [
        r["status"] for r in _rows(home, "SELECT status FROM sync_runs WHERE trigger='cli'")
    ] == ["ok"]


def test_cli_leaves_the_request_to_the_writer_holding_the_lock(home: RuntimePaths) -> None:
    clock = SystemClock()
    books = open_bot_books(home, clock, actor="runner")  # as the runner holds them
    try:
        code, out, err = _run(cmd_sync, _args(home, ["sync", "--wait", "1"]))
        assert code == 2 and out == ""
        match = re.search(r"still pending; the runner will answer request (\S+)", err)
        assert match, err
        request_id = match.group(1)
        assert is_pending(home, request_id) and read_result(home, request_id) is None
        broker = build_home_broker(home, clock)
        broker.connect()
        try:
            answered = process_ledger_requests(home, clock, books=books, broker=broker)
        finally:
            broker.close()
    finally:
        books.close()
    assert answered == [request_id]
    result = read_result(home, request_id)
    assert result is not None and result["status"] == "done", result
    runs = _rows(home, "SELECT trigger, status FROM sync_runs WHERE trigger = 'cli'")
    assert runs == [{"trigger": "cli", "status": "ok"}]


def test_broker_requests_need_a_broker_and_a_known_trigger(home: RuntimePaths) -> None:
    clock = SystemClock()
    no_broker = submit_request(home, "ledger_sync", {}, "test", clock=clock)
    bad_trigger = submit_request(home, "ledger_sync", {"trigger": "open"}, "test", clock=clock)
    assert sorted(process_ledger_requests(home, clock)) == sorted([no_broker, bad_trigger])
    failed = read_result(home, no_broker)
    assert failed is not None and failed["status"] == "failed"
    assert "no broker is available" in failed["message"]
    rejected = read_result(home, bad_trigger)
    assert rejected is not None and rejected["status"] == "rejected"
    assert "'open'" in rejected["message"] and "manual" in rejected["message"]
    assert _counts(home)["journal_events"] == 0


def test_runner_session_open_keeps_session_requests_pending(home: RuntimePaths) -> None:
    clock = SystemClock()
    request_id = submit_request(home, "ledger_sync", {"trigger": "eod"}, "test", clock=clock)
    books = open_bot_books(home, clock, actor="runner")
    try:
        with books.session("fills", trigger="fills"):  # a phase in progress
            assert process_ledger_requests(home, clock, books=books) == []
        assert is_pending(home, request_id)
    finally:
        books.close()


def test_export_goes_through_a_request(home: RuntimePaths) -> None:
    day = SystemClock().now_utc().date().isoformat()
    argv = ["export", "--format", "csv", "--from", day, "--to", day]
    code, out, err = _run(cmd_export, _args(home, argv))
    assert (code, err) == (0, ""), err
    files = [Path(line) for line in out.splitlines()]
    assert files and all(f.is_file() for f in files)
    assert {f.suffix for f in files} == {".csv", ".json"}
    assert _pending_files(home) == []


def test_blocked_export_exits_1(home: RuntimePaths) -> None:
    ident = DEMO_IDENTITY
    conn = connect(home.bot_outputs(ident.string).ledger_db("ledger"))
    try:  # an open cash mismatch (not INTRADAY) blocks every export (§9)
        conn.execute(
            "INSERT INTO reconciliation_log (entity_code, jurisdiction_code, broker_code, broker,"
            " error_code, status, recon_type, timestamp_utc, delta_minor) VALUES"
            " (?, ?, ?, ?, 'CASH_MISMATCH', 'mismatch', 'cash', ?, 100)",
            (
                ident.entity_code,
                ident.jurisdiction_code,
                ident.broker_code,
                ident.broker_code,
                iso_utc(SystemClock().now_utc()),
            ),
        )
    finally:
        conn.close()
    day = SystemClock().now_utc().date().isoformat()
    argv = ["export", "--format", "ofx", "--from", day, "--to", day]
    code, out, err = _run(cmd_export, _args(home, argv))
    assert (code, out) == (1, ""), err
    assert err.startswith("ledger export blocked: ") and "open reconciliation row" in err
    backwards = ["export", "--format", "ofx", "--from", day, "--to", "2000-01-01"]
    code, _, err = _run(cmd_export, _args(home, backwards))
    assert code == 2 and "rejected" in err and "ascending" in err


def _post_estimated_opening_lot(home: RuntimePaths) -> int:
    """An opening balance whose one position had no broker basis (market value used)."""
    clock = SystemClock()
    books = open_bot_books(home, clock, actor="test")
    try:
        with books.session("opening_balance"):
            books.post_opening_balance(
                [OpeningPosition("MSFT", Decimal(10), None, market_value=Decimal("2500.00"))],
                100_000,
                clock.now_utc() - timedelta(days=1),
                actor="test",
            )
    finally:
        books.close()
    (lot,) = _rows(home, "SELECT id, basis_minor, est_basis FROM lots")
    assert (lot["basis_minor"], lot["est_basis"]) == (250_000, 1)
    return int(lot["id"])


def test_adjust_basis_fixes_an_opening_lot(home: RuntimePaths) -> None:
    lot_id = _post_estimated_opening_lot(home)
    argv = ["adjust-basis", "--lot", str(lot_id), "--basis", "2431.17", "--reason", "broker 1099"]
    code, out, err = _run(cmd_adjust_basis, _args(home, argv))
    assert (code, err) == (0, ""), err
    assert out.startswith(f"lot {lot_id}: basis set to 2431.17 (event ")
    (event,) = _rows(
        home, "SELECT id, event_type FROM journal_events WHERE event_type = 'ADJUSTMENT'"
    )
    legs = _rows(
        home,
        f"SELECT account_code, amount_minor FROM ledger_entries WHERE event_id = {event['id']} "  # noqa: S608
        "ORDER BY leg_no",
    )
    assert sorted((r["account_code"], r["amount_minor"]) for r in legs) == [
        ("1111", -6_883),
        ("3030", 6_883),
    ]
    (adjustment,) = _rows(home, "SELECT lot_id, basis_delta_minor, reason FROM lot_adjustments")
    assert adjustment == {"lot_id": lot_id, "basis_delta_minor": -6_883, "reason": "ob_correction"}


def test_adjust_basis_refusals_name_the_problem(home: RuntimePaths) -> None:
    lot_id = _post_estimated_opening_lot(home)
    before = _counts(home)
    argv = ["adjust-basis", "--lot", str(lot_id), "--basis", "abc", "--reason", "typo"]
    code, _, err = _run(cmd_adjust_basis, _args(home, argv))
    assert code == 2 and "params.basis must be a decimal amount" in err and "'abc'" in err
    argv = ["adjust-basis", "--lot", "999", "--basis", "10.00", "--reason", "no such lot"]
    code, _, err = _run(cmd_adjust_basis, _args(home, argv))
    assert code == 1 and "no lot with id 999" in err
    after = _counts(home)
    # nothing half-written; the failed attempt is on record as a failed session
    assert {k: v for k, v in after.items() if k != "sync_runs"} == {
        k: v for k, v in before.items() if k != "sync_runs"
    }
    runs = _rows(home, "SELECT status FROM sync_runs ORDER BY started_at_utc DESC, rowid DESC")
    assert after["sync_runs"] == before["sync_runs"] + 1 and runs[0]["status"] == "failed"


def test_while_a_runner_is_up_the_cli_only_waits_for_it(home: RuntimePaths) -> None:
    """Accounting §1.2: the runner answers; the CLI works the queue only when none is up."""
    with locks.held(home.lock_file("runner")):  # a live process holds the runner lock
        code, _, err = _run(cmd_sync, _args(home, ["sync", "--wait", "1"]))
        assert code == 2 and "still pending" in err
        assert len(_pending_files(home)) == 1
    assert _counts(home)["sync_runs"] == 0  # nobody ran it meanwhile
    code, _, err = _run(cmd_sync, _args(home, ["sync", "--wait", "10"]))  # runner gone
    assert code == 0, err
    assert _pending_files(home) == []  # the earlier request was answered too


def test_a_request_that_breaks_is_answered_failed_once(home: RuntimePaths) -> None:
    """Input no check caught must not come back on every poll (and take the worker down)."""
    clock = SystemClock()
    bad = submit_request(
        home,
        "coa_publish",
        {"changes": [{"code": "1030", "active": "abc"}], "reason": "typo"},
        "test",
        clock=clock,
    )
    assert process_ledger_requests(home, clock) == [bad]
    result = read_result(home, bad)
    assert result is not None and result["status"] == "failed", result
    assert result["message"].startswith("unexpected ")
    assert process_ledger_requests(home, clock) == []  # answered once, not retried


def _post_deposit_unknown_to_the_broker(home: RuntimePaths, clock: Clock) -> None:
    """A 75.25 deposit the broker never reported: the ledger's cash now differs from it."""
    books = open_bot_books(home, clock, actor="test")
    try:
        deposit = ActivityReport(
            "NOT-AT-BROKER", ActivityKind.DEPOSIT, Decimal("75.25"), clock.now_utc()
        )
        with books.session("sync", trigger="startup"):
            books.post(normalize_activity(deposit, broker_code="SIM", account_id="SIM"))
    finally:
        books.close()


def test_a_requested_sync_logs_its_problems_and_feeds_the_status(home: RuntimePaths) -> None:
    """A deposit the broker never reported: the eod sync asked for by the CLI finds a cash
    mismatch, writes its `recon_cash` line and the status summary counts it open."""
    _post_deposit_unknown_to_the_broker(home, SystemClock())
    code, out, err = _run(cmd_sync, _args(home, ["sync", "--trigger", "eod", "--wait", "30"]))
    assert code == 0, err
    outputs = home.bot_outputs(DEMO_IDENTITY.string)
    lines = [
        json.loads(line)
        for line in outputs.log_file("unresolved_orders.log").read_text().splitlines()
    ]
    cash = [line for line in lines if line["error_type"] == "recon_cash"]
    assert len(cash) == 1 and cash[0]["error_code"] == "mismatch", lines
    (row,) = [r for r in open_reconciliation(outputs) if r["recon_type"] == "cash"]
    assert cash[0]["context"]["delta_minor"] == row["delta_minor"] != 0
    assert cash[0]["context"]["sync_run_id"] == row["sync_run_id"]
    assert cash[0]["strategy"] == "eod"
    assert f"{len(lines)} reconciliation problem(s)" in out
    summary = reconciliation_summary(outputs)
    assert summary["open_mismatches"] >= 1 and summary["status"] in {"ok", "partial"}
    assert summary["last_run_utc"] is not None


def test_a_sync_asked_while_the_market_is_open_is_intraday(home: RuntimePaths) -> None:
    """Accounting §6.5: cash and positions are authoritative at the day's end only. A `cli`
    sync during the session records its cash row as INTRADAY (no log line, blocks nothing);
    the same request after the close is authoritative."""
    clock = FakeClock(datetime(2022, 6, 15, 15, 0, tzinfo=UTC))  # 11:00 ET, a Wednesday
    _post_deposit_unknown_to_the_broker(home, clock)
    outputs = home.bot_outputs(DEMO_IDENTITY.string)
    factory = home_broker_factory(home, clock)

    during = submit_request(home, "ledger_sync", {"trigger": "cli"}, "test", clock=clock)
    assert process_ledger_requests(home, clock, broker_factory=factory) == [during]
    result = read_result(home, during)
    assert result is not None and result["status"] == "done", result
    assert "market open" in result["message"]
    cash = [r for r in open_reconciliation(outputs) if r["recon_type"] == "cash"]
    assert cash and all(r["error_code"] == "INTRADAY" for r in cash)
    log = outputs.log_file("unresolved_orders.log")
    assert not log.exists() or "recon_cash" not in log.read_text()

    clock.sleep_until(datetime(2022, 6, 15, 21, 0, tzinfo=UTC))  # after the 16:00 ET close
    after = submit_request(home, "ledger_sync", {"trigger": "cli"}, "test", clock=clock)
    assert process_ledger_requests(home, clock, broker_factory=factory) == [after]
    result = read_result(home, after)
    assert result is not None and "market open" not in result["message"]
    assert "recon_cash" in log.read_text()
