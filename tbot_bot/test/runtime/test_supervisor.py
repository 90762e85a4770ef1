"""Supervisor (web_runtime §8.1): children started, restarted with backoff, runner given up after
too many restarts, status.json merged with every field of §8.4, single-runner lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from tbot_bot.clock import FakeClock, iso_utc
from tbot_bot.config import locks
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import ConfigError
from tbot_bot.runtime import status_files
from tbot_bot.runtime.main import RESTART_LIMIT, Supervisor

T0 = datetime(2025, 7, 15, 14, 0, tzinfo=UTC)
STATUS_FIELDS = {
    "schema_version",
    "updated_utc",
    "version",
    "bot_state",
    "state_since_utc",
    "state_reason",
    "bot_identity",
    "active_strategy",
    "phase",
    "phase_started_utc",
    "next_phase",
    "next_phase_utc",
    "halted",
    "broker_suspended",
    "data_suspended",
    "boot_time_utc",
    "uptime_s",
    "processes",
    "schedule",
    "flags",
    "broker",
    "account",
    "pnl",
    "reconciliation",
    "positions_count",
    "trades_today",
    "errors",
    "overall",
}


def _exiting_child() -> list[str]:
    return [sys.executable, "-c", "import sys; sys.exit(3)"]


def _sleeping_child() -> list[str]:
    return [sys.executable, "-c", "import time; time.sleep(30)"]


def test_web_child_is_started_and_restarted_with_backoff() -> None:
    paths = RuntimePaths.for_home()
    clock = FakeClock(T0)
    started: list[list[str]] = []

    def spawn(cmd: Sequence[str]) -> subprocess.Popen[bytes]:
        started.append(list(cmd))
        return subprocess.Popen(cmd)

    sup = Supervisor(paths, clock=clock, spawn=spawn, commands={"web": _exiting_child()})
    sup.step(clock.now_utc())
    assert len(started) == 1  # the runner waits for setup; the web starts at once
    sup.children["web"].process.wait()  # type: ignore[union-attr]
    sup.step(clock.now_utc())  # dead: restart scheduled 1 s later, not at once
    assert len(started) == 1
    clock.advance(timedelta(seconds=1))
    sup.step(clock.now_utc())
    assert len(started) == 2
    sup.children["web"].process.wait()  # type: ignore[union-attr]
    sup.step(clock.now_utc())
    clock.advance(timedelta(seconds=1))
    sup.step(clock.now_utc())
    assert len(started) == 2  # backoff doubled to 2 s
    clock.advance(timedelta(seconds=1))
    sup.step(clock.now_utc())
    assert len(started) == 3
    sup.shutdown()


def test_runner_left_down_after_too_many_restarts() -> None:
    paths = RuntimePaths.for_home()
    clock = FakeClock(T0)
    sup = Supervisor(paths, with_web=False, clock=clock, commands={"runner": _exiting_child()})
    runner = sup.children["runner"]
    for _ in range(2 * (RESTART_LIMIT + 2)):  # each restart: notice the exit, then start
        sup._watch(runner, clock.now_utc())
        if runner.process is not None:
            runner.process.wait()
        clock.advance(timedelta(seconds=40))  # past any backoff, all within the 10-min window
    assert runner.failed
    status = sup.merge_status(clock.now_utc())
    assert status["processes"]["runner"]["status"] == "failed"
    assert status["overall"]["level"] == "Critical"
    assert "runner_failed" in status["overall"]["reasons"]


def test_status_json_has_every_field_and_shutdown_stops_children() -> None:
    paths = RuntimePaths.for_home()
    clock = FakeClock(T0)
    sup = Supervisor(paths, clock=clock, commands={"web": _sleeping_child()})
    sup.step(clock.now_utc())
    status_files.write_component(
        paths, "runner", clock.now_utc(), {"halted": True, "phase": "open"}
    )
    status = sup.merge_status(clock.now_utc())
    assert set(status) >= STATUS_FIELDS
    on_disk = json.loads(paths.status_file("status.json").read_text())
    assert on_disk["updated_utc"] == iso_utc(T0)
    assert on_disk["halted"] is True
    assert on_disk["overall"]["level"] == "Critical"
    web = sup.children["web"].process
    sup.shutdown()
    assert web is not None
    assert web.poll() is not None


def test_hung_runner_is_restarted() -> None:
    paths = RuntimePaths.for_home()
    clock = FakeClock(T0)
    sup = Supervisor(paths, with_web=False, clock=clock, commands={"runner": _sleeping_child()})
    runner = sup.children["runner"]
    sup._watch(runner, clock.now_utc())
    first = runner.process
    status_files.write_component(paths, "runner", clock.now_utc(), {})
    clock.advance(timedelta(seconds=61))
    sup._watch(runner, clock.now_utc())  # heartbeat 61 s old: terminated, restart scheduled
    assert first is not None
    assert first.poll() is not None
    clock.advance(timedelta(seconds=1))
    sup._watch(runner, clock.now_utc())
    assert runner.process is not None
    assert runner.process is not first
    sup.shutdown()


def test_single_runner_lock() -> None:
    lock = RuntimePaths.for_home().lock_file("runner")
    locks.acquire(lock)
    try:
        # A second runner in another (live) process holding the lock is refused.
        lock.write_text(json.dumps({"pid": os.getppid(), "created_utc": "x"}))
        with pytest.raises(ConfigError, match="held by running process"):
            locks.acquire(lock)
    finally:
        lock.unlink()


def test_restart_web_request_restarts_the_web_child_and_is_answered() -> None:
    from tbot_bot.runtime.requests import read_result, submit_request

    paths = RuntimePaths.for_home()
    clock = FakeClock(T0)
    sup = Supervisor(paths, clock=clock, commands={"web": _sleeping_child()})
    sup.step(clock.now_utc())
    first = sup.children["web"].process
    request_id = submit_request(paths, "restart_web", None, "test", clock=clock)
    sup.step(clock.now_utc())  # handled: the web child is stopped and started again at once
    assert first is not None
    assert first.poll() is not None
    assert sup.children["web"].alive()
    assert sup.children["web"].process is not first
    assert len(sup.children["web"].restarts) == 0  # a requested restart is not a crash
    result = read_result(paths, request_id)
    assert result is not None
    assert result["status"] == "done"
    assert not paths.request_file(request_id).exists()
    sup.shutdown()
