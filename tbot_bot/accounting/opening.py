"""Opening balance at the cutover (accounting spec §4.2 OPENING_BALANCE, §6.4).

Positions and cash are read at the cutover; only later activities are imported, so nothing is
counted twice. One event, one lot per position; DTPOSTED = cutover - 1 ms, strictly before every
imported event. A position without a broker basis uses its market value (`est_basis=1`, tag
EST_BASIS); later fixes are ADJUSTMENT events, OB rows never change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tbot_bot.accounting.codec import internal_fitid, qty_to_e9, sha256_hex, to_minor_exact
from tbot_bot.accounting.drafts import Draft, Leg, LotOpen
from tbot_bot.accounting.models import OpeningPosition
from tbot_bot.clock import iso_utc, require_utc
from tbot_bot.errors import LedgerError
from tbot_bot.money import ZERO


def opening_draft(
    bot_identity: str,
    positions: Sequence[OpeningPosition],
    cash_minor: int,
    cutover: datetime,
    *,
    currency: str,
    minor_unit: int,
) -> Draft | None:
    """The OB event, or None when cash and every position are zero."""
    cutover = require_utc(cutover, "opening balance cutover")
    posted = iso_utc(cutover - timedelta(milliseconds=1))
    legs: list[Leg] = []
    lots: list[LotOpen] = []
    estimated = False
    if cash_minor > 0:
        legs.append(Leg("1030", cash_minor))
    for position in positions:
        if position.qty == ZERO:
            continue
        basis_source = position.basis if position.basis is not None else position.market_value
        if basis_source is None:
            raise LedgerError(f"opening position {position.symbol}: no basis and no market value")
        estimated = estimated or position.basis is None
        basis = to_minor_exact(abs(basis_source), minor_unit)
        qty = qty_to_e9(abs(position.qty))
        if basis == 0:
            raise LedgerError(f"opening position {position.symbol}: basis rounds to 0")
        long = position.qty > ZERO
        term = iso_utc(position.acquired_at) if position.acquired_at is not None else None
        lots.append(
            LotOpen(
                position.symbol,
                position.instrument,
                "long" if long else "short",
                qty,
                basis,
                position.multiplier,
                posted,
                source="opening_balance",
                est_basis=position.basis is None,
                term_start_utc=term,
            )
        )
        account = ("1112" if position.instrument == "option" else "1111") if long else "2110"
        signed = basis if long else -basis
        legs.append(
            Leg(
                account, signed, position.symbol, qty if long else -qty, None, new_lot=len(lots) - 1
            )
        )
    if cash_minor < 0:
        legs.append(Leg("1030", cash_minor))
    if not legs:
        return None
    plug = -sum(leg.amount_minor for leg in legs)
    if plug:
        legs.append(Leg("3030", plug))
    cutover_date = cutover.date().isoformat()
    fitid = internal_fitid(bot_identity, "OPENING_BALANCE", cutover_date)
    return Draft(
        fitid=fitid,
        group_id=f"OPENING_BALANCE_{cutover:%Y%m%d}",
        event_type="OPENING_BALANCE",
        trntype="OTHER",
        ofx_aggregate="NONE",
        ofx_subtype=None,
        dtposted=posted,
        currency=currency,
        action="other",
        position_effect="open",
        source="opening_balance",
        content_hash=sha256_hex(f"OPENING_BALANCE|{bot_identity}|{cutover_date}"),
        legs=tuple(legs),
        tags=("EST_BASIS",) if estimated else (),
        metadata={"cutover_utc": iso_utc(cutover)},
        lot_opens=tuple(lots),
    )
