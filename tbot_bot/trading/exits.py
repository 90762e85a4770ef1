"""Position management of one phase: trailing stops, strategy exits, hard exit (trading spec §6).

Every exit is a market order for the quantity the strategy opened and still holds, under the
deterministic id `...-EX{attempt}`. An exit is re-sent (attempt + 1) only after the broker confirms
the previous attempt dead. The hard exit cancels the phase's open orders, closes what is left and
verifies flat from broker positions; whatever stays open goes to `unresolved_orders.log`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tbot_bot.broker.models import (
    AssetClass,
    OrderRequest,
    OrderState,
    OrderType,
    PositionIntent,
)
from tbot_bot.clock import iso_utc
from tbot_bot.errors import BrokerError, NetworkError, StateError
from tbot_bot.market.bars import Quote
from tbot_bot.strategy.base import Direction, MarketInputs, Strategy, SymbolTape
from tbot_bot.trading.client_order_id import make_client_order_id
from tbot_bot.trading.fills import exit_side
from tbot_bot.trading.order_journal import OrderContext
from tbot_bot.trading.positions_book import StrategyPosition
from tbot_bot.trading.runner_context import DayContext
from tbot_bot.trading.trailing import TrailingStopState, effective_pct

logger = logging.getLogger(__name__)
RESENDABLE = frozenset({OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED})
CARRIED = frozenset({"bearish_mode", "target_symbol", "inverse_symbol", "leverage"})


@dataclass
class Tracked:
    """A position the phase manages, with its local trailing stop."""

    position: StrategyPosition
    direction: Direction
    slot: int
    trailing: TrailingStopState | None = None
    exit_reason: str | None = None


class ExitManager:
    def __init__(
        self,
        ctx: DayContext,
        strategy: Strategy,
        letter: str,
        session_id: str,
        trail_pct: Decimal,
        tightening_from: datetime | None,
        tightening_factor: Decimal,
        phase_at: Callable[[datetime], str] | None = None,
    ) -> None:
        self.ctx = ctx
        self.strategy = strategy
        self.letter = letter
        self.session_id = session_id
        self.trail_pct = trail_pct
        self.tightening_from = tightening_from
        self.tightening_factor = tightening_factor
        # The decision log's window name (§3.3: analysis/entry/monitoring/hard_exit) at an instant.
        self.phase_at = phase_at or (lambda _now: "monitoring")
        self.tracked: dict[str, Tracked] = {}

    def track(self, entry_id: str, direction: Direction, slot: int) -> None:
        position = self.ctx.positions.positions[entry_id]
        self.tracked.setdefault(entry_id, Tracked(position, direction, slot))

    def open_tracked(self) -> list[Tracked]:
        return [t for t in self.tracked.values() if t.position.is_open]

    # -- each tick ----------------------------------------------------------------------------
    def manage(
        self,
        now: datetime,
        quotes: dict[str, Quote],
        tapes: dict[str, SymbolTape],
        vix: Decimal | None,
    ) -> None:
        for item in self.open_tracked():
            if self._exit_pending(item):
                continue
            pos = item.position
            quote = quotes.get(pos.symbol)
            if quote is None:
                continue
            price = quote.last
            self.ctx.positions.mark(pos.symbol, price)
            if item.trailing is None:
                anchor = pos.avg_entry or price
                side = "short" if pos.side == "short" else "long"
                item.trailing = TrailingStopState(side, self.trail_pct, anchor)
            p_eff = effective_pct(self.trail_pct, now, self.tightening_from, self.tightening_factor)
            item.trailing.register_tick(price, p_eff)
            if item.trailing.should_exit(price):
                self.exit(item, "stop_loss", now)
                continue
            target_tape = tapes.get(pos.target_symbol)
            target_quote = quotes.get(pos.target_symbol)
            if target_tape is not None and target_quote is not None:
                reason = self.strategy.manage(
                    item.direction, target_tape, MarketInputs(now, target_quote.last, vix)
                )
                if reason is not None:
                    self.exit(item, str(reason), now)

    def _exit_pending(self, item: Tracked) -> bool:
        ids = item.position.exit_order_ids
        if not ids:
            return False
        last = self.ctx.orders.journal.get(ids[-1])
        return last is not None and not last.is_terminal

    # -- sending exits ------------------------------------------------------------------------
    def exit(self, item: Tracked, reason: str, now: datetime) -> None:
        """Market-close the open quantity (first attempt, or the next after a dead one)."""
        pos = item.position
        if not pos.is_open or self._exit_pending(item):
            return
        attempt = len(pos.exit_order_ids)
        cid = make_client_order_id(
            self.ctx.bot_id,
            self.ctx.trading_date,
            self.letter,
            item.slot,
            pos.symbol,
            "EX",
            attempt,
        )
        intent = PositionIntent.CLOSE_LONG if pos.side == "long" else PositionIntent.CLOSE_SHORT
        request = OrderRequest(
            client_order_id=cid,
            symbol=pos.symbol,
            side=exit_side(pos),
            qty=pos.qty,
            order_type=OrderType.MARKET,
            intent=intent,
            asset_class=AssetClass.OPTION if pos.multiplier != 1 else AssetClass.EQUITY,
        )
        entry = self.ctx.orders.journal.get(pos.entry_client_order_id)
        # The exit fill's ledger metadata names the bearish instrument like the entry's (§5).
        carried = {k: v for k, v in (entry.context.meta if entry else {}).items() if k in CARRIED}
        context = OrderContext(
            trading_date=self.ctx.trading_date.isoformat(),
            strategy=pos.strategy,
            session_id=self.session_id,
            previous_attempt=pos.exit_order_ids[-1] if pos.exit_order_ids else None,
            meta={
                **carried,
                "entry_id": pos.entry_client_order_id,
                "exit_reason": reason,
                "slot": item.slot,
                "phase": self.phase_at(now),
            },
        )
        item.exit_reason = reason
        pos.exit_order_ids.append(cid)
        try:
            if attempt == 0:
                self.ctx.orders.submit(request, context)
            else:
                self.ctx.orders.resubmit_exit(pos.exit_order_ids[-2], request)
        except (BrokerError, NetworkError, StateError) as exc:
            logger.warning("exit %s of %s not sent: %s", cid, pos.symbol, exc)
            pos.exit_order_ids.pop()
            return
        self._log(pos, item, "exit", "pass", reason, cid, now)

    def resend_dead_exits(self, now: datetime) -> None:
        """An exit the broker cancelled/rejected with quantity left is sent again (seq + 1)."""
        for item in self.open_tracked():
            ids = item.position.exit_order_ids
            if not ids:
                continue
            last = self.ctx.orders.journal.get(ids[-1])
            if last is not None and last.state in RESENDABLE:
                self.exit(item, item.exit_reason or "timeout", now)

    def _log(
        self,
        pos: StrategyPosition,
        item: Tracked,
        stage: str,
        outcome: str,
        reason: str,
        cid: str,
        now: datetime,
    ) -> None:
        self.ctx.logs.decision(
            pos.strategy,
            {
                "ts_utc": iso_utc(now),
                "level": "info",
                "module": __name__,
                "event": stage,
                "message": f"{reason}: close {pos.qty} {pos.symbol}",
                "trading_date": self.ctx.trading_date.isoformat(),
                "session_id": self.session_id,
                "strategy": pos.strategy,
                "phase": self.phase_at(now),
                "symbol": pos.symbol,
                "slot": item.slot,
                "stage": stage,
                "outcome": outcome,
                "reason": reason,
                "client_order_id": cid,
                "qty": pos.qty,
            },
        )

    # -- hard exit ----------------------------------------------------------------------------
    def flatten_all(self, reason: str, now: datetime) -> None:
        for item in self.open_tracked():
            self.exit(item, reason, now)

    def unflat_symbols(self) -> dict[str, Decimal]:
        """Broker positions of symbols this phase still holds (the broker is the truth)."""
        held = {t.position.symbol for t in self.tracked.values() if t.position.qty != 0}
        if not held:
            return {}
        positions = self.ctx.orders.read(self.ctx.broker.get_positions, "get_positions")
        return {p.symbol: p.qty for p in positions if p.symbol in held and p.qty != 0}

    def report_unflat(self, now: datetime, leftovers: dict[str, Decimal]) -> None:
        for symbol, qty in sorted(leftovers.items()):
            self.ctx.counters.unresolved_orders += 1
            self.ctx.logs.unresolved(
                {
                    "ts_utc": iso_utc(now),
                    "strategy": self.strategy.name,
                    "broker": self.ctx.broker_name,
                    "error_type": "not_flat_after_hard_exit",
                    "error_code": None,
                    "exception_repr": None,
                    "context": {"symbol": symbol, "qty": str(qty), "session_id": self.session_id},
                    "client_order_id": None,
                }
            )


def wait_step(now: datetime) -> datetime:
    """Next minute boundary: market exits fill at the next bar's open."""
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)
