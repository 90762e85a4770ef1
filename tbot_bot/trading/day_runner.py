"""One trading day: plan, phases in order, halts, summaries (trading spec §1, §7.3, §9).

The day runner owns the order manager, the fill router and the kill switch for one date, runs
every strategy phase through the same `SessionRunner`, skips what the run gate refuses (with the
reason recorded in the state database), and rewrites the daily summary after each phase. The
production supervisor, the demo and the backtester all call `DayRunner.run()`; only the clock,
the broker and the output folder differ.

Kept here: start-up and restore, the phase sequence, the one place a failing phase is caught,
the kill switch and HALTED (whose audit records name this module). Moved out by role: the run
gate (`run_gate`), what reconciliation results do to the day (`day_reconciliation`), and the
daily summary document (`day_summary_writer`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tbot_bot.accounting.exports import ExportBlocked
from tbot_bot.accounting.snapshots import prune as prune_snapshots
from tbot_bot.broker.base import Broker
from tbot_bot.clock import Clock, iso_utc
from tbot_bot.config import error_handler_bot
from tbot_bot.config.audit import audit_event
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.errors import TbotError
from tbot_bot.market.day_plan import DayPlan, PhasePlan
from tbot_bot.market.late_start import late_start_decision
from tbot_bot.reporting.bot_logs import BotLogs
from tbot_bot.reporting.trade_history import TradeHistory
from tbot_bot.strategy.base import Strategy
from tbot_bot.trading.day_reconciliation import reconcile_orders, record_ledger_sync
from tbot_bot.trading.day_summary_writer import write_day_summary
from tbot_bot.trading.fills import FillRouter, restore_positions
from tbot_bot.trading.kill_switch import KillSwitch
from tbot_bot.trading.ledger_poster import LedgerPoster
from tbot_bot.trading.order_journal import OrderJournal
from tbot_bot.trading.order_manager import OrderManager
from tbot_bot.trading.pool_formation import Ranker
from tbot_bot.trading.run_gate import run_gate_refusal
from tbot_bot.trading.runner_context import DayContext, StateSink, TickHook
from tbot_bot.trading.runner_state import FINISHED, RunnerState
from tbot_bot.trading.session_runner import SessionRunner, request_kill_flag
from tbot_bot.trading.state_db import connect

logger = logging.getLogger(__name__)
StrategyFactory = Callable[[str, PhasePlan], Strategy]
UniverseHook = Callable[[datetime], None]
PhaseHook = Callable[[str, str, str | None, datetime], None]  # phase, status, reason, now


@dataclass
class DayResult:
    trading_date: str
    phases: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class DayRunner:
    """Runs one `DayPlan` end to end."""

    settings: Any
    identity: str
    bot_id: str
    paths: RuntimePaths
    outputs: BotOutputs
    broker: Broker
    clock: Clock
    plan: DayPlan
    strategies: StrategyFactory
    ranker: Ranker
    universe: list[dict[str, Any]]
    state_db_path: Any = None
    ledger: LedgerPoster | None = None
    state_sink: StateSink | None = None
    on_tick: TickHook | None = None
    universe_hook: UniverseHook | None = None
    read_flags: bool = True
    grace_min: int = 2
    previous_close_utc: datetime | None = None
    phase_hook: PhaseHook | None = None
    notifier: Any = None
    watchdog: Any = None

    context: DayContext | None = None  # set by run(); read by status hooks of the supervisor

    def run(self) -> DayResult:
        ctx = self.context = self._context()
        result = DayResult(self.plan.trading_date.isoformat())
        try:
            self._startup(ctx)
            for phase in self.plan.phases:
                status, reason = self._run_phase(ctx, phase)
                result.phases[phase.name] = (status, reason)
                write_day_summary(ctx, self.plan, final=False)
            # The day-end sync: its cash and position checks are the authoritative ones (§6.5).
            self._sync_ledger(ctx, "eod")
            self._export_ledger(ctx)
            result.summary = write_day_summary(ctx, self.plan, final=True)
            if self.ledger is not None:  # LEDGER_SNAPSHOT_RETENTION_DAYS (accounting spec §8.4)
                prune_snapshots(
                    self.paths,
                    self.identity,
                    now=self.clock.now_utc(),
                    retention_days=int(self.settings.LEDGER_SNAPSHOT_RETENTION_DAYS),
                )
        finally:
            ctx.orders.journal.close()
        return result

    # -- set-up -----------------------------------------------------------------------------
    def _context(self) -> DayContext:
        conn = connect(self.state_db_path or self.paths.state_db(self.identity))
        journal = OrderJournal(conn, self.clock)
        logs = BotLogs(self.outputs, self.settings.LOG_FORMAT)
        error_handler_bot.configure(self.paths, self.outputs)  # tracebacks land in this tree
        logs.touch_all()
        orders = OrderManager(
            self.broker,
            journal,
            self.clock,
            retry_limit=int(self.settings.API_RETRY_LIMIT),
            unresolved_sink=logs.unresolved,
        )
        assert self.plan.session_open_utc is not None  # noqa: S101 - trading days have bounds
        assert self.plan.session_close_utc is not None  # noqa: S101
        ctx = DayContext(
            settings=self.settings,
            bot_id=self.bot_id,
            identity=self.identity,
            broker_name=self.broker.name,
            trading_date=self.plan.trading_date,
            session_open_utc=self.plan.session_open_utc,
            session_close_utc=self.plan.session_close_utc,
            previous_close_utc=self.previous_close_utc,
            clock=self.clock,
            broker=self.broker,
            orders=orders,
            state=RunnerState(conn),
            paths=self.paths,
            outputs=self.outputs,
            logs=logs,
            trades=TradeHistory(self.outputs),
            fill_sink=self.ledger.post if self.ledger else None,
            state_sink=self.state_sink,
            on_tick=self.on_tick,
            universe=self.universe,
            read_flags=self.read_flags,
            notifier=self.notifier,
            watchdog=self.watchdog,
        )
        ctx.reconcile = lambda trigger: reconcile_orders(ctx, trigger)
        router = FillRouter(ctx, on_kill_switch=lambda reason: self._halt(ctx, reason))
        orders.on_fill(router)
        return ctx

    def _startup(self, ctx: DayContext) -> None:
        """Reconcile the journal with the broker and pick up a persisted HALTED state."""
        reconcile_orders(ctx, "startup")
        restore_positions(ctx)  # a restart keeps managing what the lost process opened
        halt = ctx.state.open_halt()
        if halt is not None:
            ctx.halted = True
            if halt["trading_date"] == ctx.trading_date.isoformat():
                ctx.counters.kill_switch_tripped = True
                ctx.counters.tripped_utc = halt["tripped_utc"]
                ctx.counters.halt_reason = halt["reason"]

    # -- phases -----------------------------------------------------------------------------
    def _run_phase(self, ctx: DayContext, phase: PhasePlan) -> tuple[str, str | None]:
        record = ctx.state.phases(ctx.trading_date).get(phase.name)
        if record is not None and record.status in FINISHED:
            return record.status, record.reason  # finished phases never rerun
        resume = record is not None and record.status == "running"
        if phase.status == "skipped":
            return self._finish(ctx, phase, "skipped", phase.skip_reason)
        if not phase.is_strategy:
            return self._run_other(ctx, phase)
        if not resume:
            decision = late_start_decision(phase, self.clock.now_utc(), self.grace_min)
            if decision == "skip":
                return self._finish(ctx, phase, "skipped", "missed_start")
            if decision == "wait":
                self.clock.sleep_until(phase.start_utc)
        refusal = run_gate_refusal(ctx, phase, halt=lambda reason: self._halt(ctx, reason))
        if refusal is not None:
            return self._finish(ctx, phase, "skipped", refusal)
        strategy = self.strategies(phase.name, phase)
        check = strategy.self_check()
        if check["status"] != "ok":
            reason = "disabled" if check["status"] == "disabled" else "self_check_failed"
            return self._finish(ctx, phase, "skipped", reason)
        return self._execute(ctx, phase, strategy, resume)

    def _execute(
        self, ctx: DayContext, phase: PhasePlan, strategy: Strategy, resume: bool
    ) -> tuple[str, str | None]:
        """Run one admitted strategy phase; the one place that catches whatever a phase raises."""
        self._ensure_kill_switch(ctx)
        now = self.clock.now_utc()
        ctx.state.set_phase(
            ctx.trading_date,
            phase.name,
            "running",
            now,
            scheduled_start=phase.start_utc,
            started=now,
        )
        self._announce(phase.name, "running", None)
        if self.ledger is not None:
            self.ledger.begin_phase()  # one `fills` write session, snapshotted once per phase
        runner = SessionRunner(
            ctx,
            strategy,
            phase,
            self.ranker,
            halt=lambda reason: self._halt(ctx, reason),
            resume=resume,
        )
        try:
            outcome = runner.run()
        except Exception as exc:  # noqa: BLE001 - §7.5: any phase error fails that phase only
            error_handler_bot.handle(exc, __name__, strategy=phase.name, broker=self.broker.name)
            ctx.counters.errors += 1
            ctx.notify(
                "critical",
                f"phase_failed:{phase.name}",
                f"phase {phase.name} failed ({type(exc).__name__}); its positions were "
                "closed, later phases still run",
            )
            runner.emergency_close("error")
            return self._finish(ctx, phase, "failed", type(exc).__name__)
        finally:
            if self.ledger is not None:
                self.ledger.end_phase()
        reconcile_orders(ctx, phase.name)
        self._sync_ledger(ctx, phase.name)
        if ctx.halted:
            ctx.set_bot_state("shutdown_triggered", "HALTED")
        elif ctx.stopped:
            ctx.set_bot_state("stopped", "stop flag")
        else:
            ctx.set_bot_state("running", f"{phase.name} done")
        return self._finish(ctx, phase, outcome.status, outcome.reason)

    def _sync_ledger(self, ctx: DayContext, trigger: str) -> None:
        """Broker sync after each phase: each new non-INTRADAY problem row reaches
        unresolved_orders.log (accounting spec §6.5); the status reads the ledger's sync runs."""
        if self.ledger is None:
            return
        try:
            result = self.ledger.sync(trigger)
        except TbotError as exc:
            error_handler_bot.handle(exc, __name__, strategy=trigger, broker=self.broker.name)
            ctx.counters.errors += 1
            return
        record_ledger_sync(ctx, trigger, result)

    def _export_ledger(self, ctx: DayContext) -> None:
        """The day's export package after the EOD sync when LEDGER_EXPORT_MODE=auto (accounting
        spec §9). A blocked export is audited by the books and logged; `tbot ledger export`
        writes it once the problems are resolved."""
        if self.ledger is None or self.settings.LEDGER_EXPORT_MODE != "auto":
            return
        try:
            self.ledger.export_day(self.plan.trading_date)
        except ExportBlocked as exc:
            logger.warning("daily ledger export: %s", exc)
        except TbotError as exc:
            error_handler_bot.handle(exc, __name__, strategy="eod", broker=self.broker.name)
            ctx.counters.errors += 1

    def _run_other(self, ctx: DayContext, phase: PhasePlan) -> tuple[str, str | None]:
        if phase.name == "universe" and self.universe_hook is not None:
            if self.clock.now_utc() < phase.start_utc:
                self.clock.sleep_until(phase.start_utc)
            ctx.set_bot_state("analyzing", "universe build")
            self.universe_hook(self.clock.now_utc())
            ctx.set_bot_state("idle", "universe build done")
            return self._finish(ctx, phase, "done", None)
        return self._finish(ctx, phase, "skipped", "not_scheduled_here")

    def _finish(
        self, ctx: DayContext, phase: PhasePlan, status: str, reason: str | None
    ) -> tuple[str, str | None]:
        now = self.clock.now_utc()
        ctx.state.set_phase(
            ctx.trading_date,
            phase.name,
            status,
            now,
            reason=reason,
            scheduled_start=phase.start_utc,
            ended=now,
        )
        self._announce(phase.name, status, reason)
        return status, reason

    def _announce(self, phase: str, status: str, reason: str | None) -> None:
        if self.phase_hook is not None:
            self.phase_hook(phase, status, reason, self.clock.now_utc())

    # -- kill switch and HALTED ------------------------------------------------------------------
    def _ensure_kill_switch(self, ctx: DayContext) -> None:
        """The limit is set from F_day, the float at the day's first phase; a restarted runner
        takes it from the day's persisted summary, not from the cash it finds now (§7.3)."""
        if ctx.kill_switch is not None:
            return
        earlier = ctx.state.summary(ctx.trading_date) or {}
        first_float = (earlier.get("totals") or {}).get("float_at_start")
        if first_float is not None:
            ctx.counters.float_at_start = Decimal(str(first_float))
            ctx.kill_switch = KillSwitch(
                ctx.counters.float_at_start, self.settings.DAILY_LOSS_LIMIT
            )
            return
        account = ctx.orders.read(ctx.broker.get_account, "get_account")
        ctx.counters.float_at_start = account.cash
        ctx.kill_switch = KillSwitch(account.cash, self.settings.DAILY_LOSS_LIMIT)
        write_day_summary(ctx, self.plan, final=False)  # persists F_day before anything can trade

    def _halt(self, ctx: DayContext, reason: str) -> None:
        """HALTED: no new entries, cancel everything, the phase flattens; persists until reset."""
        if ctx.halted:
            return
        ctx.halted = True
        now = self.clock.now_utc()
        ctx.set_bot_state("emergency_closing_positions", reason)
        day_pnl = ctx.positions.day_pnl()
        threshold = ctx.kill_switch.threshold if ctx.kill_switch else None
        ctx.state.record_halt(ctx.trading_date, now, reason, day_pnl, threshold)
        ctx.counters.kill_switch_tripped = True
        ctx.counters.tripped_utc = iso_utc(now)
        ctx.counters.halt_reason = reason
        ctx.orders.cancel_all()
        ctx.notify(
            "critical",
            "halted",
            f"HALTED ({reason}); day P&L {day_pnl}, limit "
            f"{threshold}; open orders cancelled, strategy positions being closed",
        )
        if reason != "kill_flag":
            request_kill_flag(ctx, reason)
        if self.read_flags:
            audit_event(
                self.paths,
                "kill_switch_triggered",
                f"HALTED: {reason}",
                level="critical",
                actor="runner",
                module=__name__,
                day_pnl=str(day_pnl),
                threshold=str(threshold),
            )
