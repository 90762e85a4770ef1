"""Open and migrate the runner state database (trading spec §7.6).

`<home>/tbot_bot/output/state/{ID}_BOT_STATE.db`: SQLite in WAL mode with `synchronous=FULL`
(a committed journal row survives a power cut: that is the point of writing it before sending
an order), foreign keys on, `PRAGMA user_version` = the number of the last applied migration.
Migrations are the numbered files `state_schema/NNNN_name.sql`, applied in order, each in one
transaction together with its `user_version` bump, so a crash leaves the old or the new schema.

Connections are opened in autocommit mode (`isolation_level=None`): writers open their own
`BEGIN IMMEDIATE ... COMMIT` through `transaction()`, so the moment of each commit is explicit.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from tbot_bot.config.fileio import OUTPUT_DIR_MODE, ensure_dir
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import ConfigError

logger = logging.getLogger(__name__)

SCHEMA_DIR = Path(__file__).resolve().parent / "state_schema"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_QUERY_HEADER = re.compile(r"^-- name: ([a-z0-9_]+)\s*$", re.MULTILINE)
BUSY_TIMEOUT_MS = 5000


def migrations(schema_dir: Path = SCHEMA_DIR) -> list[tuple[int, Path]]:
    """The numbered migration files, checked to run 1, 2, 3, ... without gaps."""
    found = sorted(
        (int(match.group(1)), path)
        for path in schema_dir.iterdir()
        if (match := _MIGRATION_NAME.fullmatch(path.name))
    )
    for expected, (number, path) in enumerate(found, start=1):
        if number != expected:
            raise ConfigError(f"state schema migration {path.name}: expected number {expected:04d}")
    return found


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, schema_dir: Path = SCHEMA_DIR) -> int:
    """Apply every migration newer than `user_version`; returns the resulting version."""
    current = schema_version(conn)
    available = migrations(schema_dir)
    if current > len(available):
        raise ConfigError(
            f"state database is at schema version {current}, newer than this code "
            f"({len(available)}): refusing to run an older bot against it"
        )
    for number, path in available[current:]:
        sql = path.read_text(encoding="utf-8")
        # executescript() cannot bind parameters; the version is our own integer, not input.
        script = f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number:d};\nCOMMIT;\n"
        try:
            conn.executescript(script)
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            logger.exception("state schema migration %s failed; nothing applied", path.name)
            raise
        logger.info("state database migrated to version %d (%s)", number, path.name)
    return schema_version(conn)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the state database at `path`."""
    if not path.parent.is_dir():
        ensure_dir(path.parent, OUTPUT_DIR_MODE)  # an existing folder keeps its own mode
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def open_state_db(paths: RuntimePaths, identity: str) -> sqlite3.Connection:
    """The state database of bot `identity` under the runtime home."""
    return connect(paths.state_db(identity))


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` ... `COMMIT`, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@cache
def named_queries(filename: str) -> dict[str, str]:
    """Statements of `state_schema/<filename>` keyed by their `-- name:` header."""
    text = (SCHEMA_DIR / filename).read_text(encoding="utf-8")
    parts = _QUERY_HEADER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        statement = body.strip()
        if name in queries or not statement:
            raise ConfigError(f"{filename}: query {name!r} is duplicated or empty")
        queries[name] = statement
    return queries
