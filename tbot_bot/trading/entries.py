"""Entries of one phase (trading spec §3.2, §4, §7.2): slots, fallback, sizing, gate, submit.

Each entry-window tick walks the frozen pool in rank order. A candidate whose signal fires takes the
next free slot and is submitted at once. A per-symbol failure (gate checks 2-6, `qty_below_one`,
`below_min_order`, a broker reject, no fill, a failed ETF mapping) hands the slot, with its fixed
allocation, to the next candidate whose signal holds; the slot's `fallback_level` rises by one.
Global and capital blocks end the slot. Unused budget stays unused. A LongPut buys the put that
`longput.choose_put` picks (no chain or quote: `no_option_chain`), in contracts, limit at the ask.

This module owns the desk's decisions: slots and fallback, the decision log, the gate's verdict and
submission. Which instrument a signal trades is `entry_routing.py`, what the gate is told is
`entry_gate_input.py`, the order itself is `entry_order.py`, and following submitted entries until
they are filled or unfilled is `entry_followup.py` (`EntryDesk.followup`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tbot_bot.broker.models import OrderState
from tbot_bot.clock import iso_utc
from tbot_bot.errors import BrokerError, NetworkError
from tbot_bot.market.bars import Quote
from tbot_bot.money import ZERO
from tbot_bot.strategy.base import Direction, Evaluation, MarketInputs, Signal, Strategy
from tbot_bot.trading.bearish import BearishPlan
from tbot_bot.trading.entry_followup import EntryFollowup
from tbot_bot.trading.entry_gate_input import entry_gate_input
from tbot_bot.trading.entry_order import build_entry_order
from tbot_bot.trading.entry_routing import mapping_fields, option_fields, route_entry
from tbot_bot.trading.exits import ExitManager
from tbot_bot.trading.fills import write_trade_record
from tbot_bot.trading.pool import PoolMember
from tbot_bot.trading.risk_gate import GateLimits, evaluate
from tbot_bot.trading.runner_context import DayContext
from tbot_bot.trading.sizing import SessionBudget

logger = logging.getLogger(__name__)


@dataclass
class Slot:
    number: int
    allocation: Decimal
    fallback_level: int = 0
    entry_id: str | None = None
    reasons: list[str] = field(default_factory=list)


@dataclass
class PendingEntry:
    slot: Slot
    member: PoolMember
    direction: Direction
    submitted: datetime


class EntryDesk:
    def __init__(
        self,
        ctx: DayContext,
        strategy: Strategy,
        letter: str,
        session_id: str,
        budget: SessionBudget,
        limits: GateLimits,
        exits: ExitManager,
    ) -> None:
        self.ctx = ctx
        self.strategy = strategy
        self.letter = letter
        self.session_id = session_id
        self.budget = budget
        self.limits = limits
        self.exits = exits
        self.settings = ctx.settings
        self.slots: list[Slot] = []
        self.fallback: list[Slot] = []
        self.pending: dict[str, PendingEntry] = {}
        self.allocated = ZERO
        self.stats = ctx.counters.stats(strategy.name)
        self.followup = EntryFollowup(self)

    # -- decision log -----------------------------------------------------------------------
    def log(
        self,
        now: datetime,
        member: PoolMember | None,
        stage: str,
        outcome: str,
        reason: str,
        **extra: Any,
    ) -> None:
        if outcome == "block":
            self.stats.blocks[reason] += 1
        self.ctx.logs.decision(
            self.strategy.name,
            {
                "ts_utc": iso_utc(now),
                "level": "info",
                "module": __name__,
                "event": stage,
                "message": f"{stage} {outcome}: {reason}",
                "trading_date": self.ctx.trading_date.isoformat(),
                "session_id": self.session_id,
                "strategy": self.strategy.name,
                "phase": extra.pop("phase", "entry"),
                "symbol": member.symbol if member else None,
                "pool_rank": member.rank if member else None,
                "stage": stage,
                "outcome": outcome,
                "reason": reason,
                **extra,
            },
        )

    # -- slots -------------------------------------------------------------------------------
    def free_slots(self, live_open_positions: int) -> int:
        by_trades = self.budget.slots - len(self.slots)
        by_positions = (
            int(self.settings.MAX_OPEN_POSITIONS) - live_open_positions - len(self.pending)
        )
        return max(0, min(by_trades, by_positions))

    def _take_slot(self) -> Slot:
        if self.fallback:
            return self.fallback.pop(0)
        slot = Slot(len(self.slots) + 1, self.budget.allocation(len(self.slots) + 1))
        self.slots.append(slot)
        return slot

    def _hand_on(self, slot: Slot, reason: str) -> None:
        """Per-symbol failure: the slot goes to the next candidate, one fallback level up."""
        slot.reasons.append(reason)
        slot.fallback_level += 1
        slot.entry_id = None
        self.fallback.append(slot)

    # -- each tick ---------------------------------------------------------------------------
    def tick(
        self,
        now: datetime,
        pool: list[PoolMember],
        quotes: dict[str, Quote],
        vix: Decimal | None,
        live_open_positions: int,
    ) -> None:
        for member in pool:
            if not self.fallback and self.free_slots(live_open_positions) <= 0:
                return
            if not member.eligible or member.considered or member.tape is None:
                continue
            quote = quotes.get(member.symbol)
            last_bar = member.tape.last
            price = quote.last if quote else (last_bar.close if last_bar else None)
            if price is None:
                continue
            evaluation = self.strategy.signal(member.tape, MarketInputs(now, price, vix))
            if evaluation.signal is None:
                if evaluation.reason != member.last_reason:
                    member.last_reason = evaluation.reason
                    self.log(
                        now,
                        member,
                        "signal",
                        "reject",
                        evaluation.reason,
                        detail=evaluation.metrics,
                    )
                continue
            member.considered = True  # a symbol signals at most once per session
            self.stats.signals += 1
            self._enter(now, member, evaluation, quotes, vix, live_open_positions)

    def _enter(
        self,
        now: datetime,
        member: PoolMember,
        evaluation: Evaluation,
        quotes: dict[str, Quote],
        vix: Decimal | None,
        live_open: int,
    ) -> None:
        signal = evaluation.signal
        assert signal is not None  # noqa: S101 - guarded by the caller
        self.log(now, member, "signal", "pass", signal.reason, detail=evaluation.metrics)
        plan, put = route_entry(self.ctx, self.strategy.name, member, signal, quotes, vix)
        if plan is not None and plan.reason == "bearish_disabled":
            self.log(now, member, "signal", "reject", "bearish_disabled")
            return
        slot = self._take_slot()
        if plan is not None and not plan.ok:
            self.log(
                now,
                member,
                "eligibility",
                "block",
                plan.reason,
                slot=slot.number,
                fallback_level=slot.fallback_level,
                target_symbol=member.symbol,
                mapped_inverse=plan.instrument_symbol,
                mapping_version=plan.mapping_version,
            )
            self._hand_on(slot, plan.reason)
            return
        instrument = plan.instrument_symbol if plan and plan.instrument_symbol else member.symbol
        quote = put.quote if put else (quotes.get(instrument) or self._fresh_quote(instrument))
        self.stats.entries_attempted += 1
        model = put.model_price if put else None
        result = self._gate(now, member, slot, plan, instrument, quote, vix, live_open, model)
        if result is None:
            return
        qty, allocation = result
        self._submit(now, member, slot, signal, plan, instrument, quote, qty, allocation)

    def _fresh_quote(self, symbol: str) -> Quote | None:
        try:
            return self.ctx.broker.get_latest_quotes([symbol]).get(symbol)
        except NetworkError:
            return None

    def _gate(
        self,
        now: datetime,
        member: PoolMember,
        slot: Slot,
        plan: BearishPlan | None,
        instrument: str,
        quote: Quote | None,
        vix: Decimal | None,
        live_open: int,
        option_model: Decimal | None = None,
    ) -> tuple[Decimal, Decimal] | None:
        allocation = slot.allocation
        inputs = entry_gate_input(
            self.ctx,
            now,
            self.strategy.name,
            member,
            plan,
            instrument,
            quote,
            vix=vix,
            option_model=option_model,
            open_positions=live_open,
            pending_entries=len(self.pending),
            slot=slot.number,
            max_slots=self.budget.slots,
            allocation=allocation,
            remaining_budget=self.budget.budget - self.allocated,
        )
        qty = inputs.qty
        result = evaluate(inputs, self.limits)
        passed = result.passed
        detail: dict[str, Any] | None = {
            "qty": str(qty),
            "allocation": str(allocation),
            **result.detail,
        }
        if passed:
            detail = {"warnings": list(result.warnings)} if result.warnings else None
        self.log(
            now,
            member,
            "gate",
            "pass" if passed else "block",
            "pass" if passed else result.reason,
            slot=slot.number,
            fallback_level=slot.fallback_level,
            allocation=allocation,
            qty=qty,
            detail=detail,
            **mapping_fields(plan, member),
        )
        if passed:
            return qty, allocation
        if result.allows_fallback:
            self._hand_on(slot, result.reason)
        else:
            self._end_slot(now, slot, result.reason)
        return None

    def _end_slot(self, now: datetime, slot: Slot, reason: str) -> None:
        slot.reasons.append(reason)
        self.stats.slots_unfilled += 1
        self.log(
            now,
            None,
            "gate",
            "block",
            "slot_unfilled",
            slot=slot.number,
            fallback_level=slot.fallback_level,
            detail={"reasons": slot.reasons},
        )

    def _submit(
        self,
        now: datetime,
        member: PoolMember,
        slot: Slot,
        signal: Signal,
        plan: BearishPlan | None,
        instrument: str,
        quote: Quote | None,
        qty: Decimal,
        allocation: Decimal,
    ) -> None:
        assert quote is not None  # noqa: S101 - the gate refuses a missing quote when closed
        order = build_entry_order(
            self.ctx,
            strategy=self.strategy.name,
            session_id=self.session_id,
            letter=self.letter,
            slot=slot.number,
            fallback_level=slot.fallback_level,
            member=member,
            signal=signal,
            plan=plan,
            instrument=instrument,
            quote=quote,
            qty=qty,
            allocation=allocation,
            now=now,
        )
        cid, option = order.client_order_id, order.option
        self.ctx.positions.open_position(order.position)
        slot.entry_id = cid
        try:
            row = self.ctx.orders.submit(order.request, order.context)
        except BrokerError as exc:
            logger.info("entry %s refused: %s", cid, exc)
            self.record_rejection(now, member, slot, "broker_reject", cid)
            return
        self.ctx.counters.signal_to_submit_ms.append(
            0 if row.sent_utc is None else max(0, int((row.sent_utc - now).total_seconds() * 1000))
        )
        self.log(
            now,
            member,
            "order",
            "pass",
            "submitted",
            slot=slot.number,
            fallback_level=slot.fallback_level,
            client_order_id=cid,
            allocation=allocation,
            qty=qty,
            ref_price=order.limit,
            target_symbol=member.symbol,
            mapped_inverse=instrument if plan and plan.mode == "InverseETF" else None,
            mapping_version=plan.mapping_version if plan else None,
            detail=option_fields(option, synthetic=self.ctx.broker_name == "SIM")
            if option is not None
            else None,
        )
        if row.state is OrderState.REJECTED:
            self.record_rejection(now, member, slot, "broker_reject", cid)
            return
        self.allocated += allocation
        self.stats.allocated += allocation
        self.ctx.state.block_symbol(self.ctx.trading_date, instrument, cid, now)
        self.ctx.state.block_symbol(self.ctx.trading_date, member.symbol, cid, now)
        self.pending[cid] = PendingEntry(slot, member, signal.direction, now)

    def record_rejection(
        self, now: datetime, member: PoolMember, slot: Slot, reason: str, cid: str
    ) -> None:
        """A refused or unfilled entry: logged, its trade record written, its slot handed on."""
        self.log(
            now,
            member,
            "order",
            "reject",
            reason,
            slot=slot.number,
            fallback_level=slot.fallback_level,
            client_order_id=cid,
        )
        position = self.ctx.positions.positions.get(cid)
        if position is not None:
            # §9 statuses: an entry that reached the broker but never filled is `unfilled`.
            status = "unfilled" if reason == "unfilled" else "rejected"
            write_trade_record(self.ctx, position, status=status, error_code=reason)
        self._hand_on(slot, reason)

    def close_window(self, now: datetime) -> None:
        """At entry end: slots still waiting for a fallback are unfilled."""
        for slot in self.fallback:
            self._end_slot(now, slot, "entry_window_ended")
        self.fallback.clear()

    def cancel_working_entries(self) -> None:
        for cid in list(self.pending):
            self.ctx.orders.cancel(cid)
