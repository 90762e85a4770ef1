"""FINNHUB provider through the real `finnhub-python` client against a local fake (127.0.0.1)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pytest_httpserver import HTTPServer

from tbot_bot.errors import AuthenticationError, NetworkError, RateLimitError
from tbot_bot.screeners.providers.finnhub import FinnhubProvider
from tbot_bot.screeners.throttle import Throttle
from tbot_bot.test.fakes.fake_finnhub import FAKE_FINNHUB_KEY, FakeFinnhub
from tbot_bot.test.unit.screeners.helpers import SleepRecorder


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeFinnhub:
    fake = FakeFinnhub(httpserver)
    fake.add_stock(
        "AAPL",
        price="212.48",
        cap_millions="2869704.5",
        mic="XNAS",
        exchange_name="NASDAQ NMS - GLOBAL MARKET",
        name="Apple Inc",
    )
    fake.add_stock("KO", price="70.1", cap_millions="301818.04", industry="Beverages")
    fake.add_stock("SPY", price="620.5", cap_millions=None, mic="ARCX", kind="ETP")
    fake.list_only("ZZZZ")
    return fake


def provider(
    fake: FakeFinnhub,
    sleeper: SleepRecorder,
    *,
    interval: str = "0.5",
    retries: int = 3,
    key: str = FAKE_FINNHUB_KEY,
) -> FinnhubProvider:
    throttle = Throttle(Decimal(interval), sleep=sleeper.sleep, monotonic=sleeper.monotonic)
    return FinnhubProvider(key, throttle=throttle, base_url=fake.base_url, retries=retries)


def test_symbols_follow_the_documented_shape(fake: FakeFinnhub) -> None:
    symbols = {raw.symbol: raw for raw in provider(fake, SleepRecorder()).fetch_symbols()}
    assert set(symbols) == {"AAPL", "KO", "SPY", "ZZZZ"}
    assert symbols["AAPL"].exchange == "XNAS"
    assert symbols["AAPL"].type == "common"
    assert symbols["SPY"].type == "etf"
    assert symbols["AAPL"].company_name == "APPLE INC"
    assert fake.calls("/stock/symbol") == 1


def test_caps_are_converted_from_millions_to_usd(fake: FakeFinnhub) -> None:
    result = provider(fake, SleepRecorder()).fetch_quotes(["AAPL", "KO"])
    assert result["AAPL"].market_cap_usd == Decimal("2869704500000")
    assert result["KO"].market_cap_usd == Decimal("301818040000")
    assert result["AAPL"].last_close == Decimal("212.48")
    assert result["AAPL"].exchange == "NASDAQ NMS - GLOBAL MARKET"
    assert result["KO"].sector == "Beverages"
    assert result["AAPL"].problem is None


def test_two_calls_per_symbol_and_one_when_there_is_no_quote(fake: FakeFinnhub) -> None:
    result = provider(fake, SleepRecorder()).fetch_quotes(["AAPL", "ZZZZ", "SPY"])
    assert fake.calls("/quote", "AAPL") == 1
    assert fake.calls("/stock/profile2", "AAPL") == 1
    assert result["ZZZZ"].problem == "no_quote"
    assert fake.calls("/stock/profile2", "ZZZZ") == 0
    assert result["SPY"].problem == "no_market_cap"


def test_requests_are_spaced_by_the_universe_sleep_time(fake: FakeFinnhub) -> None:
    sleeper = SleepRecorder()
    provider(fake, sleeper, interval="0.5").fetch_quotes(["AAPL", "KO"])
    # Four requests on a clock that does not move by itself: three waits of the base interval.
    assert sleeper.sleeps == [0.5, 0.5, 0.5]


def test_http_429_waits_retry_after_then_succeeds(fake: FakeFinnhub) -> None:
    sleeper = SleepRecorder()
    fake.rate_limit_next(2, retry_after="7")
    result = provider(fake, sleeper, interval="0").fetch_quotes(["KO"])
    assert result["KO"].market_cap_usd == Decimal("301818040000")
    assert 7.0 in sleeper.sleeps
    assert sleeper.sleeps.count(7.0) == 2
    assert fake.calls("/quote", "KO") == 3  # two throttled answers, then the real one


def test_http_429_without_retry_after_uses_backoff(fake: FakeFinnhub) -> None:
    sleeper = SleepRecorder()
    fake.rate_limit_next(2, retry_after=None)
    provider(fake, sleeper, interval="0").fetch_quotes(["KO"])
    waits = [s for s in sleeper.sleeps if s >= 1.0]
    assert waits[:2] == [1.0, 2.0]


def test_persistent_429_raises_rate_limit_error(fake: FakeFinnhub) -> None:
    fake.rate_limit_next(10, retry_after="1")
    with pytest.raises(RateLimitError) as info:
        provider(fake, SleepRecorder(), interval="0", retries=2).fetch_quotes(["KO"])
    assert info.value.retry_after_s == 1.0
    assert fake.calls("/quote", "KO") == 3


def test_server_errors_are_retried(fake: FakeFinnhub) -> None:
    fake.fail_next(1, status=502)
    result = provider(fake, SleepRecorder(), interval="0").fetch_quotes(["KO"])
    assert result["KO"].problem is None
    fake.fail_next(5, status=503)
    with pytest.raises(NetworkError):
        provider(fake, SleepRecorder(), interval="0", retries=1).fetch_quotes(["KO"])


def test_refused_key_is_not_retried_and_never_echoed(fake: FakeFinnhub) -> None:
    wrong = "wrong-key-that-must-not-leak"
    with pytest.raises(AuthenticationError) as info:
        provider(fake, SleepRecorder(), key=wrong).fetch_symbols()
    assert fake.calls("/stock/symbol") == 1
    assert wrong not in str(info.value)
    assert wrong not in repr(provider(fake, SleepRecorder(), key=wrong))


def test_unreachable_server_is_a_network_error_without_the_url(fake: FakeFinnhub) -> None:
    throttle = Throttle(Decimal(0), sleep=SleepRecorder().sleep)
    dead = FinnhubProvider(
        FAKE_FINNHUB_KEY,
        throttle=throttle,
        base_url="http://127.0.0.1:9/api/v1",
        retries=0,
        timeout_s=2,
    )
    with pytest.raises(NetworkError) as info:
        dead.fetch_symbols()
    assert FAKE_FINNHUB_KEY not in str(info.value)
    assert info.value.__cause__ is None
