"""The daily summary of one trading day, rebuilt from the day context (trading spec §9).

The day runner rewrites the summary after every phase and once more, `final`, after the day-end
broker sync; the kill switch also writes it to persist F_day before anything trades. This module
only gathers figures the day already holds (phase records, positions, counters) into the summary
document, flushes the trade history records it is based on, and stores it in the output file and
the state database. It is separate from the runner because it decides nothing: it is a report.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tbot_bot.clock import iso_utc
from tbot_bot.market.day_plan import DayPlan
from tbot_bot.money import round_cents
from tbot_bot.reporting.daily_summary import build_summary, percentiles, write_summary
from tbot_bot.trading.fills import write_trade_record
from tbot_bot.trading.runner_context import DayContext


def _phase_rows(ctx: DayContext, plan: DayPlan) -> list[dict[str, Any]]:
    """Every planned phase with its recorded start, end and outcome (the plan's if none yet)."""
    records = ctx.state.phases(ctx.trading_date)
    phases = []
    for phase in plan.phases:
        rec = records.get(phase.name)
        phases.append(
            {
                "phase": phase.name,
                "scheduled_start_utc": iso_utc(phase.start_utc),
                "actual_start_utc": rec.actual_start_utc if rec else None,
                "end_utc": rec.end_utc if rec else None,
                "status": rec.status if rec else phase.status,
                "reason": rec.reason if rec else phase.skip_reason,
            }
        )
    return phases


def write_day_summary(ctx: DayContext, plan: DayPlan, *, final: bool) -> dict[str, Any]:
    """Rewrite the day's trade records and summary; returns the summary document."""
    now = ctx.clock.now_utc()
    phases = _phase_rows(ctx, plan)
    for position in ctx.positions.positions.values():
        if position.entry_qty == 0 and position.exit_qty == 0:
            continue
        write_trade_record(ctx, position, status="closed" if not position.is_open else "open")
    ctx.trades.flush()
    counters = ctx.counters
    open_positions = [
        {"symbol": p.symbol, "qty": str(p.qty), "strategy": p.strategy}
        for p in ctx.positions.open_positions()
    ]
    fees = sum((p.fees for p in ctx.positions.positions.values()), Decimal(0))
    unrealized = sum((p.unrealized() for p in ctx.positions.open_positions()), Decimal(0))
    summary = build_summary(
        {
            "bot_identity": ctx.identity,
            "trading_date": ctx.trading_date.isoformat(),
            "generated_utc": iso_utc(now),
            "final": final,
            "session": {
                "open_utc": iso_utc(ctx.session_open_utc),
                "close_utc": iso_utc(ctx.session_close_utc),
                "early_close": plan.early_close,
            },
            "phases": phases,
            "strategies": {
                name: stats.to_json() for name, stats in sorted(counters.strategies.items())
            },
            "totals": {
                "trades": sum(1 for p in ctx.positions.positions.values() if p.entry_qty > 0),
                "realized_pnl": round_cents(ctx.positions.realized_net()),
                "unrealized_pnl_at_close": round_cents(unrealized),
                "fees": fees,
                "float_at_start": counters.float_at_start,
                "daily_loss_threshold": ctx.kill_switch.threshold if ctx.kill_switch else None,
            },
            "latency_ms": {
                "signal_to_submit": percentiles(counters.signal_to_submit_ms),
                "submit_to_fill": percentiles(counters.submit_to_fill_ms),
            },
            "risk_triggers": {
                "kill_switch_tripped": counters.kill_switch_tripped,
                "tripped_utc": counters.tripped_utc,
                "reason": counters.halt_reason,
                "watchdog_suspensions": counters.watchdog_suspensions,
                "stop_pressed": counters.stop_pressed,
            },
            "errors": counters.errors,
            "unresolved_orders": counters.unresolved_orders,
            "open_positions_at_close": open_positions,
            "bot_state_at_close": "shutdown_triggered"
            if ctx.halted
            else ("stopped" if ctx.stopped else "idle"),
        }
    )
    write_summary(ctx.outputs, summary)
    ctx.state.save_summary(ctx.trading_date, summary, final)
    return summary
