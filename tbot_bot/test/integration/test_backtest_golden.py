"""Golden backtest on real MSFT bars: exact trades and metrics (trading spec §15, STYLE §2.15).

How to update the golden file deliberately: tbot_bot/test/golden/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tbot_bot.config.path_resolver import data_set_dir
from tbot_bot.test.golden.backtest_msft import DATA_SET, GOLDEN_FILE, run, snapshot


@pytest.mark.skipif(
    not (data_set_dir(DATA_SET) / "manifest.json").exists(),
    reason="msft_1m data set not built (run `make data`)",
)
def test_msft_backtest_matches_the_golden_file(tbot_home: Path) -> None:
    golden = json.loads(GOLDEN_FILE.read_text(encoding="utf-8"))
    golden.pop("_comment")
    current = snapshot(run(tbot_home))
    assert current["trades"] == golden["trades"]
    assert current["sessions"] == golden["sessions"]
    assert current["metrics"] == golden["metrics"]
    assert current == golden
    assert len(golden["trades"]) >= 3  # the configuration is chosen so that MSFT trades
    assert golden["metrics"]["runner_errors"] == 0
