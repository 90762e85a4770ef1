"""Bearish-instrument routing of an entry (trading spec §3.3, §5): which instrument a signal trades.

A long signal trades the pool member itself. A short signal trades what the strategy's SHORT_TYPE
maps it to (`bearish.plan_bearish`: InverseETF, ShortSell or LongPut); a LongPut then needs a
quoted put from `longput.choose_put`, or the plan fails with `no_option_chain`. The decision-log
and order-metadata fields that name the mapped instrument live here too.

It is separate from `entries.py` because routing depends only on the signal, the settings and the
broker's instrument facts, never on slots, budget or the order journal the entry desk manages.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from tbot_bot.broker.models import OptionContract
from tbot_bot.market.bars import Quote
from tbot_bot.strategy.base import Direction, Signal
from tbot_bot.trading.bearish import BearishPlan, plan_bearish
from tbot_bot.trading.longput import PutChoice, choose_put
from tbot_bot.trading.pool import PoolMember
from tbot_bot.trading.runner_context import DayContext


def route_entry(
    ctx: DayContext,
    strategy: str,
    member: PoolMember,
    signal: Signal,
    quotes: dict[str, Quote],
    vix: Decimal | None,
) -> tuple[BearishPlan | None, PutChoice | None]:
    """The bearish plan of `signal` (None for a long entry) and, for a LongPut, the chosen put.

    A LongPut without a put to buy comes back as a failed plan (`no_option_chain`).
    """
    plan = _bearish_plan(ctx, strategy, member, signal)
    put: PutChoice | None = None
    if plan is not None and plan.ok and plan.mode == "LongPut":
        put = _choose_put(ctx, member, quotes, vix)
        plan = (
            replace(plan, instrument_symbol=put.contract.occ_symbol, option=put.contract)
            if put
            else BearishPlan(plan.mode, None, member.symbol, "no_option_chain")
        )
    return plan, put


def _bearish_plan(
    ctx: DayContext, strategy: str, member: PoolMember, signal: Signal
) -> BearishPlan | None:
    if signal.direction is Direction.LONG:
        return None
    mode = ctx.settings.short_type(strategy)
    shortable = ctx.broker.is_shortable(member.symbol)
    return plan_bearish(mode, member.symbol, sector=member.sector, shortable=shortable)


def _choose_put(
    ctx: DayContext, member: PoolMember, quotes: dict[str, Quote], vix: Decimal | None
) -> PutChoice | None:
    """The put on the target at its last price (§5), quoted, with its BSM estimate."""
    quote = quotes.get(member.symbol)
    last_bar = member.tape.last if member.tape else None
    price = quote.last if quote else (last_bar.close if last_bar else None)
    if price is None:
        return None
    rate = Decimal(str(ctx.settings.RISK_FREE_RATE))
    return choose_put(ctx.broker, member.symbol, price, ctx.trading_date, vix, rate)


def mapping_fields(plan: BearishPlan | None, member: PoolMember) -> dict[str, Any]:
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


def option_fields(option: OptionContract, *, synthetic: bool) -> dict[str, Any]:
    """Entry metadata of a LongPut: the contract, and whether its chain is the SIM's synthetic."""
    return {
        "occ_symbol": option.occ_symbol,
        "option_expiry": option.expiry.isoformat(),
        "option_strike": str(option.strike),
        "option_right": option.right,
        "option_synthetic": synthetic,
    }
