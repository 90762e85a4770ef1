"""Connections to the four core databases and their one-shot, idempotent initialisation.

Databases use `journal_mode=WAL` (set once at init, it persists in the file); connections set
`foreign_keys=ON` and `busy_timeout=5000` (web_runtime §5).
Each database file is created 0600 inside a 0700 directory before SQLite ever opens it, so there is
no moment at which the file exists with a looser mode. The DDL lives in
`tbot_bot/core/schemas/*.sql` and is read from the installed package.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from importlib import resources
from pathlib import Path

from tbot_bot.config.fileio import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, ensure_dir
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import ConfigError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000
SCHEMA_FILES: dict[str, str] = {
    "SYSTEM_USERS.db": "system_users_schema.sql",
    "SYSTEM_LOGS.db": "system_logs_schema.sql",
    "USER_ACTIVITY_MONITORING.db": "user_activity_monitoring_schema.sql",
    "PASSWORD_RESET_TOKENS.db": "password_reset_schema.sql",
}

HomeLike = str | os.PathLike[str] | RuntimePaths


def as_paths(home: HomeLike | None) -> RuntimePaths:
    """Accept a `RuntimePaths`, a home directory, or None (`TBOT_HOME` / checkout root)."""
    if isinstance(home, RuntimePaths):
        return home
    return RuntimePaths.for_home(home)


def schema_sql(db_name: str) -> str:
    """The DDL text for one core database, from the package."""
    if db_name not in SCHEMA_FILES:
        raise ConfigError(f"unknown core database {db_name!r}; known: {', '.join(SCHEMA_FILES)}")
    return (
        resources.files("tbot_bot.core.schemas")
        .joinpath(SCHEMA_FILES[db_name])
        .read_text(encoding="utf-8")
    )


def _configure(conn: sqlite3.Connection) -> sqlite3.Connection:
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def connect(paths: RuntimePaths, db_name: str, *, readonly: bool = False) -> sqlite3.Connection:
    """Open an existing core database (never creates one: a missing file is a ConfigError)."""
    path = paths.core_db(db_name)
    if not path.exists():
        raise ConfigError(
            f"core database {path} is missing (run the configuration page to initialise it)"
        )
    if readonly:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
        return _configure(conn)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    # journal_mode=WAL is set by `initialize` and persists in the file; setting it again on every
    # connection would cost a write lock each time.
    return _configure(conn)


def _create_private_file(path: Path) -> None:
    """Create an empty file with mode 0600 if it does not exist yet (O_EXCL: never truncates)."""
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        os.close(fd)


def initialize(home: HomeLike | None, db_name: str) -> Path:
    """Create or upgrade one core database in place; safe to run any number of times.

    Only `CREATE ... IF NOT EXISTS` and `INSERT OR IGNORE` run, so existing rows are never touched.
    A database that reports a newer `user_version` than this code knows is refused, not modified.
    """
    paths = as_paths(home)
    ddl = schema_sql(db_name)
    ensure_dir(paths.core_db_dir, PRIVATE_DIR_MODE)
    path = paths.core_db(db_name)
    _create_private_file(path)
    path.chmod(PRIVATE_FILE_MODE)
    with contextlib.closing(connect(paths, db_name)) as conn:
        # WAL lets the web read while the runtime writes.
        conn.execute("PRAGMA journal_mode=WAL")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"core database {path} has user_version {version}, newer than this release "
                f"supports ({SCHEMA_VERSION}); refusing to modify it"
            )
        conn.executescript(ddl)
        if version < SCHEMA_VERSION:
            # PRAGMA cannot take bound parameters; SCHEMA_VERSION is an int constant of this module.
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            sidecar.chmod(PRIVATE_FILE_MODE)
    logger.info("core database %s initialised (user_version=%d)", path.name, SCHEMA_VERSION)
    return path
