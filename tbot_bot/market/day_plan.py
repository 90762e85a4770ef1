"""The pure day plan: which phases run on a date and at which UTC instants (trading spec §1).

`build_day_plan` takes a date, a `TradingCalendar` and a frozen `ScheduleConfig` and returns a
`DayPlan`; it never reads a clock, a file or `TIMEZONE`. A strategy phase S starting at `s` has
consecutive windows: analysis `[s, s+A)`, entry `[s+A, s+A+B)`, monitoring `[s+A+B, hard_exit)`.
On an early-close day CLOSE keeps its offset from the *regular* close, and every other phase not
finished (holdings: not started) before CLOSE starts is skipped `early_close`.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, Protocol

from tbot_bot.clock import iso_utc, require_utc
from tbot_bot.errors import ConfigError
from tbot_bot.market.calendar import (
    WEEKDAY_NAMES,
    TradingCalendar,
    exchange_time_to_utc,
    parse_trading_days,
    to_exchange_time,
)

STRATEGIES: tuple[str, ...] = ("open", "mid", "close")
UNIVERSE = "universe"
PHASE_ORDER: tuple[str, ...] = ("open", "holdings_open", "mid", "holdings_mid", "close", UNIVERSE)

# skip reasons (persisted in phase records and schedule.json)
SKIP_EARLY_CLOSE = "early_close"
SKIP_HOLDINGS_NOT_ENABLED = "holdings_not_enabled"
SKIP_NOT_IN_SEQUENCE = "not_in_strategy_sequence"
SKIP_STRATEGY_OVERRIDE = "strategy_override"
SKIP_MISSED_START = "missed_start"

_TIME_FIELDS = (
    "start_open",
    "start_mid",
    "start_close",
    "holdings_open",
    "holdings_mid",
    "universe_rebuild",
)
_HHMMSS = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")

PhaseStatus = Literal["pending", "skipped"]
LateStart = Literal["wait", "start_now", "skip"]
Window = Literal["before", "analysis", "entry", "monitoring", "after"]


@dataclass(frozen=True, kw_only=True)
class ScheduleConfig:
    """Schedule settings of `.env_bot` (§12.1); times are exchange-local wall times."""

    start_open: time = time(9, 30)
    start_mid: time = time(12, 0)
    start_close: time = time(15, 34, 30)
    open_analysis_min: int = 20
    open_breakout_min: int = 10
    open_monitoring_min: int = 30
    mid_analysis_min: int = 15
    mid_breakout_min: int = 10
    mid_monitoring_min: int = 30
    close_analysis_min: int = 5
    close_breakout_min: int = 3
    close_monitoring_min: int = 15
    holdings_open: time = time(10, 40)
    holdings_mid: time = time(13, 0)
    universe_rebuild: time = time(18, 0)
    strategy_sequence: tuple[str, ...] = STRATEGIES
    trading_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    trail_tightening_buffer_s: int = 150
    grace_min: int = 2
    strategy_override: str = ""  # "" or one strategy: only that one runs (STRATEGY_OVERRIDE)

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in STRATEGIES:
            for part in ("analysis", "breakout", "monitoring"):
                value = getattr(self, f"{name}_{part}_min")
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    problems.append(f"{name.upper()}_{part.upper()}_TIME: {value!r} is not > 0")
        for field in _TIME_FIELDS:
            if getattr(self, field).tzinfo is not None:  # *_LOCAL keys are exchange wall times
                problems.append(f"{field}: must be a naive exchange-local time")
        unknown = [s for s in self.strategy_sequence if s not in STRATEGIES]
        if unknown or len(set(self.strategy_sequence)) != len(self.strategy_sequence):
            problems.append(
                f"STRATEGY_SEQUENCE: {','.join(self.strategy_sequence)!r} must list distinct "
                f"strategies out of {','.join(STRATEGIES)}"
            )
        if self.strategy_override not in ("", *STRATEGIES):
            problems.append(f"STRATEGY_OVERRIDE: {self.strategy_override!r} is not open|mid|close")
        if self.trail_tightening_buffer_s < 0:
            problems.append(f"TRAIL_TIGHTENING_BUFFER_S: {self.trail_tightening_buffer_s} < 0")
        if self.grace_min < 0:
            problems.append(f"TBOT_SUP_PHASE_GRACE_MIN: {self.grace_min} < 0")
        try:
            parse_trading_days(self.trading_days)
        except ConfigError as exc:
            problems.extend(exc.problems)
        if problems:
            raise ConfigError("invalid schedule settings: " + "; ".join(problems), problems)

    def start_of(self, strategy: str) -> time:
        """The configured exchange-local start of a strategy phase."""
        return {"open": self.start_open, "mid": self.start_mid, "close": self.start_close}[strategy]

    def windows_of(self, strategy: str) -> tuple[int, int, int]:
        """(analysis, breakout, monitoring) minutes of a strategy phase."""
        return (
            getattr(self, f"{strategy}_analysis_min"),
            getattr(self, f"{strategy}_breakout_min"),
            getattr(self, f"{strategy}_monitoring_min"),
        )

    @classmethod
    def from_settings(cls, settings: ScheduleSettings, grace_min: int = 2) -> ScheduleConfig:
        """Read the `.env_bot` keys by their exact names (duck-typed; values may be typed or
        strings). `grace_min` is `TBOT_SUP_PHASE_GRACE_MIN` from the process environment."""
        problems: list[str] = []
        values: dict[str, Any] = {"grace_min": grace_min}
        for field, key, kind in _SETTINGS_KEYS:
            raw = getattr(settings, key, None)
            if raw is None or raw == "":
                if key in _REQUIRED_KEYS:
                    problems.append(f"{key}: required")
                continue  # optional key: the dataclass default applies
            try:
                values[field] = _COERCE[kind](raw)
            except (TypeError, ValueError) as exc:
                problems.append(f"{key}: {raw!r} {exc}")
        if problems:
            raise ConfigError("invalid schedule settings: " + "; ".join(problems), problems)
        return cls(**values)


class ScheduleSettings(Protocol):
    """The part of the settings object `ScheduleConfig.from_settings` needs (required keys);
    optional keys (HOLDINGS_*, UNIVERSE_*, STRATEGY_*, TRADING_DAYS, TRAIL_*) are read with
    getattr and fall back to defaults."""

    @property
    def START_TIME_OPEN_LOCAL(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def START_TIME_MID_LOCAL(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def START_TIME_CLOSE_LOCAL(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def OPEN_ANALYSIS_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def OPEN_BREAKOUT_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def OPEN_MONITORING_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def MID_ANALYSIS_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def MID_BREAKOUT_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def MID_MONITORING_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def CLOSE_ANALYSIS_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def CLOSE_BREAKOUT_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)
    @property
    def CLOSE_MONITORING_TIME(self) -> object: ...  # noqa: N802 (.env_bot key name)


def _as_time(raw: object) -> time:
    if isinstance(raw, time):
        if raw.tzinfo is not None:
            raise ValueError("must be a naive exchange-local time")
        return raw
    if isinstance(raw, str) and _HHMMSS.match(raw.strip()):
        return time.fromisoformat(raw.strip())
    raise ValueError("is not a time HH:MM[:SS]")


def _as_int(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    raise ValueError("is not a whole number")


def _as_names(raw: object) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError("is not a comma-separated list")
    return tuple(i.strip().lower() for i in items if i.strip())


def _as_override(raw: object) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise ValueError("is not a strategy name")
    value = raw.strip().lower()
    return "" if value in ("", "null", "none") else value


_COERCE = {"time": _as_time, "int": _as_int, "names": _as_names, "override": _as_override}
_SETTINGS_KEYS: tuple[tuple[str, str, str], ...] = (
    ("start_open", "START_TIME_OPEN_LOCAL", "time"),
    ("start_mid", "START_TIME_MID_LOCAL", "time"),
    ("start_close", "START_TIME_CLOSE_LOCAL", "time"),
    *(
        (f"{s}_{part}_min", f"{s.upper()}_{key}_TIME", "int")
        for s in STRATEGIES
        for part, key in (
            ("analysis", "ANALYSIS"),
            ("breakout", "BREAKOUT"),
            ("monitoring", "MONITORING"),
        )
    ),
    ("holdings_open", "HOLDINGS_OPEN_LOCAL", "time"),
    ("holdings_mid", "HOLDINGS_MID_LOCAL", "time"),
    ("universe_rebuild", "UNIVERSE_REBUILD_START_TIME_LOCAL", "time"),
    ("strategy_sequence", "STRATEGY_SEQUENCE", "names"),
    ("trading_days", "TRADING_DAYS", "names"),
    ("trail_tightening_buffer_s", "TRAIL_TIGHTENING_BUFFER_S", "int"),
    ("strategy_override", "STRATEGY_OVERRIDE", "override"),
)
# The required keys are exactly the members of the protocol (one source of truth).
_REQUIRED_KEYS = frozenset(k for k, v in vars(ScheduleSettings).items() if isinstance(v, property))


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


# -- validation --------------------------------------------------------------------------------


def _label(phase: PhasePlan, instant: datetime | None = None) -> str:
    """`MID 12:00:00 ET (16:00:00Z)` for error messages: local and UTC side by side."""
    when = phase.start_utc if instant is None else instant
    return f"{phase.name.upper()} {to_exchange_time(when):%H:%M:%S} ET ({when:%H:%M:%S}Z)"


def _window_problems(plan: DayPlan) -> list[str]:
    """Overlaps, STRATEGY_SEQUENCE order and the close, for the pending strategy phases."""
    problems: list[str] = []
    strategies = {p.name: p for p in plan.phases if p.is_strategy and p.status == "pending"}
    ordered = [strategies[s] for s in plan.strategy_sequence if s in strategies]
    for earlier, later in itertools.pairwise(ordered):
        if later.start_utc < earlier.start_utc:
            problems.append(
                f"STRATEGY_SEQUENCE lists {earlier.name} before {later.name} but "
                f"{_label(later)} starts before {_label(earlier)}"
            )
    by_start = sorted(strategies.values(), key=lambda p: p.start_utc)
    for earlier, later in itertools.pairwise(by_start):
        if earlier.hard_exit_utc is not None and later.start_utc < earlier.hard_exit_utc:
            problems.append(
                f"phases overlap: {_label(later)} starts before the hard exit of "
                f"{_label(earlier, earlier.hard_exit_utc)}"
            )
    close = plan.session_close_utc
    for phase in by_start:
        if close is not None and phase.hard_exit_utc is not None and phase.hard_exit_utc > close:
            problems.append(
                f"{_label(phase, phase.hard_exit_utc)}: hard exit after the market close "
                f"{to_exchange_time(close):%H:%M:%S} ET"
            )
    return problems


def _universe_problems(plan: DayPlan) -> list[str]:
    """The universe rebuild must start outside market hours (§10 refuses builds while open).
    Holdings slots are always skipped in v1 (§11), so they have nothing to check yet."""
    universe = plan.phase(UNIVERSE)
    open_utc, close_utc = plan.session_open_utc, plan.session_close_utc
    if universe is None or universe.status != "pending" or open_utc is None or close_utc is None:
        return []
    if open_utc <= universe.start_utc < close_utc:
        return [f"{_label(universe)} starts during market hours"]
    return []


def validate_plan(plan: DayPlan) -> None:
    """Raise ConfigError (all problems together) if the pending phases overlap, break the
    STRATEGY_SEQUENCE order or end after the close. A non-trading day has nothing to check."""
    problems = _window_problems(plan) + _universe_problems(plan)
    if problems:
        raise ConfigError(
            f"invalid schedule for {plan.trading_date}: " + "; ".join(problems), problems
        )


def validate_schedule_config(
    config: ScheduleConfig, calendar: TradingCalendar, around: date
) -> None:
    """Validate the configuration on a regular (full, every phase in play) XNYS session on or
    after `around`, so a bad schedule blocks launch even on a holiday or an early-close day."""
    day = around if calendar.is_session(around) else calendar.next_session(around)
    while calendar.is_early_close(day) or day in calendar.extra_closures:
        day = calendar.next_session(day)
    # Judge the configured times themselves, whatever TRADING_DAYS or the override say.
    probe = dataclasses.replace(config, trading_days=WEEKDAY_NAMES, strategy_override="")
    validate_plan(build_day_plan(day, calendar, probe))


# -- late start and status ---------------------------------------------------------------------


def late_start_decision(phase: PhasePlan, now_utc: datetime, grace_min: int) -> LateStart:
    """§1.3: `wait` while the start is ahead; `start_now` if late by at most `grace_min`
    minutes (window boundaries unchanged); otherwise `skip` (`missed_start`). A strategy
    phase whose entry window has already ended is skipped too: it could never enter."""
    if grace_min < 0:
        raise ValueError(f"grace_min must be >= 0, got {grace_min}")
    now = require_utc(now_utc, "now_utc")
    if phase.status == "skipped":
        return "skip"
    if now < phase.start_utc:
        return "wait"
    if phase.entry_end_utc is not None and now >= phase.entry_end_utc:
        return "skip"
    return "start_now" if now - phase.start_utc <= timedelta(minutes=grace_min) else "skip"


def apply_late_start(plan: DayPlan, now_utc: datetime, grace_min: int) -> DayPlan:
    """The plan with every pending phase that can no longer start marked `missed_start`."""
    phases = tuple(
        p.skipped(SKIP_MISSED_START)
        if p.status == "pending" and late_start_decision(p, now_utc, grace_min) == "skip"
        else p
        for p in plan.phases
    )
    return dataclasses.replace(plan, phases=phases)


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
