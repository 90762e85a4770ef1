"""The logs viewer's backend (web_runtime §3 `/logs`): allowlisted logical names only.

Lines are read from the end of the file (never the whole file), parsed as JSON Lines where possible
and redacted before display. Security logs need `logs.security`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tbot_bot.clock import parse_iso_utc
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.redact import redact, redact_text

DEFAULT_LINES = 500
MAX_LINES = 5000
WINDOWS_H = (1, 6, 24, 72, 168)
LEVELS = ("debug", "info", "warning", "error", "critical")
GLOBAL_LOGS: Mapping[str, str] = MappingProxyType(
    {
        "main_bot": "main_bot.log",
        "runner": "runner.log",
        "bot_state_history": "bot_state_history.log",
        "heartbeat": "heartbeat.log",
        "watchdog": "watchdog.log",
        "kill_switch": "kill_switch.log",
        "provisioning": "provisioning.log",
        "web": "web.log",
        "notifications": "notifications.log",
        "backup": "backup.log",
        "auth_web": "auth_web.log",
        "system_users": "system_users.log",
        "security_users": "security_users.log",
        "user_activity_monitoring": "user_activity_monitoring.log",
        "password_reset_tokens": "password_reset_tokens.log",
    }
)
SECURITY_LOGS = frozenset(
    {
        "auth_web",
        "system_users",
        "security_users",
        "user_activity_monitoring",
        "password_reset_tokens",
    }
)
BOT_LOGS: Mapping[str, str] = MappingProxyType(
    {
        "open": "open.log",
        "mid": "mid.log",
        "close": "close.log",
        "unresolved_orders": "unresolved_orders.log",
        "error_tracebacks": "error_tracebacks.log",
    }
)
_BLOCK = 64 * 1024


@dataclass(frozen=True)
class LogRow:
    ts_utc: str
    level: str
    module: str
    event: str
    message: str
    extra: str


def log_names(*, security: bool, identity: str | None) -> list[str]:
    names = [n for n in GLOBAL_LOGS if security or n not in SECURITY_LOGS]
    if identity:
        names += list(BOT_LOGS)
    return names


def log_path(paths: RuntimePaths, name: str, identity: str | None) -> Path | None:
    if name in GLOBAL_LOGS:
        return paths.global_log(GLOBAL_LOGS[name])
    if name in BOT_LOGS and identity:
        return paths.bot_outputs(identity).log_file(BOT_LOGS[name])
    return None


def tail_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines of a file, reading backwards in blocks."""
    if not path.exists():
        return []
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        chunks: list[bytes] = []
        newlines = 0
        while position > 0 and newlines <= count:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            chunk = handle.read(step)
            chunks.append(chunk)
            newlines += chunk.count(b"\n")
    text = b"".join(reversed(chunks)).decode("utf-8", errors="replace")
    return text.splitlines()[-count:]


def _row(line: str) -> LogRow:
    try:
        record: Any = json.loads(line)
    except json.JSONDecodeError:
        record = None
    if not isinstance(record, dict):
        return LogRow("", "", "", "", redact_text(line), "")
    extra = {
        k: v
        for k, v in record.items()
        if k not in {"ts_utc", "level", "module", "event", "message"}
    }
    return LogRow(
        str(record.get("ts_utc", "")),
        str(record.get("level", "")),
        str(record.get("module", "")),
        str(record.get("event", "")),
        redact_text(str(record.get("message", ""))),
        json.dumps(redact(extra), default=str)[:2000] if extra else "",
    )


def read_log(
    path: Path, *, lines: int, hours: int | None, min_level: str | None, now: datetime
) -> list[LogRow]:
    """Newest last; filtered by time window and minimum level; every field redacted."""
    since = now - timedelta(hours=hours) if hours else None
    floor = LEVELS.index(min_level) if min_level in LEVELS else 0
    rows: list[LogRow] = []
    for line in tail_lines(path, lines):
        if not line.strip():
            continue
        row = _row(line)
        if since is not None and row.ts_utc:
            try:
                if parse_iso_utc(row.ts_utc) < since:
                    continue
            except ValueError:
                pass
        if floor and row.level in LEVELS and LEVELS.index(row.level) < floor:
            continue
        rows.append(row)
    return rows
