"""Entries of one phase (trading spec §3.2, §4, §7.2): slots, fallback, sizing, gate, submit.

Each entry-window tick walks the frozen pool in rank order. A candidate whose signal fires takes the
next free slot and is submitted at once. A per-symbol failure (gate checks 2-6, `qty_below_one`,
`below_min_order`, a broker reject, no fill, a failed ETF mapping) hands the slot, with its fixed
allocation, to the next candidate whose signal holds; the slot's `fallback_level` rises by one.
Global and capital blocks end the slot. Unused budget stays unused. A LongPut buys the put that
`longput.choose_put` picks (no chain or quote: `no_option_chain`), in contracts, limit at the ask.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from tbot_bot.broker.models import (
    AssetClass,
    OptionContract,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
    PositionIntent,
)
from tbot_bot.clock import iso_utc
from tbot_bot.errors import BrokerError, NetworkError
from tbot_bot.market.bars import Quote
from tbot_bot.money import CENT, ZERO
from tbot_bot.strategy.base import Direction, Evaluation, MarketInputs, Signal, Strategy
from tbot_bot.trading.bearish import BearishPlan, plan_bearish
from tbot_bot.trading.client_order_id import make_client_order_id
from tbot_bot.trading.exits import ExitManager
from tbot_bot.trading.fills import write_trade_record
from tbot_bot.trading.longput import PutChoice, choose_put
from tbot_bot.trading.order_journal import OrderContext
from tbot_bot.trading.pool import PoolMember
from tbot_bot.trading.positions_book import StrategyPosition
from tbot_bot.trading.risk_gate import Fundamentals, GateInput, GateLimits, evaluate
from tbot_bot.trading.runner_context import DayContext
from tbot_bot.trading.sizing import SessionBudget, put_contracts, share_quantity

logger = logging.getLogger(__name__)
ONE = Decimal(1)


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


def _decimal_or_none(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


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
        plan = self._instrument(member, signal)
        put: PutChoice | None = None
        if plan is not None and plan.ok and plan.mode == "LongPut":
            put = self._choose_put(member, quotes, vix)
            plan = (
                replace(plan, instrument_symbol=put.contract.occ_symbol, option=put.contract)
                if put
                else BearishPlan(plan.mode, None, member.symbol, "no_option_chain")
            )
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

    def _instrument(self, member: PoolMember, signal: Signal) -> BearishPlan | None:
        if signal.direction is Direction.LONG:
            return None
        mode = self.settings.short_type(self.strategy.name)
        shortable = self.ctx.broker.is_shortable(member.symbol)
        return plan_bearish(mode, member.symbol, sector=member.sector, shortable=shortable)

    def _choose_put(
        self, member: PoolMember, quotes: dict[str, Quote], vix: Decimal | None
    ) -> PutChoice | None:
        """The put on the target at its last price (§5), quoted, with its BSM estimate."""
        quote = quotes.get(member.symbol)
        last_bar = member.tape.last if member.tape else None
        price = quote.last if quote else (last_bar.close if last_bar else None)
        if price is None:
            return None
        rate = Decimal(str(self.settings.RISK_FREE_RATE))
        return choose_put(self.ctx.broker, member.symbol, price, self.ctx.trading_date, vix, rate)

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
        mode = plan.mode if plan else None
        option = plan.option if plan else None
        fractional = (
            bool(self.settings.FRACTIONAL)
            and mode != "ShortSell"
            and option is None
            and self.ctx.broker.supports_fractional(instrument)
        )
        price = (quote.bid if mode == "ShortSell" else quote.ask) if quote else None
        if option is not None:
            # §4: LongPut contracts = floor(a_k / (ask x 100)).
            qty = Decimal(put_contracts(allocation, price, option.multiplier)) if price else ZERO
        else:
            qty = share_quantity(allocation, price, fractional=fractional) if price else ZERO
        record = member.record if instrument == member.symbol else {}
        fundamentals = Fundamentals(
            _decimal_or_none(record.get("pe_ratio")),
            _decimal_or_none(record.get("debt_equity")),
            _decimal_or_none(record.get("marketCap")),
            is_etf=str(record.get("type", "")).lower() == "etf" or instrument != member.symbol,
        )
        avg_volume = (
            member.avg_volume
            if instrument == member.symbol
            else _decimal_int(self._universe_field(instrument, "avgVolume"))
        )
        if avg_volume is None and instrument != member.symbol and option is None:
            # An inverse ETF is usually outside the (common-stock) universe: ask the broker.
            avg_volume = self.ctx.broker.get_average_volume(instrument)
        result = evaluate(
            GateInput(
                now_utc=now,
                strategy=self.strategy.name,
                target_symbol=member.symbol,
                instrument_symbol=instrument,
                bearish_mode=mode,
                halted=self.ctx.halted,
                stopped=self.ctx.stopped,
                trades_disabled=bool(self.settings.DISABLE_ALL_TRADES),
                broker_suspended=self.ctx.broker_suspended,
                data_suspended=self.ctx.data_suspended,
                ledger_locked=self.ctx.ledger_locked,
                traded_today=self.ctx.state.blocked_symbols(self.ctx.trading_date),
                quote=quote,
                avg_volume=avg_volume,
                is_option=option is not None,
                vix=vix,
                fundamentals=fundamentals,
                option_market_price=price if option is not None else None,
                option_bsm_price=option_model,
                open_positions=live_open,
                pending_entries=len(self.pending),
                slot=slot.number,
                max_slots=self.budget.slots,
                allocation=allocation,
                remaining_budget=self.budget.budget - self.allocated,
                qty=qty,
                min_order_qty=ONE
                if option is not None
                else self.ctx.broker.get_min_order_size(instrument),
            ),
            self.limits,
        )
        detail = {"qty": str(qty), "allocation": str(allocation), **result.detail}
        if result.passed:
            self.log(
                now,
                member,
                "gate",
                "pass",
                "pass",
                slot=slot.number,
                fallback_level=slot.fallback_level,
                allocation=allocation,
                qty=qty,
                detail={"warnings": list(result.warnings)} if result.warnings else None,
                **_mapping_fields(plan, member),
            )
            return qty, allocation
        self.log(
            now,
            member,
            "gate",
            "block",
            result.reason,
            slot=slot.number,
            fallback_level=slot.fallback_level,
            allocation=allocation,
            qty=qty,
            detail=detail,
            **_mapping_fields(plan, member),
        )
        if result.allows_fallback:
            self._hand_on(slot, result.reason)
        else:
            self._end_slot(now, slot, result.reason)
        return None

    def _universe_field(self, symbol: str, name: str) -> Any:
        for record in self.ctx.universe:
            if record.get("symbol") == symbol:
                return record.get(name)
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
        slip = self.settings.ENTRY_LIMIT_SLIPPAGE_PCT
        short = plan is not None and plan.mode == "ShortSell"
        option = plan.option if plan else None
        if option is not None:
            limit = quote.ask  # §5: a LongPut buys at the ask
        elif short:
            limit = (quote.bid * (ONE - slip)).quantize(CENT, rounding=ROUND_FLOOR)
        else:
            limit = (quote.ask * (ONE + slip)).quantize(CENT, rounding=ROUND_CEILING)
        cid = make_client_order_id(
            self.ctx.bot_id,
            self.ctx.trading_date,
            self.letter,
            slot.number,
            member.symbol if option is not None else instrument,  # options: the underlying
            "EN",
            slot.fallback_level,
        )
        request = OrderRequest(
            client_order_id=cid,
            symbol=instrument,
            side=OrderSide.SELL if short else OrderSide.BUY,
            qty=qty,
            order_type=OrderType.LIMIT,
            limit_price=limit,
            intent=PositionIntent.OPEN_SHORT if short else PositionIntent.OPEN_LONG,
            asset_class=AssetClass.OPTION if option is not None else AssetClass.EQUITY,
            option=option,
        )
        meta = {
            "entry_id": cid,
            "slot": slot.number,
            "pool_rank": member.rank,
            "fallback_level": slot.fallback_level,
            "direction": signal.direction.value,
            "bearish_mode": plan.mode if plan else None,
            "target_symbol": member.symbol,
            "allocation": str(allocation),
            "signal_ts": iso_utc(now),
            "phase": "entry",
        }
        if plan is not None and plan.mode == "InverseETF":
            meta.update({"inverse_symbol": instrument, "leverage": plan.leverage})
        if option is not None:
            meta.update(_option_fields(option, synthetic=self.ctx.broker_name == "SIM"))
        self.ctx.positions.open_position(
            StrategyPosition(
                cid,
                self.strategy.name,
                instrument,
                member.symbol,
                "short" if short else "long",
                multiplier=option.multiplier if option is not None else 1,
            )
        )
        slot.entry_id = cid
        try:
            row = self.ctx.orders.submit(
                request,
                OrderContext(
                    trading_date=self.ctx.trading_date.isoformat(),
                    strategy=self.strategy.name,
                    session_id=self.session_id,
                    meta=meta,
                ),
            )
        except BrokerError as exc:
            logger.info("entry %s refused: %s", cid, exc)
            self._rejected(now, member, slot, "broker_reject", cid)
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
            ref_price=limit,
            target_symbol=member.symbol,
            mapped_inverse=instrument if plan and plan.mode == "InverseETF" else None,
            mapping_version=plan.mapping_version if plan else None,
            detail=_option_fields(option, synthetic=self.ctx.broker_name == "SIM")
            if option is not None
            else None,
        )
        if row.state is OrderState.REJECTED:
            self._rejected(now, member, slot, "broker_reject", cid)
            return
        self.allocated += allocation
        self.stats.allocated += allocation
        self.ctx.state.block_symbol(self.ctx.trading_date, instrument, cid, now)
        self.ctx.state.block_symbol(self.ctx.trading_date, member.symbol, cid, now)
        self.pending[cid] = PendingEntry(slot, member, signal.direction, now)

    def _rejected(
        self, now: datetime, member: PoolMember, slot: Slot, reason: str, cid: str
    ) -> None:
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

    # -- pending entries: fills and timeouts ---------------------------------------------------
    def follow_pending(self, now: datetime) -> None:
        timeout = timedelta(seconds=int(self.settings.ENTRY_FILL_TIMEOUT_S))
        for cid, pending in list(self.pending.items()):
            row = self.ctx.orders.journal.require(cid)
            position = self.ctx.positions.positions[cid]
            if row.state is OrderState.UNRESOLVED:
                continue  # slot and budget stay reserved while lookups go on
            if not row.is_terminal and now - pending.submitted >= timeout:
                row = self.ctx.orders.cancel(cid)
            if not row.is_terminal:
                continue
            del self.pending[cid]
            if position.entry_qty > ZERO:
                self.stats.entries += 1
                self.exits.track(cid, pending.direction, pending.slot.number, now)
                continue
            reason = "broker_reject" if row.state is OrderState.REJECTED else "unfilled"
            self.allocated -= pending.slot.allocation
            self.stats.allocated -= pending.slot.allocation
            self._rejected(now, pending.member, pending.slot, reason, cid)

    def close_window(self, now: datetime) -> None:
        """At entry end: slots still waiting for a fallback are unfilled."""
        for slot in self.fallback:
            self._end_slot(now, slot, "entry_window_ended")
        self.fallback.clear()

    def cancel_working_entries(self) -> None:
        for cid in list(self.pending):
            self.ctx.orders.cancel(cid)


def _mapping_fields(plan: BearishPlan | None, member: PoolMember) -> dict[str, Any]:
    """§3.3: decisions about an InverseETF entry name the target, the ETF and the mapping;
    those about a LongPut name the target (the order record's detail names the contract)."""
    if plan is not None and plan.option is not None:
        return {"target_symbol": member.symbol}
    if plan is None or plan.mode != "InverseETF":
        return {}
    return {
        "target_symbol": member.symbol,
        "mapped_inverse": plan.instrument_symbol,
        "mapping_version": plan.mapping_version,
    }


def _option_fields(option: OptionContract, *, synthetic: bool) -> dict[str, Any]:
    """Entry metadata of a LongPut: the contract, and whether its chain is the SIM's synthetic."""
    return {
        "occ_symbol": option.occ_symbol,
        "option_expiry": option.expiry.isoformat(),
        "option_strike": str(option.strike),
        "option_right": option.right,
        "option_synthetic": synthetic,
    }


def _decimal_int(value: Any) -> int | None:
    return None if value in (None, "") else int(Decimal(str(value)))
