"""Watchdog counters (trading spec §7.4, acceptance §13: 2 failures nothing, 3 suspend, 3
successes resume)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tbot_bot.config.settings_schema import default_settings_record, validate_settings
from tbot_bot.errors import ConfigError, LogicError
from tbot_bot.trading.watchdog import Watchdog

T0 = datetime(2025, 7, 15, 13, 0, tzinfo=UTC)
STEP = timedelta(seconds=15)


def feed(dog: Watchdog, probe: str, outcomes: str, start: datetime = T0) -> list[object]:
    """Record outcomes given as a string of 'o' (ok) and 'x' (failure), 15 s apart."""
    return [
        dog.record(probe, char == "o", start + i * STEP, error=None if char == "o" else "timeout")
        for i, char in enumerate(outcomes)
    ]


def test_two_failures_do_nothing_three_suspend() -> None:
    dog = Watchdog(15, 3)
    transitions = feed(dog, "broker", "xx")
    assert transitions == [None, None]
    assert not dog.suspended("broker")
    assert dog.status()["broker"]["api_status"] == "healthy"
    assert dog.status()["broker"]["consecutive_failures"] == 2
    third = dog.record("broker", False, T0 + 2 * STEP, error="timeout")
    assert third is not None
    assert (third.probe, third.kind, third.consecutive, third.error) == (
        "broker",
        "suspended",
        3,
        "timeout",
    )
    assert dog.suspended("broker")
    assert dog.status()["broker"]["api_status"] == "suspended"


def test_three_successes_resume() -> None:
    dog = Watchdog(15, 3)
    feed(dog, "data", "xxx")
    later = T0 + 10 * STEP
    assert feed(dog, "data", "oo", later) == [None, None]
    assert dog.suspended("data")
    resumed = dog.record("data", True, later + 2 * STEP)
    assert resumed is not None
    assert (resumed.kind, resumed.consecutive) == ("resumed", 3)
    assert not dog.suspended("data")
    assert dog.status()["data"]["api_status"] == "healthy"


def test_a_success_in_between_resets_the_failure_count() -> None:
    dog = Watchdog(15, 3)
    assert all(t is None for t in feed(dog, "broker", "xxoxx"))
    assert not dog.suspended("broker")
    assert dog.status()["broker"]["consecutive_failures"] == 2
    assert dog.record("broker", False, T0 + 5 * STEP) is not None


def test_a_failure_while_suspended_resets_the_success_count() -> None:
    dog = Watchdog(15, 3)
    feed(dog, "broker", "xxx")
    assert all(t is None for t in feed(dog, "broker", "ooxoo", T0 + 3 * STEP))
    assert dog.suspended("broker")
    assert dog.record("broker", True, T0 + 8 * STEP) is not None


def test_probes_are_independent() -> None:
    dog = Watchdog(15, 3)
    feed(dog, "broker", "xxx")
    feed(dog, "data", "ooo")
    assert dog.suspended("broker")
    assert not dog.suspended("data")


def test_threshold_from_settings() -> None:
    record = {**default_settings_record("SIM"), "WATCHDOG_FAILURE_THRESHOLD": "1"}
    dog = Watchdog.from_settings(validate_settings(record, strict=True).settings)
    assert dog.record("data", False, T0) is not None
    assert dog.record("data", True, T0 + STEP) is not None


def test_status_unknown_before_any_probe_and_last_ok() -> None:
    dog = Watchdog(15, 3)
    assert dog.status()["broker"] == {
        "api_status": "unknown",
        "consecutive_failures": 0,
        "last_ok_utc": None,
        "last_probe_utc": None,
        "latency_ms": None,
    }
    dog.record("broker", True, T0, latency_ms=42)
    dog.record("broker", False, T0 + STEP)
    status = dog.status()["broker"]
    assert status["last_ok_utc"] == "2025-07-15T13:00:00.000Z"
    assert status["last_probe_utc"] == "2025-07-15T13:00:15.000Z"
    assert status["consecutive_failures"] == 1
    assert status["latency_ms"] is None


def test_due_honours_the_interval() -> None:
    dog = Watchdog(15, 3)
    assert dog.due(T0)
    dog.record("broker", True, T0)
    assert dog.due(T0 + timedelta(seconds=1))  # data never probed yet
    dog.record("data", True, T0 + timedelta(seconds=1))
    assert dog.next_due_utc() == T0 + STEP
    assert not dog.due(T0 + timedelta(seconds=14, milliseconds=999))
    assert dog.due(T0 + STEP)
    dog.record("broker", True, T0 + STEP)
    assert not dog.due(T0 + STEP)  # data's report (T0+1 s) is not yet 15 s old
    assert dog.due(T0 + STEP + timedelta(seconds=1))


def test_active_window() -> None:
    first_phase = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)
    close = datetime(2025, 7, 15, 20, 0, tzinfo=UTC)
    assert not Watchdog.is_active(first_phase - timedelta(minutes=31), first_phase, close)
    assert Watchdog.is_active(first_phase - timedelta(minutes=30), first_phase, close)
    assert Watchdog.is_active(close, first_phase, close)
    assert not Watchdog.is_active(close + timedelta(seconds=1), first_phase, close)


def test_unknown_probe_and_naive_time_are_refused() -> None:
    dog = Watchdog(15, 3)
    with pytest.raises(LogicError, match="unknown watchdog probe 'vix'"):
        dog.record("vix", True, T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        dog.record("broker", True, datetime(2025, 7, 15, 13, 0))  # noqa: DTZ001 - on purpose


@pytest.mark.parametrize(
    ("interval", "threshold", "key"),
    [(0, 3, "WATCHDOG_INTERVAL_SEC=0"), (15, 0, "WATCHDOG_FAILURE_THRESHOLD=0")],
)
def test_bad_settings_are_refused(interval: int, threshold: int, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Watchdog(interval, threshold)
    assert any(key in problem for problem in caught.value.problems)


def test_self_check_record() -> None:
    assert Watchdog(15, 3).self_check() == {
        "ok": True,
        "status": "ok",
        "module": "watchdog",
        "reason": "",
        "hint": "",
    }
