"""Corrections, opening balance and COA publishing on open `Books` (accounting spec §2.3, §6.4,
§8.4). Each operation is one `BEGIN IMMEDIATE` transaction on the ledger and needs an open
write session (which took the snapshots)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tbot_bot.accounting import audit, coa
from tbot_bot.accounting.cash_rules import activity_drafts
from tbot_bot.accounting.codec import (
    corrected_fitid,
    format_minor,
    ny_trading_day,
    parse_ts_text,
    plain_decimal,
    to_minor_exact,
)
from tbot_bot.accounting.corrections import (
    adjustment_draft,
    load_adjustable_lot,
    reclass_draft,
    reversal_draft,
)
from tbot_bot.accounting.intake import live_events, store_record
from tbot_bot.accounting.models import NormalizedRecord, OpeningPosition, PostResult, PostStatus
from tbot_bot.accounting.opening import opening_draft
from tbot_bot.accounting.rules import Refusal, RuleContext, fill_drafts
from tbot_bot.accounting.schema import transaction
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.clock import iso_utc
from tbot_bot.errors import LedgerError

if TYPE_CHECKING:
    from tbot_bot.accounting.books import Books


def reverse(books: Books, fitid: str, *, reason: str, actor: str) -> PostResult:
    """REVERSAL of one event (§5.4): lots restored (closes) or emptied (opens)."""
    books.require_session()
    books.require_active()
    try:
        with transaction(books.ledger):
            draft = reversal_draft(
                books.ledger, books.identity.string, fitid, reason=reason, dtposted=books.now_text()
            )
            result = books.write_events([draft], actor=actor)
    finally:
        books.lots.reset()
    return result


def reclass(
    books: Books, fitid: str, leg_no: int, new_code: str, *, reason: str, actor: str
) -> PostResult:
    books.require_session()
    books.require_active()
    with transaction(books.ledger):
        draft = reclass_draft(
            books.ledger,
            books.identity.string,
            fitid,
            leg_no,
            new_code,
            reason=reason,
            dtposted=books.now_text(),
        )
        return books.write_events([draft], actor=actor)


def adjust_opening_basis(
    books: Books, lot_id: int, new_basis: Decimal, *, reason: str, actor: str
) -> PostResult:
    """ADJUSTMENT of an opening-balance lot to `new_basis` (§4.2, §6.4, §8.4).

    `new_basis` is the money basis the lot's remaining quantity should carry (for a lot nothing
    has closed yet, its whole basis), in the lot's currency; more decimals than its minor unit
    are refused, never rounded. One transaction: the event, its `lot_adjustments` row and the
    EVENT_POSTED and ADJUSTMENT audit rows commit together or not at all.
    """
    books.require_session()
    books.require_active()
    if not isinstance(new_basis, Decimal) or not new_basis.is_finite():
        raise LedgerError(f"ADJUSTMENT: new basis {new_basis!r} must be a finite Decimal")
    if not reason.strip():
        raise LedgerError("ADJUSTMENT: a reason is required")
    with transaction(books.ledger):
        lot = load_adjustable_lot(books.ledger, lot_id)
        currency = str(lot["currency_code"])
        minor_unit = int(books.currencies[currency])
        new_minor = to_minor_exact(new_basis, minor_unit)
        if Decimal(new_minor).scaleb(-minor_unit) != new_basis:
            raise LedgerError(
                f"ADJUSTMENT: new basis {plain_decimal(new_basis)} has more decimals than "
                f"{currency} allows ({minor_unit})"
            )
        draft = adjustment_draft(
            books.ledger,
            books.identity.string,
            lot_id,
            new_basis_minor=new_minor,
            reason=reason,
            dtposted=books.now_text(),
        )
        result = books.write_events([draft], actor=actor)
        if not result.posted:  # n is the first free number, so only a logic error lands here
            raise LedgerError(f"ADJUSTMENT {draft.fitid[:12]} already exists")
        meta = draft.metadata
        audit.append(
            books.ledger,
            "audit_trail",
            ts_utc=books.now_text(),
            event_type="ADJUSTMENT",
            actor=actor,
            source="correction",
            related_table="lots",
            related_id=str(lot_id),
            group_id=draft.group_id,
            fitid=draft.fitid,
            sync_run_id=books.require_session().sync_run_id,
            mapping_version=books.mapping.version,
            before_json={
                "basis_remaining": format_minor(int(meta["old_basis_minor"]), minor_unit),
                "est_basis": bool(lot["est_basis"]),
            },
            after_json={"basis_remaining": format_minor(int(meta["new_basis_minor"]), minor_unit)},
            reason=reason,
            extra_json={
                "target_fitid": meta["target"],
                "basis_delta_minor": meta["basis_delta_minor"],
                "lot_reason": "ob_correction",
            },
        )
    return result


def correct(books: Books, record: NormalizedRecord, *, reason: str, actor: str) -> PostResult:
    """Approved correction of a changed broker record (§6.2): REVERSAL of the live events of
    its external id, then the corrected record under `sha256(old_FITID|v{n})` FITIDs."""
    session = books.require_session()
    books.require_active()
    try:
        with transaction(books.ledger):
            old = live_events(books.ledger, record.broker_code, record.external_id)
            if not old:
                raise LedgerError(f"no posted event for broker record {record.external_id}")
            for event in old:
                books.write_events(
                    [
                        reversal_draft(
                            books.ledger,
                            books.identity.string,
                            event.fitid,
                            reason=reason,
                            dtposted=books.now_text(),
                        )
                    ],
                    actor=actor,
                )
            books.lots.reset()
            raw_id, response_hash = store_record(
                books.ledger, record, books.now_text(), session.sync_run_id
            )
            ctx = RuleContext(
                books.identity.string,
                books.currencies[record.currency],
                books.mapping,
                books.shorting_enabled,
                source="correction",
            )
            build = fill_drafts if record.kind == "fill" else activity_drafts
            drafts = build(record, ctx, books.open_lots)
            if isinstance(drafts, Refusal):
                raise LedgerError(
                    f"corrected record cannot be posted: {drafts.reason_code} {drafts.reason}"
                )
            by_type = {event.event_type: event.fitid for event in old}
            stamped = []
            for draft in drafts:
                # The corrected FITID chains from the event it replaces (same event type), else
                # from the FITID the record would have had: sha256(old_FITID|v{n}), n = 2, 3, ...
                base = by_type.get(draft.event_type, draft.fitid)
                version = 2
                while books.ledger.execute(
                    sql("ledger_write", "fitid_exists"), {"fitid": corrected_fitid(base, version)}
                ).fetchone():
                    version += 1
                stamped.append(
                    replace(
                        draft,
                        fitid=corrected_fitid(base, version),
                        raw_record_id=raw_id,
                        response_hash=response_hash,
                        metadata={**draft.metadata, "corrects": base},
                    )
                )
            result = books.write_events(stamped, actor=actor)
            _resolve_queue(books, raw_id, result, actor=actor, reason=reason)
    finally:
        books.lots.reset()
    return result


def _resolve_queue(
    books: Books, raw_id: int, result: PostResult, *, actor: str, reason: str
) -> None:
    row = books.ledger.execute(
        sql("ledger_write", "queue_id"), {"raw_record_id": raw_id, "reason_code": "content_changed"}
    ).fetchone()
    if row is None or result.status is not PostStatus.POSTED:
        return
    books.ledger.execute(
        sql("ledger_write", "insert_resolution"),
        {
            "queue_id": int(row[0]),
            "resolution": "posted",
            "event_fitid": result.fitids[0],
            "actor": actor,
            "reason": reason,
            "at_utc": books.now_text(),
        },
    )
    audit.append(
        books.ledger,
        "audit_trail",
        ts_utc=books.now_text(),
        event_type="UNMAPPED_RESOLVED",
        actor=actor,
        related_table="unmapped_queue",
        related_id=str(row[0]),
        reason=reason,
        fitid=result.fitids[0],
    )


def resolve_queue_entry(
    books: Books, queue_id: int, *, resolution: str, actor: str, reason: str
) -> None:
    """Close an unmapped-queue row (`ignored` or `superseded`); audited."""
    if resolution not in {"ignored", "superseded"}:
        raise LedgerError("manual queue resolution must be 'ignored' or 'superseded'")
    with transaction(books.ledger):
        books.ledger.execute(
            sql("ledger_write", "insert_resolution"),
            {
                "queue_id": queue_id,
                "resolution": resolution,
                "event_fitid": None,
                "actor": actor,
                "reason": reason,
                "at_utc": books.now_text(),
            },
        )
        audit.append(
            books.ledger,
            "audit_trail",
            ts_utc=books.now_text(),
            event_type="UNMAPPED_RESOLVED",
            actor=actor,
            related_table="unmapped_queue",
            related_id=str(queue_id),
            reason=reason,
        )


def opening_balance(
    books: Books,
    positions: Sequence[OpeningPosition],
    cash_minor: int,
    cutover: datetime,
    *,
    actor: str,
    raw_record_ids: Sequence[int] = (),
    position_source: str = "manual",
) -> PostResult:
    """Post the OB once (§6.4); a second call, or a ledger with events, changes nothing."""
    books.require_session()
    books.require_active()
    if "opening_balances_posted" in books.meta:
        return PostResult(PostStatus.DUPLICATE, reason_code="opening_balance_exists")
    if int(books.ledger.execute(sql("ledger_write", "count_events")).fetchone()[0]):
        return PostResult(PostStatus.DUPLICATE, reason_code="ledger_not_empty")
    currency = books.meta.get("base_currency", "USD")
    draft = opening_draft(
        books.identity.string,
        positions,
        cash_minor,
        cutover,
        currency=currency,
        minor_unit=books.currencies[currency],
    )
    now = books.now_text()
    with transaction(books.ledger):
        result = (
            PostResult(PostStatus.POSTED)
            if draft is None
            else books.write_events([draft], actor=actor)
        )
        for key, value in (
            ("ob_cutover_utc", iso_utc(cutover)),
            ("opening_balances_posted", "empty" if draft is None else draft.fitid),
        ):
            books.ledger.execute(
                sql("ledger_write", "insert_meta"),
                {"key": key, "value": value, "set_at_utc": now, "set_by": actor},
            )
        audit.append(
            books.ledger,
            "audit_trail",
            ts_utc=now,
            event_type="OB_POSTED",
            actor=actor,
            fitid=None if draft is None else draft.fitid,
            sync_run_id=books.require_session().sync_run_id,
            mapping_version=books.mapping.version,
            extra_json={
                "position_source": position_source,
                "raw_record_ids": list(raw_record_ids),
                "positions": len(positions),
                "cash_minor": cash_minor,
            },
        )
    books.reload_meta()
    books.require_session().count(result)
    return result


def ledger_balances(books: Books) -> dict[str, int]:
    return {
        str(code): int(total)
        for code, total in books.ledger.execute(
            sql("ledger_write", "account_balances_all")
        ).fetchall()
    }


def _lot_accounts(books: Books) -> frozenset[str]:
    """Position accounts that hold open lots (they cannot be deactivated)."""
    accounts = set()
    for instrument, side in books.ledger.execute(sql("ledger_write", "open_lot_kinds")):
        accounts.add("2110" if side == "short" else "1112" if instrument == "option" else "1111")
    return frozenset(accounts)


def publish_coa(
    books: Books, changes: Sequence[Mapping[str, Any]], *, actor: str, reason: str
) -> str:
    """Publish a new COA version and copy it into the ledger mirror (§2.3)."""
    now = books.now_text()
    version = coa.publish(
        books.coa,
        changes,
        actor=actor,
        reason=reason,
        now=now,
        balances=ledger_balances(books),
        accounts_with_lots=_lot_accounts(books),
    )
    coa.sync_mirror(books.coa, books.ledger, actor=actor, now=now)
    books.reload_meta()
    return version


def rollback_coa(books: Books, to_version: str, *, actor: str, reason: str) -> str:
    now = books.now_text()
    version = coa.rollback(
        books.coa,
        to_version,
        actor=actor,
        reason=reason,
        now=now,
        balances=ledger_balances(books),
        accounts_with_lots=_lot_accounts(books),
    )
    coa.sync_mirror(books.coa, books.ledger, actor=actor, now=now)
    books.reload_meta()
    return version


def repair_float_links(books: Books) -> int:
    """Write the float event of every capital movement that lacks one; returns how many."""
    written = 0
    for row in books.ledger.execute(sql("ledger_write", "capital_events")).fetchall():
        amount = int(row["cash_minor"])
        kind = "INJECTION_RECEIVED" if amount > 0 else "RETURN_SENT"
        if books.float_ledger.has_event(f"{kind}|{row['FITID']}"):
            continue
        when = parse_ts_text(row["DTPOSTED"])
        written += books.float_ledger.record_capital_event(
            kind,
            ledger_fitid=row["FITID"],
            amount_minor=abs(amount),
            at_utc=row["DTPOSTED"],
            trading_day=ny_trading_day(when),
        )
    return written
