"""The hard exit of a strategy phase: cancel, flatten, verify flat (trading spec §6, §8.1).

At the end of monitoring (or at once when a phase is aborted: halt, immediate stop, error) the
phase's working entries are cancelled, every position it opened is closed, and the broker is
asked again, minute by minute for up to `FLATTEN_WAIT_MINUTES`, whether it is flat. What is still
open is reported and alerted, then retried every WATCHDOG_INTERVAL_SEC until the close. This is
the phase's safety net, so it lives on its own, apart from the tick loop that trades. Each step
is guarded on its own: an error (a NetworkError after retries, say) is recorded by the error
handler and the close-out goes on, so the flatten and the retry-until-close loop always run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from tbot_bot.config import error_handler_bot
from tbot_bot.trading.entries import EntryDesk
from tbot_bot.trading.exits import ExitManager, wait_step
from tbot_bot.trading.runner_context import DayContext

logger = logging.getLogger(__name__)
T = TypeVar("T")
FLATTEN_WAIT_MINUTES = 5
MAX_EXIT_ATTEMPTS = 99  # `EX{seq:02d}`: the id has room for two digits


@dataclass(frozen=True)
class HardExit:
    """Closes out one strategy phase; `broker_work` polls fills and runs due reconciliations."""

    ctx: DayContext
    name: str
    hard_exit_utc: datetime | None
    exits: ExitManager
    broker_work: Callable[[], None]

    def close_out(self, desk: EntryDesk | None, reason: str, *, aborted: bool = False) -> None:
        """Cancel the phase's open orders, close what is left, verify flat with the broker.

        An aborted phase (halt, immediate stop) does it at once; otherwise at the hard exit,
        also after a Stop in `at_hard_exit` mode, which manages positions until then (§8.1).
        """
        ctx = self.ctx
        now = ctx.clock.now_utc()
        hard_exit = self.hard_exit_utc or now
        if now < hard_exit and not aborted:
            ctx.clock.sleep_until(hard_exit)
            now = hard_exit
        ctx.set_bot_state("trading", f"{self.name} hard exit")
        self._guard("broker poll", self.broker_work)
        if desk is not None:
            stamp = now
            self._guard("follow entries", lambda: desk.followup.follow_pending(stamp))
            self._guard("cancel entries", desk.cancel_working_entries)
            self._guard("follow entries", lambda: desk.followup.follow_pending(stamp))
        self._close_step(reason, now)
        leftovers = self._leftovers()
        for _ in range(FLATTEN_WAIT_MINUTES):
            if not leftovers and not self.exits.open_tracked():
                break
            now = wait_step(now)
            ctx.clock.sleep_until(now)
            self._guard("broker poll", self.broker_work)
            self._close_step(reason, now)
            leftovers = self._leftovers()
        if leftovers:
            self.exits.report_unflat(now, leftovers)
            ctx.notify(
                "critical",
                f"not_flat:{self.name}",
                f"{self.name}: still open after the hard exit: {sorted(leftovers)}",
            )
            self._retry_until_close(reason, now)

    def _guard(self, what: str, action: Callable[[], T]) -> T | None:
        """Run one close-out step; an error is recorded and the close-out goes on (None)."""
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - the safety net must reach the flatten (§6)
            error_handler_bot.handle(exc, __name__, strategy=self.name, broker=self.ctx.broker_name)
            logger.warning("hard exit of %s: %s failed (%r); going on", self.name, what, exc)
            return None

    def _close_step(self, reason: str, now: datetime) -> None:
        """Re-send dead exits, then send an exit for every open position still without one."""
        self._guard("resend exits", lambda: self.exits.resend_dead_exits(now))
        self._guard("flatten", lambda: self.exits.flatten_all(reason, now))

    def _leftovers(self) -> dict[str, Decimal]:
        """Broker positions still held; when the broker cannot say, the open strategy positions
        (assumed not flat, so the retries go on)."""
        found = self._guard("verify flat", self.exits.unflat_symbols)
        if found is not None:
            return found
        return {p.symbol: p.qty for p in self.ctx.positions.open_positions(self.name)}

    def _retry_until_close(self, reason: str, now: datetime) -> None:
        """§6 hard exit (4): keep closing every WATCHDOG_INTERVAL_SEC until the close, within the
        two-digit attempt numbers a client order id can carry."""
        ctx = self.ctx
        interval = timedelta(seconds=int(ctx.settings.WATCHDOG_INTERVAL_SEC))
        while now + interval <= ctx.session_close_utc:
            tracked = self.exits.open_tracked()
            if any(len(t.position.exit_order_ids) >= MAX_EXIT_ATTEMPTS for t in tracked):
                return
            if not tracked and not ctx.positions.open_positions(self.name):
                return
            now += interval
            ctx.clock.sleep_until(now)
            self._guard("broker poll", self.broker_work)
            self._close_step(reason, now)
            if not self._leftovers():
                return
