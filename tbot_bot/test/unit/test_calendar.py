"""XNYS calendar wrapper: sessions, holidays, early closes, DST, extra closures (spec §1.2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import exchange_calendars as xcals
import pytest

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import ConfigError
from tbot_bot.market.calendar import (
    EXCHANGE_TZ,
    REASON_EXTRA_CLOSURE,
    REASON_MARKET_CLOSED,
    REASON_NOT_IN_TRADING_DAYS,
    TradingCalendar,
    exchange_time_to_utc,
    load_extra_closures,
    parse_trading_days,
    trading_date_of,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return TradingCalendar(date(2025, 1, 1), date(2026, 12, 31))


@pytest.mark.filterwarnings("ignore:Series.values returning an ndarray:DeprecationWarning")
def test_exchange_zone_is_the_library_zone_of_xnys() -> None:
    library = xcals.get_calendar("XNYS", start="2025-01-01", end="2025-01-31")
    assert str(library.tz) == EXCHANGE_TZ.key == "America/New_York"


@pytest.mark.parametrize(
    "day",
    [
        date(2025, 1, 9),  # national day of mourning (President Carter)
        date(2025, 7, 4),  # Independence Day
        date(2026, 6, 19),  # Juneteenth
        date(2025, 12, 25),
        date(2025, 7, 12),  # a Saturday
    ],
)
def test_closed_days_are_not_sessions(cal: TradingCalendar, day: date) -> None:
    assert not cal.is_session(day)
    with pytest.raises(ValueError, match="not an XNYS session"):
        cal.session_bounds(day)


def test_day_of_mourning_is_skipped_by_next_and_previous(cal: TradingCalendar) -> None:
    assert cal.is_session(date(2025, 1, 8))
    assert cal.is_session(date(2025, 1, 10))
    assert cal.next_session(date(2025, 1, 8)) == date(2025, 1, 10)
    assert cal.previous_session(date(2025, 1, 10)) == date(2025, 1, 8)


@pytest.mark.parametrize(
    ("day", "open_utc", "close_utc"),
    [
        (date(2025, 7, 15), utc(2025, 7, 15, 13, 30), utc(2025, 7, 15, 20, 0)),  # EDT
        (date(2025, 1, 15), utc(2025, 1, 15, 14, 30), utc(2025, 1, 15, 21, 0)),  # EST
        (date(2025, 11, 28), utc(2025, 11, 28, 14, 30), utc(2025, 11, 28, 18, 0)),  # 13:00 ET
        (date(2026, 11, 27), utc(2026, 11, 27, 14, 30), utc(2026, 11, 27, 18, 0)),  # 13:00 ET
        (date(2025, 7, 3), utc(2025, 7, 3, 13, 30), utc(2025, 7, 3, 17, 0)),  # 13:00 EDT
    ],
)
def test_session_bounds(
    cal: TradingCalendar, day: date, open_utc: datetime, close_utc: datetime
) -> None:
    bounds = cal.session_bounds(day)
    assert bounds == (open_utc, close_utc)
    assert all(b.tzinfo is UTC for b in bounds)


@pytest.mark.parametrize(
    ("day", "early"),
    [
        (date(2025, 11, 28), True),
        (date(2026, 11, 27), True),
        (date(2025, 12, 24), True),
        (date(2025, 7, 3), True),
        (date(2025, 7, 15), False),
        (date(2025, 11, 26), False),
    ],
)
def test_early_closes(cal: TradingCalendar, day: date, early: bool) -> None:
    assert cal.is_early_close(day) is early
    close_local = cal.session_bounds(day)[1].astimezone(EXCHANGE_TZ).time()
    assert close_local == (time(13, 0) if early else time(16, 0))


def test_regular_close_ignores_the_early_close(cal: TradingCalendar) -> None:
    assert cal.regular_close_utc(date(2025, 11, 28)) == utc(2025, 11, 28, 21, 0)
    assert cal.regular_close_utc(date(2025, 7, 3)) == utc(2025, 7, 3, 20, 0)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 3, 7), utc(2025, 3, 7, 14, 30)),  # Friday before DST starts: EST
        (date(2025, 3, 10), utc(2025, 3, 10, 13, 30)),  # first Monday on EDT
        (date(2025, 10, 31), utc(2025, 10, 31, 13, 30)),  # last Friday on EDT
        (date(2025, 11, 3), utc(2025, 11, 3, 14, 30)),  # first Monday back on EST
    ],
)
def test_exchange_time_to_utc_across_dst(
    cal: TradingCalendar, day: date, expected: datetime
) -> None:
    assert exchange_time_to_utc(day, time(9, 30)) == expected
    assert cal.session_bounds(day)[0] == expected  # the library agrees


def test_exchange_time_to_utc_refuses_aware_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        exchange_time_to_utc(date(2025, 7, 15), time(9, 30, tzinfo=UTC))


def test_trading_date_is_the_new_york_date() -> None:
    assert trading_date_of(utc(2025, 7, 16, 3, 59, 59)) == date(2025, 7, 15)
    assert trading_date_of(utc(2025, 7, 16, 4, 0)) == date(2025, 7, 16)
    assert trading_date_of(utc(2025, 1, 16, 4, 59)) == date(2025, 1, 15)
    with pytest.raises(ValueError, match="naive"):
        trading_date_of(datetime(2025, 7, 16, 12, 0))  # noqa: DTZ001 - the point of the test


def test_sessions_between(cal: TradingCalendar) -> None:
    assert cal.sessions_between(date(2025, 12, 22), date(2025, 12, 31)) == [
        date(2025, 12, 22),
        date(2025, 12, 23),
        date(2025, 12, 24),
        date(2025, 12, 26),
        date(2025, 12, 29),
        date(2025, 12, 30),
        date(2025, 12, 31),
    ]
    assert cal.sessions_between(date(2025, 7, 4), date(2025, 7, 4)) == []
    assert cal.sessions_between(date(2025, 7, 10), date(2025, 7, 9)) == []


def test_sessions_closed_since_counts_closes_strictly_after_and_up_to_now(
    cal: TradingCalendar,
) -> None:
    friday_close = utc(2025, 7, 11, 20, 0)
    assert cal.sessions_closed_since(friday_close, utc(2025, 7, 16, 20, 0)) == 3
    assert cal.sessions_closed_since(friday_close, utc(2025, 7, 16, 19, 59, 59)) == 2
    assert cal.sessions_closed_since(friday_close, friday_close) == 0
    assert cal.sessions_closed_since(utc(2025, 7, 16), friday_close) == 0
    # across the July 4th holiday and the 13:00 early close of July 3rd
    assert cal.sessions_closed_since(utc(2025, 7, 2, 21, 0), utc(2025, 7, 7, 20, 0)) == 2
    assert cal.sessions_closed_since(utc(2025, 7, 3, 16, 59), utc(2025, 7, 3, 17, 0)) == 1


def test_range_widens_on_demand_without_the_library_default() -> None:
    small = TradingCalendar(date(2025, 1, 1), date(2025, 1, 31))
    assert not small.is_session(date(2027, 11, 25))  # Thanksgiving, far outside the range
    assert small.next_session(date(2027, 11, 24)) == date(2027, 11, 26)
    assert small.is_early_close(date(2027, 11, 26))
    assert small.previous_session(date(2010, 1, 4)) == date(2009, 12, 31)
    with pytest.raises(ValueError, match="outside the supported range"):
        small.is_session(date(1800, 1, 2))
    with pytest.raises(ValueError, match="before start"):
        TradingCalendar(date(2025, 2, 1), date(2025, 1, 1))


def test_parse_trading_days() -> None:
    assert parse_trading_days([" Mon", "FRI "]) == frozenset({0, 4})
    with pytest.raises(ConfigError, match="TRADING_DAYS") as err:
        parse_trading_days(["mon", "funday", "xyz"])
    assert len(err.value.problems) == 2
    with pytest.raises(ConfigError, match="at least one"):
        parse_trading_days([])


def test_trading_days_restriction(cal: TradingCalendar) -> None:
    friday = date(2025, 7, 18)
    assert cal.is_trading_day(friday, WEEKDAYS)
    assert not cal.is_trading_day(friday, ("mon", "tue", "wed", "thu"))
    assert cal.non_trading_reason(friday, ("mon", "tue", "wed", "thu")) == (
        REASON_NOT_IN_TRADING_DAYS
    )
    assert cal.non_trading_reason(date(2025, 7, 4), WEEKDAYS) == REASON_MARKET_CLOSED
    # a weekend day stays closed even when TRADING_DAYS allows it
    assert not cal.is_trading_day(date(2025, 7, 19), ("sat", "sun"))
    assert cal.next_trading_day(date(2025, 7, 14), ("fri",)) == date(2025, 7, 18)
    with pytest.raises(ConfigError, match="no trading day"):
        cal.next_trading_day(date(2025, 7, 14), ("sat",))


def _write_holidays(home: Path, text: str) -> Path:
    path = RuntimePaths.for_home().market_holidays_file
    assert path.is_relative_to(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_load_extra_closures(tbot_home: Path) -> None:
    path = _write_holidays(
        tbot_home,
        "# operator closures\n"
        "\n"
        "2025-07-14 Local outage drill\n"
        "   2025-07-16   # comment only, no name\n"
        "2025-07-17 Team offsite # with a comment\n",
    )
    closures = load_extra_closures(path)
    assert closures == {
        date(2025, 7, 14): "Local outage drill",
        date(2025, 7, 16): "",
        date(2025, 7, 17): "Team offsite",
    }
    cal = TradingCalendar(date(2025, 7, 1), date(2025, 7, 31), extra_closures=closures)
    assert cal.is_session(date(2025, 7, 14))  # still an exchange session...
    assert not cal.is_trading_day(date(2025, 7, 14), WEEKDAYS)  # ...but not a trading day
    assert cal.non_trading_reason(date(2025, 7, 16), WEEKDAYS) == REASON_EXTRA_CLOSURE
    assert cal.is_trading_day(date(2025, 7, 15), WEEKDAYS)
    assert cal.next_trading_day(date(2025, 7, 15), WEEKDAYS) == date(2025, 7, 18)


def test_missing_holidays_file_means_no_closures(tbot_home: Path) -> None:
    assert load_extra_closures(RuntimePaths.for_home().market_holidays_file) == {}


@pytest.mark.parametrize("bad", ["2025-13-01 Bad month", "20250714", "July 14", "2025-7-14"])
def test_bad_holiday_line_names_file_and_line(tbot_home: Path, bad: str) -> None:
    path = _write_holidays(tbot_home, f"# header\n2025-07-14 fine\n{bad}\n")
    with pytest.raises(ConfigError) as err:
        load_extra_closures(path)
    assert f"{path}:3:" in str(err.value)
    assert "YYYY-MM-DD" in str(err.value)
