"""A whole simulated trading day in a freshly provisioned home (seed: `integration_test_runner.py`).

The home is provisioned through the same functions the web bootstrap and `tbot demo` call, for a
sample identity whose BROKER_CODE is not the broker's name (names come from the identity only).
The day is the demo data set's latest full session, replayed on the SIM broker under a FakeClock
through `make_setup` -> `build_universe` -> `run_day`, with the ledger posted from fills and a
per-order fee so that fees flow through every output. Then every output file must exist under its
exact seed name, and the trade history, the daily summary, the ledger and the SIM broker's own
fills must agree with each other (trading spec §9, §13 "Outputs"; accounting spec §4).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tbot_bot.accounting import account_balances, list_events, open_books, positions, realized_net
from tbot_bot.broker.models import FillReport
from tbot_bot.config.identity import BotIdentity, NetworkConfig
from tbot_bot.config.path_resolver import RuntimePaths, data_set_dir
from tbot_bot.market.calendar import TradingCalendar
from tbot_bot.market.replay_data import load_data_set
from tbot_bot.runtime.cli_demo import demo_settings_record
from tbot_bot.runtime.provisioning import (
    init_core_databases,
    load_runtime_config,
    provision_home,
    verify_provisioned,
)
from tbot_bot.runtime.sim_day import SimDaySetup, build_universe, full_sessions, make_setup, run_day
from tbot_bot.trading import state_db
from tbot_bot.trading.day_runner import DayResult
from tbot_bot.trading.ledger_poster import LedgerPoster
from tbot_bot.trading.order_journal import OrderJournal

DEMO_SET = data_set_dir("synthetic/demo")
IDENTITY = BotIdentity("ACME", "USA", "SIMB", "B07")  # BROKER_CODE on purpose not "SIM"
ID = "ACME_USA_SIMB_B07"
FEE_PER_ORDER = Decimal("0.35")
pytestmark = [
    pytest.mark.data,
    pytest.mark.skipif(
        not (DEMO_SET / "manifest.json").is_file(),
        reason=f"demo data set absent ({DEMO_SET}); run `make data` first",
    ),
]


@dataclass
class Day:
    home: Path
    setup: SimDaySetup
    result: DayResult

    @property
    def out(self) -> Path:
        return self.home / "tbot_bot" / "output" / ID


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    """Provision a home and replay one demo day in it (once for the module: about 4 s)."""
    home = tmp_path_factory.mktemp("runner") / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TBOT_HOME", str(home))  # nothing may fall back to the checkout's home
        paths = RuntimePaths.for_home(home)
        init_core_databases(paths)
        record = demo_settings_record()
        record["SIM_FEE_PER_ORDER"] = str(FEE_PER_ORDER)
        provision_home(
            paths,
            identity=IDENTITY,
            settings_record=record,
            broker_credentials={},
            network=NetworkConfig(),
            smtp={},
        )
        assert verify_provisioned(paths) == []
        config = load_runtime_config(paths)
        data = load_data_set(DEMO_SET)
        trading_day = full_sessions(data, TradingCalendar(data.sessions[0], data.sessions[-1]))[-1]
        outputs = paths.bot_outputs(config.identity.string)
        setup = make_setup(
            paths,
            outputs,
            config.identity,
            config.settings,
            data,
            trading_day,
            state_db_path=paths.state_db(config.identity.string),
        )
        universe = build_universe(setup)
        books = open_books(outputs, config.identity, actor="runner", paths=paths, clock=setup.clock)
        try:
            LedgerPoster(books, setup.broker, IDENTITY.broker_code, "SIM").post_opening_deposits()
        finally:
            books.close()
        result = run_day(setup, trading_day, universe)
        yield Day(home, setup, result)


def _trade_records(day: Day) -> list[dict[str, Any]]:
    path = day.out / "trades" / f"{ID}_BOT_trade_history.json"
    document = json.loads(path.read_text())
    assert document["schema_version"] == 1
    assert document["bot_identity"] == ID
    records: list[dict[str, Any]] = document["records"]
    return records


def _summary(day: Day) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (day.out / "summaries" / f"{ID}_BOT_daily_summary.json").read_text()
    )
    return data


def _sim_fills(day: Day) -> list[FillReport]:
    return day.setup.broker.get_fills(None)


def test_every_output_file_has_its_exact_seed_name(day: Day) -> None:
    expected = [
        "logs/open.log",
        "logs/mid.log",
        "logs/close.log",
        "logs/unresolved_orders.log",
        "logs/error_tracebacks.log",
        f"ledgers/{ID}_BOT_COA.db",
        f"ledgers/{ID}_BOT_ledger.db",
        f"ledgers/{ID}_BOT_FLOAT_ledger.db",
        f"summaries/{ID}_BOT_daily_summary.json",
        f"trades/{ID}_BOT_trade_history.csv",
        f"trades/{ID}_BOT_trade_history.json",
    ]
    missing = [name for name in expected if not (day.out / name).is_file()]
    assert missing == []
    # nothing named after the broker instead of the identity, nothing under entities/
    assert not (day.home / "tbot_bot" / "output" / "ACME_USA_SIM_B07").exists()
    assert not any(day.home.rglob("entities"))


def test_the_day_ran_every_strategy_phase_and_traded(day: Day) -> None:
    phases = day.result.phases
    assert {name: phases[name][0] for name in ("open", "mid", "close")} == {
        "open": "done",
        "mid": "done",
        "close": "done",
    }
    assert phases["holdings_open"] == ("skipped", "holdings_not_enabled")
    assert len(_trade_records(day)) >= 1
    # every decision line names the sample identity and the replayed date
    for name in ("open", "mid", "close"):
        for line in (day.out / "logs" / f"{name}.log").read_text().splitlines():
            record = json.loads(line)
            assert record["bot_identity"] == ID
            assert record["trading_date"] == day.result.trading_date


def test_trade_history_csv_holds_the_json_records(day: Day) -> None:
    records = _trade_records(day)
    with open(day.out / "trades" / f"{ID}_BOT_trade_history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(records)
    for row, record in zip(rows, records, strict=True):
        assert list(row) == list(record)  # same fields, same order
        for name, value in record.items():
            if isinstance(value, list):
                assert json.loads(row[name]) == value, name
            else:
                assert row[name] == ("" if value is None else str(value)), name


def test_trade_fitids_exist_in_the_ledger_and_match_the_sim_fills(day: Day) -> None:
    outputs = day.setup.outputs
    events = {e.fitid: e for e in list_events(outputs, limit=1000)}
    fills_by_order: dict[str, set[str]] = {}
    for fill in _sim_fills(day):
        fills_by_order.setdefault(fill.client_order_id or "", set()).add(fill.external_id)
    for record in _trade_records(day):
        assert record["status"] == "closed", record
        for side in ("entry", "exit"):
            fitids = record[f"{side}_ledger_fitids"]
            order_id = record[f"{side}_client_order_id"]
            assert fitids, (record["trade_id"], side)
            assert all(f in events for f in fitids), (record["trade_id"], side)
            # the events are exactly the SIM's fills of that order, by external id
            assert {events[f].external_id for f in fitids} == fills_by_order[order_id]


def test_ledger_holds_every_sim_fill_once_and_matches_cash_and_positions(day: Day) -> None:
    outputs = day.setup.outputs
    events = list_events(outputs, limit=1000)
    fill_events = [e.external_id or "" for e in events if e.trade_id is not None]
    assert sorted(fill_events) == sorted(f.external_id for f in _sim_fills(day))
    account = day.setup.broker.get_account()
    balances = account_balances(outputs)
    assert Decimal(balances["1030"]) / 100 == account.cash
    assert positions(outputs) == {}
    assert day.setup.broker.get_positions() == []


def test_summary_totals_equal_the_sum_over_trade_records(day: Day) -> None:
    summary = _summary(day)
    records = _trade_records(day)
    totals = summary["totals"]
    assert summary["final"] is True
    assert summary["bot_identity"] == ID
    assert totals["trades"] == len(records)
    assert Decimal(totals["fees"]) == sum(Decimal(r["fees"]) for r in records)
    assert Decimal(totals["realized_pnl"]) == sum(Decimal(r["PnL"]) for r in records)
    assert Decimal(totals["unrealized_pnl_at_close"]) == 0
    strategies = summary["strategies"]
    for name, stats in strategies.items():
        mine = [r for r in records if r["strategy_name"] == name]
        assert stats["entries"] == len(mine), name
        assert stats["wins"] == sum(Decimal(r["PnL"]) > 0 for r in mine), name
        assert stats["losses"] == sum(Decimal(r["PnL"]) < 0 for r in mine), name
        assert Decimal(stats["realized_pnl"]) == sum(Decimal(r["PnL"]) for r in mine), name
    assert sum(Decimal(s["realized_pnl"]) for s in strategies.values()) == Decimal(
        totals["realized_pnl"]
    )


def test_trade_pnl_and_fees_agree_with_the_ledger(day: Day) -> None:
    """Ledger: realized (4010) is gross of fees, fees are expensed to 5010 (accounting §4)."""
    outputs = day.setup.outputs
    records = _trade_records(day)
    fees = sum(Decimal(r["fees"]) for r in records)
    net = sum(Decimal(r["PnL"]) for r in records)
    assert fees == FEE_PER_ORDER * 2 * len(records)  # one entry and one exit order per trade
    assert Decimal(account_balances(outputs).get("5010", 0)) / 100 == fees
    gross = Decimal(realized_net(outputs, date.fromisoformat(day.result.trading_date)))
    assert gross / 100 == net + fees


def test_every_journalled_order_reached_the_sim_once_and_settled(day: Day) -> None:
    journal = OrderJournal(state_db.connect(day.setup.state_db_path), day.setup.clock)
    try:
        orders = journal.orders_of_date(day.result.trading_date)
    finally:
        journal.close()
    assert orders
    for order in orders:
        assert len(day.setup.broker.venue_order_ids(order.client_order_id)) == 1, order
        assert order.is_terminal, order
        assert order.client_order_id.startswith(f"{IDENTITY.bot_id}-")


def test_flat_at_end_of_day(day: Day) -> None:
    summary = _summary(day)
    assert summary["open_positions_at_close"] == []
    assert summary["unresolved_orders"] == 0
    assert summary["bot_state_at_close"] == "idle"
    assert day.setup.broker.get_positions() == []
    assert (day.out / "logs" / "unresolved_orders.log").read_text() == ""
    assert (day.out / "logs" / "error_tracebacks.log").read_text() == ""
