"""The trading day's figures for the runtime status (web_runtime spec §8.4).

`pnl` and `trades_today` come from the runner's own fills (the numbers the kill switch uses,
trading spec §7.3). The runner copies this view into the status the dashboard polls; it is a
read of the day context, never a second computation of P&L. (`reconciliation` comes from the
ledger itself: `accounting.queries.reconciliation_summary`.)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tbot_bot.money import ZERO, round_cents
from tbot_bot.trading.runner_context import DayContext


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(round_cents(value))


def day_status(ctx: DayContext) -> dict[str, Any]:
    """`pnl` and `trades_today` of the day so far."""
    positions = list(ctx.positions.positions.values())
    unrealized = sum((p.unrealized() for p in positions if p.is_open), ZERO)
    closed = [p.net_pnl for p in positions if not p.is_open and p.net_pnl is not None]
    wins = sum(1 for net in closed if net > ZERO)
    losses = sum(1 for net in closed if net < ZERO)
    view: dict[str, Any] = {
        "pnl": {
            "day_pnl": _money(ctx.positions.day_pnl()),
            "realized_today": _money(ctx.positions.realized_net()),
            "unrealized": _money(unrealized),
            "kill_threshold": _money(ctx.kill_switch.threshold if ctx.kill_switch else None),
        },
        "trades_today": {
            "count": len(closed),
            "wins": wins,
            "losses": losses,
            "win_rate_pct": round(100 * wins / len(closed), 1) if closed else None,
        },
    }
    return view
