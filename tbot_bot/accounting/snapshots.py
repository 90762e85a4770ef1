"""Backup-API snapshots before each write session (accounting spec §8.4).

`src.backup(dst, pages=1024)` copies stepwise, so it never stalls the writer for long; the copy
is written to `<name>.db.tmp`, closed, fsynced, renamed and hashed. File names come from
`RuntimePaths.ledger_snapshot_file`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tbot_bot.accounting.codec import snapshot_stamp
from tbot_bot.config.fileio import PRIVATE_DIR_MODE, ensure_dir, fsync_dir
from tbot_bot.config.path_resolver import RuntimePaths

BACKUP_PAGES = 1024
_STAMP = re.compile(r"_(\d{8}T\d{9}Z)_")  # the stamp inside a snapshot file name
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Snapshot:
    kind: str
    path: Path
    sha256: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def backup_to(source: sqlite3.Connection, target: Path) -> str:
    """Copy a live database to `target` atomically; returns the copy's sha256."""
    tmp = target.with_name(target.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    destination = sqlite3.connect(tmp)
    try:
        source.backup(destination, pages=BACKUP_PAGES)
    finally:
        destination.close()
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(target)
    fsync_dir(target.parent)
    return file_sha256(target)


def take(
    paths: RuntimePaths,
    identity: str,
    connections: dict[str, sqlite3.Connection],
    *,
    now: datetime,
    sync_run_id: str,
) -> list[Snapshot]:
    """Snapshot each given file kind (coa, ledger, float) of one bot."""
    ensure_dir(paths.ledger_snapshots_dir, PRIVATE_DIR_MODE)
    stamp = snapshot_stamp(now)
    taken: list[Snapshot] = []
    for kind, conn in connections.items():
        target = paths.ledger_snapshot_file(identity, kind, stamp, sync_run_id)
        taken.append(Snapshot(kind, target, backup_to(conn, target)))
    return taken


def prune(paths: RuntimePaths, identity: str, *, now: datetime, retention_days: int) -> list[Path]:
    """Delete this bot's snapshots older than `retention_days` (LEDGER_SNAPSHOT_RETENTION_DAYS).

    The age comes from the stamp in the file name, not the file's mtime, so a copied or restored
    folder keeps its history. Files whose name does not parse are left alone.
    """
    folder = paths.ledger_snapshots_dir
    if retention_days < 1 or not folder.is_dir():
        return []
    cutoff = snapshot_stamp(now - timedelta(days=retention_days))
    removed: list[Path] = []
    for path in sorted(folder.glob(f"{identity}_BOT_*.db")):
        match = _STAMP.search(path.name)
        if match is not None and match.group(1) < cutoff:
            path.unlink()
            removed.append(path)
    if removed:
        fsync_dir(folder)
    return removed
