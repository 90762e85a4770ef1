"""Backtest requests, settings, run ids, `--set`/`--sweep` parsing and executors (spec §15)."""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, date, datetime

import pytest

from tbot_bot.backtest.cli import parse_overrides
from tbot_bot.backtest.config import BacktestRequest, make_run_id, resolve_settings
from tbot_bot.backtest.executors import LocalProcessExecutor, make_executor
from tbot_bot.backtest.sweep import expand_grid, parse_sweep, sweep_csv_text
from tbot_bot.errors import ConfigError

DAY = date(2025, 7, 15)


def request(**overrides: str) -> BacktestRequest:
    return BacktestRequest(DAY, DAY, overrides=overrides)


def test_run_id_is_stamp_and_config_hash() -> None:
    started = datetime(2025, 7, 15, 12, 0, 5, 999_000, tzinfo=UTC)
    run_id = make_run_id(b'{"a": 1}\n', started)
    assert re.fullmatch(r"20250715T120005Z-[0-9a-f]{8}", run_id)
    assert make_run_id(b'{"a": 1}\n', started) == run_id
    assert make_run_id(b'{"a": 2}\n', started) != run_id
    # sha256 of the bytes, first 8 hex digits
    assert run_id.endswith("-" + __import__("hashlib").sha256(b'{"a": 1}\n').hexdigest()[:8])


def test_settings_are_defaults_on_sim_plus_overrides() -> None:
    settings = resolve_settings(request(MAX_TRADES="2", WEIGHTS="0.5,0.5"))
    assert settings.BROKER_NAME == "SIM"
    assert settings.MAX_TRADES == 2
    assert settings.TOTAL_ALLOCATION == resolve_settings(request()).TOTAL_ALLOCATION


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"MAX_TRADES": "many"}, "MAX_TRADES"),
        ({"NOT_A_SETTING": "1"}, "NOT_A_SETTING"),
        ({"TEST_MODE": "true"}, "TEST_MODE"),
        ({"MAX_TRADES": "3"}, "WEIGHTS"),  # WEIGHTS length must equal MAX_TRADES
        ({"OPTIMIZER_ALGORITHM": "bayesian"}, "OPTIMIZER_ALGORITHM"),
    ],
)
def test_bad_override_is_a_config_error_naming_the_key(
    overrides: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named) as caught:
        resolve_settings(request(**overrides))
    assert any(named in problem for problem in caught.value.problems)


def test_every_bad_override_is_reported_together() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings(request(MAX_TRADES="x", DAILY_LOSS_LIMIT="2"))
    text = " ".join(caught.value.problems)
    assert "MAX_TRADES" in text
    assert "DAILY_LOSS_LIMIT" in text


def test_a_backtest_always_runs_on_sim() -> None:
    with pytest.raises(ConfigError, match="always runs on SIM"):
        resolve_settings(request(BROKER_NAME="ALPACA"))


def test_strategies_become_the_chronological_sequence() -> None:
    settings = resolve_settings(BacktestRequest(DAY, DAY, strategies=("close", "open")))
    assert tuple(settings.STRATEGY_SEQUENCE) == ("open", "close")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"end": date(2025, 7, 14)}, "before --from"),
        ({"symbols": ("AAA",), "universe_file": "u.csv"}, "not both"),
        ({"strategies": ("open", "lunch")}, "--strategies"),
        ({"strategies": ("open",), "overrides": {"STRATEGY_SEQUENCE": "open"}}, "not both"),
    ],
)
def test_inconsistent_requests_are_refused(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"start": DAY, "end": DAY, **kwargs}
    with pytest.raises(ConfigError, match=message):
        BacktestRequest(**arguments)  # type: ignore[arg-type]


def test_set_items_parse_and_refuse_repeats() -> None:
    assert parse_overrides(["MAX_TRADES=2", "WEIGHTS=0.5,0.5"]) == {
        "MAX_TRADES": "2",
        "WEIGHTS": "0.5,0.5",
    }
    with pytest.raises(ConfigError, match="given twice"):
        parse_overrides(["MAX_TRADES=2", "MAX_TRADES=3"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["MAX_TRADES"])


def test_sweep_grid_is_the_full_product_in_order() -> None:
    grid = parse_sweep(["STRAT_OPEN_BUFFER=0.01,0.02", "TRAIL_PCT_OPEN=0.01, 0.02 ,0.03"])
    assert grid == {
        "STRAT_OPEN_BUFFER": ["0.01", "0.02"],
        "TRAIL_PCT_OPEN": ["0.01", "0.02", "0.03"],
    }
    points = expand_grid(grid)
    assert len(points) == 6
    assert points[0] == {"STRAT_OPEN_BUFFER": "0.01", "TRAIL_PCT_OPEN": "0.01"}
    assert points[1] == {"STRAT_OPEN_BUFFER": "0.01", "TRAIL_PCT_OPEN": "0.02"}
    assert points[-1] == {"STRAT_OPEN_BUFFER": "0.02", "TRAIL_PCT_OPEN": "0.03"}


def test_sweep_values_with_commas_use_bars() -> None:
    grid = parse_sweep(["WEIGHTS=0.4,0.2,0.2,0.2|0.25,0.25,0.25,0.25"])
    assert grid == {"WEIGHTS": ["0.4,0.2,0.2,0.2", "0.25,0.25,0.25,0.25"]}


@pytest.mark.parametrize(
    "item", ["STRAT_OPEN_BUFFER", "=1,2", "STRAT_OPEN_BUFFER=1,,2", "STRAT_OPEN_BUFFER=1,1"]
)
def test_bad_sweep_items(item: str) -> None:
    with pytest.raises(ConfigError, match="--sweep"):
        parse_sweep([item])


def test_sweep_csv_leaves_null_metrics_empty() -> None:
    text = sweep_csv_text(
        {"MAX_TRADES": ["1"]},
        [{"run": 1, "MAX_TRADES": "1", "sharpe": None, "trade_count": 0, "run_folder": "runs/1"}],
    )
    header, row = text.splitlines()
    assert header.startswith("run,MAX_TRADES,total_return,sharpe,")
    assert row.startswith("1,1,,,")


def test_executor_choice() -> None:
    local = make_executor("local", 3)
    assert isinstance(local, LocalProcessExecutor)
    assert local.workers == 3
    assert local.map(abs, []) == []
    with pytest.raises(ConfigError, match="--workers"):
        make_executor("local", 0)
    with pytest.raises(ConfigError, match="expected one of"):
        make_executor("spark", 1)


@pytest.mark.parametrize(("name", "module"), [("ray", "ray"), ("dask", "dask")])
def test_distributed_executors_explain_the_missing_extra(name: str, module: str) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    with pytest.raises(ConfigError, match="pip install"):
        make_executor(name, 2)
