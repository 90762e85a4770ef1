"""The hard exit of a strategy phase: cancel, flatten, verify flat (trading spec §6, §8.1).

At the end of monitoring (or at once when a phase is aborted: halt, immediate stop, error) the
phase's working entries are cancelled, every position it opened is closed, and the broker is
asked again, minute by minute for up to `FLATTEN_WAIT_MINUTES`, whether it is flat. What is still
open is reported and alerted, then retried every WATCHDOG_INTERVAL_SEC until the close. This is
the phase's safety net, so it lives on its own, apart from the tick loop that trades.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tbot_bot.trading.entries import EntryDesk
from tbot_bot.trading.exits import ExitManager, wait_step
from tbot_bot.trading.runner_context import DayContext

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
        self.broker_work()
        if desk is not None:
            desk.follow_pending(now)
            desk.cancel_working_entries()
            desk.follow_pending(now)
        self.exits.flatten_all(reason, now)
        leftovers = self.exits.unflat_symbols()
        for _ in range(FLATTEN_WAIT_MINUTES):
            if not leftovers and not self.exits.open_tracked():
                break
            now = wait_step(now)
            ctx.clock.sleep_until(now)
            self.broker_work()
            self.exits.resend_dead_exits(now)
            leftovers = self.exits.unflat_symbols()
        if leftovers:
            self.exits.report_unflat(now, leftovers)
            ctx.notify(
                "critical",
                f"not_flat:{self.name}",
                f"{self.name}: still open after the hard exit: {sorted(leftovers)}",
            )
            self._retry_until_close(now)

    def _retry_until_close(self, now: datetime) -> None:
        """§6 hard exit (4): keep closing every WATCHDOG_INTERVAL_SEC until the close, within the
        two-digit attempt numbers a client order id can carry."""
        ctx = self.ctx
        interval = timedelta(seconds=int(ctx.settings.WATCHDOG_INTERVAL_SEC))
        while now + interval <= ctx.session_close_utc:
            tracked = self.exits.open_tracked()
            if not tracked or any(
                len(t.position.exit_order_ids) >= MAX_EXIT_ATTEMPTS for t in tracked
            ):
                return
            now += interval
            ctx.clock.sleep_until(now)
            self.broker_work()
            self.exits.resend_dead_exits(now)
            if not self.exits.unflat_symbols():
                return
