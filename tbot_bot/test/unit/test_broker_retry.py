"""Backoff and the retry helper: only NetworkError is retried, sleeps are injected."""

from __future__ import annotations

import pytest

from tbot_bot.broker.retry import backoff_delay, call_with_retry, retry_delay, retrying
from tbot_bot.errors import BrokerError, NetworkError, OrderRejectedError, RateLimitError


def test_backoff_doubles_from_one_second_up_to_the_cap() -> None:
    delays = [backoff_delay(n, rand=lambda: 0.0) for n in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff_delay(10_000, rand=lambda: 0.0) == 30.0  # no overflow


def test_jitter_only_shortens_and_stays_within_its_fraction() -> None:
    assert backoff_delay(2, jitter=0.25, rand=lambda: 0.999999) == pytest.approx(3.0, abs=1e-5)
    assert backoff_delay(2, jitter=0.25, rand=lambda: 0.5) == 3.5
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(-1)
    with pytest.raises(ValueError, match="jitter"):
        backoff_delay(1, jitter=1.0)


def test_rate_limit_honours_retry_after() -> None:
    assert retry_delay(RateLimitError("429", retry_after_s=7.5), 0) == 7.5
    assert retry_delay(RateLimitError("429", retry_after_s=9999), 0) == 120.0
    assert retry_delay(RateLimitError("429"), 1, rand=lambda: 0.0) == 2.0
    assert retry_delay(NetworkError("503"), 0, rand=lambda: 0.0) == 1.0


class Flaky:
    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_network_errors_are_retried_until_success() -> None:
    sleeps: list[float] = []
    flaky = Flaky([NetworkError("503"), RateLimitError("429", retry_after_s=4.0)])
    assert call_with_retry(flaky, retry_limit=3, sleep=sleeps.append, rand=lambda: 0.0) == "ok"
    assert flaky.calls == 3 and sleeps == [1.0, 4.0]


def test_retry_limit_bounds_the_attempts_and_reraises_the_typed_error() -> None:
    sleeps: list[float] = []
    flaky = Flaky([NetworkError(f"503 #{i}") for i in range(10)])
    with pytest.raises(NetworkError, match="503 #3"):
        call_with_retry(flaky, retry_limit=3, sleep=sleeps.append, rand=lambda: 0.0)
    assert flaky.calls == 4 and sleeps == [1.0, 2.0, 4.0]


@pytest.mark.parametrize("error", [BrokerError("no"), OrderRejectedError("no"), KeyError("x")])
def test_other_errors_are_never_retried(error: Exception) -> None:
    sleeps: list[float] = []
    flaky = Flaky([error])
    with pytest.raises(type(error)):
        call_with_retry(flaky, retry_limit=3, sleep=sleeps.append)
    assert flaky.calls == 1 and sleeps == []


def test_decorator_form() -> None:
    sleeps: list[float] = []
    flaky = Flaky([NetworkError("reset")])

    @retrying(retry_limit=1, sleep=sleeps.append, rand=lambda: 0.0)
    def fetch(suffix: str) -> str:
        return flaky() + suffix

    assert fetch("!") == "ok!" and sleeps == [1.0]
