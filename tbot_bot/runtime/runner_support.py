"""Launch support for the runner process: its polling clock, its status fields, its self-checks.

Kept apart from `runner.py` because none of these depend on the Runner: the clock only needs a
`poll` callable, the status is a plain thread-safe dict, and the launch checks only need the
configuration and the broker (trading spec §8.3). The Runner composes them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tbot_bot.broker.base import Broker
from tbot_bot.clock import Clock, SystemClock, require_utc
from tbot_bot.market.calendar import TradingCalendar, trading_date_of
from tbot_bot.market.day_plan import build_day_plan
from tbot_bot.market.schedule_config import ScheduleConfig
from tbot_bot.runtime.provisioning import RuntimeConfig
from tbot_bot.runtime.sim_day import make_strategy
from tbot_bot.trading.kill_switch import KillSwitch
from tbot_bot.trading.risk_gate import GateLimits
from tbot_bot.trading.risk_gate import self_check as gate_self_check

logger = logging.getLogger(__name__)


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
