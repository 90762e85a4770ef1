"""The request-file channel (web_runtime §1.3): `tbot_bot.runtime.requests` and the COA form."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tbot_bot.accounting.coa import load_template
from tbot_bot.accounting.session import WriterLock
from tbot_bot.clock import FakeClock, iso_utc
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import ConfigError
from tbot_bot.runtime.requests import (
    is_pending,
    open_bot_books,
    process_ledger_requests,
    read_result,
    submit_request,
)
from tbot_bot.test.web.webkit import IDENTITY
from tbot_web.support.coa_form import parse_edit

EXTRAS = {"files", "blocked", "sync_run_id", "sync_status", "cutover_utc"}


def _result(home: RuntimePaths, request_id: str) -> dict[str, Any]:
    result = read_result(home, request_id)
    assert result is not None, f"no result for {request_id}"
    # The five fields of web_runtime §1.3, plus the documented extras of some request types.
    assert {"id", "status", "started_utc", "ended_utc", "message"} <= set(result)
    assert set(result) - {"id", "status", "started_utc", "ended_utc", "message"} <= EXTRAS
    assert result["id"] == request_id and not is_pending(home, request_id)
    return result


def test_submit_writes_an_allowlisted_request(home: RuntimePaths, clock: FakeClock) -> None:
    request_id = submit_request(home, "coa_rollback", {"to_version": "1.0.0"}, "cli", clock=clock)
    body = json.loads(home.request_file(request_id).read_text())
    assert body == {
        "id": request_id,
        "type": "coa_rollback",
        "params": {"to_version": "1.0.0"},
        "requested_by": "cli",
        "requested_at_utc": iso_utc(clock.now_utc()),
    }
    assert home.request_file(request_id).stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigError, match="not allowlisted"):
        submit_request(home, "drop_tables", {}, "cli")


def test_unknown_and_malformed_requests_are_rejected(home: RuntimePaths, clock: FakeClock) -> None:
    restart = submit_request(home, "restart_web", {}, "web", clock=clock)
    unknown = str(uuid.uuid4())
    home.request_file(unknown).write_text(
        json.dumps({"id": unknown, "type": "drop_tables", "params": {}, "requested_by": "x"})
    )
    broken = str(uuid.uuid4())
    home.request_file(broken).write_text("{not json")
    junk = home.requests_dir / "junk.json"
    junk.write_text("[]")
    no_changes = submit_request(home, "coa_publish", {"reason": "r"}, "web", clock=clock)
    no_reason = submit_request(
        home, "coa_publish", {"changes": [{"code": "1030", "name": "X"}]}, "web", clock=clock
    )

    answered = process_ledger_requests(home, clock)

    assert sorted(answered) == sorted([unknown, broken, no_changes, no_reason])
    assert _result(home, unknown)["status"] == "rejected"
    assert "drop_tables" in _result(home, unknown)["message"]
    assert _result(home, broken)["status"] == "rejected"
    assert "params.changes" in _result(home, no_changes)["message"]
    assert "params.reason" in _result(home, no_reason)["message"]
    assert not junk.exists()
    assert is_pending(home, restart) and read_result(home, restart) is None  # main's request


def test_publish_failure_is_reported(home: RuntimePaths, clock: FakeClock) -> None:
    same = submit_request(
        home,
        "coa_publish",
        {"changes": [{"code": "1030", "name": "Broker – Cash"}], "reason": "no-op"},
        "web:admin",
        clock=clock,
    )
    clock.advance(timedelta(seconds=1))
    missing = submit_request(
        home, "coa_rollback", {"to_version": "9.9.9", "reason": "r"}, "web:admin", clock=clock
    )
    assert process_ledger_requests(home, clock) == [same, missing]
    assert _result(home, same)["status"] == "failed"
    assert "changes nothing" in _result(home, same)["message"]
    assert "9.9.9" in _result(home, missing)["message"]
    assert process_ledger_requests(home, clock) == []


def test_requests_wait_while_another_writer_holds_the_lock(
    home: RuntimePaths, clock: FakeClock
) -> None:
    params = {"changes": [{"code": "1030", "name": "Cash"}], "reason": "r"}
    request_id = submit_request(home, "coa_publish", params, "web", clock=clock)
    lock = WriterLock(home.lock_file(f"{IDENTITY}_BOT_ledger"))
    try:
        assert process_ledger_requests(home, clock) == []
        assert is_pending(home, request_id)
    finally:
        lock.release()
    assert process_ledger_requests(home, clock) == [request_id]
    assert _result(home, request_id)["message"] == "published COA version 1.0.1"


def test_runner_passes_its_open_books(home: RuntimePaths, clock: FakeClock) -> None:
    params = {"changes": [{"code": "5070", "active": 0}], "reason": "unused"}
    publish = submit_request(home, "coa_publish", params, "web", clock=clock)
    day = clock.now_utc().date().isoformat()
    clock.advance(timedelta(seconds=1))
    export = submit_request(
        home, "ledger_export", {"format": "csv", "from": day, "to": day}, "web", clock=clock
    )
    clock.advance(timedelta(seconds=1))
    bad_export = submit_request(
        home, "ledger_export", {"format": "xls", "from": day, "to": day}, "web", clock=clock
    )
    books = open_bot_books(home, clock)  # as the runner holds them during a trading day
    try:
        assert process_ledger_requests(home, clock, books=books) == [publish, export, bad_export]
        assert books.coa_version == "1.1.0"
    finally:
        books.close()
    assert _result(home, publish)["status"] == "done"
    exported = _result(home, export)
    assert exported["status"] == "done", exported["message"]
    assert exported["message"].startswith("exported ")
    assert any(home.bot_outputs(IDENTITY).exports_root.rglob("*.csv"))
    assert exported["files"] and all(Path(f).is_file() for f in exported["files"])
    assert _result(home, bad_export)["status"] == "rejected"


def test_form_refuses_to_deactivate_an_account_with_a_balance() -> None:
    tree = load_template().tree
    form = {"reason": "tidy", "row-1030": "1", "row-5070": "1", "name-1030": "Broker – Cash"}
    edit = parse_edit(form, tree, {"1030": 125, "5070": 0})
    assert "non-zero balance" in edit.errors["active-1030"]
    assert "active-5070" not in edit.errors
    assert {"code": "5070", "active": 0} in edit.changes
