"""The broker order of an entry (trading spec §4, §5, §7.1): limit price, client id, metadata.

An entry is a limit order: a buy at the ask plus ENTRY_LIMIT_SLIPPAGE_PCT (rounded up to the
cent), a short sale at the bid minus it (rounded down), a LongPut at the ask. Its deterministic
client id `...-EN{fallback_level}` names the slot and, for options, the underlying. The metadata
travels with the journal row to the fills, the ledger and the trade history.

It is separate from `entries.py` because building the order (with its journal context and the
strategy position it opens) is a pure function of the decision already taken; the entry desk keeps
sending it and handling what the broker answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from tbot_bot.broker.models import (
    AssetClass,
    OptionContract,
    OrderRequest,
    OrderSide,
    OrderType,
    PositionIntent,
)
from tbot_bot.clock import iso_utc
from tbot_bot.market.bars import Quote
from tbot_bot.money import CENT
from tbot_bot.strategy.base import Signal
from tbot_bot.trading.bearish import BearishPlan
from tbot_bot.trading.client_order_id import make_client_order_id
from tbot_bot.trading.entry_routing import option_fields
from tbot_bot.trading.order_journal import OrderContext
from tbot_bot.trading.pool import PoolMember
from tbot_bot.trading.positions_book import StrategyPosition
from tbot_bot.trading.runner_context import DayContext

ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class EntryOrder:
    """An entry ready to submit: the broker request, its journal context (with the metadata) and
    the strategy position it opens."""

    request: OrderRequest
    context: OrderContext
    position: StrategyPosition
    limit: Decimal

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def option(self) -> OptionContract | None:
        return self.request.option


def entry_limit_price(quote: Quote, slippage: Decimal, *, short: bool, option: bool) -> Decimal:
    """The entry's limit (§3.2): buy at ask x (1 + slippage) rounded up to the cent, short sale
    at bid x (1 - slippage) rounded down, a LongPut at the ask (§5)."""
    if option:
        return quote.ask
    if short:
        return (quote.bid * (ONE - slippage)).quantize(CENT, rounding=ROUND_FLOOR)
    return (quote.ask * (ONE + slippage)).quantize(CENT, rounding=ROUND_CEILING)


def sizing_price(quote: Quote, slippage: Decimal, *, short: bool, option: bool) -> Decimal:
    """The price an entry is sized on (§4): the most one unit can cost or commit.

    A buy can fill anywhere up to its limit, above the ask, so it is sized on the limit: the
    quantity times the limit never exceeds the slot allocation (nor MAX_RISK_PER_TRADE). A
    short sale is sized on the bid, higher than its limit (a fill below the bid commits less).
    """
    quoted = quote.bid if short else quote.ask
    return max(quoted, entry_limit_price(quote, slippage, short=short, option=option))


def build_entry_order(
    ctx: DayContext,
    *,
    strategy: str,
    session_id: str,
    letter: str,
    slot: int,
    fallback_level: int,
    member: PoolMember,
    signal: Signal,
    plan: BearishPlan | None,
    instrument: str,
    quote: Quote,
    qty: Decimal,
    allocation: Decimal,
    now: datetime,
) -> EntryOrder:
    """The limit order of `qty` `instrument` for `member`'s signal, in slot `slot`."""
    short = plan is not None and plan.mode == "ShortSell"
    option = plan.option if plan else None
    limit = entry_limit_price(
        quote, ctx.settings.ENTRY_LIMIT_SLIPPAGE_PCT, short=short, option=option is not None
    )
    cid = make_client_order_id(
        ctx.bot_id,
        ctx.trading_date,
        letter,
        slot,
        member.symbol if option is not None else instrument,  # options: the underlying
        "EN",
        fallback_level,
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
    meta: dict[str, Any] = {
        "entry_id": cid,
        "slot": slot,
        "pool_rank": member.rank,
        "fallback_level": fallback_level,
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
        meta.update(option_fields(option, synthetic=ctx.broker_name == "SIM"))
    context = OrderContext(
        trading_date=ctx.trading_date.isoformat(),
        strategy=strategy,
        session_id=session_id,
        meta=meta,
    )
    position = StrategyPosition(
        cid,
        strategy,
        instrument,
        member.symbol,
        "short" if short else "long",
        multiplier=option.multiplier if option is not None else 1,
    )
    return EntryOrder(request, context, position, limit)
