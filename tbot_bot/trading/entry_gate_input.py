"""What the risk gate is told about one entry candidate (trading spec §4, §7.2).

It sizes the entry from its slot's allocation (shares, fractional where allowed, or LongPut
contracts) and gathers the facts the gate's checks read: the day's blocks, the quote, the
instrument's average volume and fundamentals, the broker's minimum order size.

It is separate from `entries.py` because assembling these facts is pure look-up work; the entry
desk keeps the decisions (slots, fallback, logging of the gate's verdict, submission).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from tbot_bot.market.bars import Quote
from tbot_bot.money import ZERO
from tbot_bot.trading.bearish import BearishPlan
from tbot_bot.trading.entry_order import sizing_price
from tbot_bot.trading.pool import PoolMember
from tbot_bot.trading.risk_gate import Fundamentals, GateInput
from tbot_bot.trading.runner_context import DayContext
from tbot_bot.trading.sizing import put_contracts, share_quantity

ONE = Decimal(1)


def entry_gate_input(
    ctx: DayContext,
    now: datetime,
    strategy: str,
    member: PoolMember,
    plan: BearishPlan | None,
    instrument: str,
    quote: Quote | None,
    *,
    vix: Decimal | None,
    option_model: Decimal | None,
    open_positions: int,
    pending_entries: int,
    slot: int,
    max_slots: int,
    allocation: Decimal,
    remaining_budget: Decimal,
) -> GateInput:
    """The gate input of an entry into `instrument` for `member`, sized from `allocation`."""
    mode = plan.mode if plan else None
    option = plan.option if plan else None
    fractional = (
        bool(ctx.settings.FRACTIONAL)
        and mode != "ShortSell"
        and option is None
        and ctx.broker.supports_fractional(instrument)
    )
    price = (
        sizing_price(
            quote,
            ctx.settings.ENTRY_LIMIT_SLIPPAGE_PCT,
            short=mode == "ShortSell",
            option=option is not None,
        )
        if quote
        else None
    )
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
        else _decimal_int(_universe_field(ctx, instrument, "avgVolume"))
    )
    if avg_volume is None and instrument != member.symbol and option is None:
        # An inverse ETF is usually outside the (common-stock) universe: ask the broker.
        avg_volume = ctx.broker.get_average_volume(instrument)
    return GateInput(
        now_utc=now,
        strategy=strategy,
        target_symbol=member.symbol,
        instrument_symbol=instrument,
        bearish_mode=mode,
        halted=ctx.halted,
        stopped=ctx.stopped,
        trades_disabled=bool(ctx.settings.DISABLE_ALL_TRADES),
        broker_suspended=ctx.broker_suspended,
        data_suspended=ctx.data_suspended,
        ledger_locked=ctx.ledger_locked,
        traded_today=ctx.state.blocked_symbols(ctx.trading_date),
        quote=quote,
        avg_volume=avg_volume,
        is_option=option is not None,
        vix=vix,
        fundamentals=fundamentals,
        option_market_price=price if option is not None else None,
        option_bsm_price=option_model,
        open_positions=open_positions,
        pending_entries=pending_entries,
        slot=slot,
        max_slots=max_slots,
        allocation=allocation,
        remaining_budget=remaining_budget,
        qty=qty,
        min_order_qty=ONE if option is not None else ctx.broker.get_min_order_size(instrument),
    )


def _universe_field(ctx: DayContext, symbol: str, name: str) -> Any:
    for record in ctx.universe:
        if record.get("symbol") == symbol:
            return record.get(name)
    return None


def _decimal_or_none(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _decimal_int(value: Any) -> int | None:
    return None if value in (None, "") else int(Decimal(str(value)))
