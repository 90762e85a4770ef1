"""Replay sessions through the production day runner: the backtest itself (trading spec §15).

Every full session of the data set in [from, to] goes through `sim_day.run_day`, the very function
the demo calls, which drives the production `DayRunner`: one SIM broker and one FakeClock for the
whole run (cash carries over), ledger posting on into throwaway ledgers. The runner's writers point
at the run folder; the state database, ledger lock, snapshots and sync log go to the run folder's
private scratch home, so nothing outside `output/trades/backtest/<run_id>/` is written.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tbot_bot.backtest.artifacts import EquitySample, write_artifacts
from tbot_bot.backtest.config import (
    BACKTEST_IDENTITY,
    BacktestRequest,
    config_bytes,
    config_document,
    make_run_id,
    open_data,
    resolve_settings,
)
from tbot_bot.backtest.market import SessionWindowReplay, market_view, replay_sessions
from tbot_bot.backtest.universe import UniverseSelection, select_universe
from tbot_bot.broker.base import Broker
from tbot_bot.clock import FakeClock, utc_now
from tbot_bot.config import error_handler_bot
from tbot_bot.config.fileio import OUTPUT_DIR_MODE, OUTPUT_FILE_MODE, atomic_write_bytes, ensure_dir
from tbot_bot.config.path_resolver import BacktestRunFiles, RuntimePaths
from tbot_bot.config.settings_schema import Settings
from tbot_bot.errors import ConfigError
from tbot_bot.market.calendar import exchange_time_to_utc
from tbot_bot.market.replay_data import ReplayDataSet
from tbot_bot.reporting.trade_history import read_records
from tbot_bot.runtime.sim_day import (
    SimDaySetup,
    book_opening_deposit,
    make_setup,
    run_day,
)

logger = logging.getLogger(__name__)
ProgressFn = Callable[[float, str], None]  # (share done 0..1, label)


@dataclass
class PreparedRun:
    """A validated request: settings, data, the sessions to replay and the universe."""

    request: BacktestRequest
    settings: Settings
    data: ReplayDataSet
    market: ReplayDataSet
    sessions: list[date]
    universe: UniverseSelection

    def document(self, **extra: Any) -> dict[str, Any]:
        return config_document(
            self.request, self.settings, self.data, self.sessions, self.universe.symbols, **extra
        )


@dataclass
class DayRecord:
    trading_date: date
    phases: dict[str, tuple[str, str | None]]
    trades: int
    realized_pnl: str
    equity_close: Decimal
    cash_close: Decimal
    errors: int = 0  # runner errors of the day (error_tracebacks.log): results are suspect
    unresolved_orders: int = 0


@dataclass
class BacktestOutcome:
    """What a finished run wrote and computed."""

    files: BacktestRunFiles
    sessions: list[date]
    equity: list[EquitySample] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    days: list[DayRecord] = field(default_factory=list)
    charts: dict[str, Path] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.files.root.name


def prepare(request: BacktestRequest, data: ReplayDataSet | None = None) -> PreparedRun:
    """Validate settings, open the data set, choose sessions and build the universe."""
    settings = resolve_settings(request)
    data = data if data is not None else open_data(request, settings)
    universe = select_universe(
        data,
        settings,
        universe_file=Path(request.universe_file) if request.universe_file else None,
        symbols=request.symbols,
    )
    if request.chart_symbol and request.chart_symbol not in data.symbols:
        raise ConfigError(f"--chart-symbol {request.chart_symbol}: not in data set {data.name!r}")
    chart = (request.chart_symbol,) if request.chart_symbol else ()
    market = market_view(data, universe, chart)
    market.load_all()  # validates every bars file now, before the run folder exists
    sessions = replay_sessions(market, request.start, request.end)
    return PreparedRun(request, settings, data, market, sessions, universe)


def run_backtest(
    paths: RuntimePaths,
    request: BacktestRequest,
    *,
    progress: ProgressFn | None = None,
    started_utc: datetime | None = None,
) -> BacktestOutcome:
    """Prepare, name the run folder and execute one backtest."""
    return run_prepared(paths, prepare(request), progress=progress, started_utc=started_utc)


def run_prepared(
    paths: RuntimePaths,
    prepared: PreparedRun,
    *,
    progress: ProgressFn | None = None,
    started_utc: datetime | None = None,
) -> BacktestOutcome:
    """Name the run folder after config.json and execute a prepared backtest."""
    content = config_bytes(prepared.document())
    files = paths.backtest_files(make_run_id(content, started_utc or utc_now()))
    return execute(files, prepared, content, progress=progress)


def execute(
    files: BacktestRunFiles,
    prepared: PreparedRun,
    content: bytes,
    *,
    progress: ProgressFn | None = None,
) -> BacktestOutcome:
    """Run every session into `files.root` and write the §15 outputs."""
    if files.root.exists():
        raise ConfigError(f"backtest run folder {files.root} already exists; wait a second")
    ensure_dir(files.root, OUTPUT_DIR_MODE)
    atomic_write_bytes(files.config_json, content, OUTPUT_FILE_MODE)
    outcome = BacktestOutcome(files, list(prepared.sessions))
    outputs = files.outputs(BACKTEST_IDENTITY.string)
    scratch = files.scratch
    with _errors_to(scratch, outputs):
        setup = make_setup(
            scratch,
            outputs,
            BACKTEST_IDENTITY,
            prepared.settings,
            prepared.market,
            prepared.sessions[0],
            state_db_path=scratch.state_db(BACKTEST_IDENTITY.string),
            read_flags=False,
            publish_universe=False,
            clock_factory=SamplingClock,
            replay=SessionWindowReplay.for_run(prepared.market, prepared.sessions),
        )
        book_opening_deposit(setup)
        _replay(setup, prepared, outcome, progress)
    outcome.trades = read_records(outputs.trade_history("json"))
    write_artifacts(
        files,
        prepared.settings,
        prepared.market,
        outcome,
        _bounds(setup, outcome),
        requested_chart=prepared.request.chart_symbol,
        universe=prepared.universe.symbols,
    )
    return outcome


def _bounds(setup: SimDaySetup, outcome: BacktestOutcome) -> list[tuple[datetime, datetime]]:
    return [setup.calendar.session_bounds(day) for day in outcome.sessions]


class SamplingClock(FakeClock):
    """The backtest's FakeClock: tells a listener every instant it moves to.

    The runner sleeps to every bar end of each phase (analysis windows included), so listening
    to the clock samples equity at exactly the bar ends of §15 without touching the runner.
    A sample reads the broker before the runner acts at that instant. It changes nothing: every
    broker call first matches the open orders up to now, which is all the sample's read does.
    An order the runner sends at t fills at t + SIMULATED_LATENCY_MS at the earliest, so it shows
    in the next sample (with a latency of 0, a fill stamped t is seen one bar later).
    """

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.listener: Callable[[datetime], None] | None = None

    def sleep_until(self, when: datetime) -> None:
        before = self.now_utc()
        super().sleep_until(when)
        now = self.now_utc()
        if now != before and self.listener is not None:
            self.listener(now)


@dataclass
class _DaySampler:
    """Equity at every bar end of one session the clock reaches (and progress with it)."""

    broker: Broker
    outcome: BacktestOutcome
    number: int
    open_utc: datetime
    close_utc: datetime
    progress: ProgressFn | None
    done_s: float
    total_s: float
    count: int

    def __call__(self, now: datetime) -> None:
        if not self.open_utc < now < self.close_utc or now.second or now.microsecond:
            return  # bar ends inside the session only; the close is sampled after the day
        self.sample(now)
        if self.progress is not None:
            elapsed = (now - self.open_utc).total_seconds()
            self.progress((self.done_s + elapsed) / self.total_s, self.label)

    @property
    def label(self) -> str:
        return f"{self.close_utc.date()} ({self.number}/{self.count})"

    def sample(self, now: datetime) -> EquitySample:
        account = self.broker.get_account()
        sample = EquitySample(now, account.equity, account.cash, self.number)
        self.outcome.equity.append(sample)
        return sample


def _replay(
    setup: SimDaySetup,
    prepared: PreparedRun,
    outcome: BacktestOutcome,
    progress: ProgressFn | None,
) -> None:
    clock = setup.clock
    assert isinstance(clock, SamplingClock)  # noqa: S101 - execute() builds it
    bounds = [setup.calendar.session_bounds(day) for day in prepared.sessions]
    total_s = sum((close - open_).total_seconds() for open_, close in bounds) or 1.0
    first = setup.broker.get_account()
    outcome.equity.append(EquitySample(clock.now_utc(), first.equity, first.cash, 0))
    done_s = 0.0
    universe = [dict(record) for record in prepared.universe.records]
    for number, (day, (open_utc, close_utc)) in enumerate(
        zip(prepared.sessions, bounds, strict=True), start=1
    ):
        sampler = _DaySampler(
            setup.broker,
            outcome,
            number,
            open_utc,
            close_utc,
            progress,
            done_s,
            total_s,
            len(bounds),
        )
        _wake_for(setup, day)
        clock.listener = sampler
        try:
            result = run_day(setup, day, universe, ledger=True)
        finally:
            clock.listener = None
        clock.sleep_until(close_utc)
        close = sampler.sample(close_utc)
        totals = result.summary.get("totals", {})
        outcome.days.append(
            DayRecord(
                day,
                dict(result.phases),
                int(totals.get("trades") or 0),
                str(totals.get("realized_pnl") or "0.00"),
                close.equity,
                close.cash,
                int(result.summary.get("errors") or 0),
                int(result.summary.get("unresolved_orders") or 0),
            )
        )
        done_s += (close_utc - open_utc).total_seconds()
        if progress is not None:
            progress(done_s / total_s, sampler.label)
        _prune_snapshots(setup.paths)


def _wake_for(setup: SimDaySetup, day: date) -> None:
    """Move the clock to the previous session's universe rebuild time, as the demo starts."""
    previous = setup.calendar.previous_session(day)
    rebuild = exchange_time_to_utc(previous, setup.settings.UNIVERSE_REBUILD_START_TIME_LOCAL)
    setup.clock.sleep_until(rebuild)


def _prune_snapshots(scratch: RuntimePaths) -> None:
    """Drop the day's pre-write ledger snapshots: the ledgers themselves are throwaway, and a
    long backtest would otherwise keep three database copies per write session."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(scratch.ledger_snapshots_dir)


@contextlib.contextmanager
def _errors_to(scratch: RuntimePaths, outputs: Any) -> Iterator[None]:
    """Point the process-wide error log at the run folder while the backtest runs."""
    target = error_handler_bot._target  # the handler keeps one module-level target
    previous = target.path
    error_handler_bot.configure(scratch, outputs)
    try:
        yield
    finally:
        target.path = previous
