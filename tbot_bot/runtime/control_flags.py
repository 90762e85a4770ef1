"""Start / Stop / Kill control flags (web_runtime §1.3, §8.3; trading spec §8.1).

A flag is a JSON file `{requested_by, requested_at_utc, reason}` under `control/`, written
atomically (0600). The web, the CLI (`tbot start/stop/kill`) and the runner's kill switch write them
through this module; the runner polls them. Writing a flag also removes the flags it supersedes:

| Action | writes | removes |
|---|---|---|
| start | `control_start.flag` | stop, kill |
| stop | `control_stop.flag` | start |
| kill | `control_kill.flag` | start |

Flags persist across restarts and days until Start. Every action is audited (`bot_control`, names
and actors only). A flag file that exists but cannot be parsed still counts as present (a garbled
kill flag must never read as "no kill"); its fields read as unknown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tbot_bot.clock import Clock, SystemClock, iso_utc
from tbot_bot.config.audit import audit_event
from tbot_bot.config.fileio import (
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    atomic_write_text,
    ensure_dir,
)
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.redact import redact_text

FlagKind = Literal["start", "stop", "kill"]
FLAG_KINDS: tuple[FlagKind, ...] = ("start", "stop", "kill")
FLAG_FILES: dict[FlagKind, str] = {
    "start": "control_start.flag",
    "stop": "control_stop.flag",
    "kill": "control_kill.flag",
}
SUPERSEDES: dict[FlagKind, tuple[FlagKind, ...]] = {
    "start": ("stop", "kill"),
    "stop": ("start",),
    "kill": ("start",),
}
MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class FlagRecord:
    """A pending flag. `valid` is False when the file exists but its body is unreadable."""

    kind: FlagKind
    requested_by: str | None
    requested_at_utc: str | None
    reason: str | None
    valid: bool = True

    def summary(self) -> dict[str, Any]:
        """The `{requested_by, requested_at_utc}` view used in `status.json` (§8.4)."""
        return {"requested_by": self.requested_by, "requested_at_utc": self.requested_at_utc}


def flag_path(paths: RuntimePaths, kind: FlagKind) -> Path:
    """Path of one flag file (through the path resolver)."""
    if kind not in FLAG_FILES:
        raise ValueError(f"unknown control flag kind {kind!r}; expected one of {FLAG_KINDS}")
    return paths.control_flag(FLAG_FILES[kind])


def read_flag(paths: RuntimePaths, kind: FlagKind) -> FlagRecord | None:
    """The pending flag of `kind`, or None when there is none."""
    path = flag_path(paths, kind)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return FlagRecord(kind, None, None, None, valid=False)
    return FlagRecord(
        kind,
        _str_or_none(body.get("requested_by")),
        _str_or_none(body.get("requested_at_utc")),
        _str_or_none(body.get("reason")),
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def pending_flags(paths: RuntimePaths) -> dict[FlagKind, FlagRecord | None]:
    """Every flag kind mapped to its pending record (or None)."""
    return {kind: read_flag(paths, kind) for kind in FLAG_KINDS}


def clear_flag(paths: RuntimePaths, kind: FlagKind) -> bool:
    """Remove a flag (the runner does this when it consumes one). True if a file was removed."""
    try:
        flag_path(paths, kind).unlink()
    except FileNotFoundError:
        return False
    return True


def write_flag(
    paths: RuntimePaths,
    kind: FlagKind,
    requested_by: str,
    reason: str | None = None,
    *,
    clock: Clock | None = None,
    audit: bool = True,
) -> FlagRecord:
    """Write `kind`'s flag atomically, remove the flags it supersedes, audit `bot_control`."""
    now = iso_utc((clock or SystemClock()).now_utc())
    clean_reason = redact_text(reason)[:MAX_REASON_LENGTH] if reason else None
    record = FlagRecord(kind, requested_by, now, clean_reason)
    body = {"requested_by": requested_by, "requested_at_utc": now, "reason": clean_reason}
    ensure_dir(paths.control_dir, PRIVATE_DIR_MODE)
    atomic_write_text(flag_path(paths, kind), json.dumps(body) + "\n", PRIVATE_FILE_MODE)
    removed = []
    for other in SUPERSEDES[kind]:
        if clear_flag(paths, other):
            removed.append(other)
    if audit:
        audit_event(
            paths,
            "bot_control",
            f"{kind} requested by {requested_by}",
            actor=requested_by,
            module=__name__,
            action=kind,
            reason=clean_reason,
            removed_flags=removed,
        )
    return record


def request_start(
    paths: RuntimePaths, actor: str, reason: str | None = None, *, clock: Clock | None = None
) -> FlagRecord:
    """Start: writes the start flag, removes stop and kill (authorisation is the caller's job)."""
    return write_flag(paths, "start", actor, reason, clock=clock)


def request_stop(
    paths: RuntimePaths, actor: str, reason: str | None = None, *, clock: Clock | None = None
) -> FlagRecord:
    """Stop: writes the stop flag, removes the start flag."""
    return write_flag(paths, "stop", actor, reason, clock=clock)


def request_kill(
    paths: RuntimePaths, actor: str, reason: str | None = None, *, clock: Clock | None = None
) -> FlagRecord:
    """Kill: writes the kill flag, removes the start flag; the runner enters HALTED within 1 s."""
    return write_flag(paths, "kill", actor, reason, clock=clock)


def flags_summary(paths: RuntimePaths) -> dict[str, dict[str, Any] | None]:
    """`{stop, kill, start}` each null or `{requested_by, requested_at_utc}` (status.json §8.4)."""
    return {
        kind: (record.summary() if record else None)
        for kind, record in pending_flags(paths).items()
    }
