"""Backtest run-folder paths (path_resolver.BacktestRunFiles, trading spec §15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import PathError

RUN_ID = "20250715T120000Z-abcdef12"


def test_every_backtest_file_lives_in_its_run_folder(tbot_home: Path) -> None:
    files = RuntimePaths.for_home(tbot_home).backtest_files(RUN_ID)
    root = tbot_home / "tbot_bot/output/trades/backtest" / RUN_ID
    assert files.root == root
    for path in (
        files.config_json,
        files.equity_csv,
        files.metrics_json,
        files.report_html,
        files.equity_drawdown_png,
        files.strategy_pnl_png,
        files.trades_chart("MSFT"),
        files.sweep_csv,
        files.outputs("BTEST_USA_SIM_01").ledger_db("ledger"),
        files.scratch.state_db("BTEST_USA_SIM_01"),
        files.scratch.lock_file("BTEST_USA_SIM_01_BOT_ledger"),
        files.scratch.ledger_snapshots_dir,
        files.run(3).metrics_json,
    ):
        assert root in path.parents, path
    assert files.trades_chart("MSFT").name == "trades_MSFT.png"
    assert files.run(3).root == root / "runs" / "3"


def test_unsafe_names_are_refused(tbot_home: Path) -> None:
    paths = RuntimePaths.for_home(tbot_home)
    with pytest.raises(PathError):
        paths.backtest_files("../escape")
    with pytest.raises(PathError):
        paths.backtest_files(RUN_ID).trades_chart("../../x")
    with pytest.raises(PathError):
        paths.backtest_files(RUN_ID).run(-1)
