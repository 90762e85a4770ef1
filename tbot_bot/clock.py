"""Time: timezone-aware UTC everywhere, read through an injected clock (trading spec §0).

No module reads the system clock directly except `SystemClock`; tests and replays use
`FakeClock`, which advances only when told to.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


def utc_now() -> datetime:
    """The current instant, timezone-aware UTC. Only `SystemClock` and entry points call this."""
    return datetime.now(UTC)


def require_utc(value: datetime, name: str = "timestamp") -> datetime:
    """Reject naive datetimes at boundaries instead of guessing their zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def iso_utc(value: datetime) -> str:
    """Format as `YYYY-MM-DDTHH:MM:SS.sssZ` (exactly 24 characters; text order = time order)."""
    value = require_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_iso_utc(text: str) -> datetime:
    """Parse an ISO-8601 timestamp that carries a zone (`Z` or an offset) into UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return require_utc(parsed, name=f"timestamp {text!r}")


def compact_utc_stamp(value: datetime) -> str:
    """`YYYYMMDDTHHMMSSZ`, for folder names such as backups and backtest runs."""
    return require_utc(value).strftime("%Y%m%dT%H%M%SZ")


class Clock(Protocol):
    """What every time-dependent module receives instead of reading the system clock."""

    def now_utc(self) -> datetime:
        """The current instant (aware, UTC)."""
        ...

    def sleep_until(self, when: datetime) -> None:
        """Block until `when` (a fake clock jumps there)."""
        ...


class SystemClock:
    """Wall-clock time for production."""

    def now_utc(self) -> datetime:
        return utc_now()

    def sleep_until(self, when: datetime) -> None:
        delay = (require_utc(when) - utc_now()).total_seconds()
        if delay > 0:
            time.sleep(delay)


class FakeClock:
    """A clock that moves only when told: replays a whole trading day in seconds."""

    def __init__(self, start: datetime) -> None:
        self._now = require_utc(start, "FakeClock start")
        self._lock = threading.Lock()

    def now_utc(self) -> datetime:
        with self._lock:
            return self._now

    def sleep_until(self, when: datetime) -> None:
        when = require_utc(when)
        with self._lock:
            if when > self._now:
                self._now = when

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by `delta` (never backwards) and return the new instant."""
        if delta < timedelta(0):
            raise ValueError("a FakeClock never moves backwards")
        with self._lock:
            self._now += delta
            return self._now
