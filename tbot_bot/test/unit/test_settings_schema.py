"""`.env_bot` schema: catalogue coverage, reading text, removed/alias/unknown keys, records.

Cross-field rules and value ranges are in `test_settings_rules.py`.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

import tbot_bot
from tbot_bot.config.settings_catalogue import KEY_ALIASES
from tbot_bot.config.settings_schema import (
    BROKER_NAMES,
    CATALOGUE,
    DEPRECATED_KEYS,
    ENV_EXAMPLE_PATH,
    Settings,
    default_settings_record,
    load_settings_file,
    parse_env_text,
    render_env_example,
    settings_to_record,
    validate_settings,
)
from tbot_bot.errors import ConfigError

# Every key of trading spec §12.1-12.3 and §12.5, written out from the spec tables by hand so that
# a key missing from (or invented in) the catalogue fails here.
_S = ("OPEN", "MID", "CLOSE")
SPEC_KEYS = {
    *"""BROKER_NAME VERSION_TAG BUILD_MODE DISABLE_ALL_TRADES DEBUG_LOG_LEVEL LOG_FORMAT
    ENABLE_LOGGING TIMEZONE SCHEDULE_INPUT_TZ TRADING_DAYS HOLDINGS_OPEN_LOCAL HOLDINGS_MID_LOCAL
    UNIVERSE_REBUILD_START_TIME_LOCAL STRATEGY_SEQUENCE STRATEGY_OVERRIDE STRATEGY_SLEEP_TIME
    UNIVERSE_SLEEP_TIME START_TIME_OPEN START_TIME_MID START_TIME_CLOSE HOLDINGS_OPEN HOLDINGS_MID
    UNIVERSE_REBUILD_START_TIME MARKET_OPEN_UTC MARKET_CLOSE_UTC STRAT_OPEN_BUFFER
    STRAT_MID_VWAP_THRESHOLD ADX_MAX VIX_MAX STRAT_CLOSE_VIX_THRESHOLD STRAT_CLOSE_MOMENTUM_RATIO
    STRAT_CLOSE_FADE_RATIO CLOSE_IMBALANCE_MAX_SHARES SCREENER_SOURCE TOTAL_ALLOCATION MAX_TRADES
    CANDIDATE_MULTIPLIER WEIGHTS MAX_RISK_PER_TRADE MAX_OPEN_POSITIONS DAILY_LOSS_LIMIT FRACTIONAL
    MIN_PRICE MAX_PRICE MIN_VOLUME_THRESHOLD MAX_SPREAD_PCT MAX_QUOTE_AGE_S
    ENTRY_LIMIT_SLIPPAGE_PCT ENTRY_FILL_TIMEOUT_S RISK_FAIL_MODE STOP_FLATTEN_MODE
    TRADE_CONFIRMATION_REQUIRED API_RETRY_LIMIT API_TIMEOUT WATCHDOG_INTERVAL_SEC
    WATCHDOG_FAILURE_THRESHOLD ACCOUNT_BALANCE DEFENSE_MODE_ACTIVE DEFENSE_MODE_TRADE_LIMIT_PCT
    DEFENSE_MODE_TOTAL_ALLOCATION TRADING_TRAILING_STOP_PCT TRAIL_TIGHTENING_BUFFER_S
    TRAIL_TIGHTENING_FACTOR TRAIL_ATR_MULT HOLDINGS_TRAILING_STOP_PCT ENABLE_FUNDAMENTAL_GUARD
    MAX_PE_RATIO MAX_DEBT_EQUITY MIN_MARKET_CAP_FUNDAMENTAL ENABLE_BSM_FILTER MAX_BSM_DEVIATION
    RISK_FREE_RATE RISK_FREE_RATE_SOURCE SCREENER_UNIVERSE_EXCHANGES SCREENER_UNIVERSE_TYPES
    SCREENER_UNIVERSE_MIN_PRICE SCREENER_UNIVERSE_MAX_PRICE SCREENER_UNIVERSE_MIN_MARKET_CAP
    SCREENER_UNIVERSE_MAX_MARKET_CAP SCREENER_UNIVERSE_MAX_SIZE SCREENER_UNIVERSE_MAX_AGE_DAYS
    SCREENER_UNIVERSE_BLOCKLIST_PATH UNIVERSE_LOCAL_FILE REBALANCE_ENABLED ENABLE_REBALANCE_NOTIFIER
    REBALANCE_THRESHOLD REBALANCE_CHECK_INTERVAL NOTIFY_ON_FILL NOTIFY_ON_EXIT NOTIFY_ON_FAILURE
    CRITICAL_ALERT_CHANNEL ROUTINE_ALERT_CHANNEL LEDGER_EXPORT_MODE RBAC_ENABLED DEFAULT_USER_ROLE
    ENABLE_STRATEGY_OPTIMIZER OPTIMIZER_BACKTEST_LOOKBACK_DAYS OPTIMIZER_ALGORITHM
    ENABLE_SLIPPAGE_MODEL SLIPPAGE_SIMULATION_TYPE SLIPPAGE_MEAN_PCT SLIPPAGE_STDDEV_PCT
    SIMULATED_LATENCY_MS LANGUAGE_CODE BCRYPT_ROUNDS ACTIVITY_LOG_VIEWS LOGIN_ATTEMPT_LIMIT
    LOGIN_LOCKOUT_MINUTES SESSION_TIMEOUT_MINUTES SESSION_MAX_HOURS KEY_ROTATION_SCOPE
    KEY_BACKUP_RETENTION LOG_RETENTION_DAYS BACKUP_RETENTION_DAYS LEDGER_SNAPSHOT_RETENTION_DAYS
    SIM_DATA_SET SIM_SEED SIM_FEE_PER_SHARE SIM_FEE_PER_ORDER SIM_PARTIAL_FILL_PCT
    SIM_SPREAD_BPS""".split(),  # noqa: SIM905 - a word list copied from the spec tables
    *(f"START_TIME_{s}_LOCAL" for s in _S),
    *(f"{s}_{w}_TIME" for s in _S for w in ("ANALYSIS", "BREAKOUT", "MONITORING")),
    *(f"STRAT_{s}_ENABLED" for s in _S),
    *(f"SHORT_TYPE_{s}" for s in _S),
    *(f"MAX_GAP_PCT_{s}" for s in _S),
    *(f"MIN_MARKET_CAP_{s}" for s in _S),
    *(f"MAX_MARKET_CAP_{s}" for s in _S),
    *(f"{s}_SCREENER" for s in _S),
    *(f"TRAIL_PCT_{s}" for s in _S),
}
SPEC_REMOVED = """ALPACA_ENABLED IBKR_ENABLED TEST_MODE PAPER_MODE LIVE_MODE ALPACA_MODE IBKR_MODE
FORCE_PAPER_EXPORT FAILOVER_ENABLED FAILOVER_LOG_TAG SLEEP_TIME SUP_OPEN_DELAY_MIN SUP_MID_DELAY_MIN
SUP_UNIVERSE_AFTER_CLOSE_MIN DEFAULT_SYMBOLS SCREENER_TEST_MODE_UNIVERSE ENABLE_TUNING_TRACKER
CONTROL_DIR MARKET_TZ SCREENER_LIMIT MIN_MARKET_CAP MAX_MARKET_CAP LOG_LEVEL""".split()  # noqa: SIM905


def problems_of(record: dict[str, str], *, strict: bool = True) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate_settings(record, strict=strict)
    return caught.value.problems


# -- catalogue ------------------------------------------------------------------------------------
def test_catalogue_covers_exactly_the_spec_keys() -> None:
    names = [spec.name for spec in CATALOGUE]
    assert len(names) == len(set(names))
    assert set(names) == SPEC_KEYS
    assert set(DEPRECATED_KEYS) == set(SPEC_REMOVED)
    assert set(KEY_ALIASES) == {"ENABLE_FUNNHUB_FUNDAMENTALS_FILTER", "GNC_EXPORT_MODE"}


def test_settings_fields_match_the_catalogue_types() -> None:
    fields = Settings.model_fields
    assert list(fields) == [spec.name for spec in CATALOGUE]
    for spec in CATALOGUE:
        expected = spec.kind.python_type
        if spec.optional:
            expected = expected | None  # type: ignore[operator]
        assert fields[spec.name].annotation == expected, spec.name


def test_every_default_is_canonical_and_rows_are_documented() -> None:
    for spec in CATALOGUE:
        assert spec.section in {"12.1", "12.2", "12.3", "12.5"}
        assert spec.meaning and spec.type_label and spec.range
        assert spec.secret is False
        assert not (spec.required and spec.default is None), spec.name
        if spec.default is not None:
            assert spec.kind.render(spec.kind.parse(spec.default)) == spec.default, spec.name


# -- defaults and round trips ---------------------------------------------------------------------
@pytest.mark.parametrize("broker", BROKER_NAMES)
def test_default_record_round_trips(broker: str) -> None:
    record = default_settings_record(broker.lower())
    assert record["BROKER_NAME"] == broker
    assert set(record) == SPEC_KEYS
    result = validate_settings(record, strict=True)
    assert result.warnings == ()
    assert result.normalized == record
    assert settings_to_record(result.settings) == record
    assert validate_settings(result.normalized, strict=True).settings == result.settings


def test_default_broker_is_alpaca_and_typed_values() -> None:
    settings = validate_settings(default_settings_record(), strict=True).settings
    expected = {
        "BROKER_NAME": "ALPACA",
        "START_TIME_OPEN_LOCAL": time(9, 30),
        "START_TIME_CLOSE_LOCAL": time(15, 34, 30),
        "OPEN_ANALYSIS_TIME": 20,
        "WEIGHTS": (Decimal("0.4"), Decimal("0.2"), Decimal("0.2"), Decimal("0.2")),
        "TOTAL_ALLOCATION": Decimal("0.02"),
        "STRATEGY_SEQUENCE": ("open", "mid", "close"),
        "TRADING_DAYS": ("mon", "tue", "wed", "thu", "fri"),
        "SHORT_TYPE_MID": "InverseETF",
        "STRATEGY_OVERRIDE": "",
        "VIX_MAX": None,
        "OPEN_SCREENER": None,
        "VERSION_TAG": f"v{tbot_bot.__version__}",
    }
    assert {key: getattr(settings, key) for key in expected} == expected


def test_no_float_anywhere_in_settings() -> None:
    settings = validate_settings(default_settings_record(), strict=True).settings
    for name in Settings.model_fields:
        value = getattr(settings, name)
        items = value if isinstance(value, tuple) else (value,)
        assert not any(isinstance(item, float) for item in items), name


def test_default_record_refuses_unknown_broker() -> None:
    with pytest.raises(ConfigError, match="ALPACA, IBKR, SIM, TRADIER"):
        default_settings_record("SCHWAB")


def test_settings_are_frozen_and_forbid_extra_fields() -> None:
    settings = validate_settings(default_settings_record(), strict=True).settings
    with pytest.raises(ValidationError):
        settings.MAX_TRADES = 9  # type: ignore[misc]
    data = settings.model_dump()
    with pytest.raises(ValidationError):
        Settings.model_validate({**data, "TEST_MODE": True})


# -- BROKER_NAME ----------------------------------------------------------------------------------
def test_broker_name_is_required_case_insensitive_and_listed_when_unknown() -> None:
    record = default_settings_record()
    del record["BROKER_NAME"]
    assert any(p.startswith("BROKER_NAME is required") for p in problems_of(record))
    assert (
        validate_settings({**record, "BROKER_NAME": " tradier "}, strict=True).settings.BROKER_NAME
        == "TRADIER"
    )
    (problem,) = problems_of({**record, "BROKER_NAME": "Schwab"})
    assert "BROKER_NAME='Schwab'" in problem
    assert "ALPACA, IBKR, SIM, TRADIER" in problem


# -- removed keys, aliases, unknown keys ----------------------------------------------------------
@pytest.mark.parametrize("key", SPEC_REMOVED)
@pytest.mark.parametrize("strict", [True, False])
def test_removed_key_fails_naming_it(key: str, strict: bool) -> None:
    problems = problems_of({**default_settings_record(), key: "true"}, strict=strict)
    assert problems == [
        f"'{key}' is not supported: {DEPRECATED_KEYS[key]}. Remove it from .env_bot."
    ]


def test_fundamentals_alias_warns_and_maps() -> None:
    record = default_settings_record()
    del record["ENABLE_FUNDAMENTAL_GUARD"]
    result = validate_settings(
        {**record, "ENABLE_FUNNHUB_FUNDAMENTALS_FILTER": "False"}, strict=True
    )
    assert result.settings.ENABLE_FUNDAMENTAL_GUARD is False
    assert any("ENABLE_FUNNHUB_FUNDAMENTALS_FILTER" in w for w in result.warnings)
    assert "ENABLE_FUNNHUB_FUNDAMENTALS_FILTER" not in result.normalized
    assert result.normalized["ENABLE_FUNDAMENTAL_GUARD"] == "false"


def test_fundamentals_alias_conflict_is_an_error_but_agreement_is_not() -> None:
    record = {**default_settings_record(), "ENABLE_FUNDAMENTAL_GUARD": "true"}
    agreeing = validate_settings(
        {**record, "ENABLE_FUNNHUB_FUNDAMENTALS_FILTER": "TRUE"}, strict=True
    )
    assert agreeing.settings.ENABLE_FUNDAMENTAL_GUARD is True
    (problem,) = problems_of({**record, "ENABLE_FUNNHUB_FUNDAMENTALS_FILTER": "false"})
    assert "ENABLE_FUNNHUB_FUNDAMENTALS_FILTER" in problem
    assert "ENABLE_FUNDAMENTAL_GUARD" in problem


def test_export_mode_alias_warns_maps_and_checks_its_value() -> None:
    record = default_settings_record()
    del record["LEDGER_EXPORT_MODE"]
    result = validate_settings({**record, "GNC_EXPORT_MODE": "OFF"}, strict=False)
    assert result.settings.LEDGER_EXPORT_MODE == "off"
    assert any("GNC_EXPORT_MODE" in w and "LEDGER_EXPORT_MODE" in w for w in result.warnings)
    (problem,) = problems_of({**record, "GNC_EXPORT_MODE": "sometimes"})
    assert problem.startswith("GNC_EXPORT_MODE (alias of LEDGER_EXPORT_MODE)='sometimes'")


def test_unknown_key_is_an_error_when_strict_and_a_warning_on_load() -> None:
    record = {**default_settings_record(), "MAX_TRADE": "4"}
    (problem,) = problems_of(record, strict=True)
    assert "'MAX_TRADE'" in problem and "did you mean MAX_TRADES" in problem
    result = validate_settings(record, strict=False)
    assert any("'MAX_TRADE'" in w for w in result.warnings)
    assert "MAX_TRADE" not in result.normalized


def test_unknown_key_value_is_never_shown() -> None:
    planted = "sk-live-PLANTED-0123456789"
    record = {**default_settings_record(), "BROKER_SECRET_KEY": planted}
    with pytest.raises(ConfigError) as caught:
        validate_settings(record, strict=True)
    assert planted not in str(caught.value)
    assert "credentials never belong in .env_bot" in caught.value.problems[0]
    assert planted not in " ".join(validate_settings(record, strict=False).warnings)


def test_all_errors_are_reported_together() -> None:
    record = {
        **default_settings_record(),
        "TEST_MODE": "false",
        "PAPER_MODE": "true",
        "SHORT_TYPE_OPEN": "Synthetic",
        "WEIGHTS": "0.5,0.5",
        "RBAC_ENABLED": "false",
        "BCRYPT_ROUNDS": "4",
    }
    del record["MAX_OPEN_POSITIONS"]
    with pytest.raises(ConfigError) as caught:
        validate_settings(record, strict=True)
    problems = caught.value.problems
    named = ("TEST_MODE", "PAPER_MODE", "SHORT_TYPE_OPEN", "WEIGHTS", "RBAC_ENABLED",
             "BCRYPT_ROUNDS", "MAX_OPEN_POSITIONS")  # fmt: skip
    assert len(problems) == len(named)
    for key in named:
        assert sum(key in problem for problem in problems) >= 1, key
        assert key in str(caught.value)
    assert "(7 problems)" in str(caught.value)


def test_non_string_values_are_refused() -> None:
    record: dict[str, object] = {**default_settings_record(), "MAX_TRADES": 4}
    (problem,) = problems_of(record)  # type: ignore[arg-type]
    assert problem == "MAX_TRADES: expected a string value, got int"


# -- reading text and files -----------------------------------------------------------------------
def test_parse_env_text_handles_comments_quotes_and_export() -> None:
    text = (
        "# full-line comment\n\n"
        "BROKER_NAME=ALPACA  # inline comment\n"
        "export LOG_FORMAT = 'csv'\n"
        'SHORT_TYPE_OPEN=" InverseETF" # quoted keeps inner blanks\n'
        "STRATEGY_OVERRIDE=\n"
        "VIX_MAX= # nothing\n"
        "SIM_DATA_SET=synthetic/demo#1\n"
    )
    assert parse_env_text(text) == {
        "BROKER_NAME": "ALPACA",
        "LOG_FORMAT": "csv",
        "SHORT_TYPE_OPEN": " InverseETF",
        "STRATEGY_OVERRIDE": "",
        "VIX_MAX": "",
        "SIM_DATA_SET": "synthetic/demo#1",
    }


def test_parse_env_text_reports_every_bad_line_with_source_and_number() -> None:
    text = "OK=1\nthis line has no equals sign\nKEY='unterminated\n9BAD=1\nOK=2\n"
    with pytest.raises(ConfigError) as caught:
        parse_env_text(text, source="custom.env")
    problems = caught.value.problems
    assert [p.split(":")[1] for p in problems] == ["2", "3", "4", "5"]
    assert all(p.startswith("custom.env:") for p in problems)
    assert "repeats line 1" in problems[-1]
    assert "no equals sign" not in str(caught.value)  # the line itself is never echoed


def test_load_settings_file_reads_env_and_json(tmp_path: Path) -> None:
    env_file = tmp_path / "bot.env"
    env_file.write_text("MAX_TRADES=4\nFRACTIONAL=true\n", encoding="utf-8")
    assert load_settings_file(env_file) == {"MAX_TRADES": "4", "FRACTIONAL": "true"}
    json_file = tmp_path / "bot.json"
    json_file.write_text(
        '{"MAX_TRADES": 4, "TOTAL_ALLOCATION": 0.10, "FRACTIONAL": true, "VIX_MAX": null, '
        '"BROKER_NAME": "SIM"}',
        encoding="utf-8",
    )
    assert load_settings_file(json_file) == {
        "MAX_TRADES": "4",
        "TOTAL_ALLOCATION": "0.10",  # kept exact, never through a float
        "FRACTIONAL": "true",
        "VIX_MAX": "",
        "BROKER_NAME": "SIM",
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[1, 2]", "expected a JSON object"),
        ('{"WEIGHTS": [0.4, 0.6]}', "WEIGHTS must be a string"),
        ('{"A": 1,,}', "not valid JSON"),
    ],
)
def test_load_settings_file_rejects_bad_json(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        load_settings_file(path)


def test_load_settings_file_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings_file(tmp_path / "absent.env")


# -- the committed example ------------------------------------------------------------------------
def test_committed_env_example_is_the_rendered_text() -> None:
    committed = ENV_EXAMPLE_PATH.read_text(encoding="utf-8")
    assert committed == render_env_example(), (
        "regenerate it: python -c 'from tbot_bot.config.settings_schema import "
        "write_env_example; write_env_example()'"
    )


def test_env_example_documents_every_key_and_loads_as_the_defaults() -> None:
    text = render_env_example()
    for spec in CATALOGUE:
        assert f"\n{spec.name}=" in text or f"\n# {spec.name}=" in text, spec.name
    for key in [*DEPRECATED_KEYS, *KEY_ALIASES]:
        assert f"# {key}:" in text
    record = parse_env_text(text, source=".env_bot.example")
    result = validate_settings(record, strict=True)
    assert result.normalized == default_settings_record()
