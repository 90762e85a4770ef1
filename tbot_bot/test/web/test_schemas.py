"""Core databases (web_runtime §5): DDL, idempotent init, verify."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.core.scripts import (
    init_password_reset_tokens,
    init_system_logs,
    init_system_users,
    init_user_activity_monitoring,
    verify_all_core_databases,
)

INITS = (
    init_system_users,
    init_system_logs,
    init_user_activity_monitoring,
    init_password_reset_tokens,
)
# Section-5 columns, written out from the spec.
SPEC_COLUMNS: dict[str, dict[str, set[str]]] = {
    "SYSTEM_USERS.db": {
        "system_users": {
            "id",
            "username",
            "email",
            "password_hash",
            "role",
            "account_status",
            "failed_login_attempts",
            "locked_until",
            "last_login_at",
            "last_login_ip",
            "password_changed_at",
            "created_at",
            "created_by",
            "updated_at",
            "updated_by",
        },
        "user_sessions": {
            "id",
            "user_id",
            "session_token_hash",
            "csrf_token",
            "data",
            "created_at",
            "last_seen_at",
            "expires_at",
            "ip_address",
            "user_agent",
            "session_status",
            "terminated_reason",
        },
        "user_audit_trails": {
            "id",
            "user_id",
            "action",
            "details",
            "performed_by",
            "performed_at",
            "ip_address",
        },
    },
    "SYSTEM_LOGS.db": {
        "system_logs": {
            "id",
            "occurred_at",
            "log_type",
            "event",
            "severity",
            "system_module",
            "message",
            "details",
            "user_id",
            "username",
            "source_ip",
            "is_resolved",
            "resolved_by",
            "resolved_at",
        },
    },
    "USER_ACTIVITY_MONITORING.db": {
        "user_activity_log": {
            "id",
            "occurred_at",
            "user_id",
            "username",
            "session_id",
            "action_type",
            "endpoint",
            "method",
            "status_code",
            "ip_address",
            "user_agent",
            "details",
        },
        "activity_type_reference": {"action_type", "description", "default_severity"},
    },
    "PASSWORD_RESET_TOKENS.db": {
        "password_reset_tokens": {
            "id",
            "user_id",
            "token_hash",
            "token_type",
            "created_at",
            "expires_at",
            "used_at",
            "invalidated_at",
            "request_ip",
            "user_agent",
            "created_by",
        },
        "password_reset_token_audit": {"id", "token_id", "action", "occurred_at", "ip_address"},
    },
}


@pytest.fixture
def paths(tbot_home: object) -> RuntimePaths:
    paths = RuntimePaths.for_home()
    for module in INITS:
        module.init(paths.home)
    return paths


def _connect(paths: RuntimePaths, name: str) -> sqlite3.Connection:
    return sqlite3.connect(paths.core_db(name))


def test_tables_columns_modes_version(paths: RuntimePaths) -> None:
    assert stat.S_IMODE(paths.core_db_dir.stat().st_mode) == 0o700
    for db_name, tables in SPEC_COLUMNS.items():
        assert stat.S_IMODE(paths.core_db(db_name).stat().st_mode) == 0o600
        conn = _connect(paths, db_name)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        for table, columns in tables.items():
            actual = {row[1] for row in conn.execute(f"PRAGMA table_info('{table}')")}
            assert columns <= actual, (db_name, table, columns - actual)
        conn.close()
    assert verify_all_core_databases.verify(paths.home) == []


def test_init_is_idempotent_and_keeps_rows(paths: RuntimePaths) -> None:
    conn = _connect(paths, "SYSTEM_LOGS.db")
    conn.execute(
        "INSERT INTO system_logs (occurred_at, event) VALUES ('2025-01-01T00:00:00.000Z', 'x')"
    )
    conn.commit()
    conn.close()
    for module in INITS:
        module.init(paths.home)
    conn = _connect(paths, "SYSTEM_LOGS.db")
    assert conn.execute("SELECT COUNT(*) FROM system_logs").fetchone()[0] == 1
    conn.close()
    conn = _connect(paths, "USER_ACTIVITY_MONITORING.db")
    assert conn.execute("SELECT COUNT(*) FROM activity_type_reference").fetchone()[0] == 6
    conn.close()


def test_constraints(paths: RuntimePaths) -> None:
    conn = _connect(paths, "SYSTEM_USERS.db")
    insert = (
        "INSERT INTO system_users (username, email, password_hash, role, "
        "password_changed_at, created_at) VALUES (?, ?, 'h', ?, 'now', 'now')"
    )
    conn.execute(insert, ("alice", "a@example.com", "viewer"))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(insert, ("ALICE", "b@example.com", "viewer"))  # NOCASE unique
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(insert, ("bob", "c@example.com", "root"))  # role check
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(insert, ("b@d", "d@example.com", "viewer"))  # username pattern
    conn.close()


def test_verify_reports_problems(paths: RuntimePaths) -> None:
    paths.core_db("SYSTEM_LOGS.db").chmod(0o644)
    conn = _connect(paths, "SYSTEM_USERS.db")
    conn.execute("PRAGMA user_version=7")
    conn.close()
    conn = _connect(paths, "PASSWORD_RESET_TOKENS.db")
    conn.execute("DROP TABLE password_reset_token_audit")
    conn.close()
    paths.core_db("USER_ACTIVITY_MONITORING.db").unlink()
    problems = " | ".join(verify_all_core_databases.verify(paths.home))
    assert "SYSTEM_LOGS.db has mode 0644" in problems
    assert "user_version 7" in problems
    assert "password_reset_token_audit" in problems
    assert "USER_ACTIVITY_MONITORING.db is missing" in problems
    with pytest.raises(Exception, match="do not verify"):
        verify_all_core_databases.verify_or_raise(paths.home)


def test_newer_schema_refused(paths: RuntimePaths) -> None:
    conn = _connect(paths, "SYSTEM_LOGS.db")
    conn.execute("PRAGMA user_version=2")
    conn.close()
    with pytest.raises(Exception, match="newer"):
        init_system_logs.init(paths.home)
