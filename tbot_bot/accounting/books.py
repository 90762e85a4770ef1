"""The writer side: `open_books` and `Books` (accounting spec §1.2, §1.5, §6.1).

One process writes a bot's ledgers: it holds an OS lock (`fcntl.flock` on
`control/locks/{ID}_BOT_ledger.lock`) for the life of its `Books`, writes only inside
`BEGIN IMMEDIATE`, and snapshots the files before each write session. A posting is all or
nothing: journal row, splits, seal, lots, trades row and audit row commit together or not at all.
Corrections, the opening balance and COA publishing live in `admin.py`; `Books` delegates.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tbot_bot.accounting import audit, coa
from tbot_bot.accounting.codec import parse_ts_text
from tbot_bot.accounting.drafts import Draft
from tbot_bot.accounting.floatbook import FloatBook
from tbot_bot.accounting.lots import LotReader, LotState
from tbot_bot.accounting.mapping import MappingSet, load_mapping
from tbot_bot.accounting.models import NormalizedRecord, OpeningPosition, PostResult, PostStatus
from tbot_bot.accounting.posting import WriteContext, write_draft
from tbot_bot.accounting.schema import check_schema, connect, transaction
from tbot_bot.accounting.session import Session, WriterLock, session_scope
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.accounting.store import create_ledgers, ledger_paths
from tbot_bot.clock import Clock, iso_utc
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.errors import LedgerError

logger = logging.getLogger(__name__)
# Cash activities that move contributed capital, and the float event they produce (§4.2, §7.2).
CAPITAL_EVENTS = {"DEPOSIT", "WITHDRAWAL", "JOURNAL_CASH"}


def open_books(
    outputs: BotOutputs,
    identity: BotIdentity,
    *,
    actor: str,
    paths: RuntimePaths,
    clock: Clock,
    shorting_enabled: bool = False,
) -> Books:
    """Lock, create/migrate, check the schema, sync the COA mirror and verify (§1.5).

    Schema drift is fatal (LedgerError). Any other verify error appends LOCKED to the status log,
    which blocks posting until an admin unlocks the ledger.
    """
    lock = WriterLock(paths.lock_file(f"{identity.string}_BOT_ledger"))
    conns: dict[str, sqlite3.Connection] = {}
    try:
        create_ledgers(outputs, identity, clock=clock)
        for kind, path in ledger_paths(outputs).items():
            conns[kind] = connect(path)
            drift = check_schema(conns[kind], kind)
            if drift:
                detail = "; ".join(f"{code} {table}: {text}" for code, table, text in drift)
                raise LedgerError(
                    f"SCHEMA_VERSION: {path.name} differs from its migrations: {detail}"
                )
        now = iso_utc(clock.now_utc())
        coa.sync_mirror(conns["coa"], conns["ledger"], actor=actor, now=now)
        books = Books(
            outputs,
            identity,
            conns,
            lock,
            actor=actor,
            paths=paths,
            clock=clock,
            shorting_enabled=shorting_enabled,
        )
    except BaseException:
        for conn in conns.values():
            conn.close()
        lock.release()
        raise
    books.after_open()
    return books


class Books:
    """A bot's ledgers opened for writing. Use as a context manager or call `close()`."""

    def __init__(
        self,
        outputs: BotOutputs,
        identity: BotIdentity,
        conns: dict[str, sqlite3.Connection],
        lock: WriterLock,
        *,
        actor: str,
        paths: RuntimePaths,
        clock: Clock,
        shorting_enabled: bool,
    ) -> None:
        self.outputs = outputs
        self.identity = identity
        self.actor = actor
        self.paths = paths
        self.clock = clock
        self.shorting_enabled = shorting_enabled
        self.ledger = conns["ledger"]
        self.coa = conns["coa"]
        self.float_conn = conns["float"]
        self.connections = conns
        self._lock = lock
        self.lots = LotReader()
        self.float_ledger = FloatBook(self.float_conn, identity, actor)
        self.mapping: MappingSet = load_mapping(self.coa)
        self._session: Session | None = None
        self.reload_meta()

    # -- lifecycle -----------------------------------------------------------------------------
    def after_open(self) -> None:
        """Verify on open; lock the ledger on any error; re-run idempotent cross-file links."""
        from tbot_bot.accounting.verify import verify  # verify imports the readers, not Books

        errors = [i for i in verify(self.outputs, self.identity) if i.is_error]
        if errors and self.ledger_status == "ACTIVE":
            summary = "; ".join(f"{i.code} {i.table} {i.ref}" for i in errors[:5])
            self.set_status("LOCKED", actor=self.actor, reason=f"verify: {summary}")
        self.repair_float_links()

    def close(self) -> None:
        for conn in self.connections.values():
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._lock.release()

    def __enter__(self) -> Books:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reload_meta(self) -> None:
        self.meta = dict(self.ledger.execute(sql("ledger_write", "select_meta")).fetchall())
        self.currencies = dict(self.ledger.execute(sql("coa", "select_currencies")).fetchall())
        mirror = coa.read_metadata(self.ledger)
        self.coa_version = str(mirror["coa_version"]) if mirror else coa.TEMPLATE_VERSION
        cutover = self.meta.get("ob_cutover_utc")
        self.cutover: datetime | None = parse_ts_text(cutover) if cutover else None

    @property
    def ledger_status(self) -> str:
        row = self.ledger.execute(sql("ledger_write", "current_status")).fetchone()
        return str(row[0]) if row else "ACTIVE"

    def set_status(self, status: str, *, actor: str, reason: str) -> None:
        """Append a status row (LOCKED blocks posting; ACTIVE unlocks; audited)."""
        now = self.now_text()
        before = self.ledger_status
        with transaction(self.ledger):
            self.ledger.execute(
                sql("ledger_write", "insert_status"),
                {"status": status, "at_utc": now, "actor": actor, "reason": reason},
            )
            audit.append(
                self.ledger,
                "audit_trail",
                ts_utc=now,
                event_type="STATUS_CHANGED",
                actor=actor,
                reason=reason,
                before_json={"status": before},
                after_json={"status": status},
            )
        logger.warning("ledger %s status %s -> %s: %s", self.identity, before, status, reason)

    def now_text(self) -> str:
        return iso_utc(self.clock.now_utc())

    # -- sessions ------------------------------------------------------------------------------
    def session(
        self,
        kind: str,
        sync_run_id: str | None = None,
        *,
        window_start_utc: str | None = None,
        window_end_utc: str | None = None,
        trigger: str | None = None,
    ) -> contextlib.AbstractContextManager[Session]:
        """Snapshot the three files, open a `sync_runs` row, and close it with counts at exit."""
        return session_scope(
            self,
            kind,
            sync_run_id,
            window_start_utc=window_start_utc,
            window_end_utc=window_end_utc,
            trigger=trigger,
        )

    @property
    def current_session(self) -> Session | None:
        return self._session

    def attach_session(self, session: Session | None) -> None:
        """Used by `session_scope` only: the one open session of these books (or None)."""
        if session is not None and self._session is not None:
            raise LedgerError("a write session is already open on these books")
        self._session = session

    def require_session(self) -> Session:
        if self._session is None:
            raise LedgerError("posting needs an open write session (use Books.session(...))")
        return self._session

    def require_active(self) -> None:
        if self.ledger_status != "ACTIVE":
            raise LedgerError(
                f"LEDGER_NOT_ACTIVE: the ledger is {self.ledger_status}; an admin must unlock it"
            )

    def write_context(self, actor: str | None = None) -> WriteContext:
        session = self._session
        return WriteContext(
            self.identity,
            self.mapping.version,
            self.coa_version,
            None if session is None else session.sync_run_id,
            actor or self.actor,
            self.now_text(),
        )

    # -- posting -------------------------------------------------------------------------------
    def post(self, record: NormalizedRecord) -> PostResult:
        """Post one broker record (fill or activity); idempotent by broker id + content."""
        return self.post_many([record])[0]

    def post_many(self, records: Sequence[NormalizedRecord]) -> list[PostResult]:
        """Post records in order in one durable transaction, each record atomic on its own.

        A hard error stops the batch: records before it are committed, the failing one leaves
        nothing behind, and the error is raised.
        """
        from tbot_bot.accounting.pipeline import post_many

        return post_many(self, records)

    def open_lots(self, symbol: str, side: str) -> list[LotState]:
        return self.lots.open_lots(self.ledger, symbol, side)

    def write_events(self, drafts: Sequence[Draft], actor: str | None = None) -> PostResult:
        """Write drafts in the open transaction; an existing FITID counts as a duplicate."""
        ctx = self.write_context(actor)
        for draft in drafts:
            if self.ledger.execute(
                sql("ledger_write", "fitid_exists"), {"fitid": draft.fitid}
            ).fetchone():
                return PostResult(PostStatus.DUPLICATE, (draft.fitid,), (draft.event_type,))
        for draft in drafts:
            write_draft(self.ledger, draft, ctx)
        return PostResult(
            PostStatus.POSTED, tuple(d.fitid for d in drafts), tuple(d.event_type for d in drafts)
        )

    def repair_float_links(self) -> int:
        """Write the float event of every capital movement that lacks one (idempotent)."""
        from tbot_bot.accounting import admin

        return admin.repair_float_links(self)

    # -- corrections and admin (admin.py) -------------------------------------------------------
    def reverse(self, fitid: str, *, reason: str, actor: str) -> PostResult:
        from tbot_bot.accounting import admin

        return admin.reverse(self, fitid, reason=reason, actor=actor)

    def reclass(
        self, fitid: str, leg_no: int, new_code: str, *, reason: str, actor: str
    ) -> PostResult:
        from tbot_bot.accounting import admin

        return admin.reclass(self, fitid, leg_no, new_code, reason=reason, actor=actor)

    def adjust_opening_basis(
        self, lot_id: int, new_basis: Decimal, *, reason: str, actor: str
    ) -> PostResult:
        from tbot_bot.accounting import admin

        return admin.adjust_opening_basis(self, lot_id, new_basis, reason=reason, actor=actor)

    def correct(self, record: NormalizedRecord, *, reason: str, actor: str) -> PostResult:
        from tbot_bot.accounting import admin

        return admin.correct(self, record, reason=reason, actor=actor)

    def post_opening_balance(
        self,
        positions: Sequence[OpeningPosition],
        cash_minor: int,
        cutover: datetime,
        *,
        actor: str,
        raw_record_ids: Sequence[int] = (),
        position_source: str = "manual",
    ) -> PostResult:
        """The OB event (§6.4); `position_source` and `raw_record_ids` go to its audit row."""
        from tbot_bot.accounting import admin

        return admin.opening_balance(
            self,
            positions,
            cash_minor,
            cutover,
            actor=actor,
            raw_record_ids=raw_record_ids,
            position_source=position_source,
        )

    def publish_coa(self, changes: Sequence[Mapping[str, Any]], *, actor: str, reason: str) -> str:
        from tbot_bot.accounting import admin

        return admin.publish_coa(self, changes, actor=actor, reason=reason)

    def rollback_coa(self, to_version: str, *, actor: str, reason: str) -> str:
        from tbot_bot.accounting import admin

        return admin.rollback_coa(self, to_version, actor=actor, reason=reason)
