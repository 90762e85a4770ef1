"""The pure day plan: phases, windows, early closes, DST, grace, validation (trading spec §1)."""

from __future__ import annotations

import dataclasses
import json
import time as time_module
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest

from tbot_bot.errors import ConfigError
from tbot_bot.market.calendar import TradingCalendar, to_exchange_time
from tbot_bot.market.day_plan import (
    SKIP_EARLY_CLOSE,
    SKIP_HOLDINGS_NOT_ENABLED,
    SKIP_MISSED_START,
    SKIP_NOT_IN_SEQUENCE,
    SKIP_STRATEGY_OVERRIDE,
    DayPlan,
    PhasePlan,
    build_day_plan,
    next_trading_plan,
    schedule_json,
)
from tbot_bot.market.late_start import apply_late_start, late_start_decision
from tbot_bot.market.schedule_config import ScheduleConfig
from tbot_bot.market.schedule_validation import validate_plan, validate_schedule_config

SUMMER = date(2025, 7, 15)
WINTER = date(2025, 1, 15)


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return TradingCalendar(date(2025, 1, 1), date(2026, 12, 31))


def plan_for(day: date, cal: TradingCalendar, **changes: object) -> DayPlan:
    return build_day_plan(day, cal, ScheduleConfig(**changes))  # type: ignore[arg-type]


def phase(plan: DayPlan, name: str) -> PhasePlan:
    found = plan.phase(name)
    assert found is not None, name
    return found


def hms(instant: datetime | None) -> str:
    assert instant is not None
    assert instant.tzinfo is UTC
    return f"{instant:%H:%M:%S}"


def et(instant: datetime | None) -> str:
    assert instant is not None
    return f"{to_exchange_time(instant):%H:%M:%S}"


# (phase, start, analysis end, entry end, hard exit) in UTC, straight from the table of §1.1
SUMMER_TABLE = [
    ("open", "13:30:00", "13:50:00", "14:00:00", "14:30:00"),
    ("mid", "16:00:00", "16:15:00", "16:25:00", "16:55:00"),
    ("close", "19:34:30", "19:39:30", "19:42:30", "19:57:30"),
]
WINTER_TABLE = [
    ("open", "14:30:00", "14:50:00", "15:00:00", "15:30:00"),
    ("mid", "17:00:00", "17:15:00", "17:25:00", "17:55:00"),
    ("close", "20:34:30", "20:39:30", "20:42:30", "20:57:30"),
]
LOCAL_TABLE = [
    ("open", "09:30:00", "09:50:00", "10:00:00", "10:30:00"),
    ("mid", "12:00:00", "12:15:00", "12:25:00", "12:55:00"),
    ("close", "15:34:30", "15:39:30", "15:42:30", "15:57:30"),
]


@pytest.mark.parametrize(
    ("day", "table", "slots"),
    [
        (SUMMER, SUMMER_TABLE, {"holdings_open": "14:40:00", "holdings_mid": "17:00:00",
                                "universe": "22:00:00"}),
        (WINTER, WINTER_TABLE, {"holdings_open": "15:40:00", "holdings_mid": "18:00:00",
                                "universe": "23:00:00"}),
    ],
)  # fmt: skip
def test_utc_columns_of_the_phase_table(
    cal: TradingCalendar, day: date, table: list[tuple[str, ...]], slots: dict[str, str]
) -> None:
    plan = plan_for(day, cal)
    assert plan.is_trading_day
    assert not plan.early_close
    for name, start, analysis_end, entry_end, hard_exit in table:
        p = phase(plan, name)
        got = (
            hms(p.start_utc),
            hms(p.analysis_end_utc),
            hms(p.entry_end_utc),
            hms(p.hard_exit_utc),
        )
        assert got == (start, analysis_end, entry_end, hard_exit), name
        assert p.status == "pending"
    for name, start in slots.items():
        assert hms(phase(plan, name).start_utc) == start
        assert phase(plan, name).hard_exit_utc is None
    assert [p.name for p in plan.phases] == [
        "open", "holdings_open", "mid", "holdings_mid", "close", "universe"
    ]  # fmt: skip
    validate_plan(plan)


@pytest.mark.parametrize("day", [SUMMER, WINTER, date(2025, 3, 10), date(2025, 11, 3)])
def test_exchange_local_windows_never_move(cal: TradingCalendar, day: date) -> None:
    plan = plan_for(day, cal)
    for name, start, analysis_end, entry_end, hard_exit in LOCAL_TABLE:
        p = phase(plan, name)
        got = (et(p.start_utc), et(p.analysis_end_utc), et(p.entry_end_utc), et(p.hard_exit_utc))
        assert got == (start, analysis_end, entry_end, hard_exit)
    assert et(plan.session_open_utc) == "09:30:00"
    assert et(plan.session_close_utc) == "16:00:00"


@pytest.mark.parametrize(
    ("day", "open_utc", "close_phase_utc"),
    [
        (date(2025, 3, 7), "14:30:00", "20:34:30"),  # last Friday on EST
        (date(2025, 3, 10), "13:30:00", "19:34:30"),  # first Monday on EDT
        (date(2025, 10, 31), "13:30:00", "19:34:30"),  # last Friday on EDT
        (date(2025, 11, 3), "14:30:00", "20:34:30"),  # first Monday back on EST
    ],
)
def test_dst_transition_days(
    cal: TradingCalendar, day: date, open_utc: str, close_phase_utc: str
) -> None:
    plan = plan_for(day, cal)
    assert hms(phase(plan, "open").start_utc) == open_utc
    assert hms(phase(plan, "close").start_utc) == close_phase_utc
    assert phase(plan, "open").start_utc == plan.session_open_utc


def test_tightening_instants(cal: TradingCalendar) -> None:
    plan = plan_for(SUMMER, cal)
    assert et(phase(plan, "open").tightening_from_utc) == "10:27:30"
    assert et(phase(plan, "mid").tightening_from_utc) == "12:52:30"
    assert et(phase(plan, "close").tightening_from_utc) == "15:55:00"
    wider = plan_for(SUMMER, cal, trail_tightening_buffer_s=300)
    assert et(phase(wider, "close").tightening_from_utc) == "15:52:30"


@pytest.mark.parametrize(
    "day", [date(2025, 7, 4), date(2026, 6, 19), date(2025, 1, 9), date(2025, 7, 12)]
)
def test_closed_days_have_no_phases(cal: TradingCalendar, day: date) -> None:
    plan = plan_for(day, cal)
    assert not plan.is_trading_day
    assert plan.reason_if_not == "market_closed"
    assert plan.phases == ()
    assert plan.session_open_utc is None
    validate_plan(plan)  # nothing to check on a closed day


def test_early_close_2025_11_28(cal: TradingCalendar) -> None:
    plan = plan_for(date(2025, 11, 28), cal)
    assert plan.is_trading_day
    assert plan.early_close
    assert et(plan.session_close_utc) == "13:00:00"
    close = phase(plan, "close")
    assert (et(close.start_utc), et(close.hard_exit_utc)) == ("12:34:30", "12:57:30")
    assert (et(close.analysis_end_utc), et(close.entry_end_utc)) == ("12:39:30", "12:42:30")
    assert et(close.tightening_from_utc) == "12:55:00"
    assert close.status == "pending"
    assert (phase(plan, "mid").status, phase(plan, "mid").skip_reason) == (
        "skipped",
        SKIP_EARLY_CLOSE,
    )
    assert phase(plan, "holdings_mid").skip_reason == SKIP_EARLY_CLOSE
    assert phase(plan, "open").status == "pending"
    assert phase(plan, "holdings_open").skip_reason == SKIP_HOLDINGS_NOT_ENABLED
    universe = phase(plan, "universe")
    assert (et(universe.start_utc), universe.status) == ("18:00:00", "pending")
    validate_plan(plan)


def test_early_close_2026_11_27(cal: TradingCalendar) -> None:
    plan = plan_for(date(2026, 11, 27), cal)
    assert plan.early_close
    assert et(plan.session_close_utc) == "13:00:00"
    assert et(phase(plan, "close").start_utc) == "12:34:30"
    assert phase(plan, "mid").skip_reason == SKIP_EARLY_CLOSE


def test_early_close_keeps_a_phase_that_finishes_before_close_starts(
    cal: TradingCalendar,
) -> None:
    plan = plan_for(date(2025, 11, 28), cal, start_mid=time(11, 0))  # MID ends 11:55
    assert phase(plan, "mid").status == "pending"
    assert et(phase(plan, "mid").hard_exit_utc) == "11:55:00"


def test_holdings_are_always_skipped_in_v1(cal: TradingCalendar) -> None:
    plan = plan_for(SUMMER, cal)
    for name in ("holdings_open", "holdings_mid"):
        assert phase(plan, name).status == "skipped"
        assert phase(plan, name).skip_reason == SKIP_HOLDINGS_NOT_ENABLED


def test_trading_days_restriction(cal: TradingCalendar) -> None:
    friday = date(2025, 7, 18)
    plan = plan_for(friday, cal, trading_days=("mon", "tue", "wed", "thu"))
    assert (plan.is_trading_day, plan.reason_if_not, plan.phases) == (
        False,
        "not_in_trading_days",
        (),
    )
    assert plan.session_close_utc is not None  # the exchange is open, the bot is not
    assert plan_for(friday, cal).is_trading_day


def test_extra_closure_day_has_no_phases() -> None:
    closed = TradingCalendar(
        date(2025, 7, 1), date(2025, 7, 31), extra_closures={SUMMER: "office move"}
    )
    plan = build_day_plan(SUMMER, closed, ScheduleConfig())
    assert (plan.is_trading_day, plan.reason_if_not, plan.phases) == (False, "extra_closure", ())
    assert next_trading_plan(date(2025, 7, 14), closed, ScheduleConfig()).trading_date == date(
        2025, 7, 16
    )


def test_next_trading_plan_skips_the_holiday(cal: TradingCalendar) -> None:
    plan = next_trading_plan(date(2025, 7, 3), cal, ScheduleConfig())
    assert plan.trading_date == date(2025, 7, 7)
    assert plan.is_trading_day


def test_sequence_and_override_skip_strategies(cal: TradingCalendar) -> None:
    plan = plan_for(SUMMER, cal, strategy_sequence=("open", "close"))
    assert phase(plan, "mid").skip_reason == SKIP_NOT_IN_SEQUENCE
    plan = plan_for(SUMMER, cal, strategy_override="close")
    assert phase(plan, "open").skip_reason == SKIP_STRATEGY_OVERRIDE
    assert phase(plan, "mid").skip_reason == SKIP_STRATEGY_OVERRIDE
    assert phase(plan, "close").status == "pending"


def test_window_at_allows_entries_only_in_the_entry_window(cal: TradingCalendar) -> None:
    open_phase = phase(plan_for(SUMMER, cal), "open")
    start = open_phase.start_utc
    assert open_phase.window_at(start - timedelta(seconds=1)) == "before"
    assert open_phase.window_at(start) == "analysis"
    assert open_phase.window_at(start + timedelta(minutes=20)) == "entry"
    assert open_phase.window_at(start + timedelta(minutes=29, seconds=59)) == "entry"
    assert open_phase.window_at(start + timedelta(minutes=30)) == "monitoring"
    assert open_phase.window_at(start + timedelta(minutes=60)) == "after"
    with pytest.raises(ValueError, match="no windows"):
        phase(plan_for(SUMMER, cal), "universe").window_at(start)


# -- grace and late start ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("late", "decision"),
    [
        (timedelta(seconds=-1), "wait"),
        (timedelta(0), "start_now"),
        (timedelta(minutes=1), "start_now"),
        (timedelta(minutes=2), "start_now"),
        (timedelta(minutes=2, seconds=1), "skip"),
        (timedelta(minutes=3), "skip"),
    ],
)
def test_grace_rule(cal: TradingCalendar, late: timedelta, decision: str) -> None:
    open_phase = phase(plan_for(SUMMER, cal), "open")
    assert late_start_decision(open_phase, open_phase.start_utc + late, grace_min=2) == decision


def test_grace_never_starts_a_phase_whose_entry_window_is_over(cal: TradingCalendar) -> None:
    open_phase = phase(plan_for(SUMMER, cal), "open")
    assert late_start_decision(open_phase, open_phase.start_utc + timedelta(minutes=31), 60) == (
        "skip"
    )
    with pytest.raises(ValueError, match="grace_min"):
        late_start_decision(open_phase, open_phase.start_utc, -1)


def test_up_at_15_utc_in_summer_runs_mid_onwards(cal: TradingCalendar) -> None:
    plan = plan_for(SUMMER, cal)
    now = datetime(2025, 7, 15, 15, 0, tzinfo=UTC)  # 11:00 ET
    decisions = {p.name: late_start_decision(p, now, 2) for p in plan.phases}
    assert decisions == {
        "open": "skip",
        "holdings_open": "skip",
        "mid": "wait",
        "holdings_mid": "skip",  # holdings are not enabled in v1
        "close": "wait",
        "universe": "wait",
    }
    late = apply_late_start(plan, now, 2)
    assert (phase(late, "open").status, phase(late, "open").skip_reason) == (
        "skipped",
        SKIP_MISSED_START,
    )
    assert phase(late, "holdings_open").skip_reason == SKIP_HOLDINGS_NOT_ENABLED
    assert [p.name for p in late.phases if p.status == "pending"] == ["mid", "close", "universe"]


# -- configuration and TIMEZONE ----------------------------------------------------------------


@dataclass
class FakeSettings:
    """Stands in for the validated settings object: only attribute names matter."""

    START_TIME_OPEN_LOCAL: object = time(9, 30)
    START_TIME_MID_LOCAL: object = "12:00"
    START_TIME_CLOSE_LOCAL: object = "15:34:30"
    OPEN_ANALYSIS_TIME: object = 20
    OPEN_BREAKOUT_TIME: object = "10"
    OPEN_MONITORING_TIME: object = 30
    MID_ANALYSIS_TIME: object = 15
    MID_BREAKOUT_TIME: object = 10
    MID_MONITORING_TIME: object = 30
    CLOSE_ANALYSIS_TIME: object = 5
    CLOSE_BREAKOUT_TIME: object = 3
    CLOSE_MONITORING_TIME: object = 15
    HOLDINGS_OPEN_LOCAL: object = "10:40"
    HOLDINGS_MID_LOCAL: object = time(13, 0)
    UNIVERSE_REBUILD_START_TIME_LOCAL: object = "18:00"
    STRATEGY_SEQUENCE: object = "open, mid ,close"
    TRADING_DAYS: object = ("MON", "tue", "wed", "thu", "fri")
    TRAIL_TIGHTENING_BUFFER_S: object = 150
    STRATEGY_OVERRIDE: object = "null"
    TIMEZONE: str = "America/New_York"


def test_from_settings_reads_the_env_bot_keys() -> None:
    config = ScheduleConfig.from_settings(FakeSettings(), grace_min=3)
    assert config == dataclasses.replace(ScheduleConfig(), grace_min=3)
    custom = ScheduleConfig.from_settings(
        FakeSettings(START_TIME_OPEN_LOCAL="09:45:15", TRADING_DAYS="mon,wed")
    )
    assert custom.start_open == time(9, 45, 15)
    assert custom.trading_days == ("mon", "wed")


def test_from_settings_reports_every_bad_key_together() -> None:
    bad = FakeSettings(
        START_TIME_MID_LOCAL="noon", OPEN_ANALYSIS_TIME=None, CLOSE_BREAKOUT_TIME="3.5"
    )
    with pytest.raises(ConfigError) as err:
        ScheduleConfig.from_settings(bad)
    text = " | ".join(err.value.problems)
    assert "START_TIME_MID_LOCAL: 'noon'" in text
    assert "OPEN_ANALYSIS_TIME: required" in text
    assert "CLOSE_BREAKOUT_TIME: '3.5'" in text
    assert len(err.value.problems) == 3


def test_from_settings_defaults_optional_keys() -> None:
    @dataclass
    class Minimal:
        START_TIME_OPEN_LOCAL: object = "09:30"
        START_TIME_MID_LOCAL: object = "12:00"
        START_TIME_CLOSE_LOCAL: object = "15:34:30"
        OPEN_ANALYSIS_TIME: object = 20
        OPEN_BREAKOUT_TIME: object = 10
        OPEN_MONITORING_TIME: object = 30
        MID_ANALYSIS_TIME: object = 15
        MID_BREAKOUT_TIME: object = 10
        MID_MONITORING_TIME: object = 30
        CLOSE_ANALYSIS_TIME: object = 5
        CLOSE_BREAKOUT_TIME: object = 3
        CLOSE_MONITORING_TIME: object = 15

    assert ScheduleConfig.from_settings(Minimal()) == ScheduleConfig()


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"open_analysis_min": 0}, "OPEN_ANALYSIS_TIME"),
        ({"strategy_sequence": ("open", "lunch")}, "STRATEGY_SEQUENCE"),
        ({"strategy_sequence": ("open", "open")}, "STRATEGY_SEQUENCE"),
        ({"trading_days": ("monday",)}, "TRADING_DAYS"),
        ({"strategy_override": "mid-day"}, "STRATEGY_OVERRIDE"),
        ({"trail_tightening_buffer_s": -1}, "TRAIL_TIGHTENING_BUFFER_S"),
        ({"universe_rebuild": time(18, 0, tzinfo=UTC)}, "universe_rebuild: must be a naive"),
    ],
)
def test_schedule_config_rejects_bad_values(changes: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        ScheduleConfig(**changes)  # type: ignore[arg-type]


@pytest.fixture
def tokyo_process_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with the process's local zone set far from New York and from UTC."""
    with monkeypatch.context() as patch:
        patch.setenv("TZ", "Asia/Tokyo")
        time_module.tzset()
        assert time_module.strftime("%Z") in ("JST", "+09")  # the zone really changed
        yield
    time_module.tzset()


@pytest.mark.usefixtures("tokyo_process_zone")
def test_timezone_setting_and_process_zone_change_no_instant(cal: TradingCalendar) -> None:
    as_utc = ScheduleConfig.from_settings(FakeSettings(TIMEZONE="UTC"))
    as_tokyo = ScheduleConfig.from_settings(FakeSettings(TIMEZONE="Asia/Tokyo"))
    assert as_utc == as_tokyo
    plan = build_day_plan(SUMMER, cal, as_utc)
    assert plan == build_day_plan(SUMMER, cal, as_tokyo)
    assert hms(phase(plan, "open").start_utc) == "13:30:00"
    assert hms(phase(plan, "close").hard_exit_utc) == "19:57:30"


# -- validation --------------------------------------------------------------------------------


def test_overlapping_phases_are_rejected(cal: TradingCalendar) -> None:
    plan = plan_for(SUMMER, cal, start_mid=time(10, 15))  # inside OPEN's 09:30-10:30
    with pytest.raises(ConfigError, match="overlap") as err:
        validate_plan(plan)
    assert "MID 10:15:00 ET" in str(err.value)


def test_sequence_order_is_enforced(cal: TradingCalendar) -> None:
    plan = plan_for(SUMMER, cal, strategy_sequence=("mid", "open", "close"))
    with pytest.raises(ConfigError, match="STRATEGY_SEQUENCE"):
        validate_plan(plan)


def test_phase_ending_after_the_close_is_rejected(cal: TradingCalendar) -> None:
    plan = plan_for(SUMMER, cal, start_close=time(15, 50))  # hard exit 16:13
    with pytest.raises(ConfigError, match="after the market close"):
        validate_plan(plan)


def test_universe_rebuild_during_market_hours_is_rejected(cal: TradingCalendar) -> None:
    plan = plan_for(SUMMER, cal, universe_rebuild=time(14, 0))
    with pytest.raises(ConfigError, match="UNIVERSE 14:00:00 ET"):
        validate_plan(plan)


def test_skipped_phases_are_not_validated(cal: TradingCalendar) -> None:
    plan = plan_for(SUMMER, cal, start_mid=time(10, 15), strategy_sequence=("open", "close"))
    validate_plan(plan)


def test_validate_schedule_config_uses_a_regular_day(cal: TradingCalendar) -> None:
    # MID 15:00-15:55 overlaps CLOSE on a regular day; on the early close of 2025-11-28 MID is
    # skipped, so only a regular session can reveal the problem. TRADING_DAYS is irrelevant.
    bad = ScheduleConfig(start_mid=time(15, 0), trading_days=("sat",))
    early_day = build_day_plan(
        date(2025, 11, 28), cal, dataclasses.replace(bad, trading_days=("fri",))
    )
    validate_plan(early_day)
    with pytest.raises(ConfigError, match="overlap"):
        validate_schedule_config(bad, cal, date(2025, 11, 27))  # holiday, then the early close
    validate_schedule_config(ScheduleConfig(), cal, date(2025, 11, 27))


# -- schedule.json -----------------------------------------------------------------------------


def test_schedule_json_fields(cal: TradingCalendar) -> None:
    created = datetime(2025, 7, 15, 4, 1, tzinfo=UTC)
    doc = schedule_json(plan_for(SUMMER, cal), created)
    json.dumps(doc)  # must be serialisable as is
    assert doc["trading_date"] == "2025-07-15"
    assert doc["created_utc"] == "2025-07-15T04:01:00.000Z"
    assert doc["open_utc"] == "2025-07-15T13:30:00.000Z"
    assert doc["holdings_open_utc"] == "2025-07-15T14:40:00.000Z"
    assert doc["mid_utc"] == "2025-07-15T16:00:00.000Z"
    assert doc["holdings_mid_utc"] == "2025-07-15T17:00:00.000Z"
    assert doc["close_utc"] == "2025-07-15T19:34:30.000Z"
    assert doc["market_close_utc"] == "2025-07-15T20:00:00.000Z"
    assert doc["universe_utc"] == "2025-07-15T22:00:00.000Z"
    assert set(doc["phases"]) == {
        "open", "holdings_open", "mid", "holdings_mid", "close", "universe"
    }  # fmt: skip
    assert doc["phases"]["holdings_mid"] == {
        "status": "skipped",
        "reason": SKIP_HOLDINGS_NOT_ENABLED,
        "started_utc": None,
        "ended_utc": None,
    }
    assert doc["phases"]["open"]["status"] == "pending"


def test_schedule_json_of_a_closed_day(cal: TradingCalendar) -> None:
    doc = schedule_json(plan_for(date(2025, 7, 4), cal), datetime(2025, 7, 4, 4, 1, tzinfo=UTC))
    assert doc["phases"] == {}
    assert doc["open_utc"] is None
    assert doc["market_close_utc"] is None
    assert (doc["is_trading_day"], doc["reason"]) == (False, "market_closed")
