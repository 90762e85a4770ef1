"""Connections, numbered migrations and schema-drift checks (accounting spec §1.2).

Every connection gets `journal_mode=WAL, synchronous=FULL, foreign_keys=ON, busy_timeout=5000`.
Writers use autocommit mode and open every transaction themselves with `BEGIN IMMEDIATE`.
The schema of each file kind is the ordered list of `migrations/<kind>/NNNN_<name>.sql`; each
migration runs in one transaction, bumps `user_version` and writes a MIGRATION_APPLIED audit row.
The expected columns, triggers, views and indexes come from an in-memory database built from the
same files, so drift (a column added by hand, a dropped trigger) is found without a second copy of
the schema in Python.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tbot_bot.accounting import audit
from tbot_bot.errors import LedgerError

APPLICATION_ID = 1413631828  # 0x54424F54, "TBOT"
KINDS: tuple[str, ...] = ("coa", "ledger", "float")
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
AUDIT_TABLE = {"coa": "coa_audit_log", "ledger": "audit_trail", "float": "audit_trail"}
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    path: Path


@functools.cache
def migrations(kind: str) -> tuple[Migration, ...]:
    """The numbered migrations of one file kind, checked to run 1, 2, 3, ... without gaps."""
    if kind not in KINDS:
        raise LedgerError(f"unknown ledger file kind {kind!r}; known: {', '.join(KINDS)}")
    found: list[Migration] = []
    for path in sorted((MIGRATIONS_DIR / kind).glob("*.sql")):
        match = _MIGRATION_NAME.fullmatch(path.name)
        if not match:
            raise LedgerError(f"migration file {path} must be named NNNN_<name>.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    for expected, migration in enumerate(found, start=1):
        if migration.number != expected:
            raise LedgerError(f"migrations of {kind} must be numbered 1..n; found {migration.path}")
    return tuple(found)


def schema_version(kind: str) -> int:
    return len(migrations(kind))


def split_statements(text: str) -> list[str]:
    """Split a script into statements; trigger bodies keep their inner semicolons."""
    statements: list[str] = []
    buffer = ""
    for piece in text.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if _strip_comments(statement).strip(" ;\n"):
                statements.append(statement)
            buffer = ""
    if _strip_comments(buffer).strip(" ;\n"):
        raise LedgerError("migration script ends with an incomplete statement")
    return statements


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))


# -- connections -------------------------------------------------------------------------------
def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open one ledger file with the house PRAGMAs; readers use a `mode=ro` URI."""
    if readonly:
        if not path.exists():
            raise LedgerError(f"ledger file {path} does not exist")
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    else:
        conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    if not readonly:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.close()
            raise LedgerError(f"{path}: could not switch to WAL journal mode (got {mode!r})")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    # Performance only (durability is unchanged): the writer keeps up to 64 MiB of pages, so the
    # random-key indexes (FITIDs, hashes) of a large ledger stay in memory; readers map the file.
    conn.execute("PRAGMA mmap_size=268435456" if readonly else "PRAGMA cache_size=-65536")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` ... COMMIT, or ROLLBACK on any exception (nothing partial survives)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def raise_ledger_error(exc: sqlite3.Error, what: str) -> LedgerError:
    """Translate a trigger or constraint failure into a LedgerError that keeps SQLite's code."""
    return LedgerError(f"{what}: {exc}")


# -- migrations --------------------------------------------------------------------------------
def apply_migrations(
    conn: sqlite3.Connection, kind: str, *, actor: str, now_text: str
) -> list[int]:
    """Run every migration newer than `user_version`, each in its own transaction."""
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    if current and app_id != APPLICATION_ID:
        raise LedgerError(f"file is not a TradeBot {kind} ledger (application_id {app_id})")
    applied: list[int] = []
    for migration in migrations(kind):
        if migration.number <= current:
            continue
        with transaction(conn):
            if migration.number == 1:
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            for statement in split_statements(migration.path.read_text(encoding="utf-8")):
                conn.execute(statement)
            # PRAGMA takes no bound parameters; the value is an int from the file name.
            conn.execute(f"PRAGMA user_version={int(migration.number)}")
            audit.append(
                conn,
                AUDIT_TABLE[kind],
                ts_utc=now_text,
                event_type="MIGRATION_APPLIED",
                actor=actor,
                related_table="schema",
                related_id=f"{kind}:{migration.number:04d}_{migration.name}",
            )
        applied.append(migration.number)
    return applied


# -- expected schema ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SchemaShape:
    tables: dict[str, tuple[tuple[object, ...], ...]]
    objects: dict[tuple[str, str], str]  # (type, name) -> sql for triggers, views, indexes


def shape_of(conn: sqlite3.Connection) -> SchemaShape:
    tables: dict[str, tuple[tuple[object, ...], ...]] = {}
    objects: dict[tuple[str, str], str] = {}
    rows = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchall()
    for row in rows:
        if row[0] == "table":
            info = conn.execute(f'PRAGMA table_xinfo("{row[1]}")').fetchall()
            tables[row[1]] = tuple(tuple(col) for col in info)
        else:
            objects[(row[0], row[1])] = row[2] or ""
    return SchemaShape(tables, objects)


@functools.cache
def expected_shape(kind: str) -> SchemaShape:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for migration in migrations(kind):
            for statement in split_statements(migration.path.read_text(encoding="utf-8")):
                conn.execute(statement)
        return shape_of(conn)
    finally:
        conn.close()


def check_schema(conn: sqlite3.Connection, kind: str) -> list[tuple[str, str, str]]:
    """Compare a file with the migrations: list of (code, table/object, detail); [] = healthy."""
    problems: list[tuple[str, str, str]] = []
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    if app_id != APPLICATION_ID:
        problems.append(("SCHEMA_VERSION", "-", f"application_id {app_id} != {APPLICATION_ID}"))
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version != schema_version(kind):
        problems.append(
            ("SCHEMA_VERSION", "-", f"user_version {version} != {schema_version(kind)}")
        )
    expected, actual = expected_shape(kind), shape_of(conn)
    for table in sorted(set(expected.tables) | set(actual.tables)):
        if table not in actual.tables:
            problems.append(("SCHEMA_VERSION", table, "table missing"))
        elif table not in expected.tables:
            problems.append(("SCHEMA_VERSION", table, "unexpected table"))
        elif expected.tables[table] != actual.tables[table]:
            problems.append(("SCHEMA_VERSION", table, "columns differ from the migrations"))
    for key in sorted(set(expected.objects) | set(actual.objects)):
        kind_name = f"{key[0]} {key[1]}"
        if key not in actual.objects:
            code = "TRIGGER_MISSING" if key[0] == "trigger" else "SCHEMA_VERSION"
            problems.append((code, key[1], f"{kind_name} missing"))
        elif key not in expected.objects:
            problems.append(("SCHEMA_VERSION", key[1], f"unexpected {kind_name}"))
        elif expected.objects[key] != actual.objects[key]:
            code = "TRIGGER_MISSING" if key[0] == "trigger" else "SCHEMA_VERSION"
            problems.append((code, key[1], f"{kind_name} differs from the migrations"))
    return problems
