"""Posting rules for cash activities and option expiry (accounting spec §4.2 rows FEE ..
JOURNAL_CASH, OPTION_EXPIRE): pure functions from a record to drafts or a refusal.

Cash activities post `a = abs(net_amount)` by direction: a net amount of the wrong sign for its
activity (a negative dividend, a positive withholding) is refused as `invalid_field` rather than
booked backwards; only JOURNAL_CASH takes its direction from the sign.
"""

from __future__ import annotations

from collections.abc import Sequence

from tbot_bot.accounting.codec import (
    broker_fitid,
    fitid_group_id,
    qty_to_e9,
    to_minor_exact,
)
from tbot_bot.accounting.drafts import ClosureRow, Draft, Leg, TradeRow, legs, ofx_types
from tbot_bot.accounting.lots import LotState, allocate_close, open_qty
from tbot_bot.accounting.mapping import MappingMiss, MappingRule
from tbot_bot.accounting.models import NormalizedRecord
from tbot_bot.accounting.rules import LotsFor, Refusal, RuleContext, need, record_content_hash
from tbot_bot.clock import iso_utc
from tbot_bot.money import ZERO

_SIGN = {
    "DIVIDEND": 1,
    "CAPGAIN_DIST": 1,
    "INTEREST": 1,
    "FEE_REBATE": 1,
    "DEPOSIT": 1,
    "FEE": -1,
    "TAX_WITHHELD": -1,
    "WITHDRAWAL": -1,
}


def activity_drafts(
    rec: NormalizedRecord, ctx: RuleContext, lots_for: LotsFor, chash: str | None = None
) -> list[Draft] | Refusal:
    """Cash activities and option expiry (§4.2 rows FEE .. JOURNAL_CASH, OPTION_EXPIRE)."""
    try:
        rule = ctx.mapping.lookup(
            broker_code=rec.broker_code,
            record_kind="activity",
            activity_type=rec.activity_type,
            activity_subtype=rec.activity_subtype,
            side=rec.side,
            position_effect="none",
            symbol=rec.symbol,
            strategy=rec.strategy,
        )
    except MappingMiss as miss:
        return Refusal(miss.reason_code, str(miss))
    if rule.event_type == "OPTION_EXPIRE":
        return _expiry(rec, ctx, rule, lots_for, chash)
    net = to_minor_exact(need(rec.net_amount, "net_amount"), ctx.minor_unit)
    a, event_type, s = abs(net), rule.event_type, rule.slots
    expected = _SIGN.get(event_type)
    if a == 0 or (expected is not None and (net > 0) != (expected > 0)):
        return Refusal("invalid_field", f"{event_type} with net amount {rec.net_amount}")
    pairs: dict[str, tuple[str, str]] = {
        "DIVIDEND": ("cash", "income"),
        "CAPGAIN_DIST": ("cash", "income"),
        "INTEREST": ("cash", "income"),
        "FEE_REBATE": ("cash", "fee"),
        "FEE": ("fee", "cash"),
        "TAX_WITHHELD": ("tax", "cash"),
        "DEPOSIT": ("cash", "equity"),
        "WITHDRAWAL": ("equity", "cash"),
        "JOURNAL_CASH": ("cash", "equity") if net > 0 else ("equity", "cash"),
    }
    debit, credit = pairs[event_type]
    subtype = "CGLONG" if rec.activity_type == "DIVCGL" else "CGSHORT"
    trntype, aggregate, ofx_sub = ofx_types(event_type, "equity", subtype)
    fitid = broker_fitid(rec.broker_code, rec.account_id, rec.external_id, event_type)
    return [
        Draft(
            fitid=fitid,
            group_id=fitid_group_id(ctx.bot_identity, fitid),
            event_type=event_type,
            trntype=trntype,
            ofx_aggregate=aggregate,
            ofx_subtype=ofx_sub,
            dtposted=iso_utc(rec.dtposted),
            currency=rec.currency,
            action="other",
            position_effect="none",
            source=ctx.source,
            content_hash=chash or record_content_hash(rec, ctx.minor_unit),
            legs=legs(Leg(s[debit], a), Leg(s[credit], -a)),
            external_id=rec.external_id,
            symbol=rec.symbol,
            strategy=rec.strategy,
            tags=rec.tags,
            metadata=dict(rec.metadata),
            memo=rec.description or None,
        )
    ]


def _expiry(
    rec: NormalizedRecord,
    ctx: RuleContext,
    rule: MappingRule,
    lots_for: LotsFor,
    chash: str | None,
) -> list[Draft] | Refusal:
    symbol = need(rec.symbol, "symbol")
    lots: Sequence[LotState] = lots_for(symbol, "long")
    qty = qty_to_e9(rec.qty) if rec.qty is not None and rec.qty > ZERO else open_qty(lots)
    if qty <= 0 or open_qty(lots) < qty:
        return Refusal(
            "insufficient_inventory", f"expiry of {rec.symbol}: no such long option lots"
        )
    when = iso_utc(rec.dtposted)
    rows = allocate_close(lots, qty, 0, when, "long")
    basis = sum(r.basis_minor for r in rows)
    if basis == 0:
        return Refusal("sanity_bound", f"expiry of {rec.symbol}: closed basis is 0")
    fitid = broker_fitid(rec.broker_code, rec.account_id, rec.external_id, "OPTION_EXPIRE")
    trntype, aggregate, subtype = ofx_types("OPTION_EXPIRE", "option")
    lot_id = rows[0].lot_id if len(rows) == 1 else None
    trade = TradeRow(
        None,
        rec.external_id,
        symbol,
        "option",
        "sell",
        "close",
        "expire",
        qty,
        "0",
        rec.multiplier,
        0,
        0,
        0,
        when,
    )
    return [
        Draft(
            fitid=fitid,
            group_id=fitid_group_id(ctx.bot_identity, fitid),
            event_type="OPTION_EXPIRE",
            trntype=trntype,
            ofx_aggregate=aggregate,
            ofx_subtype=subtype,
            dtposted=when,
            dttrade=when,
            currency=rec.currency,
            action="expire",
            position_effect="close",
            source=ctx.source,
            content_hash=chash or record_content_hash(rec, ctx.minor_unit),
            legs=legs(
                Leg(rule.slots["pnl"], basis),
                Leg(rule.slots["asset"], -basis, symbol, -qty, None, lot_id),
            ),
            external_id=rec.external_id,
            symbol=rec.symbol,
            strategy=rec.strategy,
            tags=rec.tags,
            metadata=dict(rec.metadata),
            closures=tuple(ClosureRow(**vars(r)) for r in rows),
            trade=trade,
        )
    ]
