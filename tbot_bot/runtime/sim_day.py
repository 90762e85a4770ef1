"""Assemble and run trading days on the SIM broker over a replay data set under a FakeClock.

The demo and the backtester both come through here, and through here only into the very same
`DayRunner` the production supervisor uses: the replay data set is the SIM's market, the
FakeClock jumps from bar end to bar end, and the universe is built from the set's
`reference.csv` by the real universe builder at the previous session's rebuild time, so it is
fresh for the replayed day (trading spec §14).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from tbot_bot.accounting import Books, open_books
from tbot_bot.broker.sim.broker import SimBroker
from tbot_bot.broker.sim.fill_model import FillModelConfig
from tbot_bot.broker.sim.replay import MarketReplay, replay_from_data_set
from tbot_bot.clock import FakeClock
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.errors import ConfigError
from tbot_bot.market.calendar import TradingCalendar, exchange_time_to_utc
from tbot_bot.market.day_plan import DayPlan, PhasePlan, build_day_plan
from tbot_bot.market.replay_data import ReplayDataSet
from tbot_bot.market.schedule_config import ScheduleConfig
from tbot_bot.screeners.build import UniverseBuilder
from tbot_bot.screeners.factory import build_providers
from tbot_bot.screeners.store import load_universe
from tbot_bot.strategy.base import Strategy
from tbot_bot.strategy.strategy_close import CloseParams, CloseStrategy
from tbot_bot.strategy.strategy_mid import MidParams, MidStrategy
from tbot_bot.strategy.strategy_open import OpenParams, OpenStrategy
from tbot_bot.trading.day_runner import DayResult, DayRunner
from tbot_bot.trading.ledger_poster import LedgerPoster
from tbot_bot.trading.pool import screener_ranker
from tbot_bot.trading.runner_context import StateSink, TickHook

logger = logging.getLogger(__name__)


def make_strategy(settings: Any) -> Callable[[str, PhasePlan], Strategy]:
    """Strategy instances for a phase, parameters from the settings (strategies stay pure)."""

    def factory(name: str, phase: PhasePlan) -> Strategy:
        if name == "open":
            assert phase.analysis_end_utc is not None  # noqa: S101 - strategy phase
            return OpenStrategy(
                OpenParams.from_settings(settings, phase.start_utc, phase.analysis_end_utc)
            )
        if name == "mid":
            return MidStrategy(MidParams.from_settings(settings))
        if name == "close":
            return CloseStrategy(CloseParams.from_settings(settings))
        raise ConfigError(f"unknown strategy {name!r}")

    return factory


def full_sessions(data: ReplayDataSet, calendar: TradingCalendar) -> list[date]:
    """Sessions of the set whose bars cover the whole regular session (partial ones dropped)."""
    probe = data.symbols[0]
    chosen = []
    for day in data.sessions:
        bars = data.bars_for_session(probe, day)
        if not bars:
            continue
        open_utc, close_utc = calendar.session_bounds(day)
        if bars[0].ts_utc <= open_utc and bars[-1].end_utc >= close_utc:
            chosen.append(day)
    return chosen


@dataclass
class SimDaySetup:
    """Everything a SIM day needs that lives longer than one day (a backtest reuses it)."""

    paths: RuntimePaths
    outputs: BotOutputs
    identity: BotIdentity
    settings: Any
    data: ReplayDataSet
    calendar: TradingCalendar
    clock: FakeClock
    broker: SimBroker
    state_db_path: Path
    read_flags: bool = True
    publish_universe: bool = True


def make_setup(
    paths: RuntimePaths,
    outputs: BotOutputs,
    identity: BotIdentity,
    settings: Any,
    data: ReplayDataSet,
    first_day: date,
    *,
    state_db_path: Path,
    read_flags: bool = True,
    publish_universe: bool = True,
    clock_factory: Callable[[datetime], FakeClock] = FakeClock,
    replay: MarketReplay | None = None,
) -> SimDaySetup:
    """Clock at the previous session's universe rebuild time, SIM broker over the replay.

    `clock_factory` builds the FakeClock from that start (the backtester passes a FakeClock
    subclass that samples equity at every bar end it reaches); `replay` is the SIM's market
    (default: every bar of `data`; the backtester passes the replayed sessions only).
    """
    calendar = TradingCalendar(
        first_day - timedelta(days=14), data.sessions[-1] + timedelta(days=7)
    )
    previous = calendar.previous_session(first_day)
    start = exchange_time_to_utc(previous, settings.UNIVERSE_REBUILD_START_TIME_LOCAL)
    clock = clock_factory(start)
    reference = {r["symbol"]: r for r in data.reference()}
    broker = SimBroker(
        replay if replay is not None else replay_from_data_set(data),
        clock,
        config=FillModelConfig.from_settings(settings),
        starting_cash=settings.ACCOUNT_BALANCE,
        shortable=[s for s, r in reference.items() if str(r.get("shortable")).lower() == "true"],
        fractionable=[
            s for s, r in reference.items() if str(r.get("fractionable")).lower() == "true"
        ],
    )
    return SimDaySetup(
        paths,
        outputs,
        identity,
        settings,
        data,
        calendar,
        clock,
        broker,
        state_db_path,
        read_flags,
        publish_universe,
    )


def build_universe(setup: SimDaySetup) -> list[dict[str, Any]]:
    """Build (or just read) the universe under the fake clock and return its records."""
    settings, paths = setup.settings, setup.paths
    if setup.publish_universe:
        providers = build_providers(
            paths, settings, now_utc=setup.clock.now_utc, sleep=lambda _s: None
        )
        try:
            UniverseBuilder(
                paths,
                settings,
                setup.calendar,
                setup.clock,
                providers.universe,
                unavailable=providers.unavailable,
            ).build()
        finally:
            providers.close()
    loaded = load_universe(
        paths, setup.calendar, setup.clock.now_utc(), int(settings.SCREENER_UNIVERSE_MAX_AGE_DAYS)
    )
    if not loaded.ok:
        logger.warning("universe not usable: %s (%s)", loaded.status, loaded.reason)
        return []
    return [record.to_json() for record in loaded.symbols]


def _open_books(setup: SimDaySetup) -> Books:
    """The run's books as the runner opens them (SIM short selling allowed)."""
    return open_books(
        setup.outputs,
        setup.identity,
        actor="runner",
        paths=setup.paths,
        clock=setup.clock,
        shorting_enabled=True,
    )


def book_opening_deposit(setup: SimDaySetup) -> None:
    """Book the SIM account's opening deposit so the ledger's cash matches the broker.

    The demo and the backtester call this once before their first day.
    """
    books = _open_books(setup)
    try:
        LedgerPoster(books, setup.broker, setup.identity.broker_code, "SIM").post_opening_deposits()
    finally:
        books.close()


def day_plan(setup: SimDaySetup, day: date) -> DayPlan:
    return build_day_plan(day, setup.calendar, ScheduleConfig.from_settings(setup.settings))


def run_day(
    setup: SimDaySetup,
    day: date,
    universe: list[dict[str, Any]],
    *,
    state_sink: StateSink | None = None,
    on_tick: TickHook | None = None,
    ledger: bool = True,
    watchdog: Any = None,
) -> DayResult:
    """One replayed trading day through the production day runner."""
    plan = day_plan(setup, day)
    books = None
    poster = None
    if ledger:
        books = _open_books(setup)
        poster = LedgerPoster(books, setup.broker, setup.identity.broker_code, "SIM")
    try:
        runner = DayRunner(
            settings=setup.settings,
            identity=setup.identity.string,
            bot_id=setup.identity.bot_id,
            paths=setup.paths,
            outputs=setup.outputs,
            broker=setup.broker,
            clock=setup.clock,
            plan=plan,
            strategies=make_strategy(setup.settings),
            ranker=screener_ranker,
            universe=universe,
            state_db_path=setup.state_db_path,
            ledger=poster,
            state_sink=state_sink,
            on_tick=on_tick,
            watchdog=watchdog,
            read_flags=setup.read_flags,
            universe_hook=None,
            previous_close_utc=setup.calendar.session_bounds(setup.calendar.previous_session(day))[
                1
            ],
        )
        return runner.run()
    finally:
        if books is not None:
            books.close()


def session_minutes(setup: SimDaySetup, day: date) -> tuple[datetime, datetime]:
    return setup.calendar.session_bounds(day)
