"""Replays are deterministic, and the demo day trades with default settings (trading spec §13
"Replay"; ARCHITECTURE §5 "Demo").
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from tbot_bot.config.path_resolver import RuntimePaths, data_set_dir
from tbot_bot.runtime.cli_demo import DEMO_IDENTITY, provision_demo
from tbot_bot.test.fakes.crafted_day import CraftedMarket, crafted_day

DEMO_SET = data_set_dir("synthetic/demo")
LOGS = ("open.log", "mid.log", "close.log", "unresolved_orders.log", "error_tracebacks.log")


def _busy_market() -> CraftedMarket:
    """Entries, a fallback, a trailing exit and hard exits in every strategy phase."""
    market = CraftedMarket()
    market.add("AA", "50.00", gap="0.05", pe_ratio="100")
    market.add("BB", "40.00", gap="0.04")
    market.add("CC", "30.00", gap="0.03")
    market.step("AA", 20, "52.00")
    market.step("BB", 20, "41.60")
    market.step("CC", 21, "31.20")
    market.step("CC", 40, "30.00")
    market.ramp("BB", 150, 200, "44.00")  # MID sees BB far above its VWAP
    return market


def _log_bytes(outputs_root: Path) -> dict[str, bytes]:
    return {name: (outputs_root / "logs" / name).read_bytes() for name in LOGS}


def test_two_runs_of_a_crafted_day_give_identical_outputs(tbot_home: Path) -> None:
    runs = []
    for name in ("first", "second"):
        home = tbot_home / name
        home.mkdir()
        day = crafted_day(home, _busy_market(), ledgers=True)
        day.run(ledger=True)
        runs.append(day)
    first, second = (_log_bytes(day.outputs.root) for day in runs)
    assert first["open.log"]  # something was decided
    assert first == second
    assert (
        runs[0].outputs.trade_history("json").read_bytes()
        == runs[1].outputs.trade_history("json").read_bytes()
    )
    assert len(runs[0].trades()) >= 2


@pytest.mark.data
@pytest.mark.skipif(
    not (DEMO_SET / "manifest.json").is_file(),
    reason=f"demo data set absent ({DEMO_SET}); run `make data` first",
)
def test_demo_day_trades_with_default_settings_and_replays_identically(tbot_home: Path) -> None:
    from tbot_bot.runtime.demo_day import run_demo

    logs = []
    for name in ("first", "second"):
        paths = RuntimePaths.for_home(tbot_home / name)
        paths.home.mkdir()
        provision_demo(paths)  # the demo's own provisioning: default settings, SIM, demo set
        demo = run_demo(paths, Console(file=io.StringIO()))
        summary = demo.result.summary
        assert demo.synthetic is True
        assert {demo.result.phases[s][0] for s in ("open", "mid", "close")} == {"done"}
        assert sum(s["entries"] for s in summary["strategies"].values()) >= 1
        assert summary["open_positions_at_close"] == []
        # SH is outside the common-stock universe: its 20-session average volume comes from
        # the broker, so the default InverseETF mode trades it
        history = paths.bot_outputs(DEMO_IDENTITY.string).trade_history("json")
        records = json.loads(history.read_text())["records"]
        assert any(r["symbol"] == "SH" and r["bearish_mode"] == "InverseETF" for r in records)
        logs.append(_log_bytes(paths.bot_outputs(DEMO_IDENTITY.string).root))
    assert logs[0] == logs[1]
