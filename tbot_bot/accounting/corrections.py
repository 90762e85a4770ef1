"""Corrections: REVERSAL and RECLASS drafts (accounting spec §4.2, §5.4, §8.4).

Posted rows never change. A wrong event is reversed (every leg negated, same account, symbol and
lot) and, if needed, replaced by a new event; a wrong non-position account is fixed by a RECLASS
event. These builders read the target inside the writer's transaction and return drafts.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tbot_bot.accounting.coa import PROTECTED_FROM_RECLASS
from tbot_bot.accounting.codec import fitid_group_id, internal_fitid, sha256_hex
from tbot_bot.accounting.drafts import AdjustmentRow, Draft, Leg, negate
from tbot_bot.accounting.sqlfiles import sql
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
    n = 1
    while conn.execute(
        sql("ledger_write", "fitid_exists"),
        {"fitid": internal_fitid(bot_identity, "RECLASS", f"{prefix}{n}")},
    ).fetchone():
        n += 1
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
