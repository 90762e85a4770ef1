"""Write sessions and the single-writer lock (accounting spec §1.2, §6.1, §8.4).

A session is one `sync_runs` row: the runner opens one per phase (`fills`), the sync one per run.
Its counters end up in `sync_runs.counts_json`; the status is `ok` when nothing was queued,
`partial` when some records were, `failed` when the session ended with an exception.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path

from tbot_bot.accounting.models import PostResult, PostStatus
from tbot_bot.config.fileio import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, ensure_dir
from tbot_bot.errors import LedgerError

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
