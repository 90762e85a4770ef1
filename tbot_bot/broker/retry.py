"""Retry of transient broker errors (STYLE §2.9, trading spec §7.5).

One pure backoff function and one helper that re-tries nothing but `NetworkError` (which includes
`RateLimitError`). A `BrokerError` means the broker answered and said no: it is never retried.
Submits never go through this helper: an ambiguous submit is resolved by looking the order up by
its client order id (see `tbot_bot.trading.order_manager`).

Sleeping is injected so tests never really wait and a `FakeClock` can jump instead.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from tbot_bot.errors import NetworkError, RateLimitError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_RETRY_LIMIT = 3  # API_RETRY_LIMIT default
BASE_DELAY_S = 1.0  # trading spec §7.5: backoff 1 s x 2^n
MAX_DELAY_S = 30.0
JITTER_FRACTION = 0.25
MAX_RETRY_AFTER_S = 120.0  # a server asking for longer than this is treated as down


def backoff_delay(
    attempt: int,
    *,
    base_s: float = BASE_DELAY_S,
    cap_s: float = MAX_DELAY_S,
    jitter: float = JITTER_FRACTION,
    rand: Callable[[], float] = random.random,
) -> float:
    """Delay before retry number `attempt` (0-based): `min(cap, base x 2^attempt)`, jittered.

    Jitter only shortens the delay (by up to `jitter` of it), so the cap always holds and many
    clients that failed together do not retry in lockstep. `rand` returns a value in [0, 1).
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if not 0 <= jitter < 1:
        raise ValueError(f"jitter must be in [0, 1), got {jitter}")
    # Cap the exponent before it is used: 2**attempt for a large attempt would overflow a float.
    delay = min(cap_s, base_s * (2.0 ** min(attempt, 32)))
    return delay * (1.0 - jitter * rand())


def retry_delay(
    error: NetworkError,
    attempt: int,
    *,
    rand: Callable[[], float] = random.random,
    base_s: float = BASE_DELAY_S,
    cap_s: float = MAX_DELAY_S,
) -> float:
    """How long to wait after `error`: the server's Retry-After for a 429, else the backoff."""
    if isinstance(error, RateLimitError) and error.retry_after_s is not None:
        return max(0.0, min(float(error.retry_after_s), MAX_RETRY_AFTER_S))
    return backoff_delay(attempt, base_s=base_s, cap_s=cap_s, rand=rand)


def call_with_retry(
    operation: Callable[[], T],
    *,
    retry_limit: int = DEFAULT_RETRY_LIMIT,
    sleep: Callable[[float], None],
    rand: Callable[[], float] = random.random,
    base_s: float = BASE_DELAY_S,
    cap_s: float = MAX_DELAY_S,
    what: str = "broker call",
) -> T:
    """Run `operation`; on `NetworkError` wait and try again, at most `retry_limit` more times.

    Any other exception passes through at once. After the last retry the last `NetworkError`
    is raised, so the caller still gets a typed error it can act on.
    """
    if retry_limit < 0:
        raise ValueError(f"retry_limit must be >= 0, got {retry_limit}")
    attempt = 0
    while True:
        try:
            return operation()
        except NetworkError as exc:
            if attempt >= retry_limit:
                logger.warning("%s failed after %d retries: %s", what, attempt, exc)
                raise
            delay = retry_delay(exc, attempt, rand=rand, base_s=base_s, cap_s=cap_s)
            logger.info(
                "%s: %s (%s); retry %d/%d in %.2f s",
                what,
                type(exc).__name__,
                exc,
                attempt + 1,
                retry_limit,
                delay,
            )
            sleep(delay)
            attempt += 1


def retrying(
    *,
    retry_limit: int = DEFAULT_RETRY_LIMIT,
    sleep: Callable[[float], None],
    rand: Callable[[], float] = random.random,
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorator form of `call_with_retry` for idempotent reads."""

    def decorate(function: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return call_with_retry(
                lambda: function(*args, **kwargs),
                retry_limit=retry_limit,
                sleep=sleep,
                rand=rand,
                what=function.__qualname__,
            )

        return wrapper

    return decorate
