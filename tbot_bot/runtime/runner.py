"""The runner process: the one bot process per broker account (web_runtime §1.2, trading spec §1.3).

Launch: single-instance lock -> recover an interrupted key rotation -> decrypt and validate the
configuration -> `started` -> self-checks of every module (any `unhealthy` blocks launch with
`error`) -> then day after day: HALTED and Stop are honoured before anything trades, the day plan
runs through the same `DayRunner` the demo and backtests use, and between phases the clock sleeps
in one-second slices polling the control flags, so Stop and Kill act within a second.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any

from tbot_bot.accounting import open_books
from tbot_bot.accounting.queries import reconciliation_summary
from tbot_bot.broker.base import Broker
from tbot_bot.clock import Clock, SystemClock, iso_utc, require_utc
from tbot_bot.config import error_handler_bot, locks
from tbot_bot.config.key_rotation import recover_interrupted_rotation
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.errors import ConfigError, TbotError
from tbot_bot.market.calendar import TradingCalendar, exchange_time_to_utc, trading_date_of
from tbot_bot.market.day_plan import build_day_plan, schedule_json
from tbot_bot.market.schedule_config import ScheduleConfig
from tbot_bot.runtime import status_files
from tbot_bot.runtime.bot_state_manager import BotStateManager
from tbot_bot.runtime.control_flags import clear_flag, pending_flags
from tbot_bot.runtime.home_broker import build_home_broker
from tbot_bot.runtime.provisioning import RuntimeConfig, load_runtime_config
from tbot_bot.runtime.requests import LOCK_HELD_TEXT, process_ledger_requests
from tbot_bot.runtime.sim_day import make_strategy
from tbot_bot.screeners.build import UniverseBuilder
from tbot_bot.screeners.factory import build_providers
from tbot_bot.screeners.store import load_universe
from tbot_bot.trading.day_runner import DayRunner
from tbot_bot.trading.day_status import day_status
from tbot_bot.trading.kill_switch import KillSwitch
from tbot_bot.trading.ledger_poster import LedgerPoster
from tbot_bot.trading.notifier_bot import Notifier
from tbot_bot.trading.pool import screener_ranker
from tbot_bot.trading.risk_gate import GateLimits
from tbot_bot.trading.risk_gate import self_check as gate_self_check
from tbot_bot.trading.runner_state import RunnerState
from tbot_bot.trading.state_db import connect
from tbot_bot.trading.watchdog import Watchdog

logger = logging.getLogger(__name__)
HEARTBEAT_S = 5
REQUEST_POLL_S = 5  # how often a sleeping runner looks for ledger requests during a day
REQUEST_QUIET_S = 120  # no request work this close to a phase start
LEDGER_WAIT_S = 120  # how long the day waits for a one-shot ledger worker to let go
DAY_ROLL = dtime(0, 1)  # the day plan is computed at 00:01 exchange time


class PollingClock:
    """Wall clock whose sleeps wake every second to run `poll`; a True result ends the sleep."""

    def __init__(
        self, poll: Callable[[], bool], inner: Clock | None = None, slice_s: float = 1.0
    ) -> None:
        self._poll = poll
        self._inner = inner or SystemClock()
        self._slice_s = slice_s

    def now_utc(self) -> datetime:
        return self._inner.now_utc()

    def sleep_until(self, when: datetime) -> None:
        when = require_utc(when)
        while True:
            remaining = (when - self.now_utc()).total_seconds()
            if remaining <= 0 or self._poll():
                return
            time.sleep(min(self._slice_s, remaining))


@dataclass
class RunnerStatus:
    """Fields of `runner.json`, refreshed by the runner thread, written by the heartbeat."""

    fields: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, **values: Any) -> None:
        with self.lock:
            self.fields.update(values)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return dict(self.fields)


def launch_checks(config: RuntimeConfig, broker: Broker) -> list[dict[str, Any]]:
    """Every module's self_check (trading spec §8.3); the unhealthy ones are returned."""
    settings = config.settings
    results: list[dict[str, Any]] = [
        gate_self_check(GateLimits.from_settings(settings)),
        KillSwitch(settings.ACCOUNT_BALANCE, settings.DAILY_LOSS_LIMIT).self_check(),
        broker.self_check(),
    ]
    today = trading_date_of(require_utc(SystemClock().now_utc()))
    calendar = TradingCalendar(today - timedelta(days=10), today + timedelta(days=10))
    plan = build_day_plan(
        calendar.next_session(today - timedelta(days=1)),
        calendar,
        ScheduleConfig.from_settings(settings),
    )
    factory = make_strategy(settings)
    for phase in plan.phases:
        if phase.is_strategy:
            results.append(factory(phase.name, phase).self_check())
    caps = broker.capabilities()
    for name in ("open", "mid", "close"):
        mode = settings.short_type(name)
        if mode == "ShortSell" and not caps.short_selling:
            results.append(
                {
                    "ok": False,
                    "status": "unhealthy",
                    "module": f"strategy:{name}",
                    "reason": f"SHORT_TYPE_{name.upper()}=ShortSell but {broker.name} "
                    "cannot sell short",
                    "hint": "choose InverseETF",
                }
            )
    for result in results:
        logger.info("self_check %s: %s %s", result["module"], result["status"], result["reason"])
    return [r for r in results if r["status"] == "unhealthy"]


class Runner:
    def __init__(
        self, paths: RuntimePaths, *, clock: Clock | None = None, max_days: int | None = None
    ) -> None:
        self.max_days = max_days  # trading days to run before returning (tests); None = forever
        self.paths = paths
        self.states = BotStateManager(paths)
        self.status = RunnerStatus()
        self.clock = clock or PollingClock(self._poll)
        self._stop_heartbeat = threading.Event()
        self._broker: Broker | None = None  # the live broker, for ledger requests between days
        self._day: DayRunner | None = None  # the trading day in progress, with its open books
        self._day_books: Any = None
        self._outputs: BotOutputs | None = None  # the bot's output tree, once launched
        self._requests_at = 0.0  # monotonic time of the last look at the request folder
        self._in_requests = False

    # -- flags and requests ---------------------------------------------------------------------
    def _poll(self) -> bool:
        """Every wake-up of a sleep: during a trading day the ledger requests (every few
        seconds, so a sync or export asked between phases is not left until the evening),
        then the flags (a True result ends the sleep)."""
        if (
            self._day_books is not None
            and time.monotonic() - self._requests_at >= REQUEST_POLL_S
            and not self._phase_due_soon()
        ):
            self._answer_requests()
        return self._flag_pending()

    def _phase_due_soon(self) -> bool:
        """A pending phase starts within REQUEST_QUIET_S: a long export or a sync in broker
        retries must not make it miss its start, so requests wait until after it."""
        plan = self._day.plan if self._day is not None else None
        if plan is None:
            return False
        now = self.clock.now_utc()
        return any(
            p.status == "pending" and now <= p.start_utc <= now + timedelta(seconds=REQUEST_QUIET_S)
            for p in plan.phases
        )

    def _answer_requests(self) -> None:
        """Ledger requests with the live broker and, during a day, the day's open books (sync
        and export wait while a phase's fills session is open; COA edits do not).

        Never raises: a request that breaks is answered `failed` by the processor, and anything
        else is logged, so a bad request file can neither fail a phase nor stop the runner.
        """
        if self._in_requests:  # a request's own sleep (a broker retry) must not start another
            return
        self._in_requests = True
        try:
            if process_ledger_requests(
                self.paths, self.clock, books=self._day_books, broker=self._broker
            ):
                self._publish_reconciliation()  # a requested sync changes what is open
        except Exception:
            logger.exception("answering ledger requests failed")
        finally:
            self._in_requests = False
            self._requests_at = time.monotonic()

    def _flag_pending(self) -> bool:
        flags = pending_flags(self.paths)
        return flags.get("kill") is not None or flags.get("stop") is not None

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
        self._broker = broker
        self._outputs = self.paths.bot_outputs(config.identity.string)
        self._publish_reconciliation()
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
            self._day_books = books
            day = self._day = DayRunner(
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
                on_tick=self._on_tick(broker),
                phase_hook=self._phase_hook(plan, broker),
                universe_hook=lambda now: self._build_universe(settings, calendar, broker),
                previous_close_utc=calendar.session_bounds(
                    calendar.previous_session(plan.trading_date)
                )[1],
            )
            day.run()
            self._publish_day_figures()
        finally:
            self._day = self._day_books = None
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

    def _write_positions(self, broker: Broker, now: datetime) -> None:
        """`positions.json` (web_runtime §8.4): every 60 s in market hours and after each phase."""
        positions = [
            {
                "symbol": p.symbol,
                "side": "long" if p.qty > 0 else "short",
                "qty": str(abs(p.qty)),
                "avg_entry_price": str(p.avg_entry_price),
                "market_price": str(p.market_price),
                "market_value": str(p.market_value),
            }
            for p in broker.get_positions()
        ]
        status_files.write_json(
            self.paths, "positions.json", {"as_of_utc": iso_utc(now), "positions": positions}
        )
        self.status.update(positions_count=len(positions))

    def _phase_hook(
        self, plan: Any, broker: Broker
    ) -> Callable[[str, str, str | None, datetime], None]:
        """Keep schedule.json and the runner's phase fields current on every phase change."""
        document = schedule_json(plan, self.clock.now_utc())

        def hook(phase: str, status: str, reason: str | None, now: datetime) -> None:
            entry = document.setdefault("phases", {}).setdefault(phase, {})
            entry.update({"status": status, "reason": reason})
            entry["started_utc" if status == "running" else "ended_utc"] = iso_utc(now)
            status_files.write_json(self.paths, "schedule.json", document)
            if status != "running":
                self._write_positions(broker, now)
                self._publish_day_figures()
            upcoming = [p for p in plan.phases if p.start_utc > now and p.status == "pending"]
            self.status.update(
                active_strategy=phase if status == "running" else None,
                phase=phase if status == "running" else None,
                phase_started_utc=iso_utc(now) if status == "running" else None,
                next_phase=upcoming[0].name if upcoming else None,
                next_phase_utc=iso_utc(upcoming[0].start_utc) if upcoming else None,
            )

        return hook

    def _publish_day_figures(self) -> None:
        """P&L and trades of the day, and the latest reconciliation, into the runner status."""
        context = self._day.context if self._day is not None else None
        if context is not None:
            self.status.update(**day_status(context))
        self._publish_reconciliation()

    def _publish_reconciliation(self) -> None:
        """The latest sync and the open problems, read from the ledger (so a sync asked for
        through `tbot ledger sync` shows as well as the runner's own; accounting spec §6.5)."""
        if self._outputs is None:
            return
        try:
            self.status.update(reconciliation=reconciliation_summary(self._outputs))
        except (TbotError, sqlite3.Error) as exc:  # best effort; the next phase tries again
            logger.warning("reconciliation status unavailable: %s", exc)

    def _on_tick(self, broker: Broker) -> Callable[[datetime], None]:
        last = {"positions": 0.0}  # epoch seconds of the last positions.json

        def hook(now: datetime) -> None:
            self._answer_requests()
            self._publish_day_figures()
            account = broker.get_account()
            self.status.update(
                account={
                    "as_of_utc": iso_utc(now),
                    "equity": str(account.equity),
                    "cash": str(account.cash),
                    "buying_power": str(account.buying_power),
                }
            )
            if now.timestamp() - last["positions"] >= 60:
                last["positions"] = now.timestamp()
                self._write_positions(broker, now)

        return hook

    # -- waiting ------------------------------------------------------------------------------
    def _wait(self, delta: timedelta) -> None:
        self._answer_requests()  # between days the runner answers them, with its live broker
        self.clock.sleep_until(self.clock.now_utc() + delta)

    def _wait_until(self, when: datetime) -> None:
        while self.clock.now_utc() < when:
            self._answer_requests()
            self.clock.sleep_until(min(when, self.clock.now_utc() + timedelta(seconds=5)))
            if self._flag_pending():
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
