"""The run gate of trading spec §2.0: may this strategy phase run now, and if not, why.

Checked once before each strategy phase, after the late-start decision and before the strategy
is built. The gate reads the control flags (a kill flag halts, a stop flag stops; both persist
until Start, so they also block later phases and days, §8.1), then returns the first refusal
reason, which the day runner records as the phase's `skipped` reason. It is kept apart from the
day runner so the whole list of refusals, in their order of precedence, reads in one place.
"""

from __future__ import annotations

from collections.abc import Callable

from tbot_bot.market.day_plan import PhasePlan
from tbot_bot.runtime.control_flags import pending_flags
from tbot_bot.trading.day_reconciliation import reconcile_orders
from tbot_bot.trading.runner_context import DayContext


def run_gate_refusal(ctx: DayContext, phase: PhasePlan, halt: Callable[[str], None]) -> str | None:
    """The first reason `phase` may not run, or None; `halt` is the day runner's HALTED entry."""
    _read_flags(ctx, halt)
    s = ctx.settings
    checks = (
        (phase.name not in s.STRATEGY_SEQUENCE, "not_in_strategy_sequence"),
        (not s.strategy_enabled(phase.name), "disabled"),
        (bool(s.STRATEGY_OVERRIDE) and phase.name != s.STRATEGY_OVERRIDE, "strategy_override"),
        (bool(s.DISABLE_ALL_TRADES), "trades_disabled"),
        (ctx.halted, "halted"),
        (ctx.stopped, "stopped"),
        (ctx.ledger_locked, "ledger_locked"),
    )
    for failed, reason in checks:
        if failed:
            return reason
    if ctx.reconciliation_blocked:
        reconcile_orders(ctx, phase.name)  # blocked until one completes
        if ctx.reconciliation_blocked:
            return "reconciliation_blocked"
    return None if ctx.universe else "universe_empty"


def _read_flags(ctx: DayContext, halt: Callable[[str], None]) -> None:
    """Flags persist until Start, so they also block later phases and days (§8.1)."""
    if not ctx.read_flags:
        return
    flags = pending_flags(ctx.paths)
    if flags.get("kill") is not None:
        halt("kill_flag")
    if flags.get("stop") is not None:
        ctx.stopped = True
