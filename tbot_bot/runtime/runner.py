"""The runner process: the one bot process per broker account (web_runtime §1.2, trading spec §1.3).

Launch: single-instance lock -> recover an interrupted key rotation -> decrypt and validate the
configuration -> `started` -> self-checks of every module (any `unhealthy` blocks launch with
`error`) -> then day after day: HALTED and Stop are honoured before anything trades, the day plan
runs through the same `DayRunner` the demo and backtests use, and between phases the clock sleeps
in one-second slices polling the control flags, so Stop and Kill act within a second.

The polling clock, the status fields and the launch self-checks live in `runner_support.py`;
the ledger requests and the status publishing during a run live in `runner_desk.py`.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any

from tbot_bot.accounting import open_books
from tbot_bot.broker.base import Broker
from tbot_bot.clock import Clock, SystemClock
from tbot_bot.config import error_handler_bot, locks
from tbot_bot.config.key_rotation import recover_interrupted_rotation
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import ConfigError, TbotError
from tbot_bot.market.calendar import TradingCalendar, exchange_time_to_utc, trading_date_of
from tbot_bot.market.day_plan import build_day_plan, schedule_json
from tbot_bot.market.schedule_config import ScheduleConfig
from tbot_bot.runtime import status_files
from tbot_bot.runtime.bot_state_manager import BotStateManager
from tbot_bot.runtime.control_flags import clear_flag, pending_flags
from tbot_bot.runtime.home_broker import build_home_broker
from tbot_bot.runtime.provisioning import RuntimeConfig, load_runtime_config
from tbot_bot.runtime.requests import LOCK_HELD_TEXT
from tbot_bot.runtime.runner_desk import RunnerDesk
from tbot_bot.runtime.runner_support import RunnerStatus, launch_checks
from tbot_bot.runtime.sim_day import make_strategy
from tbot_bot.screeners.build import UniverseBuilder
from tbot_bot.screeners.factory import build_providers
from tbot_bot.screeners.store import load_universe
from tbot_bot.trading.day_runner import DayRunner
from tbot_bot.trading.ledger_poster import LedgerPoster
from tbot_bot.trading.notifier_bot import Notifier
from tbot_bot.trading.pool import screener_ranker
from tbot_bot.trading.runner_state import RunnerState
from tbot_bot.trading.state_db import connect
from tbot_bot.trading.watchdog import Watchdog

logger = logging.getLogger(__name__)
HEARTBEAT_S = 5
LEDGER_WAIT_S = 120  # how long the day waits for a one-shot ledger worker to let go
DAY_ROLL = dtime(0, 1)  # the day plan is computed at 00:01 exchange time


class Runner:
    """The runner's lifecycle: lock, launch, the days loop, waiting; its desk answers and shows."""

    def __init__(
        self, paths: RuntimePaths, *, clock: Clock | None = None, max_days: int | None = None
    ) -> None:
        self.max_days = max_days  # trading days to run before returning (tests); None = forever
        self.paths = paths
        self.states = BotStateManager(paths)
        self.status = RunnerStatus()
        self.desk = RunnerDesk(paths, self.status, clock)  # ledger requests and status files
        self.clock = self.desk.clock
        self._stop_heartbeat = threading.Event()

    def set_state(self, state: str, reason: str) -> None:
        current = self.states.get_state()
        if current == state:
            return
        try:
            self.states.set_state(state, reason, "runner")
        except TbotError as exc:
            logger.warning("state change %s -> %s refused: %s", current, state, exc)
        self.status.update(bot_state=state, state_reason=reason)

    # -- launch -------------------------------------------------------------------------------
    def run(self) -> int:
        with locks.held(self.paths.lock_file("runner")):
            recover_interrupted_rotation(self.paths)
            heartbeat = threading.Thread(target=self._heartbeat, daemon=True)
            heartbeat.start()
            try:
                return self._run_locked()
            finally:
                self._stop_heartbeat.set()
                heartbeat.join(timeout=HEARTBEAT_S)
                self._write_heartbeat()  # the last word: main sees the final fields

    def _run_locked(self) -> int:
        try:
            config = load_runtime_config(self.paths)
        except ConfigError as exc:
            self._launch_error(f"configuration: {exc}")
            return 2
        error_handler_bot.configure(self.paths, self.paths.bot_outputs(config.identity.string))
        self.set_state("started", "launch")
        broker = build_home_broker(self.paths, self.clock, settings=config.settings)
        try:
            broker.connect()
        except TbotError as exc:
            self._launch_error(f"broker: {type(exc).__name__}")
            return 2
        unhealthy = launch_checks(config, broker)
        if unhealthy:
            self._launch_error(
                "; ".join(f"{r['module']}: {r['reason']} ({r['hint']})" for r in unhealthy)
            )
            return 2
        return self._days(config, broker)

    def _launch_error(self, reason: str) -> None:
        logger.error("launch blocked: %s", reason)
        self.set_state("error", reason)
        self.status.update(launch_error=reason)

    # -- days ---------------------------------------------------------------------------------
    def _days(self, config: RuntimeConfig, broker: Broker) -> int:
        self.desk.broker = broker
        self.desk.outputs = self.paths.bot_outputs(config.identity.string)
        self.desk.publish_reconciliation()
        traded = 0
        while True:
            now = self.clock.now_utc()
            if self._held_back(config):
                self._wait(timedelta(seconds=5))
                continue
            day = trading_date_of(now)
            calendar = TradingCalendar(day - timedelta(days=14), day + timedelta(days=14))
            plan = build_day_plan(day, calendar, ScheduleConfig.from_settings(config.settings))
            status_files.write_json(self.paths, "schedule.json", schedule_json(plan, now))
            if plan.is_trading_day and plan.session_close_utc and now < plan.session_close_utc:
                self._trade_day(config, broker, calendar, plan)
                traded += 1
                if self.max_days is not None and traded >= self.max_days:
                    self.set_state("idle", "day done")
                    return 0
            self.set_state("idle", "no phase left today")
            tomorrow = exchange_time_to_utc(day + timedelta(days=1), DAY_ROLL)
            self._wait_until(tomorrow)

    def _held_back(self, config: RuntimeConfig) -> bool:
        """Stop and HALTED hold the runner until Start (HALTED only with a confirmed reset)."""
        flags = pending_flags(self.paths)
        state = RunnerState(connect(self.paths.state_db(config.identity.string)))
        try:
            halted = state.open_halt() is not None or flags.get("kill") is not None
            start = flags.get("start")
            if start is not None and (not halted or start.reason == "confirm_reset"):
                if halted:
                    state.reset_halt(self.clock.now_utc(), start.requested_by or "unknown")
                clear_flag(self.paths, "start")
                self.set_state("running", "start flag")
                return False
        finally:
            state.conn.close()
        if halted:
            self.set_state("shutdown_triggered", "HALTED: waiting for a confirmed reset")
            self.status.update(halted=True)
            return True
        if flags.get("stop") is not None:
            self.set_state("stopped", "stop flag")
            return True
        self.status.update(halted=False)
        return False

    def _trade_day(
        self, config: RuntimeConfig, broker: Broker, calendar: TradingCalendar, plan: Any
    ) -> None:
        settings, identity = config.settings, config.identity
        outputs = self.paths.bot_outputs(identity.string)
        loaded = load_universe(
            self.paths, calendar, self.clock.now_utc(), int(settings.SCREENER_UNIVERSE_MAX_AGE_DAYS)
        )
        universe = [r.to_json() for r in loaded.symbols] if loaded.ok else []
        if not loaded.ok:
            logger.warning("universe %s: %s", loaded.status, loaded.reason)
        books = self._open_day_books(outputs, identity)
        try:
            self.set_state("running", "trading day")
            self.desk.day_books = books
            day = self.desk.day = DayRunner(
                settings=settings,
                identity=identity.string,
                bot_id=identity.bot_id,
                paths=self.paths,
                outputs=outputs,
                broker=broker,
                clock=self.clock,
                plan=plan,
                strategies=make_strategy(settings),
                ranker=screener_ranker,
                universe=universe,
                ledger=LedgerPoster(books, broker, identity.broker_code, "primary"),
                state_sink=self.set_state,
                notifier=Notifier.from_home(
                    self.paths, settings, self.clock, identity=identity.string
                ),
                watchdog=Watchdog.from_settings(settings),
                on_tick=self.desk.on_tick(broker),
                phase_hook=self.desk.phase_hook(plan, broker),
                universe_hook=lambda now: self._build_universe(settings, calendar, broker),
                previous_close_utc=calendar.session_bounds(
                    calendar.previous_session(plan.trading_date)
                )[1],
            )
            day.run()
            self.desk.publish_day_figures()
        finally:
            self.desk.day = self.desk.day_books = None
            books.close()

    def _open_day_books(self, outputs: Any, identity: Any) -> Any:
        """The day's books. A `tbot ledger` one-shot worker that took the ledger before this
        runner came up holds it for seconds: wait for it (bounded) instead of dying."""
        deadline = self.clock.now_utc() + timedelta(seconds=LEDGER_WAIT_S)
        while True:
            try:
                return open_books(
                    outputs,
                    identity,
                    actor="runner",
                    paths=self.paths,
                    clock=self.clock,
                    shorting_enabled=True,
                )
            except TbotError as exc:
                if LOCK_HELD_TEXT not in str(exc) or self.clock.now_utc() >= deadline:
                    raise
                logger.info("ledger busy (%s); retrying", exc)
                self.clock.sleep_until(self.clock.now_utc() + timedelta(seconds=2))

    def _build_universe(
        self, settings: Any, calendar: TradingCalendar, broker: Broker | None = None
    ) -> None:
        """The nightly universe build after the close (trading spec §10), same code as the CLI."""
        # The BROKER provider lists the account's own assets (tradable/fractionable/shortable).
        source = broker if broker is not None and broker.has_asset_list else None
        providers = build_providers(
            self.paths, settings, now_utc=self.clock.now_utc, asset_source=source, broker=source
        )
        try:
            result = UniverseBuilder(
                self.paths,
                settings,
                calendar,
                self.clock,
                providers.universe,
                unavailable=providers.unavailable,
            ).build()
        finally:
            providers.close()
        logger.info("universe build: %s %s", result.status, result.reason)

    # -- waiting ------------------------------------------------------------------------------
    def _wait(self, delta: timedelta) -> None:
        self.desk.answer_requests()  # between days the runner answers them, with its live broker
        self.clock.sleep_until(self.clock.now_utc() + delta)

    def _wait_until(self, when: datetime) -> None:
        while self.clock.now_utc() < when:
            self.desk.answer_requests()
            self.clock.sleep_until(min(when, self.clock.now_utc() + timedelta(seconds=5)))
            if self.desk.flag_pending():
                return

    def _heartbeat(self) -> None:
        while not self._stop_heartbeat.is_set():
            self._write_heartbeat()
            self._stop_heartbeat.wait(HEARTBEAT_S)

    def _write_heartbeat(self) -> None:
        status_files.write_component(
            self.paths, "runner", SystemClock().now_utc(), self.status.snapshot()
        )


def run_runner(paths: RuntimePaths) -> int:
    """Entry point of the runner child process."""
    error_handler_bot.configure(paths, None)
    error_handler_bot.install_excepthook("runner")
    return Runner(paths).run()
