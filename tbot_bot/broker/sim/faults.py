"""Fault injection for the SIM broker (contract suite and tests only).

The real adapters never carry simulation branches (STYLE §2.4); their fakes script failures on
the wire instead. The SIM is in-process, so its faults live here, armed by tests through
`sim.faults`:

- `lose_next_response()`: the next submit/cancel is applied by the venue, then its answer is
  lost (NetworkError), like a timeout after the broker accepted.
- `reject_next(reason)`: the next submit is rejected (OrderRejectedError(reason)).
- `fail_next(n, accept=True)`: the next n requests fail like an HTTP 5xx (NetworkError); with
  `accept` the first failing submit/cancel was carried out by the venue anyway.
- `rate_limit_next(n, retry_after_s)`: the next n requests are throttled (RateLimitError) and
  not carried out.
- `disconnect()` / `reconnect()`: every request fails (NetworkError) until reconnect; the venue
  keeps trading meanwhile (fills while offline).
"""

from __future__ import annotations

import threading
from collections import deque
from enum import Enum

from tbot_bot.errors import NetworkError, OrderRejectedError, RateLimitError


class Applied(Enum):
    """Whether a failing request was still carried out by the venue."""

    NOT_APPLIED = "not_applied"
    APPLIED = "applied"


class SimFaults:
    """Armed failures, consumed one request at a time (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lose_next = False
        self._rejects: deque[str] = deque()
        self._failures = 0
        self._accept_first_failure = False
        self._rate_limited = 0
        self._retry_after_s = 1.0
        self._connected = True
        self.requests_seen = 0

    # -- arming ----------------------------------------------------------------------------------
    def lose_next_response(self) -> None:
        with self._lock:
            self._lose_next = True

    def reject_next(self, reason: str) -> None:
        with self._lock:
            self._rejects.append(reason)

    def fail_next(self, count: int, accept: bool = True) -> None:
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._failures = count
            self._accept_first_failure = accept

    def rate_limit_next(self, count: int, retry_after_s: float = 1.0) -> None:
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._rate_limited = count
            self._retry_after_s = retry_after_s

    def disconnect(self) -> None:
        with self._lock:
            self._connected = False

    def reconnect(self) -> None:
        with self._lock:
            self._connected = True

    def clear(self) -> None:
        """Disarm everything and reconnect."""
        with self._lock:
            self._lose_next = False
            self._rejects.clear()
            self._failures = 0
            self._rate_limited = 0
            self._connected = True

    @property
    def connected(self) -> bool:
        return self._connected

    # -- consuming (called by the SIM broker) -------------------------------------------------
    def before_request(self, operation: str) -> Applied | None:
        """Raise for faults that stop a request before the venue sees it.

        Returns `Applied.APPLIED` when the request must be carried out and then fail (5xx after
        accept): the caller applies it and calls `fail_after_apply`. None: no fault, go ahead.
        """
        with self._lock:
            self.requests_seen += 1
            if not self._connected:
                raise NetworkError(f"SIM {operation}: connection lost")
            if self._rate_limited > 0:
                self._rate_limited -= 1
                raise RateLimitError(
                    f"SIM {operation}: HTTP 429 too many requests", self._retry_after_s
                )
            if self._failures > 0:
                self._failures -= 1
                if operation in {"submit_order", "cancel_order"} and self._accept_first_failure:
                    self._accept_first_failure = False
                    return Applied.APPLIED
                raise NetworkError(f"SIM {operation}: HTTP 503 service unavailable")
            if operation == "submit_order" and self._rejects:
                raise OrderRejectedError(f"SIM rejected the order: {self._rejects.popleft()}")
            return None

    def after_apply(self, operation: str, applied: Applied | None) -> None:
        """Raise if the answer of an applied request must be lost."""
        with self._lock:
            if applied is Applied.APPLIED:
                raise NetworkError(f"SIM {operation}: HTTP 503 after the venue accepted")
            if self._lose_next and operation in {"submit_order", "cancel_order"}:
                self._lose_next = False
                raise NetworkError(f"SIM {operation}: timed out waiting for the answer")
