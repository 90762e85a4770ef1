"""Request spacing and retries for universe providers (trading spec §10, STYLE §2.9).

Each provider owns one `Throttle`: requests are spaced by at least its interval, which starts at
`UNIVERSE_SLEEP_TIME`, doubles after an HTTP 429 (up to a cap) and relaxes back to the base after a
run of successes. `call_with_retries` retries only transient errors (`NetworkError`, including
`RateLimitError`), waiting the server's `Retry-After` when it sent one and a capped exponential
backoff otherwise. Sleeping goes through an injected function, so tests never really wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tbot_bot.clock import require_utc
from tbot_bot.errors import NetworkError, RateLimitError

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
SleepFn = Callable[[float], None]
MonotonicFn = Callable[[], float]

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
# A server asking for more than this is treated as asking for this: a nightly build must finish.
RETRY_AFTER_CAP_S = 300.0
# Successes in a row after which a penalised interval is halved back towards the base.
RELAX_AFTER_SUCCESSES = 20
MAX_INTERVAL_FACTOR = 16


def backoff_s(attempt: int, base_s: float = BACKOFF_BASE_S, cap_s: float = BACKOFF_CAP_S) -> float:
    """Delay before retry `attempt` (0-based): base x 2^attempt, capped (web_runtime §8.6)."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    return float(min(cap_s, base_s * (2**attempt)))


def parse_retry_after(value: str | None, now_utc: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date); None if absent
    or unreadable. The result is clamped to [0, RETRY_AFTER_CAP_S]."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    seconds: float
    if text.isdigit():
        seconds = float(int(text))
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None or now_utc is None:
            return None
        seconds = (when - require_utc(now_utc)).total_seconds()
    return max(0.0, min(RETRY_AFTER_CAP_S, seconds))


class Throttle:
    """Minimum spacing between one provider's requests (base `UNIVERSE_SLEEP_TIME`)."""

    def __init__(
        self,
        base_interval_s: Decimal | float,
        *,
        sleep: SleepFn = time.sleep,
        monotonic: MonotonicFn = time.monotonic,
    ) -> None:
        base = float(base_interval_s)
        if base < 0:
            raise ValueError(f"throttle interval must be >= 0 s, got {base_interval_s}")
        self.base_interval_s = base
        self.interval_s = base
        self.sleep = sleep
        self._monotonic = monotonic
        self._last: float | None = None
        self._successes = 0
        self.requests = 0
        self.slept_s = 0.0

    def wait(self) -> None:
        """Block until the interval since the previous request has passed, then mark a request."""
        now = self._monotonic()
        if self._last is not None:
            remaining = self._last + self.interval_s - now
            if remaining > 0:
                self.pause(remaining)
                now = self._monotonic()
        self._last = now
        self.requests += 1

    def pause(self, seconds: float) -> None:
        """Sleep through the injected function and account for it."""
        if seconds > 0:
            self.slept_s += seconds
            self.sleep(seconds)

    def penalize(self) -> None:
        """After a 429: double the spacing (at least 0.1 s), at most 16 x the base (or 10 s)."""
        ceiling = max(self.base_interval_s * MAX_INTERVAL_FACTOR, 10.0)
        self.interval_s = min(ceiling, max(self.interval_s * 2, 0.1))
        self._successes = 0

    def succeeded(self) -> None:
        """A request went through: after a run of successes relax towards the base."""
        self._successes += 1
        if self._successes >= RELAX_AFTER_SUCCESSES and self.interval_s > self.base_interval_s:
            self.interval_s = max(self.base_interval_s, self.interval_s / 2)
            self._successes = 0


def call_with_retries(
    operation: Callable[[], _T],
    *,
    throttle: Throttle,
    retries: int,
    what: str,
) -> _T:
    """Run `operation` after the throttle; retry transient errors up to `retries` more times.

    `RateLimitError` waits `retry_after_s` when the server gave one (else the backoff) and slows
    the throttle down; other `NetworkError`s wait the backoff. Every other error propagates at once:
    authentication failures and bad data are not made better by asking again.
    """
    attempt = 0
    while True:
        throttle.wait()
        try:
            result = operation()
        except RateLimitError as exc:
            throttle.penalize()
            if attempt >= retries:
                raise
            delay = exc.retry_after_s if exc.retry_after_s is not None else backoff_s(attempt)
            logger.warning("%s: rate limited, retry %d in %.1f s", what, attempt + 1, delay)
        except NetworkError:
            if attempt >= retries:
                raise
            delay = backoff_s(attempt)
            logger.warning("%s: transient error, retry %d in %.1f s", what, attempt + 1, delay)
        else:
            throttle.succeeded()
            return result
        throttle.pause(delay)
        attempt += 1
