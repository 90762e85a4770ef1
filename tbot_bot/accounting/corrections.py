"""Corrections: REVERSAL, RECLASS and ADJUSTMENT drafts (accounting spec §4.2, §5.4, §6.4, §8.4).

Posted rows never change. A wrong event is reversed (every leg negated, same account, symbol and
lot) and, if needed, replaced by a new event; a wrong non-position account is fixed by a RECLASS
event; an estimated opening-balance basis is fixed by an ADJUSTMENT event plus a `lot_adjustments`
row. These builders read the target inside the writer's transaction and return drafts.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from typing import Any

from tbot_bot.accounting.coa import PROTECTED_FROM_RECLASS
from tbot_bot.accounting.codec import fitid_group_id, internal_fitid, parse_ts_text, sha256_hex
from tbot_bot.accounting.drafts import AdjustmentRow, Draft, Leg, negate
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.clock import iso_utc
from tbot_bot.errors import LedgerError

_OPPOSITE_AGGREGATE = {
    "BUYSTOCK": "SELLSTOCK",
    "SELLSTOCK": "BUYSTOCK",
    "BUYOPT": "SELLOPT",
    "SELLOPT": "BUYOPT",
}
_OPPOSITE_SUBTYPE = {
    "BUY": "SELL",
    "SELL": "BUY",
    "BUYTOCOVER": "SELLSHORT",
    "SELLSHORT": "BUYTOCOVER",
    "BUYTOOPEN": "SELLTOCLOSE",
    "SELLTOCLOSE": "BUYTOOPEN",
}


def load_event(conn: sqlite3.Connection, fitid: str) -> dict[str, Any]:
    row = conn.execute(sql("ledger_write", "event_by_fitid"), {"fitid": fitid}).fetchone()
    if row is None:
        raise LedgerError(f"no event with FITID {fitid}")
    return dict(row)


def load_legs(conn: sqlite3.Connection, event_id: int) -> list[Leg]:
    rows = conn.execute(sql("ledger_write", "splits_of_event"), {"event_id": event_id})
    return [
        Leg(
            r["account_code"],
            r["amount_minor"],
            r["symbol"],
            r["qty_e9"],
            r["price"],
            r["lot_id"],
            None,
            r["memo"],
        )
        for r in rows
    ]


def _lot_adjustments(conn: sqlite3.Connection, event_id: int) -> list[AdjustmentRow]:
    """Lot effects of reversing `event_id` (§5.4)."""
    adjustments = [
        AdjustmentRow(int(c["lot_id"]), int(c["qty_e9"]), int(c["basis_minor"]), "reversal")
        for c in conn.execute(sql("ledger_write", "closures_of_event"), {"event_id": event_id})
    ]
    for lot in conn.execute(
        sql("ledger_write", "lots_of_event"), {"event_id": event_id}
    ).fetchall():
        lot_id = int(lot["id"])
        live = conn.execute(sql("ledger_write", "live_closures_of_lot"), {"lot_id": lot_id})
        if int(live.fetchone()[0]) > 0:
            raise LedgerError(
                f"REVERSE_DEPENDENTS_FIRST: lot {lot_id} opened by this event has closures; "
                "reverse the closing events first"
            )
        qty, basis, _, _ = conn.execute(
            sql("ledger_write", "lot_remaining"), {"lot_id": lot_id}
        ).fetchone()
        if int(qty) or int(basis):
            adjustments.append(AdjustmentRow(lot_id, -int(qty), -int(basis), "reversal"))
    return adjustments


def reversal_draft(
    conn: sqlite3.Connection, bot_identity: str, target_fitid: str, *, reason: str, dtposted: str
) -> Draft:
    """REVERSAL of one event: legs negated, lots restored or emptied, `reverses_event_id` set."""
    target = load_event(conn, target_fitid)
    if target["event_type"] == "REVERSAL":
        raise LedgerError("a REVERSAL cannot itself be reversed; post a new event instead")
    if target["event_type"] == "OPENING_BALANCE":
        raise LedgerError("the opening balance is corrected by ADJUSTMENT events, not reversed")
    if target["event_type"] == "ADJUSTMENT":
        # Reversing one would negate its legs without undoing its `lot_adjustments` row (lots and
        # ledger would disagree); a wrong basis fix is itself fixed by a further ADJUSTMENT.
        raise LedgerError(
            "an ADJUSTMENT is not reversed; post another ADJUSTMENT of the lot to the right basis"
        )
    body = negate(load_legs(conn, int(target["id"])))
    cash = sum(leg.amount_minor for leg in body if leg.account == "1030")
    trntype = "DEBIT" if cash < 0 else "CREDIT" if cash > 0 else "OTHER"
    aggregate = target["ofx_aggregate"]
    if aggregate in _OPPOSITE_AGGREGATE:
        aggregate, subtype = (
            _OPPOSITE_AGGREGATE[aggregate],
            _OPPOSITE_SUBTYPE.get(target["ofx_subtype"]),
        )
    elif aggregate in {"INCOME", "INVBANKTRAN", "INVEXPENSE"}:
        aggregate, subtype = "INVBANKTRAN", None
    else:
        aggregate, subtype = "NONE", None
    fitid = internal_fitid(bot_identity, "REVERSAL", f"{target_fitid}|REV")
    return Draft(
        fitid=fitid,
        group_id=fitid_group_id(bot_identity, fitid),
        event_type="REVERSAL",
        trntype=trntype,
        ofx_aggregate=aggregate,
        ofx_subtype=subtype,
        dtposted=max(dtposted, target["DTPOSTED"]),
        currency=target["currency_code"],
        action=target["action"],
        position_effect=target["position_effect"],
        source="correction",
        content_hash=sha256_hex(f"REVERSAL|{target_fitid}"),
        legs=body,
        trade_id=target["trade_id"],
        symbol=target["symbol"],
        strategy=target["strategy"],
        tags=tuple(json.loads(target["tags"])),
        metadata={"reason": reason, "reverses": target_fitid},
        memo=f"reverses={target_fitid}",
        reverses_event_id=int(target["id"]),
        adjustments=tuple(_lot_adjustments(conn, int(target["id"]))),
    )


def reclass_draft(
    conn: sqlite3.Connection,
    bot_identity: str,
    target_fitid: str,
    leg_no: int,
    new_code: str,
    *,
    reason: str,
    dtposted: str,
) -> Draft:
    """Move one leg's amount from its account to `new_code` (never on position/P&L accounts)."""
    target = load_event(conn, target_fitid)
    legs_of = {i: leg for i, leg in enumerate(load_legs(conn, int(target["id"])), start=1)}
    if leg_no not in legs_of:
        raise LedgerError(f"event {target_fitid[:12]} has no leg {leg_no}")
    wrong = legs_of[leg_no]
    if wrong.account in PROTECTED_FROM_RECLASS or new_code in PROTECTED_FROM_RECLASS:
        raise LedgerError(
            f"RECLASS is not allowed on {sorted(PROTECTED_FROM_RECLASS)}; use REVERSAL + new event"
        )
    if new_code == wrong.account:
        raise LedgerError("RECLASS to the same account changes nothing")
    prefix = f"{target_fitid}|RECLASS|"
    n = _next_number(conn, bot_identity, "RECLASS", prefix)
    fitid = internal_fitid(bot_identity, "RECLASS", f"{prefix}{n}")
    return Draft(
        fitid=fitid,
        group_id=fitid_group_id(bot_identity, fitid),
        event_type="RECLASS",
        trntype="OTHER",
        ofx_aggregate="NONE",
        ofx_subtype=None,
        dtposted=dtposted,
        currency=target["currency_code"],
        action="other",
        position_effect="none",
        source="correction",
        content_hash=sha256_hex(f"RECLASS|{target_fitid}|{leg_no}|{new_code}|{n}"),
        legs=(Leg(new_code, wrong.amount_minor), Leg(wrong.account, -wrong.amount_minor)),
        symbol=target["symbol"],
        metadata={"reason": reason, "target": target_fitid, "leg_no": leg_no},
        memo=f"reclass={target_fitid}:{leg_no}",
    )


def _next_number(conn: sqlite3.Connection, bot_identity: str, event_type: str, prefix: str) -> int:
    """The first n whose internal FITID `{prefix}{n}` is unused (1, 2, ...)."""
    n = 1
    while conn.execute(
        sql("ledger_write", "fitid_exists"),
        {"fitid": internal_fitid(bot_identity, event_type, f"{prefix}{n}")},
    ).fetchone():
        n += 1
    return n


def load_adjustable_lot(conn: sqlite3.Connection, lot_id: int) -> dict[str, Any]:
    """An opening-balance lot that is still open, with its remaining qty and basis.

    Raises LedgerError for an unknown lot, a lot of any other source (those are fixed by a
    REVERSAL of their event and a new event) and a lot with nothing left open (its gain is
    already realized against the old basis: reverse the closing events first).
    """
    row = conn.execute(sql("ledger_write", "adjustable_lot"), {"lot_id": lot_id}).fetchone()
    if row is None:
        raise LedgerError(f"ADJUSTMENT: no lot with id {lot_id}")
    lot = dict(row)
    if lot["source"] != "opening_balance":
        raise LedgerError(
            f"ADJUSTMENT: lot {lot_id} has source {lot['source']!r}; only opening_balance lots "
            "get basis fixes, correct this one with a REVERSAL of its event and a new event"
        )
    if int(lot["qty_remaining_e9"]) <= 0:
        raise LedgerError(
            f"ADJUSTMENT: lot {lot_id} ({lot['symbol']}) is fully closed; reverse its closing "
            "events first, then adjust the basis and post them again"
        )
    return lot


def adjustment_draft(
    conn: sqlite3.Connection,
    bot_identity: str,
    lot_id: int,
    *,
    new_basis_minor: int | None = None,
    delta_minor: int | None = None,
    reason: str,
    dtposted: str,
) -> Draft:
    """ADJUSTMENT of an opening-balance lot's basis by a signed d (§4.2, §5.1, §6.4).

    Give exactly one of `new_basis_minor` (the basis the lot's remaining quantity should carry)
    or `delta_minor` (d). Long lot: 1111/1112 +d [sym] against 3030 -d; short lot: 3030 +d
    against 2110 -d [sym]; a negative d flips both legs. The lot row never changes: a
    `lot_adjustments` row (qty 0, basis d, reason `ob_correction`) moves its remaining basis, and
    the event's metadata keeps the old and new basis (tag EST_BASIS_FIXED when the OB estimated
    it). FITID = internal `{OB FITID}|ADJ|{n}`, n = 1, 2, ... per target OB event.
    """
    if (new_basis_minor is None) == (delta_minor is None):
        raise LedgerError("ADJUSTMENT needs exactly one of new_basis_minor or delta_minor")
    lot = load_adjustable_lot(conn, lot_id)
    old_basis = int(lot["basis_remaining_minor"])
    delta = delta_minor if delta_minor is not None else int(new_basis_minor or 0) - old_basis
    if delta == 0:
        raise LedgerError(
            f"ADJUSTMENT: lot {lot_id} already has basis {old_basis}; nothing to adjust"
        )
    new_basis = old_basis + delta
    if new_basis < 0:
        raise LedgerError(
            f"ADJUSTMENT: lot {lot_id} basis {old_basis} + {delta} = {new_basis}; "
            "a basis must stay >= 0"
        )
    symbol, target = str(lot["symbol"]), str(lot["opened_fitid"])
    if lot["side"] == "long":
        account = "1112" if lot["instrument"] == "option" else "1111"
        body = (Leg(account, delta, symbol, lot_id=lot_id), Leg("3030", -delta))
    else:
        body = (Leg("3030", delta), Leg("2110", -delta, symbol, lot_id=lot_id))
    prefix = f"{target}|ADJ|"
    n = _next_number(conn, bot_identity, "ADJUSTMENT", prefix)
    fitid = internal_fitid(bot_identity, "ADJUSTMENT", f"{prefix}{n}")
    # Never dated at or before the OB itself (verify's OB_ORDER check).
    after_ob = iso_utc(parse_ts_text(str(lot["opened_dtposted"])) + timedelta(milliseconds=1))
    estimated = bool(lot["est_basis"])
    return Draft(
        fitid=fitid,
        group_id=fitid_group_id(bot_identity, fitid),
        event_type="ADJUSTMENT",
        trntype="OTHER",
        ofx_aggregate="NONE",
        ofx_subtype=None,
        dtposted=max(dtposted, after_ob),
        currency=str(lot["currency_code"]),
        action="other",
        position_effect="none",
        source="correction",
        content_hash=sha256_hex(f"ADJUSTMENT|{target}|{lot_id}|{delta}|{n}"),
        legs=body,
        symbol=symbol,
        tags=("EST_BASIS_FIXED",) if estimated else (),
        metadata={
            "reason": reason,
            "target": target,
            "lot_id": lot_id,
            "adjustment_no": n,
            "old_basis_minor": old_basis,
            "new_basis_minor": new_basis,
            "basis_delta_minor": delta,
            "est_basis": estimated,
        },
        memo=f"ob_correction lot={lot_id} basis {old_basis}->{new_basis}",
        adjustments=(AdjustmentRow(lot_id, 0, delta, "ob_correction"),),
    )
