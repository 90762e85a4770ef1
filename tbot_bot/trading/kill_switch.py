"""The daily-loss kill switch (trading spec §7.3).

limit = round_down_cents(F_day x DAILY_LOSS_LIMIT), F_day = the float at the day's first phase.
Trips when day P&L <= -limit (equality trips). Tripping is one-way: only an audited manual reset
clears HALTED, which the runner persists as a halt record.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tbot_bot.money import ZERO, round_down_cents


@dataclass(frozen=True)
class KillSwitchDecision:
    tripped: bool
    day_pnl: Decimal
    threshold: Decimal


class KillSwitch:
    def __init__(self, float_at_day_start: Decimal, daily_loss_limit: Decimal) -> None:
        self.float_at_day_start = float_at_day_start
        self.daily_loss_limit = daily_loss_limit
        self.threshold = round_down_cents(float_at_day_start * daily_loss_limit)

    def evaluate(self, day_pnl: Decimal) -> KillSwitchDecision:
        return KillSwitchDecision(day_pnl <= -self.threshold, day_pnl, self.threshold)

    def self_check(self) -> dict[str, Any]:
        ok = ZERO < self.daily_loss_limit < 1
        return {
            "ok": ok,
            "status": "ok" if ok else "unhealthy",
            "module": "kill_switch",
            "reason": "" if ok else "DAILY_LOSS_LIMIT must be in (0, 1)",
            "hint": "" if ok else "set DAILY_LOSS_LIMIT, e.g. 0.05",
        }
