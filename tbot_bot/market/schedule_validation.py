"""Schedule validation: refuse plans whose phases overlap, break the STRATEGY_SEQUENCE order,
end after the close or rebuild the universe during market hours (trading spec §1).

Building a plan (`day_plan`) never fails on a bad but well-formed schedule; these checks judge
the result and report every problem together, so launch can be blocked with one readable error.
They are kept apart from the plan builder because they run at different moments (launch-time
config checks, every planned day) and only read a finished `DayPlan`.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date, datetime

from tbot_bot.errors import ConfigError
from tbot_bot.market.calendar import WEEKDAY_NAMES, TradingCalendar, to_exchange_time
from tbot_bot.market.day_plan import UNIVERSE, DayPlan, PhasePlan, build_day_plan
from tbot_bot.market.schedule_config import ScheduleConfig


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
