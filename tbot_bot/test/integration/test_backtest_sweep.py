"""Sweeps on the local process executor: 2 combinations of one short day (trading spec §15)."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from tbot_bot.backtest.config import BacktestRequest
from tbot_bot.backtest.engine import run_backtest
from tbot_bot.backtest.executors import LocalProcessExecutor
from tbot_bot.backtest.sweep import run_sweep
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import ConfigError
from tbot_bot.test.unit.backtest.data_builder import write_data_set

DAY = date(2025, 7, 15)


def request(data: Path, **overrides: str) -> BacktestRequest:
    # OPEN only: the shortest day that still trades on the tiny set.
    return BacktestRequest(DAY, DAY, data=str(data), strategies=("open",), overrides=overrides)


def test_local_sweep_writes_sweep_csv_and_one_folder_per_combination(
    tmp_path: Path, tbot_home: Path
) -> None:
    data = write_data_set(tmp_path / "tiny")
    paths = RuntimePaths.for_home(tbot_home)
    done: list[int] = []
    grid = {"STRAT_OPEN_BUFFER": ["0.02", "0.5"]}  # 0.5 = a 50 % breakout: never
    outcome = run_sweep(
        paths, request(data), grid, LocalProcessExecutor(workers=2), on_done=done.append
    )
    assert sorted(done) == [0, 1]
    with open(outcome.files.sweep_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["STRAT_OPEN_BUFFER"] for row in rows] == ["0.02", "0.5"]
    assert [row["run_folder"] for row in rows] == ["runs/1", "runs/2"]
    assert all(row["error"] == "" for row in rows)
    assert int(rows[0]["trade_count"]) >= 1
    assert rows[1]["trade_count"] == "0"
    assert rows[1]["win_rate"] == ""  # null: no round trips
    for k in (1, 2):
        run = outcome.files.run(k)
        for name in ("config.json", "equity.csv", "metrics.json", "report.html"):
            assert (run.root / name).is_file(), (k, name)
        config = json.loads(run.config_json.read_text())
        assert config["sweep_point"] == {"STRAT_OPEN_BUFFER": grid["STRAT_OPEN_BUFFER"][k - 1]}
        assert config["settings"]["STRAT_OPEN_BUFFER"] == grid["STRAT_OPEN_BUFFER"][k - 1]
    top = json.loads(outcome.files.config_json.read_text())
    assert top["kind"] == "sweep"
    assert top["sweep"] == grid
    # A combination run in a worker process equals the same backtest run here.
    single = run_backtest(paths, request(data, STRAT_OPEN_BUFFER="0.02"))
    first = json.loads(outcome.files.run(1).metrics_json.read_text())
    assert first["overall"] == single.metrics["overall"]


def test_a_bad_sweep_value_stops_before_anything_runs(tmp_path: Path, tbot_home: Path) -> None:
    data = write_data_set(tmp_path / "tiny")
    grid = {"MAX_TRADES": ["2", "zero"]}
    with pytest.raises(ConfigError, match="MAX_TRADES"):
        run_sweep(RuntimePaths.for_home(tbot_home), request(data), grid, LocalProcessExecutor())
    assert not (tbot_home / "tbot_bot/output").exists()


def test_sweep_needs_the_optimizer_enabled(tmp_path: Path, tbot_home: Path) -> None:
    data = write_data_set(tmp_path / "tiny")
    base = request(data, ENABLE_STRATEGY_OPTIMIZER="false")
    with pytest.raises(ConfigError, match="ENABLE_STRATEGY_OPTIMIZER"):
        run_sweep(
            RuntimePaths.for_home(tbot_home),
            base,
            {"STRAT_OPEN_BUFFER": ["0.02", "0.03"]},
            LocalProcessExecutor(),
        )
