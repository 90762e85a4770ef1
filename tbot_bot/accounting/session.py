"""Write sessions and the single-writer lock (accounting spec §1.2, §6.1, §8.4).

A session is one `sync_runs` row: the runner opens one per phase (`fills`), the sync one per run.
Its counters end up in `sync_runs.counts_json`; the status is `ok` when nothing was queued,
`partial` when some records were, `failed` when the session ended with an exception.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tbot_bot.accounting import audit, snapshots
from tbot_bot.accounting.codec import canonical_text
from tbot_bot.accounting.models import PostResult, PostStatus
from tbot_bot.accounting.schema import transaction
from tbot_bot.accounting.sqlfiles import sql
from tbot_bot.clock import iso_utc
from tbot_bot.config.fileio import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, ensure_dir
from tbot_bot.errors import LedgerError

if TYPE_CHECKING:
    from tbot_bot.accounting.books import Books

SESSION_KINDS = frozenset(
    {"fills", "sync", "holdings", "manual", "coa_publish", "export", "opening_balance", "eod"}
)
COUNT_KEYS = (
    "fetched",
    "inserted",
    "duplicates",
    "content_changed",
    "skipped_unmapped",
    "rejected",
)


@dataclass
class Session:
    """Counters of one open write session."""

    sync_run_id: str
    kind: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))

    def count(self, result: PostResult) -> None:
        if result.status is PostStatus.POSTED:
            self.counts["inserted"] += len(result.fitids)
        elif result.status is PostStatus.DUPLICATE:
            self.counts["duplicates"] += 1
        elif result.status is PostStatus.CONTENT_CHANGED:
            self.counts["content_changed"] += 1
        else:
            self.counts["skipped_unmapped"] += 1

    @property
    def status(self) -> str:
        queued = self.counts["skipped_unmapped"] + self.counts["content_changed"]
        return "partial" if queued or self.counts["rejected"] else "ok"


class WriterLock:
    """An exclusive `fcntl.flock` on the bot's ledger lock file, held until `release`."""

    def __init__(self, path: Path) -> None:
        ensure_dir(path.parent, PRIVATE_DIR_MODE)
        self.path = path
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise LedgerError(
                f"ledger lock {path.name} is held by another writer; only one process may "
                "write a bot's ledgers (send a request to the runner instead)"
            ) from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None


@contextlib.contextmanager
def session_scope(
    books: Books,
    kind: str,
    sync_run_id: str | None = None,
    *,
    window_start_utc: str | None = None,
    window_end_utc: str | None = None,
    trigger: str | None = None,
) -> Iterator[Session]:
    """Snapshot the three files, open a `sync_runs` row, and close it with counts at exit."""
    if kind not in SESSION_KINDS:
        raise LedgerError(f"session kind {kind!r} must be one of {sorted(SESSION_KINDS)}")
    if books.current_session is not None:
        raise LedgerError("a write session is already open on these books")
    run_id = sync_run_id or str(uuid.uuid4())
    now = books.clock.now_utc()
    taken = snapshots.take(
        books.paths, books.identity.string, books.connections, now=now, sync_run_id=run_id
    )
    ledger_snap = next(s for s in taken if s.kind == "ledger")
    with transaction(books.ledger):
        books.ledger.execute(
            sql("ledger_write", "insert_sync_run"),
            {
                "sync_run_id": run_id,
                "started_at_utc": iso_utc(now),
                "window_start_utc": window_start_utc,
                "window_end_utc": window_end_utc,
                "trigger": trigger or kind,
                "actor": books.actor,
                "credential_hash": None,
                "mapping_version": books.mapping.version,
                "coa_version": books.coa_version,
                "snapshot_path": str(ledger_snap.path),
                "snapshot_sha256": ledger_snap.sha256,
            },
        )
        for snap in taken:
            audit.append(
                books.ledger,
                "audit_trail",
                ts_utc=iso_utc(now),
                event_type="SNAPSHOT_TAKEN",
                actor=books.actor,
                sync_run_id=run_id,
                related_table=snap.kind,
                related_id=snap.path.name,
                extra_json={"sha256": snap.sha256},
            )
        audit.append(
            books.ledger,
            "audit_trail",
            ts_utc=iso_utc(now),
            event_type="SYNC_START",
            actor=books.actor,
            sync_run_id=run_id,
            source=kind,
        )
    session = Session(run_id, kind)
    books.attach_session(session)
    error: str | None = None
    try:
        yield session
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        books.attach_session(None)
        _finish_session(books, session, error)


def _finish_session(books: Books, session: Session, error: str | None) -> None:
    now = books.now_text()
    status = "failed" if error else session.status
    with transaction(books.ledger):
        books.ledger.execute(
            sql("ledger_write", "finish_sync_run"),
            {
                "sync_run_id": session.sync_run_id,
                "finished_at_utc": now,
                "status": status,
                "counts_json": canonical_text(session.counts),
                "error": error,
            },
        )
        audit.append(
            books.ledger,
            "audit_trail",
            ts_utc=now,
            event_type="SYNC_END",
            actor=books.actor,
            sync_run_id=session.sync_run_id,
            source=session.kind,
            after_json={"status": status, "counts": session.counts},
        )
