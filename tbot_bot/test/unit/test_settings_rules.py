"""`.env_bot` values and cross-field rules: spellings, ranges, schedule, broker capabilities."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tbot_bot.config.settings_schema import (
    TRADE_CONFIRMATION_MESSAGE,
    Settings,
    ValidatedSettings,
    default_settings_record,
    derived_preview_warnings,
    validate_settings,
)
from tbot_bot.errors import ConfigError, LogicError


def ok(broker: str = "ALPACA", **changes: str) -> ValidatedSettings:
    return validate_settings({**default_settings_record(broker), **changes}, strict=True)


def problem(broker: str = "ALPACA", **changes: str) -> str:
    with pytest.raises(ConfigError) as caught:
        ok(broker, **changes)
    (only,) = caught.value.problems
    return only


# -- spellings ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "text", "stored"),
    [
        ("SHORT_TYPE_OPEN", " InverseETF", "InverseETF"),
        ("SHORT_TYPE_MID", "inverseetf ", "InverseETF"),
        ("SHORT_TYPE_CLOSE", "SHORTSELL", "ShortSell"),
        ("SHORT_TYPE_OPEN", "Disabled", "disabled"),
        ("LOG_FORMAT", "JSON", "json"),
        ("SCREENER_SOURCE", "finnhub", "FINNHUB"),
        ("STRATEGY_OVERRIDE", "null", ""),
        ("STRATEGY_OVERRIDE", " MID ", "mid"),
        ("DISABLE_ALL_TRADES", "TRUE", "true"),
        ("DISABLE_ALL_TRADES", " yes # inline comment", "true"),
        ("TRADING_DAYS", " fri , MON,tue", "mon,tue,fri"),
        ("STRATEGY_SEQUENCE", "open, close", "open,close"),
        ("SCREENER_UNIVERSE_EXCHANGES", "xnys, XNAS ,arcx,OTCQX", "NYSE,NASDAQ,NYSE_ARCA,OTC"),
        ("START_TIME_OPEN_LOCAL", "09:35", "09:35:00"),
        ("TIMEZONE", "europe/london", "Europe/London"),
        ("LANGUAGE_CODE", "DE", "de"),
        ("WEIGHTS", " 0.25, .25 ,0.25,0.250", "0.25,0.25,0.25,0.250"),
        ("TOTAL_ALLOCATION", "0.10", "0.10"),
        ("SIM_DATA_SET", "synthetic\\demo/", "synthetic/demo"),
    ],
)
def test_values_are_trimmed_matched_and_stored_canonically(
    key: str, text: str, stored: str
) -> None:
    assert ok(**{key: text}).normalized[key] == stored


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("SHORT_TYPE_OPEN", "Synthetic", "disabled, InverseETF, LongPut, ShortSell"),
        ("SHORT_TYPE_MID", "Short", "disabled, InverseETF, LongPut, ShortSell"),
        ("SHORT_TYPE_CLOSE", "", "disabled, InverseETF, LongPut, ShortSell"),
        ("DISABLE_ALL_TRADES", "maybe", "true or false"),
        ("TRADING_DAYS", "mon,mon", "at most once"),
        ("TRADING_DAYS", "mon,,tue", "without empty items"),
        ("TRADING_DAYS", "monday", "'monday' is not one of them"),
        ("STRATEGY_SEQUENCE", "mid,open", "chronological order"),
        ("STRATEGY_SEQUENCE", "open,lunch", "'lunch' is not one of them"),
        ("STRATEGY_OVERRIDE", "late", "one of"),
        ("SCREENER_UNIVERSE_EXCHANGES", "NYSE,XNYS", "at most once"),
        ("SCREENER_UNIVERSE_EXCHANGES", "LSE", "exchanges from"),
        ("START_TIME_OPEN_LOCAL", "9:30", "HH:MM[:SS]"),
        ("START_TIME_OPEN_LOCAL", "24:00", "HH:MM[:SS]"),
        ("HOLDINGS_MID_LOCAL", "13:00:60", "HH:MM[:SS]"),
        ("TIMEZONE", "Mars/Olympus_Mons", "IANA time zone"),
        ("LANGUAGE_CODE", "eng", "ISO 639-1"),
        ("SIM_DATA_SET", "../secrets", "relative path"),
        ("SCREENER_UNIVERSE_BLOCKLIST_PATH", "/etc/passwd", "relative path"),
        ("MAX_TRADES", "4.0", "an integer"),
        ("MAX_TRADES", "1_000", "an integer"),
        ("TOTAL_ALLOCATION", "1e-2", "plain decimal"),
        ("TOTAL_ALLOCATION", "NaN", "plain decimal"),
        ("WEIGHTS", "0.4,0.2,0,0.4", "(0, 1]"),
    ],
)
def test_bad_values_name_key_value_and_expectation(key: str, text: str, expected: str) -> None:
    message = problem(**{key: text})
    assert message.startswith(f"{key}={text.strip()!r}: expected")
    assert expected in message


@pytest.mark.parametrize(
    ("key", "good", "bad"),
    [
        ("DAILY_LOSS_LIMIT", ["0.0001", "0.9999"], ["0", "1", "-0.05"]),
        ("TOTAL_ALLOCATION", ["1", "0.5"], ["0", "1.01"]),
        ("MAX_RISK_PER_TRADE", ["1"], ["0", "2"]),
        ("BCRYPT_ROUNDS", ["12", "15"], ["11", "16"]),
        ("LOGIN_ATTEMPT_LIMIT", ["3", "50"], ["2", "51"]),
        ("LOGIN_LOCKOUT_MINUTES", ["1", "1440"], ["0", "1441"]),
        ("SESSION_TIMEOUT_MINUTES", ["5", "1440"], ["4", "1441"]),
        ("SESSION_MAX_HOURS", ["1", "168"], ["0", "169"]),
        ("MAX_OPEN_POSITIONS", ["1"], ["0"]),
        ("CANDIDATE_MULTIPLIER", ["1"], ["0"]),
        ("KEY_BACKUP_RETENTION", ["1"], ["0"]),
        ("STRAT_OPEN_BUFFER", ["0.001"], ["0"]),
        ("STRAT_CLOSE_MOMENTUM_RATIO", ["1"], ["0", "1.1"]),
        ("STRAT_CLOSE_VIX_THRESHOLD", ["0"], ["-1"]),
        ("SIM_PARTIAL_FILL_PCT", ["0", "0.99"], ["1"]),
        ("SIM_FEE_PER_SHARE", ["0"], ["-0.01"]),
        ("SIM_SPREAD_BPS", ["0"], ["-1"]),
        ("DEFENSE_MODE_TRADE_LIMIT_PCT", ["100"], ["101"]),
        ("VIX_MAX", ["", "30"], ["0"]),
        ("TRAIL_ATR_MULT", ["", "1.5"], ["0"]),
    ],
)
def test_numeric_ranges(key: str, good: list[str], bad: list[str]) -> None:
    for text in good:
        ok(**{key: text})
    for text in bad:
        assert problem(**{key: text}).startswith(f"{key}={text!r}: expected")


def test_money_and_fractions_are_exact_decimals() -> None:
    settings = ok(MIN_PRICE="2.10", WEIGHTS="0.1,0.2,0.3,0.4").settings
    assert isinstance(settings.MIN_PRICE, Decimal)
    assert str(settings.MIN_PRICE) == "2.10"
    assert sum(settings.WEIGHTS) == Decimal("1.0")  # 0.1 + 0.2 + 0.3 + 0.4 exactly


# -- cross-field rules ----------------------------------------------------------------------------
def test_weights_length_must_equal_max_trades() -> None:
    assert "expected exactly MAX_TRADES=3 weights, got 4" in problem(MAX_TRADES="3")
    weights = ok(MAX_TRADES="2", WEIGHTS="0.6,0.4").settings.WEIGHTS
    assert weights == (Decimal("0.6"), Decimal("0.4"))


def test_release_limits() -> None:
    assert problem(TRADE_CONFIRMATION_REQUIRED="True") == TRADE_CONFIRMATION_MESSAGE
    assert TRADE_CONFIRMATION_MESSAGE == (
        "TRADE_CONFIRMATION_REQUIRED=true needs the approval page, which is not in this release; "
        "set it to false"
    )
    assert problem(RBAC_ENABLED="FALSE").startswith("RBAC_ENABLED='false': expected true")
    for algorithm in ("bayesian", "Genetic"):
        assert "later phase" in problem(OPTIMIZER_ALGORITHM=algorithm)
    assert ok(OPTIMIZER_ALGORITHM="GRID_SEARCH").settings.OPTIMIZER_ALGORITHM == "grid_search"


def test_dynamic_risk_free_rate_warns_and_is_treated_as_static() -> None:
    result = ok(RISK_FREE_RATE_SOURCE="dynamic")
    assert result.settings.RISK_FREE_RATE_SOURCE == "static"
    assert any("RISK_FREE_RATE_SOURCE" in warning for warning in result.warnings)


@pytest.mark.parametrize("broker", ["ALPACA", "TRADIER"])
def test_long_put_needs_ibkr_or_sim(broker: str) -> None:
    message = problem(broker, SHORT_TYPE_CLOSE="LongPut")
    assert message.startswith("SHORT_TYPE_CLOSE='LongPut': not available with BROKER_NAME=")
    assert "IBKR, SIM" in message


@pytest.mark.parametrize("broker", ["ALPACA", "IBKR", "SIM", "TRADIER"])
def test_short_sell_and_inverse_etf_work_with_every_v1_broker(broker: str) -> None:
    settings = ok(broker, SHORT_TYPE_OPEN="ShortSell", SHORT_TYPE_MID="inverseETF").settings
    assert (settings.SHORT_TYPE_OPEN, settings.SHORT_TYPE_MID) == ("ShortSell", "InverseETF")
    if broker in {"IBKR", "SIM"}:
        assert ok(broker, SHORT_TYPE_CLOSE="longput").settings.SHORT_TYPE_CLOSE == "LongPut"


def test_version_tag_must_match_the_package() -> None:
    assert problem(VERSION_TAG="v0.9.0") == (
        "VERSION_TAG='v0.9.0': expected 'v1.0.0', the installed version"
    )


def test_phases_must_be_ordered() -> None:
    message = problem(START_TIME_MID_LOCAL="09:00")
    assert message.startswith("START_TIME_MID_LOCAL=09:00:00: expected later than")


def test_phases_must_not_overlap() -> None:
    message = problem(OPEN_MONITORING_TIME="160")
    assert "OPEN phase START_TIME_OPEN_LOCAL=09:30:00" in message
    assert "ends 12:40:00, after START_TIME_MID_LOCAL=12:00:00" in message


def test_close_must_end_by_the_regular_close() -> None:
    message = problem(START_TIME_CLOSE_LOCAL="15:45")
    assert "CLOSE phase START_TIME_CLOSE_LOCAL=15:45:00" in message
    assert "ends 16:08:00: expected it to end by the 16:00:00 close" in message
    ok(START_TIME_CLOSE_LOCAL="15:37:00")  # 5 + 3 + 15 min ends exactly at 16:00


def test_phase_start_before_the_open_warns() -> None:
    assert any("before the 09:30:00 open" in w for w in ok(START_TIME_OPEN_LOCAL="09:00").warnings)


def test_universe_build_is_outside_market_hours() -> None:
    assert "outside market hours" in problem(UNIVERSE_REBUILD_START_TIME_LOCAL="15:00")
    ok(UNIVERSE_REBUILD_START_TIME_LOCAL="16:00")
    ok(UNIVERSE_REBUILD_START_TIME_LOCAL="06:00")


def test_min_must_not_exceed_max() -> None:
    assert problem(MIN_PRICE="400") == "MIN_PRICE='400': expected at most MAX_PRICE='300.00'"
    assert "MAX_MARKET_CAP_MID" in problem(MIN_MARKET_CAP_MID="20000000000")


def test_override_outside_the_sequence_warns() -> None:
    result = ok(STRATEGY_SEQUENCE="open,mid", STRATEGY_OVERRIDE="close")
    assert any("no strategy will run" in warning for warning in result.warnings)


def test_defense_mode_without_entries_warns() -> None:
    result = ok(DEFENSE_MODE_ACTIVE="true", MAX_TRADES="1", WEIGHTS="1")
    assert any("(N = 0)" in warning for warning in result.warnings)
    assert ok(DEFENSE_MODE_ACTIVE="true").warnings == ()


# -- Settings helpers and previews ----------------------------------------------------------------
def test_per_strategy_lookups() -> None:
    settings = ok(TRAIL_PCT_OPEN="0", MID_SCREENER="finnhub", STRAT_CLOSE_ENABLED="no").settings
    assert settings.trail_pct("OPEN") == settings.TRADING_TRAILING_STOP_PCT
    assert settings.trail_pct("mid") == Decimal("0.0225")
    assert settings.screener_source("mid") == "FINNHUB"
    assert settings.screener_source("close") == "BROKER"
    assert settings.phase_minutes("close") == (5, 3, 15)
    assert settings.start_local("mid") == time(12, 0)
    assert settings.strategy_enabled("close") is False
    assert settings.short_type("open") == "InverseETF"
    with pytest.raises(LogicError, match="unknown strategy"):
        settings.start_local("lunch")


def test_preview_keys_are_checked_against_the_date() -> None:
    settings: Settings = ok(START_TIME_OPEN="13:30", MARKET_CLOSE_UTC="20:00").settings
    summer = derived_preview_warnings(settings, date(2025, 7, 15), market_close_utc=time(20, 0))
    assert summer == ()
    winter = derived_preview_warnings(settings, date(2025, 12, 15), market_close_utc=time(21, 0))
    assert len(winter) == 2
    assert winter[0].startswith("START_TIME_OPEN=13:30:00 differs from 14:30:00 UTC")


# -- property: any valid record round-trips through its canonical form -------------------------
@settings(max_examples=60, deadline=None)
@given(
    trades=st.integers(min_value=1, max_value=8),
    weight_cents=st.lists(st.integers(min_value=1, max_value=100), min_size=8, max_size=8),
    allocation=st.decimals(min_value="0.0001", max_value="1", places=4),
    days=st.sets(st.sampled_from(["mon", "TUE", "wed", "Thu", "fri", "sat", "sun"]), min_size=1),
    short=st.sampled_from(["disabled", " inverseETF", "SHORTSELL"]),
)
def test_canonical_record_round_trips(
    trades: int, weight_cents: list[int], allocation: Decimal, days: set[str], short: str
) -> None:
    weights = ",".join(f"{Decimal(c) / 100}" for c in weight_cents[:trades])
    result = ok(
        MAX_TRADES=str(trades),
        WEIGHTS=weights,
        TOTAL_ALLOCATION=f"{allocation:f}",
        TRADING_DAYS=" , ".join(sorted(days)),
        SHORT_TYPE_OPEN=short,
    )
    again = validate_settings(result.normalized, strict=True)
    assert again.settings == result.settings
    assert again.normalized == result.normalized
    total = result.settings.TOTAL_ALLOCATION
    assert total == allocation
