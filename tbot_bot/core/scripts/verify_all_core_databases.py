"""Verify the four core databases (web_runtime §5, §2.3 step 5).

For each database: the file exists, the directory is 0700 and the file 0600, `user_version` is the
release's schema version, every table and column of the packaged DDL is present, and
`PRAGMA integrity_check` answers `ok`. Databases are opened read-only, so verifying never creates
or changes anything. The expected tables and columns come from running the packaged DDL in memory,
so the check can never drift from the schema files.
"""

from __future__ import annotations

import contextlib
import sqlite3
import stat
from pathlib import Path

from tbot_bot.config.path_resolver import CORE_DATABASES, RuntimePaths
from tbot_bot.core.database import (
    SCHEMA_VERSION,
    HomeLike,
    as_paths,
    connect,
    schema_sql,
)
from tbot_bot.errors import ConfigError


def expected_columns(db_name: str) -> dict[str, list[str]]:
    """Tables and their columns as the packaged DDL defines them."""
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        conn.executescript(schema_sql(db_name))
        return _table_columns(conn)


def _table_columns(conn: sqlite3.Connection) -> dict[str, list[str]]:
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    # table_info cannot take a bound table name; the names come from sqlite_master itself.
    return {
        table: [col[1] for col in conn.execute(f"PRAGMA table_info('{table}')")] for table in tables
    }


def _mode_problems(path: Path, expected: int, what: str) -> list[str]:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != expected:
        return [f"{what} {path} has mode {mode:04o}, expected {expected:04o}"]
    return []


def verify_database(paths: RuntimePaths, db_name: str) -> list[str]:
    """Problems found in one core database (empty list = it verifies)."""
    path = paths.core_db(db_name)
    if not path.exists():
        return [f"core database {path} is missing"]
    problems = _mode_problems(path, 0o600, "core database")
    try:
        with contextlib.closing(connect(paths, db_name, readonly=True)) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version != SCHEMA_VERSION:
                problems.append(
                    f"core database {path.name} has user_version {version}, "
                    f"expected {SCHEMA_VERSION}"
                )
            actual = _table_columns(conn)
            for table, columns in expected_columns(db_name).items():
                if table not in actual:
                    problems.append(f"core database {path.name} lacks table {table!r}")
                    continue
                missing = [col for col in columns if col not in actual[table]]
                if missing:
                    problems.append(
                        f"core database {path.name} table {table!r} lacks columns {missing}"
                    )
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                problems.append(f"core database {path.name} integrity_check: {result}")
    except (sqlite3.Error, ConfigError) as exc:
        problems.append(f"core database {path.name} cannot be read: {exc}")
    return problems


def verify(home: HomeLike | None = None) -> list[str]:
    """Verify all four core databases; returns every problem found (empty = all verify)."""
    paths = as_paths(home)
    problems: list[str] = []
    if paths.core_db_dir.exists():
        problems += _mode_problems(paths.core_db_dir, 0o700, "core database directory")
    for db_name in CORE_DATABASES:
        problems += verify_database(paths, db_name)
    return problems


def verify_or_raise(home: HomeLike | None = None) -> None:
    """Raise `ConfigError` listing every problem unless all four databases verify."""
    problems = verify(home)
    if problems:
        raise ConfigError("core databases do not verify: " + "; ".join(problems), problems)
