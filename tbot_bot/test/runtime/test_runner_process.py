"""The production runner (`tbot runner`) on the SIM broker under a FakeClock: launch checks,
HALTED and Stop honoured before trading, one full day through the same DayRunner, status files."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths, data_set_dir
from tbot_bot.market.calendar import TradingCalendar
from tbot_bot.market.day_plan import build_day_plan
from tbot_bot.market.schedule_config import ScheduleConfig
from tbot_bot.runtime.bot_state_manager import BotStateManager
from tbot_bot.runtime.cli_demo import DEMO_IDENTITY, provision_demo
from tbot_bot.runtime.control_flags import request_stop
from tbot_bot.runtime.provisioning import load_runtime_config
from tbot_bot.runtime.requests import is_pending, open_bot_books, read_result, submit_request
from tbot_bot.runtime.runner import Runner
from tbot_bot.runtime.runner_desk import REQUEST_QUIET_S

pytestmark = pytest.mark.data
DEMO = data_set_dir("synthetic/demo")
EVENING_BEFORE = datetime(2022, 6, 14, 22, 0, tzinfo=UTC)  # 18:00 ET, the universe rebuild


def _setup_complete(paths: RuntimePaths) -> None:
    provision_demo(paths)
    states = BotStateManager(paths)
    for state in ("initializing", "provisioning", "bootstrapping", "registration", "started"):
        states.set_state(state, "test setup", "test")


@pytest.mark.skipif(not (DEMO / "manifest.json").is_file(), reason="run `make data` first")
def test_runner_trades_a_day_and_writes_status(tbot_home: Path) -> None:
    paths = RuntimePaths.for_home(tbot_home)
    _setup_complete(paths)
    clock = FakeClock(EVENING_BEFORE)
    runner = Runner(paths, clock=clock, max_days=1)
    settings = load_runtime_config(paths).settings
    calendar = TradingCalendar(date(2022, 6, 1), date(2022, 6, 30))
    runner._build_universe(settings, calendar)  # the nightly build the day runner schedules
    assert runner.run() == 0
    outputs = paths.bot_outputs(DEMO_IDENTITY.string)
    trades = json.loads(outputs.trade_history("json").read_text())["records"]
    assert trades
    assert {t["status"] for t in trades} == {"closed"}
    schedule = json.loads(paths.status_file("schedule.json").read_text())
    assert schedule["trading_date"] == "2022-06-15"
    assert {schedule["phases"][p]["status"] for p in ("open", "mid", "close")} == {"done"}
    runner_status = json.loads(paths.status_file("runner.json").read_text())
    assert runner_status["account"]["equity"] is not None
    # the day's figures come from the runner's own fills; the reconciliation from the last sync
    assert runner_status["trades_today"]["count"] == len(trades)
    net = [Decimal(t["PnL"]) for t in trades]
    assert Decimal(runner_status["pnl"]["realized_today"]) == sum(net, Decimal(0))
    assert runner_status["trades_today"]["wins"] == sum(1 for n in net if n > 0)
    assert runner_status["reconciliation"]["status"] == "ok"
    assert runner_status["reconciliation"]["open_mismatches"] == 0
    assert runner_status["reconciliation"]["last_run_utc"].startswith("2022-06-15")
    assert json.loads(paths.status_file("positions.json").read_text())["positions"] == []
    assert BotStateManager(paths).get_state() == "idle"


@pytest.mark.skipif(not (DEMO / "manifest.json").is_file(), reason="run `make data` first")
def test_runner_holds_while_stopped(tbot_home: Path) -> None:
    paths = RuntimePaths.for_home(tbot_home)
    _setup_complete(paths)
    request_stop(paths, "test", "hold")
    runner = Runner(paths, clock=FakeClock(EVENING_BEFORE))
    settings = load_runtime_config(paths).settings
    assert runner._held_back(load_runtime_config(paths)) is True
    assert BotStateManager(paths).get_state() == "stopped"
    assert settings.BROKER_NAME == "SIM"


def test_launch_is_blocked_without_configuration(tbot_home: Path) -> None:
    paths = RuntimePaths.for_home(tbot_home)
    states = BotStateManager(paths)
    for state in ("initializing", "provisioning", "bootstrapping", "registration", "started"):
        states.set_state(state, "test setup", "test")
    assert Runner(paths, clock=FakeClock(EVENING_BEFORE)).run() == 2
    assert states.get_state() == "error"


@pytest.mark.skipif(not (DEMO / "manifest.json").is_file(), reason="run `make data` first")
def test_a_sleeping_runner_answers_requests_but_not_right_before_a_phase(tbot_home: Path) -> None:
    """During a day the runner's sleeps look at the request folder (`RunnerDesk.poll`), so an export
    asked between phases is answered then; within REQUEST_QUIET_S of a phase start it waits."""
    paths = RuntimePaths.for_home(tbot_home)
    _setup_complete(paths)
    settings = load_runtime_config(paths).settings
    calendar = TradingCalendar(date(2022, 6, 1), date(2022, 6, 30))
    plan = build_day_plan(date(2022, 6, 15), calendar, ScheduleConfig.from_settings(settings))
    first = min(p.start_utc for p in plan.phases if p.status == "pending")
    clock = FakeClock(first - timedelta(seconds=REQUEST_QUIET_S + 60))
    runner = Runner(paths, clock=clock)
    books = open_bot_books(paths, clock, actor="runner")
    params = {"format": "json", "from": "2022-06-14", "to": "2022-06-14"}
    try:
        runner.desk.day_books = books
        runner.desk.day = cast(Any, SimpleNamespace(plan=plan, context=None))
        early = submit_request(paths, "ledger_export", params, "test", clock=clock)
        runner.desk.poll()  # the first phase is more than the quiet period away
        clock.sleep_until(first - timedelta(seconds=REQUEST_QUIET_S // 2))
        late = submit_request(paths, "ledger_export", params, "test", clock=clock)
        runner.desk._requests_at = 0.0  # as if REQUEST_POLL_S had passed
        runner.desk.poll()
        assert is_pending(paths, late)  # a phase starts within the quiet period: it waits
    finally:
        books.close()
    result = read_result(paths, early)
    assert result is not None and result["status"] == "done", result
