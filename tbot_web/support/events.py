"""Web log lines (JSON Lines, web_runtime §8.7) and their database mirrors (§4.11, §5).

- `log_line`: one redacted JSON object per line in `output/logs/<name>`.
- `security_event`: a log line plus a `system_logs` row in `SYSTEM_LOGS.db`.
- `activity`: a `user_activity_log` row in `USER_ACTIVITY_MONITORING.db` plus a line in
  `user_activity_monitoring.log`.

Database mirrors are skipped before the bootstrap has created the databases; a failing mirror is
logged and never breaks the request (the JSON line is already written).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from flask import g, has_request_context, request

from tbot_bot.clock import iso_utc
from tbot_bot.config.audit import append_json_line
from tbot_bot.config.fileio import OUTPUT_DIR_MODE, ensure_dir
from tbot_bot.config.redact import redact, redact_text
from tbot_web.support.context import ctx
from tbot_web.support.sql import query

logger = logging.getLogger(__name__)

SEVERITY = {
    "debug": "low",
    "info": "low",
    "warning": "medium",
    "error": "high",
    "critical": "critical",
}
ACTION_TYPES = ("LOGIN", "LOGOUT", "VIEW", "MODIFY", "EXPORT", "DENIED")


def client_ip() -> str:
    """The client address (ProxyFix has already applied X-Forwarded-For when trusted)."""
    if has_request_context():
        return request.remote_addr or "unknown"
    return "local"


def _user_agent() -> str | None:
    if has_request_context():
        return (request.user_agent.string or "")[:300] or None
    return None


def current_username() -> str | None:
    user = g.get("user") if has_request_context() else None
    return str(user["username"]) if user is not None else None


def current_user_id() -> int | None:
    user = g.get("user") if has_request_context() else None
    return int(user["id"]) if user is not None else None


def log_line(
    log_name: str,
    event: str,
    message: str,
    *,
    level: str = "info",
    user: str | None = None,
    module: str = "tbot_web",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Append one redacted JSON line to a global log; returns the record written."""
    context = ctx()
    record: dict[str, Any] = {
        "ts_utc": iso_utc(context.now()),
        "level": level,
        "bot_identity": context.identity_string(),
        "module": module,
        "event": event,
        "message": redact_text(message),
        "run_id": None,
        "session": None,
        "user": user,
        "extra": redact(extra or {}),
    }
    ensure_dir(context.paths.global_logs_dir, OUTPUT_DIR_MODE)
    append_json_line(context.paths.global_log(log_name), record)
    return record


def security_event(
    event: str,
    message: str,
    *,
    level: str = "info",
    log_name: str = "auth_web.log",
    log_type: str = "security",
    username: str | None = None,
    user_id: int | None = None,
    module: str = "tbot_web.auth",
    **extra: Any,
) -> None:
    """A §4.11 event: JSON line + `system_logs` row (names only, never secret values)."""
    username = username if username is not None else current_username()
    user_id = user_id if user_id is not None else current_user_id()
    extra.setdefault("ip", client_ip())
    record = log_line(
        log_name, event, message, level=level, user=username, module=module, extra=extra
    )
    params = {
        "occurred_at": record["ts_utc"],
        "log_type": log_type,
        "event": event,
        "severity": SEVERITY.get(level, "low"),
        "system_module": module,
        "message": record["message"],
        "details": json.dumps(record["extra"], default=str),
        "user_id": user_id,
        "username": username,
        "source_ip": client_ip(),
    }
    _mirror("SYSTEM_LOGS.db", "logs.insert_system_log", params)


def activity(
    action_type: str,
    status_code: int,
    *,
    username: str | None = None,
    user_id: int | None = None,
    session_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """One `user_activity_log` row (+ a log line) for the current request."""
    if action_type not in ACTION_TYPES:
        raise ValueError(f"unknown activity type {action_type!r}")
    username = username if username is not None else current_username()
    user_id = user_id if user_id is not None else current_user_id()
    if session_id is None and has_request_context():
        session = g.get("web_session")
        session_id = session.row_id if session is not None else None
    endpoint = request.path if has_request_context() else None
    method = request.method if has_request_context() else None
    record = log_line(
        "user_activity_monitoring.log",
        f"activity_{action_type.lower()}",
        f"{action_type} {method} {endpoint} -> {status_code}",
        user=username,
        module="tbot_web.activity",
        extra={"endpoint": endpoint, "method": method, "status": status_code, **(details or {})},
    )
    params = {
        "occurred_at": record["ts_utc"],
        "user_id": user_id,
        "username": username,
        "session_id": session_id,
        "action_type": action_type,
        "endpoint": redact_text(endpoint or ""),
        "method": method,
        "status_code": status_code,
        "ip_address": client_ip(),
        "user_agent": _user_agent(),
        "details": json.dumps(redact(details or {}), default=str),
    }
    _mirror("USER_ACTIVITY_MONITORING.db", "logs.insert_activity", params)


def _mirror(db_name: str, statement: str, params: dict[str, Any]) -> None:
    paths = ctx().paths
    if not paths.core_db(db_name).exists():
        return
    try:
        ctx().connection(db_name).execute(query(statement), params)
    except sqlite3.Error as exc:
        logger.error("could not mirror %s into %s: %s", params.get("event"), db_name, exc)
