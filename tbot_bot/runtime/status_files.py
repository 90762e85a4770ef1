"""Runtime status files under `output/status/` (web_runtime §1.3, §8.2, §8.4, §8.5).

Components rewrite `<component>.json` (heartbeat + fields) at least every 5 s; the runner writes
`schedule.json`, `positions.json` and appends `equity_history.jsonl`; main alone merges everything
into `status.json`. Every write is atomic (the JSONL file: one `write()` per line). A file that is
missing or unparsable reads as unknown (`None`), never as a default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tbot_bot import __version__
from tbot_bot.clock import iso_utc, parse_iso_utc
from tbot_bot.config.audit import append_json_line
from tbot_bot.config.fileio import OUTPUT_DIR_MODE, OUTPUT_FILE_MODE, atomic_write_text, ensure_dir
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.redact import redact

SCHEMA_VERSION = 1
STALE_HEARTBEAT = timedelta(seconds=60)


def _default(value: object) -> str:
    return str(value)  # Decimals and dates as exact text


def write_json(paths: RuntimePaths, name: str, body: Mapping[str, Any]) -> Path:
    ensure_dir(paths.status_dir, OUTPUT_DIR_MODE)
    path = paths.status_file(name)
    atomic_write_text(
        path, json.dumps(redact(dict(body)), indent=1, default=_default) + "\n", OUTPUT_FILE_MODE
    )
    return path


def read_json(paths: RuntimePaths, name: str) -> dict[str, Any] | None:
    path = paths.status_file(name)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_component(
    paths: RuntimePaths, component: str, now: datetime, fields: Mapping[str, Any]
) -> None:
    """`<component>.json` with `heartbeat_utc` and the component's own fields."""
    write_json(
        paths,
        f"{component}.json",
        {"component": component, "heartbeat_utc": iso_utc(now), **fields},
    )


def append_equity(
    paths: RuntimePaths, now: datetime, equity: Any, cash: Any, session: str | None
) -> None:
    ensure_dir(paths.status_dir, OUTPUT_DIR_MODE)
    append_json_line(
        paths.status_file("equity_history.jsonl"),
        {"ts_utc": iso_utc(now), "equity": str(equity), "cash": str(cash), "session": session},
    )


def heartbeat_age(component: Mapping[str, Any] | None, now: datetime) -> timedelta | None:
    if not component or "heartbeat_utc" not in component:
        return None
    try:
        return now - parse_iso_utc(str(component["heartbeat_utc"]))
    except ValueError:
        return None


def _overall(
    state: str,
    runner: Mapping[str, Any],
    processes: Mapping[str, Any],
    schedule: Mapping[str, Any] | None,
) -> dict[str, Any]:
    critical = []
    if runner.get("halted"):
        critical.append("halted")
    if runner.get("broker_suspended"):
        critical.append("broker_suspended")
    if runner.get("data_suspended"):
        critical.append("data_suspended")
    if state == "error":
        critical.append("error")
    if any(p.get("status") == "failed" for p in processes.values()):
        critical.append("runner_failed")
    warnings = [f"stale:{name}" for name, p in processes.items() if p.get("stale")]
    phases = (schedule or {}).get("phases") or {}
    warnings += [
        f"{name}:{p.get('status')}"
        for name, p in phases.items()
        if isinstance(p, dict)
        and p.get("status") in {"skipped", "aborted"}
        and p.get("reason") not in {"holdings_not_enabled", "not_scheduled_here"}
    ]
    if critical:
        return {"level": "Critical", "reasons": critical + warnings}
    return {"level": "Warning" if warnings else "OK", "reasons": warnings}


def merge_status(
    paths: RuntimePaths,
    now: datetime,
    *,
    bot_state: str,
    state_since: str | None,
    state_reason: str | None,
    identity: str | None,
    boot_time: datetime,
    processes: Mapping[str, Mapping[str, Any]],
    flags: Mapping[str, Any],
) -> dict[str, Any]:
    """Main's merge of every component file into `status.json` (web_runtime §8.4)."""
    runner = read_json(paths, "runner.json") or {}
    schedule = read_json(paths, "schedule.json")
    status = {
        "schema_version": SCHEMA_VERSION,
        "updated_utc": iso_utc(now),
        "version": __version__,
        "bot_state": bot_state,
        "state_since_utc": state_since,
        "state_reason": state_reason,
        "bot_identity": identity,
        "active_strategy": runner.get("active_strategy"),
        "phase": runner.get("phase"),
        "phase_started_utc": runner.get("phase_started_utc"),
        "next_phase": runner.get("next_phase"),
        "next_phase_utc": runner.get("next_phase_utc"),
        "halted": bool(runner.get("halted", False)),
        "broker_suspended": bool(runner.get("broker_suspended", False)),
        "data_suspended": bool(runner.get("data_suspended", False)),
        "boot_time_utc": iso_utc(boot_time),
        "uptime_s": int((now - boot_time).total_seconds()),
        "processes": processes,
        "schedule": schedule,
        "flags": flags,
        "broker": runner.get("broker")
        or {
            "code": None,
            "api_status": "unknown",
            "latency_ms": None,
            "last_ok_utc": None,
            "consecutive_failures": 0,
        },
        "account": runner.get("account")
        or {"as_of_utc": None, "equity": None, "cash": None, "buying_power": None},
        "pnl": runner.get("pnl")
        or {"day_pnl": None, "realized_today": None, "unrealized": None, "kill_threshold": None},
        "reconciliation": runner.get("reconciliation")
        or {"last_run_utc": None, "status": None, "open_mismatches": 0},
        "positions_count": int(runner.get("positions_count", 0)),
        "trades_today": runner.get("trades_today")
        or {"count": 0, "wins": 0, "losses": 0, "win_rate_pct": None},
        "errors": runner.get("errors") or {"count_today": 0, "last_error": None},
        "overall": _overall(bot_state, runner, processes, schedule),
    }
    write_json(paths, "status.json", status)
    return status
