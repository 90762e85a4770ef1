"""One session runner for OPEN, MID and CLOSE (trading spec §1, §3, §6, §8.1).

analysis [s, s+A) observe only -> pool frozen at the end of analysis -> entry [s+A, s+A+B) ->
monitoring until the hard exit at s+A+B+M -> cancel, flatten, verify flat. The runner ticks at
every bar end (and at each window boundary), polls the control flags on every tick, follows fills
and timeouts, and manages exits. Decision: the pool is formed at the end of the analysis window,
not at its first second, because OPEN's gap and relative volume need the first bars of the day;
the tapes are backfilled from the regular open, so nothing is lost.

This module holds the tick loop and what each tick does (controls, watchdog, broker polling,
market data). Forming the pool lives in `pool_formation` and the close-out of the phase in
`hard_exit`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tbot_bot.clock import iso_utc
from tbot_bot.errors import NetworkError, TbotError
from tbot_bot.market.bars import Quote
from tbot_bot.market.day_plan import PhasePlan
from tbot_bot.runtime.control_flags import pending_flags, write_flag
from tbot_bot.strategy.base import Direction, Strategy, SymbolTape
from tbot_bot.trading.entries import EntryDesk
from tbot_bot.trading.exits import ExitManager
from tbot_bot.trading.hard_exit import HardExit
from tbot_bot.trading.pool import PoolMember
from tbot_bot.trading.pool_formation import Ranker, rank_pool, record_eligibility
from tbot_bot.trading.risk_gate import GateLimits
from tbot_bot.trading.runner_context import DayContext
from tbot_bot.trading.sizing import budget_from_settings

logger = logging.getLogger(__name__)
LETTERS = {"open": "O", "mid": "M", "close": "C"}


@dataclass(frozen=True)
class PhaseOutcome:
    status: str  # done | skipped | failed | aborted
    reason: str | None = None


class SessionRunner:
    """Runs one strategy phase of one trading day."""

    def __init__(
        self,
        ctx: DayContext,
        strategy: Strategy,
        plan: PhasePlan,
        ranker: Ranker,
        *,
        halt: Callable[[str], None],
        resume: bool = False,
    ) -> None:
        self.ctx = ctx
        self.strategy = strategy
        self.plan = plan
        self.ranker = ranker
        self.halt = halt
        self.resume = resume
        self.name = strategy.name
        self.session_id = f"{ctx.yyyymmdd}-{self.name.upper()}"
        self.pool: list[PoolMember] | None = None
        self.tapes: dict[str, SymbolTape] = {}
        self.settings = ctx.settings
        self.exits = ExitManager(
            ctx,
            strategy,
            LETTERS[self.name],
            self.session_id,
            self.settings.trail_pct(self.name),
            plan.tightening_from_utc,
            self.settings.TRAIL_TIGHTENING_FACTOR,
            phase_at=self._window_name,
        )
        self.hard_exit = HardExit(ctx, self.name, plan.hard_exit_utc, self.exits, self._broker_work)
        self.desk: EntryDesk | None = None
        self._bars_seen: dict[str, datetime] = {}

    def _window_name(self, now: datetime) -> str:
        """The §3.3 `phase` of a decision at `now`: analysis, entry, monitoring or hard_exit."""
        window = self.plan.window_at(now)
        return {"before": "analysis", "after": "hard_exit"}.get(window, window)

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> PhaseOutcome:
        self._prepare()
        aborted: str | None = None
        for tick in self._ticks():
            self.ctx.clock.sleep_until(tick)
            aborted = self._controls(tick) or self._tick(tick)
            if aborted:
                break
        ctx = self.ctx
        reason = "kill" if ctx.halted else ("manual" if ctx.stopped else "timeout")
        immediate = aborted is not None
        if aborted == "data_outage" and self.exits.natively_protected():
            # §7.4: blind without data, the locally trailed positions are already closed; the
            # ones under a native stop keep it until the hard exit. No new entry meanwhile.
            if self.desk is not None:
                self.desk.cancel_working_entries()
            immediate = False
        self.hard_exit.close_out(self.desk, reason, aborted=immediate)
        if aborted:
            return PhaseOutcome("aborted", aborted)
        return PhaseOutcome("done")

    def _prepare(self) -> None:
        """Float and equity read once at phase start: they size every slot of the session."""
        ctx = self.ctx
        account = ctx.orders.read(ctx.broker.get_account, "get_account")
        budget = budget_from_settings(account.cash, account.equity, self.settings)
        if ctx.counters.float_at_start is None:
            ctx.counters.float_at_start = account.cash
        self.desk = EntryDesk(
            ctx,
            self.strategy,
            LETTERS[self.name],
            self.session_id,
            budget,
            GateLimits.from_settings(self.settings),
            self.exits,
        )
        self.desk.stats.budget = budget.budget
        if self.resume:
            self._resume_positions()

    def _tick(self, tick: datetime) -> str | None:
        """One bar end: fills, pool, entries or monitoring, exits, kill switch, flags again."""
        ctx, plan, desk = self.ctx, self.plan, self.desk
        assert plan.analysis_end_utc is not None  # noqa: S101 - strategy phases have windows
        assert plan.entry_end_utc is not None  # noqa: S101
        assert desk is not None  # noqa: S101 - set by _prepare
        self._broker_work()
        if tick < plan.analysis_end_utc:
            ctx.set_bot_state("analyzing", f"{self.name} analysis")
            if ctx.on_tick is not None:
                ctx.on_tick(tick)  # the hook sees every tick, analysis ones included
            return None
        if self.pool is None:
            self._form_pool(tick)
        quotes, vix = self._market(tick)
        outage = self._watchdog(tick, quotes)
        if outage:
            return outage
        desk.followup.follow_pending(tick)
        if tick < plan.entry_end_utc and not self.resume and not ctx.stopped:
            ctx.set_bot_state("trading", f"{self.name} entry window")
            desk.tick(tick, self.pool or [], quotes, vix, self._live_open_positions())
        else:
            if desk.fallback:
                desk.close_window(tick)
            ctx.set_bot_state("monitoring", f"{self.name} monitoring")
        self.exits.manage(tick, quotes, self.tapes, vix)
        self.exits.resend_dead_exits(tick)
        self._check_kill_switch()
        ctx.trades.flush()  # one rewrite per tick at most, only when a record changed
        if ctx.on_tick is not None:
            ctx.on_tick(tick)
        return self._controls(tick)  # a flag raised during this tick acts at once

    def emergency_close(self, reason: str) -> None:
        """After an unexpected error: cancel this phase's entries and flatten its positions."""
        try:
            self.hard_exit.close_out(self.desk, reason, aborted=True)
        except Exception:
            logger.exception("emergency close of %s failed", self.name)

    def _ticks(self) -> list[datetime]:
        """Every bar end (minute boundary) in [start, hard exit): a bar is visible at its end,
        and a tick between bar ends would only see a quote as old as the last bar."""
        plan = self.plan
        assert plan.hard_exit_utc is not None  # noqa: S101
        start = max(plan.start_utc, self.ctx.clock.now_utc())
        first = start.replace(second=0, microsecond=0)
        if first < start:
            first += timedelta(minutes=1)
        count = int((plan.hard_exit_utc - first).total_seconds() // 60) + 1
        ticks = (first + timedelta(minutes=i) for i in range(count))
        return [t for t in ticks if t < plan.hard_exit_utc]

    def _resume_positions(self) -> None:
        """Manage-only after a restart (§1.3): the session's working entries are cancelled (no
        new entry is ever made) and every open position of this strategy is tracked again, so
        its trailing stop is re-armed (a live native stop is tracked, never placed twice) and
        the hard exit closes it."""
        ctx = self.ctx
        for order in ctx.orders.journal.orders_of_date(ctx.trading_date.isoformat()):
            ours = order.purpose == "EN" and order.context.session_id == self.session_id
            if ours and not order.is_terminal:
                ctx.orders.cancel(order.client_order_id)
        self._broker_work()  # fills that arrived while no runner was looking
        for position in ctx.positions.open_positions(self.name):
            entry = ctx.orders.journal.get(position.entry_client_order_id)
            meta = entry.context.meta if entry else {}
            direction = Direction(str(meta.get("direction") or Direction.LONG.value))
            self.exits.track(position.entry_client_order_id, direction, int(meta.get("slot", 1)))

    # -- controls: flags, kill switch -----------------------------------------------------------
    def _controls(self, now: datetime) -> str | None:
        ctx = self.ctx
        if ctx.read_flags:
            flags = pending_flags(ctx.paths)
            if flags.get("kill") is not None and not ctx.halted:
                self.halt("kill_flag")
            if flags.get("stop") is not None and not ctx.stopped:
                ctx.stopped = True
                ctx.counters.stop_pressed = True
                self._on_stop(now)
        if ctx.halted:
            return "halted"
        if ctx.stopped and self.settings.STOP_FLATTEN_MODE == "immediate":
            return "stopped"
        return None

    def _watchdog(self, now: datetime, quotes: dict[str, Quote]) -> str | None:
        """§7.4: N consecutive failures suspend, as many successes resume; a data outage aborts
        the phase (entries stop, locally trailed positions closed `data_outage`; native stops
        stay to the hard exit)."""
        ctx, dog = self.ctx, self.ctx.watchdog
        if dog is None or not dog.due(now):
            return None
        try:
            ctx.broker.get_account()
            broker_ok, error = True, None
        except TbotError as exc:
            broker_ok, error = False, type(exc).__name__
        data_ok = bool(quotes) or not self._symbols()
        for probe, ok in (("broker", broker_ok), ("data", data_ok)):
            change = dog.record(probe, ok, now, error=error if probe == "broker" else None)
            if change is None:
                continue
            suspended = change.kind == "suspended"
            setattr(ctx, f"{probe}_suspended", suspended)
            if probe == "broker" and not suspended and ctx.reconcile is not None:
                ctx.reconcile("broker_resumed")  # the connection is back: check what changed
            if suspended:
                ctx.counters.watchdog_suspensions += 1
                ctx.notify(
                    "critical",
                    f"{probe}_suspended",
                    f"{probe} unhealthy: {change.consecutive} consecutive failures",
                )
        if ctx.data_suspended:
            self.exits.flatten_all("data_outage", now, keep_native=True)
            return "data_outage"
        return None

    def _check_kill_switch(self) -> None:
        """Day P&L at the latest marks against the limit, on every tick, not only after fills."""
        switch = self.ctx.kill_switch
        if switch is None or self.ctx.halted:
            return
        if switch.evaluate(self.ctx.positions.day_pnl()).tripped:
            self.halt("daily_loss_limit")

    def _on_stop(self, now: datetime) -> None:
        self.ctx.set_bot_state("graceful_closing_positions", "stop flag")
        if self.desk is not None:
            self.desk.cancel_working_entries()
        if self.settings.STOP_FLATTEN_MODE == "immediate":
            self.exits.flatten_all("manual", now)

    # -- broker and market data ---------------------------------------------------------------
    def _broker_work(self) -> None:
        if self.ctx.reconcile is not None and self.ctx.broker.take_reconcile_signal() is not None:
            self.ctx.reconcile("reconnect")  # after every reconnect (trading spec §7.1, issue 3)
        try:
            self.ctx.orders.poll_fills()
            self.ctx.orders.resolve_unresolved()
        except NetworkError as exc:
            logger.warning("broker poll failed: %s", exc)

    def _symbols(self) -> list[str]:
        held = {t.position.symbol for t in self.exits.open_tracked()}
        held |= {t.position.target_symbol for t in self.exits.open_tracked()}
        pool = {m.symbol for m in self.pool or []}
        return sorted(pool | held)

    def _market(self, now: datetime) -> tuple[dict[str, Quote], Decimal | None]:
        symbols = self._symbols()
        try:
            quotes = self.ctx.broker.get_latest_quotes(symbols) if symbols else {}
            self._extend_tapes(symbols)
            vix = self.ctx.broker.get_vix()
        except NetworkError as exc:
            logger.warning("market data failed at %s: %s", iso_utc(now), exc)
            return {}, None
        return quotes, vix

    def _extend_tapes(self, symbols: Sequence[str]) -> None:
        wanted = [s for s in symbols if s in self.tapes]
        if not wanted:
            return
        since = min(self._bars_seen.get(s, self.ctx.session_open_utc) for s in wanted)
        for symbol, bars in self.ctx.broker.get_recent_bars(wanted, since).items():
            tape = self.tapes[symbol]
            for bar in bars:
                tape.add(bar)
            if tape.last is not None:
                self._bars_seen[symbol] = tape.last.ts_utc

    def _live_open_positions(self) -> int:
        """Strategy positions counted from live broker positions (never a local counter alone)."""
        ours = {p.symbol for p in self.ctx.positions.open_positions()}
        if not ours:
            return 0
        positions = self.ctx.orders.read(self.ctx.broker.get_positions, "get_positions")
        return sum(1 for p in positions if p.symbol in ours and p.qty != 0)

    # -- pool ---------------------------------------------------------------------------------
    def _form_pool(self, now: datetime) -> None:
        assert self.desk is not None  # noqa: S101
        self.pool, self.tapes = rank_pool(self.ctx, self.name, self.ranker)
        for symbol, tape in self.tapes.items():
            if tape.last is not None:
                self._bars_seen[symbol] = tape.last.ts_utc
        record_eligibility(self.ctx, self.desk, self.pool, now)


def request_kill_flag(ctx: DayContext, reason: str) -> None:
    """The kill switch writes the same flag a user would (trading spec §7.3)."""
    if ctx.read_flags:
        write_flag(
            ctx.paths, "kill", requested_by="runner:kill_switch", reason=reason, clock=ctx.clock
        )
