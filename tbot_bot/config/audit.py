"""Security audit events (web_runtime §4.11): a JSON line in `output/logs/security_users.log` and,
once the web bootstrap has created it, a row in `SYSTEM_LOGS.db`.

Audit entries carry names (keys, categories, actors), never secret values.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from typing import Any

from tbot_bot.clock import iso_utc, utc_now
from tbot_bot.config.fileio import OUTPUT_DIR_MODE, OUTPUT_FILE_MODE, ensure_dir
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.redact import redact

_SEVERITY = {"info": "low", "warning": "medium", "error": "high", "critical": "critical"}


def append_json_line(path: os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one JSON object as one `write()` so concurrent appenders never interleave lines."""
    line = (json.dumps(record, sort_keys=False, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, OUTPUT_FILE_MODE)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def audit_event(
    paths: RuntimePaths,
    event: str,
    message: str,
    *,
    level: str = "info",
    actor: str | None = None,
    module: str = "tbot_bot.config",
    log_name: str = "security_users.log",
    **fields: Any,
) -> None:
    """Record a security event; failures to mirror into SYSTEM_LOGS.db never hide the JSON line."""
    now = iso_utc(utc_now())
    record = {
        "ts_utc": now,
        "level": level,
        "bot_identity": None,
        "module": module,
        "event": event,
        "message": message,
        "user": actor,
        "extra": redact(fields),
    }
    ensure_dir(paths.global_logs_dir, OUTPUT_DIR_MODE)
    append_json_line(paths.global_log(log_name), record)
    db_path = paths.core_db("SYSTEM_LOGS.db")
    if not db_path.exists():
        return
    # The mirror is best effort: the JSON log above is the record of truth for the CLI.
    with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(db_path)) as conn:
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute(
            "INSERT INTO system_logs (occurred_at, log_type, event, severity, system_module,"
            " message, details, username) VALUES (?, 'security', ?, ?, ?, ?, ?, ?)",
            (
                now,
                event,
                _SEVERITY.get(level, "low"),
                module,
                message,
                json.dumps(record["extra"]),
                actor,
            ),
        )
        conn.commit()
