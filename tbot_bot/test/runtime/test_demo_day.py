"""`tbot demo` end to end in a temporary home (README's first command): the demo day trades,
ends flat, and lists every output file it wrote, the day's ledger export package included."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from tbot_bot.config.path_resolver import RuntimePaths, data_set_dir
from tbot_bot.runtime.cli_demo import provision_demo
from tbot_bot.runtime.demo_day import run_demo

DEMO = data_set_dir("synthetic/demo")
pytestmark = [
    pytest.mark.data,
    pytest.mark.skipif(not (DEMO / "manifest.json").is_file(), reason="run `make data` first"),
]


def test_the_demo_day_trades_ends_flat_and_lists_its_files(tbot_home: Path) -> None:
    paths = RuntimePaths.for_home(tbot_home)
    provision_demo(paths)  # as `tbot demo` does first
    demo = run_demo(paths, Console(file=io.StringIO(), width=200))
    summary = demo.result.summary
    assert summary["totals"]["trades"] >= 1
    assert summary["open_positions_at_close"] == []
    for name, path in demo.outputs.items():
        assert Path(path).is_file(), name
    exports = sorted(name for name in demo.outputs if name.startswith("export:"))
    assert exports == [
        "export:export_manifest.json",
        "export:ledger_trades.csv",
        "export:ledger_trades.json",
        "export:statement.ofx",
        "export:trial_balance.csv",
    ]
