"""Late starts (trading spec §1.3): whether a phase reached after its start still runs.

A process that starts (or restarts) late must decide per phase: wait for a start still ahead,
start now within the grace minutes (window boundaries unchanged), or skip `missed_start`. The
decision depends on "now", so it lives outside the pure, clock-free plan builder in `day_plan`;
the day runner asks it before each strategy phase, the supervisor applies it to a whole plan.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Literal

from tbot_bot.clock import require_utc
from tbot_bot.market.day_plan import SKIP_MISSED_START, DayPlan, PhasePlan

LateStart = Literal["wait", "start_now", "skip"]


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
