"""Writes one `Draft` inside the caller's `BEGIN IMMEDIATE` transaction (accounting spec §4.1).

Order: journal row (hash-chained, built whole in memory first) -> new lots -> splits -> seal ->
trades row -> closures and adjustments -> EVENT_POSTED audit row. The seal trigger refuses an
unbalanced event and the deferred FOREIGN KEY refuses an unsealed one at COMMIT, so the database
enforces the books even if this code were wrong.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from tbot_bot.accounting import audit
from tbot_bot.accounting.codec import canonical_text, chain_hash
from tbot_bot.accounting.drafts import Draft
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.config.identity import BotIdentity


@dataclass(frozen=True)
class WriteContext:
    identity: BotIdentity
    mapping_version: int
    coa_version: str
    sync_run_id: str | None
    actor: str
    now: str


def event_header(draft: Draft, ctx: WriteContext) -> dict[str, Any]:
    """Every stored column of the event except id, prev_hash, row_hash and datetime_utc."""
    return {
        "FITID": draft.fitid,
        "group_id": draft.group_id,
        "event_type": draft.event_type,
        "TRNTYPE": draft.trntype,
        "ofx_aggregate": draft.ofx_aggregate,
        "ofx_subtype": draft.ofx_subtype,
        "DTPOSTED": draft.dtposted,
        "dttrade": draft.dttrade,
        "dtsettle": draft.dtsettle,
        "trade_id": draft.trade_id,
        "external_id": draft.external_id,
        "entity_code": ctx.identity.entity_code,
        "jurisdiction_code": ctx.identity.jurisdiction_code,
        "broker_code": ctx.identity.broker_code,
        "bot_id": ctx.identity.bot_id,
        "currency_code": draft.currency,
        "symbol": draft.symbol,
        "action": draft.action,
        "position_effect": draft.position_effect,
        "strategy": draft.strategy,
        "tags": canonical_text(list(draft.tags)),
        "json_metadata": canonical_text(dict(draft.metadata)),
        "memo": draft.memo,
        "source": draft.source,
        "sync_run_id": ctx.sync_run_id,
        "mapping_version": ctx.mapping_version,
        "coa_version": ctx.coa_version,
        "raw_record_id": draft.raw_record_id,
        "response_hash": draft.response_hash,
        "content_hash": draft.content_hash,
        "reverses_event_id": draft.reverses_event_id,
        "created_at_utc": ctx.now,
        "created_by": ctx.actor,
    }


def write_draft(conn: sqlite3.Connection, draft: Draft, ctx: WriteContext) -> int:
    """Insert the whole event; returns its id. Any failure propagates (caller rolls back)."""
    draft.check()
    first_lot = int(conn.execute(sql("ledger_write", "max_lot_id")).fetchone()[0]) + 1
    lot_ids = [first_lot + i for i in range(len(draft.lot_opens))]
    splits: list[dict[str, Any]] = []
    for leg_no, leg in enumerate(draft.legs, start=1):
        lot_id = lot_ids[leg.new_lot] if leg.new_lot is not None else leg.lot_id
        splits.append(
            {
                "leg_no": leg_no,
                "FITID": f"{draft.fitid}:{leg_no}",
                "account_code": leg.account,
                "amount_minor": leg.amount_minor,
                "currency_code": draft.currency,
                "symbol": leg.symbol,
                "qty_e9": leg.qty_e9,
                "price": leg.price,
                "lot_id": lot_id,
                "memo": leg.memo,
            }
        )
    header = event_header(draft, ctx)
    prev = audit.head(conn, "journal_events")
    row = {
        **header,
        "prev_hash": prev,
        "row_hash": chain_hash(prev, audit.event_hash_row(header, splits)),
    }
    event_id = int(conn.execute(sql("ledger_write", "insert_event"), row).lastrowid or 0)
    for lot_id, lot in zip(lot_ids, draft.lot_opens, strict=True):
        conn.execute(
            sql("ledger_write", "insert_lot"),
            {
                "id": lot_id,
                "symbol": lot.symbol,
                "instrument": lot.instrument,
                "side": lot.side,
                "opened_event_id": event_id,
                "opened_at_utc": lot.opened_at_utc,
                "qty_e9": lot.qty_e9,
                "basis_minor": lot.basis_minor,
                "multiplier": lot.multiplier,
                "currency_code": draft.currency,
                "source": lot.source,
                "est_basis": int(lot.est_basis),
                "term_start_utc": lot.term_start_utc,
            },
        )
    conn.executemany(
        sql("ledger_write", "insert_split"), [{**s, "event_id": event_id} for s in splits]
    )
    conn.execute(
        sql("ledger_write", "insert_seal"),
        {
            "event_id": event_id,
            "FITID": draft.fitid,
            "leg_count": len(splits),
            "sealed_at_utc": ctx.now,
        },
    )
    if draft.trade is not None:
        conn.execute(
            sql("ledger_write", "insert_trade"), {**vars(draft.trade), "event_id": event_id}
        )
    if draft.closures:
        conn.executemany(
            sql("ledger_write", "insert_closure"),
            [{**vars(c), "close_event_id": event_id} for c in draft.closures],
        )
    if draft.adjustments:
        conn.executemany(
            sql("ledger_write", "insert_adjustment"),
            [{**vars(a), "event_id": event_id, "at_utc": ctx.now} for a in draft.adjustments],
        )
    audit.append(
        conn,
        "audit_trail",
        ts_utc=ctx.now,
        event_type="EVENT_REVERSED" if draft.event_type == "REVERSAL" else "EVENT_POSTED",
        actor=ctx.actor,
        source=draft.source,
        related_table="journal_events",
        related_id=str(event_id),
        group_id=draft.group_id,
        trade_id=draft.trade_id,
        fitid=draft.fitid,
        sync_run_id=ctx.sync_run_id,
        mapping_version=ctx.mapping_version,
    )
    return event_id
