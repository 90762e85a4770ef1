"""Fill routing: every execution the order manager applies lands here exactly once.

Entry fills open or grow a strategy position, exit fills close it; each is posted to the ledger
through the day's fill sink (which returns the ledger FITIDs), and the trade history record of the
position is rewritten. The kill switch is evaluated after every fill (trading spec §7.3).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container
from datetime import datetime
from typing import Any

from tbot_bot.broker.models import FillReport, OrderSide
from tbot_bot.clock import iso_utc
from tbot_bot.money import ZERO
from tbot_bot.trading.order_journal import JournalOrder
from tbot_bot.trading.positions_book import StrategyPosition
from tbot_bot.trading.runner_context import DayContext

logger = logging.getLogger(__name__)
HaltCallback = Callable[[str], None]


def _ms(later: datetime | None, earlier: datetime | None) -> int | None:
    if later is None or earlier is None:
        return None
    return max(0, int((later - earlier).total_seconds() * 1000))


class FillRouter:
    """Registered once per day as the order manager's `on_fill` callback."""

    def __init__(self, ctx: DayContext, on_kill_switch: HaltCallback) -> None:
        self.ctx = ctx
        self._on_kill_switch = on_kill_switch

    def __call__(self, fill: FillReport, order: JournalOrder) -> None:
        meta = dict(order.context.meta)
        entry_id = str(meta.get("entry_id") or order.client_order_id)
        position = self.ctx.positions.positions.get(entry_id)
        if position is None:
            logger.warning("fill %s of %s has no strategy position", fill.external_id, entry_id)
            return
        fitids = self._post(fill, order, meta)
        stats = self.ctx.counters.stats(position.strategy)
        if order.purpose == "EN":
            self.ctx.positions.apply_entry_fill(
                entry_id, fill.external_id, fill.qty, fill.price, fill.fee, fill.ts_utc
            )
            self.ctx.trade_ledger_fitids.setdefault(f"{entry_id}:entry", []).extend(fitids)
            stats.fills += 1
            latency = _ms(fill.ts_utc, order.sent_utc)
            if latency is not None:
                self.ctx.counters.submit_to_fill_ms.append(latency)
        else:
            self.ctx.positions.apply_exit_fill(
                entry_id,
                fill.external_id,
                fill.qty,
                fill.price,
                fill.fee,
                fill.ts_utc,
                meta.get("exit_reason"),
            )
            self.ctx.trade_ledger_fitids.setdefault(f"{entry_id}:exit", []).extend(fitids)
            # Net of fees and to the cent, like the trade records the summary is checked against.
            stats.realized_pnl = self.ctx.positions.realized_net(position.strategy)
            net = position.net_pnl
            if not position.is_open and net is not None:
                stats.wins += net > ZERO
                stats.losses += net < ZERO
        self._log_fill(fill, order, position)
        kind = "fill" if order.purpose == "EN" else "exit"
        self.ctx.notify(
            kind,
            order.client_order_id,
            f"{position.strategy} {fill.side} {fill.qty} {fill.symbol} @ {fill.price}",
        )
        write_trade_record(self.ctx, position, status="closed" if not position.is_open else "open")
        self.check_kill_switch()

    def _post(self, fill: FillReport, order: JournalOrder, meta: dict[str, Any]) -> list[str]:
        if self.ctx.fill_sink is None:
            return []
        return self.ctx.fill_sink(fill, order)

    def _log_fill(self, fill: FillReport, order: JournalOrder, position: StrategyPosition) -> None:
        meta = order.context.meta
        self.ctx.logs.decision(
            position.strategy,
            {
                "ts_utc": iso_utc(fill.ts_utc),
                "level": "info",
                "module": __name__,
                "event": "fill",
                "message": f"{fill.side} {fill.qty} {fill.symbol} @ {fill.price}",
                "trading_date": self.ctx.trading_date.isoformat(),
                "session_id": order.context.session_id,
                "strategy": position.strategy,
                "phase": meta.get("phase"),
                "symbol": fill.symbol,
                "pool_rank": meta.get("pool_rank"),
                "slot": meta.get("slot"),
                "fallback_level": meta.get("fallback_level"),
                "stage": "fill" if order.purpose == "EN" else "exit",
                "outcome": "filled" if order.purpose == "EN" else "exited",
                "reason": meta.get("exit_reason") or "entry_fill",
                "client_order_id": order.client_order_id,
                "qty": fill.qty,
                "ref_price": fill.price,
                "detail": {"fee": str(fill.fee), "external_id": fill.external_id},
            },
        )

    def check_kill_switch(self) -> None:
        switch = self.ctx.kill_switch
        if switch is None or self.ctx.halted:
            return
        decision = switch.evaluate(self.ctx.positions.day_pnl())
        if decision.tripped:
            self._on_kill_switch("daily_loss_limit")


def write_trade_record(
    ctx: DayContext, position: StrategyPosition, *, status: str, error_code: str | None = None
) -> None:
    """Rewrite the trade history record of one entry (trade_id = entry client_order_id)."""
    entry = ctx.orders.journal.get(position.entry_client_order_id)
    meta: dict[str, Any] = dict(entry.context.meta) if entry else {}
    exits = [o for o in (ctx.orders.journal.get(c) for c in position.exit_order_ids) if o]
    stops = [o for o in (ctx.orders.journal.get(c) for c in position.stop_order_ids) if o]
    # The closing order: the last market exit, else the native stop that filled (§6).
    closing = exits or [o for o in stops if o.filled_qty > ZERO]
    broker_ids = [o.broker_order_id for o in [entry, *stops, *exits] if o and o.broker_order_id]
    # P&L in cents as the ledger books it (cash per fill, see `net_pnl`); prices stay exact.
    net = position.net_pnl
    side = "buy" if position.side == "long" else "sell"
    ctx.trades.upsert(
        {
            "trade_id": position.entry_client_order_id,
            "trading_date": ctx.trading_date.isoformat(),
            "session_id": entry.context.session_id if entry else None,
            "strategy_name": position.strategy,
            "symbol": position.symbol,
            "target_symbol": position.target_symbol,
            "bearish_mode": meta.get("bearish_mode"),
            "instrument_type": "option"
            if position.multiplier != 1
            else ("etf" if meta.get("bearish_mode") == "InverseETF" else "equity"),
            "direction": meta.get("direction"),
            "trade_side": side,
            "pool_rank": meta.get("pool_rank"),
            "fallback_level": meta.get("fallback_level"),
            "signal_trigger_time": meta.get("signal_ts"),
            "entry_timestamp": iso_utc(position.opened_at) if position.opened_at else None,
            "exit_timestamp": iso_utc(position.closed_at) if position.closed_at else None,
            "entry_price": position.avg_entry,
            "exit_price": position.avg_exit,
            "size": position.entry_qty
            if position.entry_qty > ZERO
            else (entry.request.qty if entry else None),
            "allocation": meta.get("allocation"),
            "fees": position.fees,
            "PnL": net,
            "exit_reason": position.exit_reason,
            "status": status,
            "broker": ctx.broker_name,
            "entry_client_order_id": position.entry_client_order_id,
            "exit_client_order_id": closing[-1].client_order_id if closing else None,
            "broker_order_ids": broker_ids,
            "entry_ledger_fitids": ctx.trade_ledger_fitids.get(
                f"{position.entry_client_order_id}:entry", []
            ),
            "exit_ledger_fitids": ctx.trade_ledger_fitids.get(
                f"{position.entry_client_order_id}:exit", []
            ),
            "error_code": error_code,
        }
    )


def late_filled_entries(
    ctx: DayContext, strategy: str, session_id: str, skip: Container[str]
) -> list[JournalOrder]:
    """Entry orders of `session_id` whose position is open, except the ids in `skip`.

    The fill router applies every fill it sees, also one that arrives after its entry was
    settled (a fills feed lagging the order status, a fill after a cancel, an UNRESOLVED entry
    found filled after a restart); the entry desk asks this each tick so such a position is
    handed to the exit manager, never left open unmanaged.
    """
    found: list[JournalOrder] = []
    for cid, position in ctx.positions.positions.items():
        if cid in skip or not position.is_open or position.strategy != strategy:
            continue
        entry = ctx.orders.journal.get(cid)
        if entry is not None and entry.context.session_id == session_id:
            found.append(entry)
    return found


def exit_side(position: StrategyPosition) -> OrderSide:
    return OrderSide.SELL if position.side == "long" else OrderSide.BUY


def restore_positions(ctx: DayContext) -> None:
    """After a restart: rebuild the day's strategy positions from the order journal (§1.3).

    Every entry of the trading date becomes its position again, exit attempts are listed in
    order (native trailing stops too, so they are re-armed rather than placed again), and every
    journalled fill is re-applied. The fills go through the fill sink once more:
    posting is idempotent, so the ledger answers with the FITIDs it already holds (and books a
    fill a crash kept from it). Per-strategy counters that follow from positions are rebuilt;
    pool, signal and block counts of the lost process are not.
    """
    journal = ctx.orders.journal
    orders = journal.orders_of_date(ctx.trading_date.isoformat())
    for order in orders:
        if order.purpose == "EN":
            side = "short" if order.request.side is OrderSide.SELL else "long"
            target = str(order.context.meta.get("target_symbol") or order.symbol)
            strategy = order.context.strategy or ""
            option = order.request.option
            ctx.positions.open_position(
                StrategyPosition(
                    order.client_order_id,
                    strategy,
                    order.symbol,
                    target,
                    side,
                    multiplier=option.multiplier if option is not None else 1,
                )
            )
    for order in orders:  # oldest first, so exit attempts keep their sequence
        entry_id = str(order.context.meta.get("entry_id") or order.client_order_id)
        position = ctx.positions.positions.get(entry_id)
        if position is None:
            continue
        if order.purpose == "EX" and order.client_order_id not in position.exit_order_ids:
            position.exit_order_ids.append(order.client_order_id)
        if order.purpose == "TS" and order.client_order_id not in position.stop_order_ids:
            position.stop_order_ids.append(order.client_order_id)
        for fill in journal.fills(order.client_order_id):
            _reapply(ctx, position, fill, order)
    for position in ctx.positions.positions.values():
        if position.entry_qty == ZERO:
            continue
        stats = ctx.counters.stats(position.strategy)
        stats.entries += 1
        stats.realized_pnl = ctx.positions.realized_net(position.strategy)
        net = position.net_pnl
        if not position.is_open and net is not None:
            stats.wins += net > ZERO
            stats.losses += net < ZERO


def _reapply(
    ctx: DayContext, position: StrategyPosition, fill: FillReport, order: JournalOrder
) -> None:
    fitids = ctx.fill_sink(fill, order) if ctx.fill_sink is not None else []
    entry_id = position.entry_client_order_id
    if order.purpose == "EN":
        ctx.positions.apply_entry_fill(
            entry_id, fill.external_id, fill.qty, fill.price, fill.fee, fill.ts_utc
        )
        key = f"{entry_id}:entry"
        ctx.counters.stats(position.strategy).fills += 1
    else:
        reason = order.context.meta.get("exit_reason")
        ctx.positions.apply_exit_fill(
            entry_id,
            fill.external_id,
            fill.qty,
            fill.price,
            fill.fee,
            fill.ts_utc,
            None if reason is None else str(reason),
        )
        key = f"{entry_id}:exit"
    known = ctx.trade_ledger_fitids.setdefault(key, [])
    known.extend(f for f in fitids if f not in known)
