"""Blocklist format and round trip; throttle spacing, Retry-After and retries."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tbot_bot.errors import AuthenticationError, DataError, NetworkError, RateLimitError
from tbot_bot.screeners.blocklist import append_entries, make_entry, read_blocklist
from tbot_bot.screeners.throttle import (
    Throttle,
    backoff_s,
    call_with_retries,
    parse_retry_after,
)
from tbot_bot.test.unit.screeners.helpers import AFTER_CLOSE, SleepRecorder

T0 = AFTER_CLOSE


def test_blocklist_round_trip(tmp_path: Path) -> None:
    path, log = tmp_path / "screeners" / "block.txt", tmp_path / "screeners" / "ops.log"
    entries = [make_entry("zzz", "no_quote", T0, "FINNHUB"), make_entry("AAA", "no cap", T0, "X")]
    assert append_entries(path, entries, ops_log=log, now_utc=lambda: T0) == 2
    assert path.read_text().splitlines() == [
        "ZZZ|no_quote|2025-07-15T22:00:00.000Z|FINNHUB|automated",
        "AAA|no cap|2025-07-15T22:00:00.000Z|X|automated",
    ]
    assert read_blocklist(path) == {entry.symbol: entry for entry in entries}
    assert [json.loads(line)["event"] for line in log.read_text().splitlines()] == [
        "blocklist_added",
        "blocklist_added",
    ]


def test_latest_line_wins_and_comments_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "block.txt"
    path.write_text(
        "# header comment\n\n"
        "ABC|no_quote|2025-07-14T22:00:00.000Z|FINNHUB|automated\n"
        "ABC|bad data reported|2025-07-15T09:00:00Z|admin|manual  # by hand\n"
    )
    entry = read_blocklist(path)["ABC"]
    assert (entry.reason, entry.source, entry.provider) == ("bad data reported", "manual", "admin")
    assert entry.ts_utc == datetime(2025, 7, 15, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ABC|reason|2025-07-15T09:00:00Z|admin", "expected SYMBOL"),
        ("ABC|reason|yesterday|admin|manual", "ts_utc"),
        ("ABC|reason|2025-07-15T09:00:00Z|admin|robot", "source"),
        ("bad symbol!|r|2025-07-15T09:00:00Z|admin|manual", "valid ticker"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "block.txt"
    path.write_text("# ok\n" + line + "\n")
    with pytest.raises(DataError, match=message) as info:
        read_blocklist(path)
    assert f"{path}:2" in str(info.value)


def test_reasons_cannot_break_the_format(tmp_path: Path) -> None:
    entry = make_entry("ABC", "a|b#c\nd", T0, "P|Q")
    assert entry.to_line().count("|") == 4
    path = tmp_path / "b.txt"
    append_entries(path, [entry], ops_log=tmp_path / "log", now_utc=lambda: T0)
    assert read_blocklist(path)["ABC"].reason == "a_b_c_d"


def test_missing_blocklist_is_empty(tmp_path: Path) -> None:
    assert read_blocklist(tmp_path / "absent.txt") == {}


# -- throttle -------------------------------------------------------------------------------------
def test_backoff_doubles_and_caps() -> None:
    assert [backoff_s(n) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_retry_after_forms() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    when = T0 + timedelta(seconds=45)
    assert parse_retry_after(when.strftime("%a, %d %b %Y %H:%M:%S GMT"), T0) == 45.0
    assert parse_retry_after("99999") == 300.0  # clamped


def test_throttle_spaces_requests_from_the_previous_one() -> None:
    clock = SleepRecorder()
    throttle = Throttle(Decimal("0.5"), sleep=clock.sleep, monotonic=clock.monotonic)
    throttle.wait()
    clock.now += 0.2  # the request itself took 0.2 s
    throttle.wait()
    throttle.wait()
    assert clock.sleeps == pytest.approx([0.3, 0.5])


def test_penalty_after_429_relaxes_after_successes() -> None:
    throttle = Throttle(Decimal("0.5"), sleep=SleepRecorder().sleep)
    throttle.penalize()
    throttle.penalize()
    assert throttle.interval_s == 2.0
    for _ in range(20):
        throttle.succeeded()
    assert throttle.interval_s == 1.0


def _script(*outcomes: object) -> Callable[[], str]:
    queue = list(outcomes)

    def operation() -> str:
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return str(item)

    return operation


def test_retries_honour_retry_after_then_backoff() -> None:
    clock = SleepRecorder()
    throttle = Throttle(0, sleep=clock.sleep, monotonic=clock.monotonic)
    operation = _script(RateLimitError("429", 7.0), NetworkError("reset"), "ok")
    assert call_with_retries(operation, throttle=throttle, retries=3, what="t") == "ok"
    assert clock.sleeps[0] == 7.0
    assert clock.sleeps[1] == 2.0  # second attempt's backoff (attempt index 1)


def test_retries_stop_at_the_limit_and_never_retry_auth() -> None:
    throttle = Throttle(0, sleep=SleepRecorder().sleep)
    with pytest.raises(NetworkError):
        call_with_retries(_script(*[NetworkError("x")] * 3), throttle=throttle, retries=2, what="t")
    calls = _script(AuthenticationError("no"), "never")
    with pytest.raises(AuthenticationError):
        call_with_retries(calls, throttle=throttle, retries=5, what="t")
