"""Posting rules for broker records (accounting spec §4.2, §5.3): pure functions, no I/O.

A record plus the current open lots of its symbol becomes one or two `Draft`s (a split fill gives
one event per position effect) or a `Refusal` that sends it to the unmapped queue. Every amount is
an integer of minor units; realized P&L is the plug, so each draft balances by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tbot_bot.accounting.codec import (
    broker_fitid,
    content_hash,
    fitid_group_id,
    gross_minor,
    order_group_id,
    price_text,
    qty_to_e9,
    to_minor_exact,
)
from tbot_bot.accounting.drafts import ClosureRow, Draft, Leg, LotOpen, TradeRow, legs, ofx_types
from tbot_bot.accounting.lots import LotState, allocate_close, open_qty, split_largest_remainder
from tbot_bot.accounting.mapping import MappingMiss, MappingRule, MappingSet
from tbot_bot.accounting.models import NormalizedRecord
from tbot_bot.accounting.normalize import opening_short_intent
from tbot_bot.clock import iso_utc
from tbot_bot.errors import LogicError

T = TypeVar("T")

LotsFor = Callable[[str, str], list[LotState]]
EFFECT = {"BUY": "open", "SELL": "close", "SHORT_OPEN": "open", "SHORT_COVER": "close"}


def need(value: T | None, what: str) -> T:
    """A field `normalize.validate` guarantees; its absence here is a programming error."""
    if value is None:
        raise LogicError(f"posting rule reached with no {what} (validate() was skipped)")
    return value


@dataclass(frozen=True)
class RuleContext:
    bot_identity: str
    minor_unit: int
    mapping: MappingSet
    shorting_enabled: bool
    source: str = "broker_sync"


@dataclass(frozen=True)
class Refusal:
    reason_code: str
    reason: str


@dataclass(frozen=True)
class FillAmounts:
    qty_e9: int
    price: str
    gross: int
    commission: int
    fee: int


def fill_amounts(rec: NormalizedRecord, minor_unit: int) -> FillAmounts | Refusal:
    """q, p, G, c, x of a fill; a broker net amount is used verbatim and fixes f = c + x."""
    qty = qty_to_e9(need(rec.qty, "qty"))
    price = price_text(need(rec.price, "price"))
    gross = gross_minor(qty, price, rec.multiplier, minor_unit)
    commission = to_minor_exact(rec.commission, minor_unit)
    fee = to_minor_exact(rec.fee, minor_unit)
    if rec.net_amount is not None:
        net = to_minor_exact(rec.net_amount, minor_unit)
        total_fee = (-net - gross) if rec.side == "buy" else (gross - net)
        if total_fee < 0:
            return Refusal("invalid_field", f"net amount {rec.net_amount} implies a negative fee")
        commission = min(commission, total_fee)
        fee = total_fee - commission
    return FillAmounts(qty, price, gross, commission, fee)


def record_content_hash(rec: NormalizedRecord, minor_unit: int) -> str:
    """content_hash of §6.2 from the record's economic fields."""
    if rec.kind == "fill":
        amounts = fill_amounts(rec, minor_unit)
        if isinstance(amounts, FillAmounts):
            return content_hash(
                amount_minor=amounts.gross,
                qty_e9=amounts.qty_e9,
                price=amounts.price,
                commission_minor=amounts.commission,
                fee_minor=amounts.fee,
                dtposted=iso_utc(rec.dtposted),
                currency=rec.currency,
                symbol=rec.symbol,
                side=rec.side,
            )
    net = None if rec.net_amount is None else to_minor_exact(rec.net_amount, minor_unit)
    qty = None if rec.qty is None else qty_to_e9(rec.qty)
    return content_hash(
        amount_minor=net,
        qty_e9=qty,
        price=rec.price,
        commission_minor=0,
        fee_minor=0,
        dtposted=iso_utc(rec.dtposted),
        currency=rec.currency,
        symbol=rec.symbol,
        side=rec.side,
    )


def classify_fill(
    rec: NormalizedRecord, qty_e9: int, lots_for: LotsFor, shorting_enabled: bool
) -> list[tuple[str, int]] | Refusal:
    """Position effects of one fill from the lot state (§5.3): [(event_type, qty_e9), ...]."""
    symbol = need(rec.symbol, "symbol")
    if rec.side == "buy":
        short_qty = open_qty(lots_for(symbol, "short"))
        cover = min(qty_e9, short_qty)
        parts = [("SHORT_COVER", cover), ("BUY", qty_e9 - cover)]
        return [(kind, qty) for kind, qty in parts if qty > 0]
    long_qty = open_qty(lots_for(symbol, "long"))
    if long_qty >= qty_e9:
        return [("SELL", qty_e9)]
    may_short = (shorting_enabled or opening_short_intent(rec)) and rec.instrument != "option"
    if not may_short:
        return Refusal(
            "insufficient_inventory",
            f"sell of {qty_e9} e9 {rec.symbol} exceeds the long quantity {long_qty} e9 "
            "and short selling is off",
        )
    parts = [("SELL", long_qty), ("SHORT_OPEN", qty_e9 - long_qty)]
    return [(kind, qty) for kind, qty in parts if qty > 0]


def fill_drafts(
    rec: NormalizedRecord, ctx: RuleContext, lots_for: LotsFor, chash: str | None = None
) -> list[Draft] | Refusal:
    """The one or two events of a fill, or why it cannot be posted (`chash`: its content hash
    when the caller already computed it for dedup)."""
    amounts = fill_amounts(rec, ctx.minor_unit)
    if isinstance(amounts, Refusal):
        return amounts
    segments = classify_fill(rec, amounts.qty_e9, lots_for, ctx.shorting_enabled)
    if isinstance(segments, Refusal):
        return segments
    weights = [qty for _, qty in segments]
    grosses = split_largest_remainder(amounts.gross, weights)
    commissions = split_largest_remainder(amounts.commission, weights)
    fees = split_largest_remainder(amounts.fee, weights)
    chash = chash or record_content_hash(rec, ctx.minor_unit)
    drafts: list[Draft] = []
    for i, (event_type, qty) in enumerate(segments):
        rule = _lookup(ctx.mapping, rec, event_type)
        if isinstance(rule, Refusal):
            return rule
        part = FillAmounts(qty, amounts.price, grosses[i], commissions[i], fees[i])
        draft = _fill_event(rec, ctx, rule, event_type, part, lots_for, chash)
        if isinstance(draft, Refusal):
            return draft
        drafts.append(draft)
    return drafts


def _lookup(mapping: MappingSet, rec: NormalizedRecord, event_type: str) -> MappingRule | Refusal:
    try:
        rule = mapping.lookup(
            broker_code=rec.broker_code,
            record_kind=rec.kind,
            activity_type=rec.activity_type,
            activity_subtype=rec.activity_subtype or rec.instrument,
            side=rec.side,
            position_effect=EFFECT.get(event_type, "none"),
            symbol=rec.symbol,
            strategy=rec.strategy,
        )
    except MappingMiss as miss:
        return Refusal(miss.reason_code, str(miss))
    if rule.event_type != event_type:
        return Refusal("unmapped", f"mapping gives {rule.event_type}, classification {event_type}")
    return rule


def _fill_event(
    rec: NormalizedRecord,
    ctx: RuleContext,
    rule: MappingRule,
    event_type: str,
    amt: FillAmounts,
    lots_for: LotsFor,
    chash: str,
) -> Draft | Refusal:
    slot, sym, f = rule.slots, need(rec.symbol, "symbol"), amt.commission + amt.fee
    when = iso_utc(rec.dtposted)
    lot_opens: tuple[LotOpen, ...] = ()
    closures: tuple[ClosureRow, ...] = ()
    if event_type in {"BUY", "SHORT_OPEN"}:
        if amt.gross == 0:
            return Refusal("sanity_bound", f"{event_type} of {sym}: gross rounds to 0 (dust)")
        side = "long" if event_type == "BUY" else "short"
        lot_opens = (
            LotOpen(
                sym,
                rec.instrument,
                side,
                amt.qty_e9,
                amt.gross,
                rec.multiplier,
                when,
                term_start_utc=when,
            ),
        )
        if event_type == "BUY":
            body = legs(
                Leg(slot["asset"], amt.gross, sym, amt.qty_e9, amt.price, new_lot=0),
                Leg(slot["fee"], f),
                Leg(slot["cash"], -(amt.gross + f)),
            )
        else:
            body = legs(
                Leg(slot["cash"], amt.gross - f),
                Leg(slot["fee"], f),
                Leg(slot["short"], -amt.gross, sym, -amt.qty_e9, amt.price, new_lot=0),
            )
    else:
        side = "long" if event_type == "SELL" else "short"
        rows = allocate_close(lots_for(sym, side), amt.qty_e9, amt.gross, when, side)
        basis = sum(r.basis_minor for r in rows)
        if basis == 0:
            return Refusal(
                "sanity_bound", f"{event_type} of {sym}: closed basis rounds to 0 (dust)"
            )
        closures = tuple(ClosureRow(**vars(r)) for r in rows)
        lot_id = rows[0].lot_id if len(rows) == 1 else None
        if event_type == "SELL":
            body = legs(
                Leg(slot["cash"], amt.gross - f),
                Leg(slot["fee"], f),
                Leg(slot["asset"], -basis, sym, -amt.qty_e9, amt.price, lot_id),
                Leg(slot["pnl"], -(amt.gross - basis)),
            )
        else:
            body = legs(
                Leg(slot["short"], basis, sym, amt.qty_e9, amt.price, lot_id),
                Leg(slot["fee"], f),
                Leg(slot["cash"], -(amt.gross + f)),
                Leg(slot["pnl"], -(basis - amt.gross)),
            )
    return _fill_draft(rec, ctx, event_type, amt, body, lot_opens, closures, chash)


def _fill_draft(
    rec: NormalizedRecord,
    ctx: RuleContext,
    event_type: str,
    amt: FillAmounts,
    body: tuple[Leg, ...],
    lot_opens: tuple[LotOpen, ...],
    closures: tuple[ClosureRow, ...],
    chash: str,
) -> Draft:
    symbol, side = need(rec.symbol, "symbol"), need(rec.side, "side")
    fitid = broker_fitid(rec.broker_code, rec.account_id, rec.external_id, event_type)
    trntype, aggregate, subtype = ofx_types(event_type, rec.instrument)
    action = "short" if event_type.startswith("SHORT") else rec.extra.get("action", "long")
    when = iso_utc(rec.dtposted)
    group = (
        order_group_id(ctx.bot_identity, rec.order_id)
        if rec.order_id
        else fitid_group_id(ctx.bot_identity, fitid)
    )
    trade = TradeRow(
        rec.order_id,
        rec.external_id,
        symbol,
        rec.instrument,
        side,
        EFFECT[event_type],
        action,
        amt.qty_e9,
        amt.price,
        rec.multiplier,
        amt.gross,
        amt.commission,
        amt.fee,
        when,
    )
    return Draft(
        fitid=fitid,
        group_id=group,
        event_type=event_type,
        trntype=trntype,
        ofx_aggregate=aggregate,
        ofx_subtype=subtype,
        dtposted=when,
        dttrade=when,
        currency=rec.currency,
        action=action,
        position_effect=EFFECT[event_type],
        source=ctx.source,
        content_hash=chash,
        legs=body,
        trade_id=rec.order_id,
        external_id=rec.external_id,
        symbol=rec.symbol,
        strategy=rec.strategy,
        tags=rec.tags,
        metadata=dict(rec.metadata),
        lot_opens=lot_opens,
        closures=closures,
        trade=trade,
    )
