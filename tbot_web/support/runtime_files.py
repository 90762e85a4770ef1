"""Readers of the runtime's status files (web_runtime §1.3, §8.4); the web never writes them.

A missing or unparsable file reads as "unknown" (an `available: false` marker), never as a default
value that could look like real data. Everything returned is redacted.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tbot_bot.clock import iso_utc, parse_iso_utc
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.redact import redact

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=30)
EQUITY_RANGES: dict[str, timedelta | None] = {
    "1d": timedelta(days=1),
    "1w": timedelta(weeks=1),
    "1m": timedelta(days=31),
    "3m": timedelta(days=92),
    "1y": timedelta(days=366),
    "all": None,
}
MAX_EQUITY_POINTS = 2000


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`, or None when missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _parse_ts(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_iso_utc(value)
    except ValueError:
        return None


def load_status(paths: RuntimePaths) -> dict[str, Any] | None:
    """Redacted `status.json` (None when missing or unparsable); callers may cache it per file."""
    data = read_json_object(paths.status_file("status.json"))
    return dict(redact(data)) if data is not None else None


def with_staleness(status: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """A copy with `available` and `stale` (older than 30 s, missing or unparsable = stale)."""
    if status is None:
        return {"available": False, "stale": True}
    updated = _parse_ts(status.get("updated_utc"))
    return {**status, "available": True, "stale": updated is None or now - updated > STALE_AFTER}


def read_status(paths: RuntimePaths, now: datetime) -> dict[str, Any]:
    """Redacted `status.json` plus `stale`."""
    return with_staleness(load_status(paths), now)


def read_positions(paths: RuntimePaths) -> dict[str, Any]:
    """`positions.json` = `{as_of_utc, positions: [...]}`; unknown when missing or malformed."""
    data = read_json_object(paths.status_file("positions.json"))
    if data is None or not isinstance(data.get("positions"), list):
        return {"available": False, "as_of_utc": None, "positions": []}
    rows = [row for row in data["positions"] if isinstance(row, dict)]
    return {"available": True, "as_of_utc": data.get("as_of_utc"), "positions": redact(rows)}


def read_schedule(paths: RuntimePaths) -> dict[str, Any] | None:
    return read_json_object(paths.status_file("schedule.json"))


def read_equity_curve(paths: RuntimePaths, range_name: str, now: datetime) -> list[dict[str, str]]:
    """Points `{ts_utc, equity}` of `equity_history.jsonl` within the range, oldest first.

    Equity stays a decimal string (money is never a float on the server); at most
    `MAX_EQUITY_POINTS` evenly thinned points are returned.
    """
    span = EQUITY_RANGES[range_name]
    since = now - span if span is not None else None
    points: list[dict[str, str]] = []
    try:
        lines = paths.status_file("equity_history.jsonl").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    for line in lines:
        point = _equity_point(line)
        if point is None:
            continue
        stamp, equity = point
        if since is not None and stamp < since:
            continue
        points.append({"ts_utc": iso_utc(stamp), "equity": equity})
    points.sort(key=lambda p: p["ts_utc"])
    if len(points) > MAX_EQUITY_POINTS:
        step = len(points) / MAX_EQUITY_POINTS
        points = [points[int(i * step)] for i in range(MAX_EQUITY_POINTS - 1)] + [points[-1]]
    return points


def _equity_point(line: str) -> tuple[datetime, str] | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    stamp = _parse_ts(record.get("ts_utc"))
    equity = record.get("equity")
    if stamp is None or not isinstance(equity, str | int):
        return None
    text = str(equity).strip()
    try:
        valid = Decimal(text).is_finite()
    except InvalidOperation:
        return None
    return (stamp, text) if valid else None
