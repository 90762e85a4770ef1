"""Position management of one phase: trailing stops, strategy exits, hard exit (trading spec §6).

Every exit is a market order for the quantity the strategy opened and still holds (capped by the
broker's position: `exit_upkeep.closable_qty`), under the deterministic id `...-EX{attempt}`. An
exit is re-sent (attempt + 1) only after the broker confirms the previous attempt dead (absent,
cancelled, rejected, expired) or filled with a remainder still open; working exits are re-read
from the broker every tick. The hard exit cancels the phase's open orders, closes what is left
(also strategy positions the entry side did not hand over) and verifies flat from broker
positions; whatever stays open goes to `unresolved_orders.log`.

Native vs local (§6): a whole-share equity/ETF position at a broker with native trailing stops gets
a TRAILING_STOP order `...-TS{attempt}` once its entry is terminal; while it works, the local stop
is only computed, not acted on. Tightening cancel-replaces it (TS attempt + 1). Single exit owner:
every runner exit first cancels the native stop and confirms it (an unresolved one is looked up
and cancelled first); a stop that filled meanwhile means only a remainder is sent. A placement
that fails, or a stop the broker drops later, leaves the position trailed locally.
Options (LongPut, multiplier != 1) are trailed locally on the contract's own quote and closed
with a market sell of the `OptionContract` taken from the entry order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tbot_bot.broker.models import (
    AssetClass,
    OptionContract,
    OrderRequest,
    OrderState,
    OrderType,
    PositionIntent,
)
from tbot_bot.clock import iso_utc
from tbot_bot.errors import BrokerError, NetworkError, StateError, TbotError
from tbot_bot.market.bars import Quote
from tbot_bot.money import ZERO
from tbot_bot.strategy.base import Direction, MarketInputs, Strategy, SymbolTape
from tbot_bot.trading.client_order_id import make_client_order_id, next_attempt_id
from tbot_bot.trading.exit_upkeep import (
    closable_qty,
    extreme_since_fill,
    refresh_session_exits,
    report_unflat,
)
from tbot_bot.trading.fills import exit_side
from tbot_bot.trading.longput import option_quote
from tbot_bot.trading.order_journal import JournalOrder, OrderContext
from tbot_bot.trading.positions_book import StrategyPosition
from tbot_bot.trading.runner_context import DayContext
from tbot_bot.trading.trailing import TrailingStopState, effective_pct

logger = logging.getLogger(__name__)
RESENDABLE = frozenset({OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED})
CARRIED = frozenset({"bearish_mode", "target_symbol", "inverse_symbol", "leverage"})
WORKING = frozenset({OrderState.ACCEPTED, OrderState.PARTIALLY_FILLED})


@dataclass
class Tracked:
    """A position the phase manages, with its local trailing stop and its native one, if any."""

    position: StrategyPosition
    direction: Direction
    slot: int
    trailing: TrailingStopState | None = None
    exit_reason: str | None = None
    native_id: str | None = None  # the latest native trailing stop attempt (`...-TSnn`)
    native_pct: Decimal | None = None  # its trail, a fraction; None once it is not ours to rely on
    option: OptionContract | None = None  # a LongPut's contract, from the entry order


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

    def track(
        self, entry_id: str, direction: Direction, slot: int, now: datetime | None = None
    ) -> None:
        """Manage a filled entry from now on; its native trailing stop is placed or re-armed."""
        position = self.ctx.positions.positions[entry_id]
        item = self.tracked.setdefault(entry_id, Tracked(position, direction, slot))
        if item.option is None:
            # From the journal, not the multiplier: restored positions are rebuilt from it too.
            entry = self.ctx.orders.journal.get(entry_id)
            item.option = entry.request.option if entry else None
        if item.native_id is None and position.is_open:
            self._arm_native(item, now or self.ctx.clock.now_utc())

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
            quote = (
                option_quote(self.ctx.broker, item.option)
                if item.option
                else quotes.get(pos.symbol)
            )
            if quote is None:
                continue
            price = quote.last
            self.ctx.positions.mark(pos.symbol, price)
            if item.trailing is None:
                side = "short" if pos.side == "short" else "long"
                anchor = extreme_since_fill(self.ctx, pos, side) or pos.avg_entry or price
                item.trailing = TrailingStopState(side, self.trail_pct, anchor)
            p_eff = effective_pct(self.trail_pct, now, self.tightening_from, self.tightening_factor)
            item.trailing.register_tick(price, p_eff)  # kept current also under a native stop
            native = self._native_working(item)
            if native and item.native_pct is not None and p_eff < item.native_pct:
                self._tighten(item, p_eff, now)
                native = self._native_working(item)
            if not pos.is_open:
                continue  # the native stop filled while it was being replaced
            if not native and item.trailing.should_exit(price):
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
        item.exit_reason = reason
        if not self._stand_down_native(item) or not pos.is_open:
            return  # the native stop filled, or its cancel is not confirmed yet (retried)
        qty = closable_qty(self.ctx, pos)
        if not qty:
            logger.warning("exit of %s held back: the broker holds none on its side", pos.symbol)
            return  # retried by `resend_dead_exits` (e.g. once a lagging fill is applied)
        attempt = len(pos.exit_order_ids)
        option = item.option
        cid = make_client_order_id(
            self.ctx.bot_id,
            self.ctx.trading_date,
            self.letter,
            item.slot,
            pos.target_symbol if option is not None else pos.symbol,  # options: the underlying
            "EX",
            attempt,
        )
        intent = PositionIntent.CLOSE_LONG if pos.side == "long" else PositionIntent.CLOSE_SHORT
        request = OrderRequest(
            client_order_id=cid,
            symbol=pos.symbol,
            side=exit_side(pos),
            qty=qty,
            order_type=OrderType.MARKET,
            intent=intent,
            asset_class=AssetClass.OPTION if option is not None else AssetClass.EQUITY,
            option=option,
        )
        previous = pos.exit_order_ids[-1] if pos.exit_order_ids else None
        context = self._context(item, reason, now, previous)
        pos.exit_order_ids.append(cid)
        try:
            if attempt == 0:
                row = self.ctx.orders.submit(request, context)
            else:
                row = self.ctx.orders.resubmit_exit(pos.exit_order_ids[-2], request)
            if row.state is OrderState.UNRESOLVED:  # never reached the venue? then it is dead
                self.ctx.orders.retire_absent_exit(cid)
        except (BrokerError, NetworkError, StateError) as exc:
            logger.warning("exit %s of %s not sent: %s", cid, pos.symbol, exc)
            pos.exit_order_ids.pop()
            return
        self._log(pos, item, "exit", "pass", reason, cid, now)

    def _context(
        self, item: Tracked, reason: str, now: datetime, previous: str | None
    ) -> OrderContext:
        pos = item.position
        entry = self.ctx.orders.journal.get(pos.entry_client_order_id)
        # The exit fill's ledger metadata names the bearish instrument like the entry's (§5).
        carried = {k: v for k, v in (entry.context.meta if entry else {}).items() if k in CARRIED}
        return OrderContext(
            trading_date=self.ctx.trading_date.isoformat(),
            strategy=pos.strategy,
            session_id=self.session_id,
            previous_attempt=previous,
            meta={
                **carried,
                "entry_id": pos.entry_client_order_id,
                "exit_reason": reason,
                "slot": item.slot,
                "phase": self.phase_at(now),
            },
        )

    def resend_dead_exits(self, now: datetime) -> None:
        """Working exits and stops are re-read first; an exit the broker cancelled, rejected or
        found absent, or that filled with quantity left, is sent again (seq + 1); an exit held
        back (unconfirmed native-stop cancel, unreadable broker positions) is tried again."""
        refresh_session_exits(self.ctx, self.session_id)
        for item in self.open_tracked():
            ids = item.position.exit_order_ids
            if not ids:
                if item.exit_reason is not None:
                    self.exit(item, item.exit_reason, now)
                continue
            last = self.ctx.orders.journal.get(ids[-1])
            if last is not None and (last.state in RESENDABLE or last.state is OrderState.FILLED):
                self.exit(item, item.exit_reason or "timeout", now)

    # -- native trailing stops (§6 "Native vs local", "Single exit owner") --------------------
    def _native_allowed(self, pos: StrategyPosition) -> bool:
        """Whole equity/ETF quantities only, at a broker with native trailing stops."""
        if pos.multiplier != 1 or pos.qty != pos.qty.to_integral_value():
            return False
        try:
            return bool(self.ctx.broker.capabilities().native_trailing_stops)
        except TbotError:
            return False

    def _arm_native(self, item: Tracked, now: datetime) -> None:
        pos = item.position
        if pos.stop_order_ids:
            # After a restart: the journal's stop is re-armed, never placed a second time; a
            # dead one leaves the position trailed locally.
            item.native_id = pos.stop_order_ids[-1]
            row = self.ctx.orders.journal.get(item.native_id)
            if row is not None and row.state in WORKING:
                item.native_pct = row.request.trail_percent
            return
        if pos.exit_order_ids or item.option is not None or not self._native_allowed(pos):
            return
        cid = make_client_order_id(
            self.ctx.bot_id, self.ctx.trading_date, self.letter, item.slot, pos.symbol, "TS", 0
        )
        pct = effective_pct(self.trail_pct, now, self.tightening_from, self.tightening_factor)
        self._place_native(item, cid, pct, now, None)

    def _place_native(
        self, item: Tracked, cid: str, pct: Decimal, now: datetime, previous: str | None
    ) -> None:
        """Send one native stop attempt; any failure leaves the position trailed locally."""
        pos = item.position
        qty = closable_qty(self.ctx, pos)
        if not qty:
            logger.warning("native stop of %s not placed: broker position unknown/none", pos.symbol)
            return  # trailed locally
        request = OrderRequest(
            client_order_id=cid,
            symbol=pos.symbol,
            side=exit_side(pos),
            qty=qty,
            order_type=OrderType.TRAILING_STOP,
            trail_percent=pct,
            intent=PositionIntent.CLOSE_LONG if pos.side == "long" else PositionIntent.CLOSE_SHORT,
        )
        item.native_pct = None
        error = None
        row: JournalOrder | None = None
        try:
            if previous is None:
                row = self.ctx.orders.submit(request, self._context(item, "stop_loss", now, None))
            else:
                row = self.ctx.orders.resubmit_exit(previous, request)
            if row.state is OrderState.UNRESOLVED:
                row = self.ctx.orders.retire_absent_exit(cid)
        except (BrokerError, NetworkError, StateError) as exc:
            error = str(exc) or type(exc).__name__
        if self.ctx.orders.journal.get(cid) is not None:
            pos.stop_order_ids.append(cid)
            item.native_id = cid  # even a failed one: every runner exit cancels it first
        if row is not None and row.state in WORKING | {OrderState.FILLED}:
            item.native_pct = pct
            self._log(pos, item, "order", "pass", "native_trailing_stop", cid, now, pct=pct)
            return
        reason = error or (row.state_reason if row else None) or "not_placed"
        logger.warning("native trailing stop %s of %s failed (%s): local", cid, pos.symbol, reason)
        self._log(pos, item, "order", "reject", "broker_reject", cid, now, pct=pct, warning=reason)

    def _native_working(self, item: Tracked) -> bool:
        """A native stop works at the broker and owns the position's stop-out."""
        if item.native_id is None or item.native_pct is None:
            return False
        row = self.ctx.orders.journal.get(item.native_id)
        return row is not None and row.state in WORKING

    def _tighten(self, item: Tracked, pct: Decimal, now: datetime) -> None:
        """Cancel-replace the native stop with the tightened percent (next TS attempt)."""
        previous = item.native_id
        assert previous is not None  # noqa: S101 - only called while a native stop works
        if not self._stand_down_native(item) or not item.position.is_open:
            return  # filled meanwhile (nothing more), or the cancel is retried next tick
        price, local = item.position.last_price, item.trailing
        if price is not None and local is not None and local.should_exit(price):
            # A new broker trail starts from today's price; the tightened stop on the existing
            # peak/trough (§6) is already crossed, so the local check exits at once instead.
            return
        self._place_native(item, next_attempt_id(previous), pct, now, previous)

    def _stand_down_native(self, item: Tracked) -> bool:
        """Cancel the native stop and confirm it; True when the runner may act on its own.

        False when the stop filled the whole position or its cancel is not confirmed yet (an
        unresolved stop is looked up and cancelled by `cancel`, closed only when confirmed absent).
        """
        cid = item.native_id
        if cid is None:
            return True
        row = self.ctx.orders.journal.require(cid)
        try:
            if not row.is_terminal:
                row = self.ctx.orders.cancel(cid)
            if row.filled_qty > 0 and item.position.is_open:
                self.ctx.orders.poll_fills()  # its fills close (part of) the position first
        except (BrokerError, NetworkError) as exc:
            logger.warning("cancel of native stop %s not confirmed: %s", cid, exc)
            return False
        item.native_pct = None if row.state is not OrderState.ACCEPTED else item.native_pct
        if row.state is OrderState.FILLED:
            # A remainder is the runner's to close; but the stop's fills may lag its status, and
            # the part not applied yet is already sold: only what is left beyond it counts.
            applied = sum((f.qty for f in self.ctx.orders.journal.fills(cid)), ZERO)
            in_flight = max(row.filled_qty - applied, ZERO)
            return item.position.is_open and item.position.qty > in_flight
        if row.is_terminal:
            return True  # cancelled, expired, rejected, or confirmed absent at the broker
        logger.warning("native stop %s still %s after cancel: exit held back", cid, row.state)
        return False

    def _log(
        self,
        pos: StrategyPosition,
        item: Tracked,
        stage: str,
        outcome: str,
        reason: str,
        cid: str,
        now: datetime,
        *,
        pct: Decimal | None = None,
        warning: str | None = None,
    ) -> None:
        detail: dict[str, str] = {}
        if pct is not None:
            # Native stop payload (§6): the fraction, and the whole percent adapters send.
            detail = {"trail_pct_fraction": str(pct), "trail_percent": str(pct * 100)}
        if warning is not None:
            detail.update({"fallback": "local_trailing", "error": warning})
        self.ctx.logs.decision(
            pos.strategy,
            {
                "ts_utc": iso_utc(now),
                "level": "warning" if warning else "info",
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
                "detail": detail or None,
            },
        )

    # -- hard exit and data outage -------------------------------------------------------------
    def flatten_all(self, reason: str, now: datetime, *, keep_native: bool = False) -> None:
        """Close every open position of the phase. `keep_native` (a market-data outage, trading
        spec §7.4): a position whose native stop works at the broker keeps it until the hard
        exit; only the locally trailed ones, blind without data, are closed."""
        self.adopt_untracked()
        for item in self.open_tracked():
            if not (keep_native and self._native_working(item)):
                self.exit(item, reason, now)

    def natively_protected(self) -> bool:
        """Some open position's stop-out is a native stop working at the broker."""
        return any(self._native_working(item) for item in self.open_tracked())

    def adopt_untracked(self) -> None:
        """Track every open position of this strategy the entry side did not hand over (an
        entry filled after its timeout cancel, say), so the hard exit closes it too. No native
        stop is placed; a journalled one is adopted, so it is cancelled before the exit."""
        for pos in self.ctx.positions.open_positions(self.strategy.name):
            if pos.entry_client_order_id in self.tracked:
                continue
            entry = self.ctx.orders.journal.get(pos.entry_client_order_id)
            meta = entry.context.meta if entry else {}
            direction = Direction(str(meta.get("direction") or Direction.LONG.value))
            item = Tracked(pos, direction, int(meta.get("slot", 1)))
            item.option = entry.request.option if entry else None
            item.native_id = pos.stop_order_ids[-1] if pos.stop_order_ids else None
            self.tracked[pos.entry_client_order_id] = item
            logger.warning("untracked %s position %s adopted for closing", pos.symbol, item.slot)

    def unflat_symbols(self) -> dict[str, Decimal]:
        """Broker positions of symbols this phase still holds (the broker is the truth)."""
        held = {t.position.symbol for t in self.tracked.values() if t.position.qty != 0}
        held |= {p.symbol for p in self.ctx.positions.open_positions(self.strategy.name)}
        if not held:
            return {}
        positions = self.ctx.orders.read(self.ctx.broker.get_positions, "get_positions")
        return {p.symbol: p.qty for p in positions if p.symbol in held and p.qty != 0}

    def report_unflat(self, now: datetime, leftovers: dict[str, Decimal]) -> None:
        report_unflat(self.ctx, self.strategy.name, self.session_id, now, leftovers)


def wait_step(now: datetime) -> datetime:
    """Next minute boundary: market exits fill at the next bar's open."""
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)
