"""A one-day backtest end to end (trading spec §13 Outputs/Replay, §15).

It runs the real demo data set through `tbot backtest`'s engine, checks every run-folder file, that
nothing outside the run folder was written, and that the backtest of one day trades exactly like
the demo day on the same data and settings (both go through `sim_day.run_day`).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tbot_bot.backtest.config import BacktestRequest
from tbot_bot.backtest.engine import BacktestOutcome, run_backtest
from tbot_bot.config.path_resolver import RuntimePaths, data_set_dir
from tbot_bot.reporting.trade_history import TRADE_FIELDS
from tbot_bot.runtime.cli_demo import DEMO_DATA_SET, provision_demo
from tbot_bot.runtime.demo_day import run_demo

IDENTITY = "BTEST_USA_SIM_01"
DEMO_DAY = date(2022, 6, 15)  # the demo replays the set's last full session
# FITIDs hash the bot identity and account (DEMO_* vs BTEST_*): the one field that must differ.
IDENTITY_BOUND_FIELDS = frozenset({"entry_ledger_fitids", "exit_ledger_fitids"})

needs_demo_data = pytest.mark.skipif(
    not (data_set_dir(DEMO_DATA_SET) / "manifest.json").exists(),
    reason="demo data set not built (run `make data`)",
)


@pytest.fixture(scope="module")
def backtest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BacktestOutcome]:
    """One backtest of the demo day in its own home (module scope: several tests read it)."""
    home = tmp_path_factory.mktemp("bt_home")
    request = BacktestRequest(DEMO_DAY, DEMO_DAY, data=DEMO_DATA_SET)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TBOT_HOME", str(home))  # any default-home lookup stays in this home too
        return home, run_backtest(RuntimePaths.for_home(home), request)


@needs_demo_data
def test_run_folder_holds_every_output(backtest: tuple[Path, BacktestOutcome]) -> None:
    home, outcome = backtest
    root = outcome.files.root
    assert root.parent == home / "tbot_bot/output/trades/backtest"
    assert root.name == outcome.run_id
    expected = [
        "config.json",
        "equity.csv",
        "metrics.json",
        "equity_drawdown.png",
        "strategy_pnl.png",
        "report.html",
        *(f"logs/{name}" for name in ("open.log", "mid.log", "close.log")),
        "logs/unresolved_orders.log",
        "logs/error_tracebacks.log",
        f"summaries/{IDENTITY}_BOT_daily_summary.json",
        f"trades/{IDENTITY}_BOT_trade_history.csv",
        f"trades/{IDENTITY}_BOT_trade_history.json",
        f"ledgers/{IDENTITY}_BOT_COA.db",
        f"ledgers/{IDENTITY}_BOT_ledger.db",
        f"ledgers/{IDENTITY}_BOT_FLOAT_ledger.db",
    ]
    for name in expected:
        assert (root / name).is_file(), name
    assert list(root.glob("trades_*.png")), "trades_<SYMBOL>.png"
    metrics = json.loads((root / "metrics.json").read_text())
    assert metrics["run_id"] == outcome.run_id
    assert set(metrics["strategies"]) == {"open", "mid", "close"}
    assert metrics["runner_errors"] == 0
    assert (root / "logs/error_tracebacks.log").read_text() == ""


@needs_demo_data
def test_nothing_is_written_outside_the_run_folder(
    backtest: tuple[Path, BacktestOutcome],
) -> None:
    home, outcome = backtest
    assert not (home / "tbot_bot/output" / IDENTITY).exists()
    assert not (home / "tbot_bot/output/screeners").exists()
    outside = [
        path
        for path in home.rglob("*")
        if path.is_file() and outcome.files.root not in path.parents
    ]
    assert outside == []


@needs_demo_data
def test_config_json_hash_is_in_the_run_id(backtest: tuple[Path, BacktestOutcome]) -> None:
    import hashlib

    _, outcome = backtest
    content = outcome.files.config_json.read_bytes()
    assert outcome.run_id.endswith("-" + hashlib.sha256(content).hexdigest()[:8])
    config = json.loads(content)
    assert config["settings"]["BROKER_NAME"] == "SIM"
    assert config["identity"] == IDENTITY
    assert config["data"]["manifest"]["name"] == DEMO_DATA_SET
    assert config["sessions"] == [DEMO_DAY.isoformat()]


@needs_demo_data
def test_equity_csv_samples_bar_ends_and_the_close(backtest: tuple[Path, BacktestOutcome]) -> None:
    _, outcome = backtest
    with open(outcome.files.equity_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["ts_utc", "equity", "cash"]
    stamps = [row["ts_utc"] for row in rows]
    assert stamps[-1] == "2022-06-15T20:00:00.000Z"  # the session close
    assert "2022-06-15T13:31:00.000Z" in stamps  # first bar end of OPEN's analysis window
    assert stamps == sorted(stamps)
    final = json.loads(outcome.files.metrics_json.read_text())["final_equity"]
    assert rows[-1]["equity"] == final


@needs_demo_data
def test_report_is_self_contained(backtest: tuple[Path, BacktestOutcome]) -> None:
    _, outcome = backtest
    html = outcome.files.report_html.read_text()
    assert html.count('src="data:image/png;base64,') == 3
    for external in ("http://", "https://", "<link", "<script"):
        assert external not in html
    assert "Synthetic data" in html


def _comparable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in record.items() if k not in IDENTITY_BOUND_FIELDS} for record in records
    ]


@needs_demo_data
def test_one_day_backtest_trades_like_the_demo_day(
    backtest: tuple[Path, BacktestOutcome], tmp_path: Path
) -> None:
    _, outcome = backtest
    demo_paths = RuntimePaths.for_home(tmp_path / "demo_home")
    demo_paths.home.mkdir()
    provision_demo(demo_paths)
    demo = run_demo(demo_paths, Console(file=io.StringIO()))
    assert demo.trading_date == DEMO_DAY.isoformat()
    trades_file = demo_paths.bot_outputs("DEMO_USA_SIM_01").trade_history("json")
    demo_trades = json.loads(trades_file.read_text())["records"]
    assert demo_trades, "the demo day trades with default settings"
    assert set(demo_trades[0]) == set(TRADE_FIELDS)
    assert _comparable(outcome.trades) == _comparable(demo_trades)
    assert (
        demo.result.summary["totals"]
        == json.loads(outcome.files.outputs(IDENTITY).daily_summary.read_text())["totals"]
    )
