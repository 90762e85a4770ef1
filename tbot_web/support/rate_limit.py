"""Per-client-IP sliding-window rate limits, in memory (web_runtime §4.4).

The web is one waitress process, so an in-memory window is exact. Time comes from the app's clock,
which lets tests move past a window without sleeping.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime

# bucket -> (requests allowed, window seconds)
LIMITS: dict[str, tuple[int, int]] = {
    "login": (5, 60),
    "reset_request": (5, 3600),
    "reset_token": (10, 3600),
    "setup": (5, 60),
}


@dataclass(frozen=True)
class Verdict:
    """`allowed`, and when refused the seconds until the oldest hit leaves the window."""

    allowed: bool
    retry_after_s: int = 0


class RateLimiter:
    """Sliding windows keyed by (bucket, client address)."""

    def __init__(self, limits: dict[str, tuple[int, int]] | None = None) -> None:
        self.limits = dict(limits or LIMITS)
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, bucket: str, client: str, now: datetime) -> Verdict:
        """Count one request; refuse it when the window is already full."""
        allowed, window_s = self.limits[bucket]
        stamp = now.timestamp()
        with self._lock:
            hits = self._hits.setdefault((bucket, client), deque())
            while hits and hits[0] <= stamp - window_s:
                hits.popleft()
            if len(hits) >= allowed:
                retry = int(hits[0] + window_s - stamp) + 1
                return Verdict(False, max(retry, 1))
            hits.append(stamp)
            return Verdict(True)

    def reset(self) -> None:
        """Forget every window (used when the app is rebuilt in tests)."""
        with self._lock:
            self._hits.clear()
