"""The posting pipeline of one broker record (accounting spec §6.1 steps 5-11, §6.2).

raw record (stored once) -> still-queued check -> validation -> dedup by broker id + content
hash -> classification and posting rules -> write, all inside the caller's transaction, one
SAVEPOINT per record. Refused records go to the unmapped queue with a reason; a record whose
content changed after posting gets a `mismatch` reconciliation row and a queue entry.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from tbot_bot.accounting import audit
from tbot_bot.accounting.cash_rules import activity_drafts
from tbot_bot.accounting.intake import enqueue, live_events, recon_row, store_record
from tbot_bot.accounting.models import NormalizedRecord, PostResult, PostStatus
from tbot_bot.accounting.normalize import validate
from tbot_bot.accounting.rules import Refusal, RuleContext, fill_drafts, record_content_hash
from tbot_bot.accounting.session import Session
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.errors import LedgerError

if TYPE_CHECKING:
    from tbot_bot.accounting.books import Books

logger = logging.getLogger(__name__)
CAPITAL_EVENTS = {"DEPOSIT", "WITHDRAWAL", "JOURNAL_CASH"}


def post_many(books: Books, records: Sequence[NormalizedRecord]) -> list[PostResult]:
    """Post records in order in one durable transaction, each record atomic on its own.

    A hard error stops the batch: records before it are committed, the failing one leaves
    nothing behind, and the error is raised.
    """
    session = books.require_session()
    books.require_active()
    results: list[PostResult] = []
    failure: BaseException | None = None
    books.ledger.execute("BEGIN IMMEDIATE")
    try:
        for record in records:
            books.ledger.execute("SAVEPOINT record")
            try:
                result = _post_one(books, record, session)
            except BaseException as exc:  # noqa: BLE001 - re-raised after the commit below
                books.ledger.execute("ROLLBACK TO record")
                books.ledger.execute("RELEASE record")
                failure = exc
                break
            books.ledger.execute("RELEASE record")
            results.append(result)
        books.ledger.execute("COMMIT")
    except BaseException:
        books.ledger.execute("ROLLBACK")
        books.lots.reset()
        raise
    if failure is not None:
        books.lots.reset()
        session.counts["rejected"] += 1
        if isinstance(failure, sqlite3.Error):
            raise LedgerError(f"posting refused by the ledger: {failure}") from failure
        raise failure
    for result in results:
        session.count(result)
    if any(r.status is PostStatus.POSTED and set(r.event_types) & CAPITAL_EVENTS for r in results):
        books.repair_float_links()
    return results


def _post_one(books: Books, record: NormalizedRecord, session: Session) -> PostResult:
    if record.broker_code != books.identity.broker_code:
        raise LedgerError(
            f"record of broker {record.broker_code!r} in a {books.identity.broker_code} ledger"
        )
    conn, now = books.ledger, books.now_text()
    raw_id, response_hash = store_record(conn, record, now, session.sync_run_id)
    queued = conn.execute(
        sql("ledger_write", "open_queue_of_raw"), {"raw_record_id": raw_id}
    ).fetchone()
    if queued is not None:
        # A queued record stays queued until an admin resolves it; re-delivery must not post
        # it later against a different lot state (only a future_date refusal is transient).
        return PostResult(
            PostStatus.QUEUED, reason_code=queued[1], detail=queued[2], queue_id=int(queued[0])
        )
    refusal = validate(
        record, now=books.clock.now_utc(), cutover=books.cutover, currencies=books.currencies
    )
    if refusal is not None:
        return queue_refusal(books, raw_id, Refusal(*refusal), record)
    minor = books.currencies[record.currency]
    chash = record_content_hash(record, minor)
    existing = live_events(conn, record.broker_code, record.external_id)
    if existing:
        fitids = tuple(e.fitid for e in existing)
        if all(e.content_hash == chash for e in existing):
            return PostResult(PostStatus.DUPLICATE, fitids, tuple(e.event_type for e in existing))
        return content_changed(books, raw_id, record, fitids)
    ctx = RuleContext(books.identity.string, minor, books.mapping, books.shorting_enabled)
    build = fill_drafts if record.kind == "fill" else activity_drafts
    drafts = build(record, ctx, books.open_lots, chash)
    if isinstance(drafts, Refusal):
        return queue_refusal(books, raw_id, drafts, record)
    stamped = [replace(d, raw_record_id=raw_id, response_hash=response_hash) for d in drafts]
    return books.write_events(stamped)


def queue_refusal(
    books: Books, raw_id: int, refusal: Refusal, record: NormalizedRecord
) -> PostResult:
    now, run_id = books.now_text(), books.require_session().sync_run_id
    queue_id = enqueue(
        books.ledger,
        raw_record_id=raw_id,
        reason_code=refusal.reason_code,
        reason=refusal.reason,
        mapping_version=books.mapping.version,
        now=now,
        sync_run_id=run_id,
    )
    if refusal.reason_code == "insufficient_inventory":
        recon_row(
            books.ledger,
            books.identity,
            recon_type="record",
            status="mismatch",
            now=now,
            sync_run_id=run_id,
            raw_record=raw_id,
            trade_id=record.order_id,
            notes=refusal.reason,
            error_code="insufficient_inventory",
            json_metadata={
                "symbol": record.symbol,
                "external_id": record.external_id,
                "client_order_id": record.client_order_id,
            },
        )
    audit.append(
        books.ledger,
        "audit_trail",
        ts_utc=now,
        event_type="RECORD_QUEUED",
        actor=books.actor,
        related_table="unmapped_queue",
        related_id=str(queue_id),
        sync_run_id=run_id,
        reason=f"{refusal.reason_code}: {refusal.reason}",
        mapping_version=books.mapping.version,
    )
    logger.info("queued %s %s: %s", record.external_id, refusal.reason_code, refusal.reason)
    return PostResult(
        PostStatus.QUEUED,
        reason_code=refusal.reason_code,
        detail=refusal.reason,
        queue_id=queue_id,
    )


def content_changed(
    books: Books, raw_id: int, record: NormalizedRecord, fitids: tuple[str, ...]
) -> PostResult:
    now, run_id = books.now_text(), books.require_session().sync_run_id
    recon_row(
        books.ledger,
        books.identity,
        recon_type="record",
        status="mismatch",
        now=now,
        sync_run_id=run_id,
        raw_record=raw_id,
        ledger_entry_id=fitids[0],
        trade_id=record.order_id,
        error_code="content_changed",
        notes=f"broker record {record.external_id} changed after posting",
        json_metadata={"symbol": record.symbol, "client_order_id": record.client_order_id},
    )
    queue_id = enqueue(
        books.ledger,
        raw_record_id=raw_id,
        reason_code="content_changed",
        reason=f"record {record.external_id} differs from the posted event",
        mapping_version=books.mapping.version,
        now=now,
        sync_run_id=run_id,
    )
    return PostResult(
        PostStatus.CONTENT_CHANGED,
        fitids,
        reason_code="content_changed",
        detail="posted event differs from the broker record",
        queue_id=queue_id,
    )
