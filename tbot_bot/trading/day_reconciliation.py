"""What a reconciliation outcome does to the trading day (trading spec §7.1, accounting §6.5).

Two checks run during a day: the order journal against the broker (at start-up, after each
phase, after a reconnect, and from the run gate while trading is blocked) and the ledger's broker
sync after each phase. This module turns their results into the day's state: the trading block
and its alert, the `unresolved_orders` counter and one `unresolved_orders.log` line per problem
(the status reads the ledger's sync runs itself). Running the ledger sync and handling its
failure stay in the day runner, which owns the ledger and the error log entries of its phases.
"""

from __future__ import annotations

from tbot_bot.accounting.models import SyncResult
from tbot_bot.clock import iso_utc
from tbot_bot.reporting.recon_log import log_reconciliation_problems
from tbot_bot.trading.broker_reconcile import reconcile
from tbot_bot.trading.runner_context import DayContext


def reconcile_orders(ctx: DayContext, trigger: str) -> None:
    """Journal vs broker (orders, fills, positions, cash). If it cannot complete, trading is
    blocked with the reason until a later reconciliation completes (trading spec §7.1)."""
    report = reconcile(ctx.orders, ctx.clock.now_utc())
    ctx.reconciliation_blocked = report.blocked_reason
    for problem in report.problems:
        ctx.counters.unresolved_orders += 1
        ctx.logs.unresolved(
            {
                "ts_utc": iso_utc(report.ts_utc),
                "strategy": trigger,
                "broker": ctx.broker_name,
                "error_type": "recon_orders",
                "error_code": None,
                "exception_repr": None,
                "context": {"problem": problem},
                "client_order_id": None,
            }
        )
    if report.blocked_reason:
        ctx.notify("critical", "reconciliation_blocked", report.blocked_reason)


def record_ledger_sync(ctx: DayContext, trigger: str, result: SyncResult) -> None:
    """Each new non-INTRADAY problem row of a broker sync reaches unresolved_orders.log
    (accounting spec §6.5) and the day's unresolved counter."""
    ctx.counters.unresolved_orders += log_reconciliation_problems(
        ctx.logs,
        result,
        trigger=trigger,
        broker=ctx.broker_name,
        now_utc=iso_utc(ctx.clock.now_utc()),
    )
