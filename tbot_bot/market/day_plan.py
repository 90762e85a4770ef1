"""The pure day plan: which phases run on a date and at which UTC instants (trading spec §1).

`build_day_plan` takes a date, a `TradingCalendar` and a frozen `ScheduleConfig` and returns a
`DayPlan`; it never reads a clock, a file or `TIMEZONE`. A strategy phase S starting at `s` has
consecutive windows: analysis `[s, s+A)`, entry `[s+A, s+A+B)`, monitoring `[s+A+B, hard_exit)`.
On an early-close day CLOSE keeps its offset from the *regular* close, and every other phase not
finished (holdings: not started) before CLOSE starts is skipped `early_close`.

Reading the schedule settings lives in `schedule_config`, judging a finished plan in
`schedule_validation`, and late-start decisions (which need "now") in `late_start`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from tbot_bot.clock import iso_utc, require_utc
from tbot_bot.market.calendar import TradingCalendar, exchange_time_to_utc
from tbot_bot.market.schedule_config import STRATEGIES, ScheduleConfig

UNIVERSE = "universe"
PHASE_ORDER: tuple[str, ...] = ("open", "holdings_open", "mid", "holdings_mid", "close", UNIVERSE)

# skip reasons (persisted in phase records and schedule.json)
SKIP_EARLY_CLOSE = "early_close"
SKIP_HOLDINGS_NOT_ENABLED = "holdings_not_enabled"
SKIP_NOT_IN_SEQUENCE = "not_in_strategy_sequence"
SKIP_STRATEGY_OVERRIDE = "strategy_override"
SKIP_MISSED_START = "missed_start"

PhaseStatus = Literal["pending", "skipped"]
Window = Literal["before", "analysis", "entry", "monitoring", "after"]


@dataclass(frozen=True, kw_only=True)
class PhasePlan:
    """One phase of a day. Holdings and universe phases have only `start_utc`."""

    name: str
    start_utc: datetime
    analysis_end_utc: datetime | None = None
    entry_end_utc: datetime | None = None
    hard_exit_utc: datetime | None = None
    tightening_from_utc: datetime | None = None
    status: PhaseStatus = "pending"
    skip_reason: str | None = None

    @property
    def is_strategy(self) -> bool:
        return self.name in STRATEGIES

    def window_at(self, instant_utc: datetime) -> Window:
        """Which window of a strategy phase `instant_utc` falls in (entries only in `entry`)."""
        if (
            self.analysis_end_utc is None
            or self.entry_end_utc is None
            or self.hard_exit_utc is None
        ):
            raise ValueError(f"phase {self.name!r} has no windows")
        now = require_utc(instant_utc, "instant_utc")
        if now < self.start_utc:
            return "before"
        if now < self.analysis_end_utc:
            return "analysis"
        if now < self.entry_end_utc:
            return "entry"
        return "monitoring" if now < self.hard_exit_utc else "after"

    def skipped(self, reason: str) -> PhasePlan:
        """A copy with status `skipped` and `reason`."""
        return dataclasses.replace(self, status="skipped", skip_reason=reason)


@dataclass(frozen=True, kw_only=True)
class DayPlan:
    """The plan of one exchange date; `phases` is empty on a non-trading day."""

    trading_date: date
    is_trading_day: bool
    reason_if_not: str | None
    session_open_utc: datetime | None
    session_close_utc: datetime | None
    early_close: bool
    phases: tuple[PhasePlan, ...]
    strategy_sequence: tuple[str, ...] = STRATEGIES

    def phase(self, name: str) -> PhasePlan | None:
        """The phase called `name`, or None (non-trading day)."""
        return next((p for p in self.phases if p.name == name), None)


def _strategy_phase(name: str, start: datetime, config: ScheduleConfig) -> PhasePlan:
    analysis, breakout, monitoring = (timedelta(minutes=m) for m in config.windows_of(name))
    hard_exit = start + analysis + breakout + monitoring
    tightening = max(start, hard_exit - timedelta(seconds=config.trail_tightening_buffer_s))
    return PhasePlan(
        name=name,
        start_utc=start,
        analysis_end_utc=start + analysis,
        entry_end_utc=start + analysis + breakout,
        hard_exit_utc=hard_exit,
        tightening_from_utc=tightening,
    )


def _status_of(phase: PhasePlan, config: ScheduleConfig, cutoff: datetime | None) -> PhasePlan:
    """Apply the skip rules; `cutoff` is CLOSE's start on an early-close day, else None."""
    if phase.name == UNIVERSE:
        return phase  # keeps its time even on early-close days
    if phase.is_strategy:
        if phase.name not in config.strategy_sequence:
            return phase.skipped(SKIP_NOT_IN_SEQUENCE)
        if config.strategy_override and phase.name != config.strategy_override:
            return phase.skipped(SKIP_STRATEGY_OVERRIDE)
        end = phase.hard_exit_utc
        if cutoff is not None and phase.name != "close" and end is not None and end > cutoff:
            return phase.skipped(SKIP_EARLY_CLOSE)
        return phase
    if cutoff is not None and phase.start_utc >= cutoff:
        return phase.skipped(SKIP_EARLY_CLOSE)
    return phase.skipped(SKIP_HOLDINGS_NOT_ENABLED)  # holdings are a later phase (§11)


def _phases(d: date, calendar: TradingCalendar, config: ScheduleConfig) -> tuple[PhasePlan, ...]:
    """All six phases of a trading day, with their skip rules applied, in time order."""
    close_utc = calendar.session_bounds(d)[1]
    # CLOSE is anchored to the close: same offset from the actual close as from the regular one.
    offset = calendar.regular_close_utc(d) - exchange_time_to_utc(d, config.start_close)
    starts = {
        "open": exchange_time_to_utc(d, config.start_open),
        "mid": exchange_time_to_utc(d, config.start_mid),
        "close": close_utc - offset,
    }
    raw = [_strategy_phase(name, starts[name], config) for name in STRATEGIES]
    for name, local in (
        ("holdings_open", config.holdings_open),
        ("holdings_mid", config.holdings_mid),
        (UNIVERSE, config.universe_rebuild),
    ):
        raw.append(PhasePlan(name=name, start_utc=exchange_time_to_utc(d, local)))
    cutoff = starts["close"] if calendar.is_early_close(d) else None
    ruled = (_status_of(p, config, cutoff) for p in raw)
    return tuple(sorted(ruled, key=lambda p: (p.start_utc, PHASE_ORDER.index(p.name))))


def build_day_plan(d: date, calendar: TradingCalendar, config: ScheduleConfig) -> DayPlan:
    """The plan of exchange date `d` (pure: no clock, no files, no TIMEZONE)."""
    reason = calendar.non_trading_reason(d, config.trading_days)
    is_session = calendar.is_session(d)
    open_utc, close_utc = calendar.session_bounds(d) if is_session else (None, None)
    return DayPlan(
        trading_date=d,
        is_trading_day=reason is None,
        reason_if_not=reason,
        session_open_utc=open_utc,
        session_close_utc=close_utc,
        early_close=is_session and calendar.is_early_close(d),
        phases=_phases(d, calendar, config) if reason is None else (),
        strategy_sequence=config.strategy_sequence,
    )


def next_trading_plan(after: date, calendar: TradingCalendar, config: ScheduleConfig) -> DayPlan:
    """The plan of the first trading day strictly after `after` (status shows it on idle days)."""
    return build_day_plan(calendar.next_trading_day(after, config.trading_days), calendar, config)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else iso_utc(value)


def schedule_json(plan: DayPlan, created_utc: datetime) -> dict[str, Any]:
    """The `output/status/schedule.json` document (web_runtime §8.2) for `plan`.

    Phase records start as planned (`pending`/`skipped`, no start/end); the runner updates
    `status`, `reason`, `started_utc` and `ended_utc` on every phase change.
    """

    def start_of(name: str) -> str | None:
        phase = plan.phase(name)
        return None if phase is None else iso_utc(phase.start_utc)

    return {
        "trading_date": plan.trading_date.isoformat(),
        "created_utc": iso_utc(created_utc),
        "is_trading_day": plan.is_trading_day,
        "reason": plan.reason_if_not,
        "early_close": plan.early_close,
        "market_open_utc": _iso(plan.session_open_utc),
        "open_utc": start_of("open"),
        "holdings_open_utc": start_of("holdings_open"),
        "mid_utc": start_of("mid"),
        "holdings_mid_utc": start_of("holdings_mid"),
        "close_utc": start_of("close"),
        "market_close_utc": _iso(plan.session_close_utc),
        "universe_utc": start_of(UNIVERSE),
        "phases": {
            p.name: {
                "status": p.status,
                "reason": p.skip_reason,
                "started_utc": None,
                "ended_utc": None,
            }
            for p in plan.phases
        },
    }
