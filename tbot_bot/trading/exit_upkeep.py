"""Broker-truth helpers of the exit side (trading spec §6, §7.1), apart from `exits` itself.

- `closable_qty`: how much of a strategy position an exit or a native stop may sell (or buy back):
  the strategy's open quantity, capped by what the broker holds of that symbol on the position's
  side, so two exits, a late fill or a lagging fills feed can never oversell or flip the position.
- `refresh_session_exits`: the session's working exits and native stops re-read from the broker on
  every tick, so one the broker acknowledged and later rejected or cancelled (an IBKR `Inactive`, a
  Tradier reject after the POST answer, an Alpaca cancel on a halt) is known dead at once.
- `extreme_since_fill`: the peak (long) or trough (short) since the entry fill, so a restarted
  runner re-arms the trailing stop where it stood, not at the current price.
- `report_unflat`: what the hard exit could not close goes to `unresolved_orders.log`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from tbot_bot.broker.models import OrderState
from tbot_bot.clock import iso_utc
from tbot_bot.errors import BrokerError, NetworkError
from tbot_bot.money import ZERO
from tbot_bot.trading.order_manager import EXIT_PURPOSES
from tbot_bot.trading.positions_book import StrategyPosition
from tbot_bot.trading.runner_context import DayContext

logger = logging.getLogger(__name__)
WORKING = frozenset({OrderState.ACCEPTED, OrderState.PARTIALLY_FILLED})


def closable_qty(ctx: DayContext, pos: StrategyPosition) -> Decimal | None:
    """The strategy's open quantity capped by the broker's position on the same side; None when
    the broker's positions cannot be read (the caller tries again later)."""
    try:
        held = ctx.orders.read(ctx.broker.get_positions, "get_positions")
    except (BrokerError, NetworkError) as exc:
        logger.warning("positions unreadable, exit of %s held back: %s", pos.symbol, exc)
        return None
    signed = sum((p.qty for p in held if p.symbol == pos.symbol), ZERO)
    on_side = signed if pos.side == "long" else -signed
    return max(ZERO, min(pos.qty, on_side))


def refresh_session_exits(ctx: DayContext, session_id: str) -> None:
    """Re-read every working EX/TS order of `session_id` from the broker (best effort)."""
    for row in ctx.orders.journal.in_states(WORKING):
        if row.purpose not in EXIT_PURPOSES or row.context.session_id != session_id:
            continue
        try:
            ctx.orders.sync_order(row.client_order_id)
        except (BrokerError, NetworkError) as exc:
            logger.warning("refresh of %s failed: %s", row.client_order_id, exc)


def extreme_since_fill(ctx: DayContext, pos: StrategyPosition, side: str) -> Decimal | None:
    """Peak (long) or trough (short) of the held instrument since the entry fill (equities)."""
    if pos.opened_at is None or pos.multiplier != 1:
        return None
    try:
        bars = ctx.broker.get_recent_bars([pos.symbol], pos.opened_at).get(pos.symbol)
    except (BrokerError, NetworkError):
        return None
    if not bars:
        return None
    extreme = max(b.high for b in bars) if side == "long" else min(b.low for b in bars)
    fill = pos.avg_entry
    if fill is None:
        return extreme
    return max(extreme, fill) if side == "long" else min(extreme, fill)


def report_unflat(
    ctx: DayContext, strategy: str, session_id: str, now: datetime, leftovers: dict[str, Decimal]
) -> None:
    """One `not_flat_after_hard_exit` record per symbol still held at the broker."""
    for symbol, qty in sorted(leftovers.items()):
        ctx.counters.unresolved_orders += 1
        ctx.logs.unresolved(
            {
                "ts_utc": iso_utc(now),
                "strategy": strategy,
                "broker": ctx.broker_name,
                "error_type": "not_flat_after_hard_exit",
                "error_code": None,
                "exception_repr": None,
                "context": {"symbol": symbol, "qty": str(qty), "session_id": session_id},
                "client_order_id": None,
            }
        )
