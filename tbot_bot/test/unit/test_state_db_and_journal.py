"""Runner state database (trading spec §7.6) and the order journal."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tbot_bot.broker.models import (
    AssetClass,
    FillReport,
    OptionContract,
    OrderReport,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
)
from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import ConfigError, LogicError, StateError
from tbot_bot.trading import state_db
from tbot_bot.trading.order_journal import OrderContext, OrderJournal

D = Decimal  # short alias: the tests are mostly price tables

T0 = datetime(2025, 7, 15, 13, 50, tzinfo=UTC)
CID = "B01-20250715-O01-MSFT-EN00"
SPEC_TABLES = {
    "orders",
    "order_fills",
    "phase_records",
    "halt_records",
    "day_blocklist",
    "daily_summaries",
    "inverse_map_versions",
    "inverse_allowlist_versions",
}


@pytest.fixture
def journal(tmp_path: Path) -> OrderJournal:
    return OrderJournal(state_db.connect(tmp_path / "state.db"), FakeClock(T0))


def request(cid: str = CID, qty: str = "10") -> OrderRequest:
    return OrderRequest(cid, "MSFT", OrderSide.BUY, D(qty), OrderType.LIMIT, limit_price=D("50"))


def fill(external_id: str, qty: str, price: str, cid: str = CID, fee: str = "0.01") -> FillReport:
    return FillReport(
        external_id,
        cid,
        "BRK-1",
        "MSFT",
        OrderSide.BUY,
        D(qty),
        D(price),
        D(fee),
        T0 + timedelta(minutes=1),
    )


def test_schema_has_the_spec_tables_wal_and_full_sync(tbot_home: Path) -> None:
    paths = RuntimePaths.for_home(tbot_home)
    conn = state_db.open_state_db(paths, "DEMO_USA_SIM_01")
    assert paths.state_db("DEMO_USA_SIM_01").is_file()
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables >= SPEC_TABLES
    assert state_db.schema_version(conn) == len(state_db.migrations())
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn.close()
    again = state_db.open_state_db(paths, "DEMO_USA_SIM_01")  # re-open: nothing re-applied
    assert state_db.schema_version(again) == 1


def test_newer_database_and_gapped_migrations_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    state_db.connect(path).execute("PRAGMA user_version = 99")
    with pytest.raises(ConfigError, match="newer than this code"):
        state_db.connect(path)
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "0001_a.sql").write_text("CREATE TABLE a (x INTEGER);")
    (schemas / "0003_c.sql").write_text("CREATE TABLE c (x INTEGER);")
    with pytest.raises(ConfigError, match="expected number 0002"):
        state_db.migrations(schemas)


def test_failed_migration_leaves_the_old_schema(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "0001_a.sql").write_text("CREATE TABLE a (x INTEGER);")
    (schemas / "0002_b.sql").write_text("CREATE TABLE b (x INTEGER); CREATE TABLE a (y INTEGER);")
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        state_db.migrate(conn, schemas)
    assert state_db.schema_version(conn) == 1
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert names == {"a"}


def test_intent_row_is_committed_in_state_new(journal: OrderJournal, tmp_path: Path) -> None:
    row = journal.record_new(
        request(), OrderContext("2025-07-15", "open", "20250715-OPEN", meta={"pool_rank": 3})
    )
    assert row.state is OrderState.NEW and row.purpose == "EN"
    other = sqlite3.connect(tmp_path / "state.db")  # another connection sees it: committed
    assert other.execute("SELECT state FROM orders").fetchall() == [("new",)]
    assert row.context.meta == {"pool_rank": 3}
    assert row.request == request()
    with pytest.raises(LogicError, match="already journalled"):
        journal.record_new(request())


def test_transitions_are_checked_and_recorded(journal: OrderJournal) -> None:
    journal.record_new(request())
    sent = journal.transition(CID, OrderState.IN_FLIGHT)
    assert sent.sent_utc == T0
    with pytest.raises(StateError):
        journal.transition(CID, OrderState.NEW)
    journal.transition(CID, OrderState.REJECTED, reason="no buying power")
    with pytest.raises(StateError):
        journal.transition(CID, OrderState.ACCEPTED)
    row = journal.require(CID)
    assert row.state is OrderState.REJECTED and row.state_reason == "no buying power"
    assert row.closed_utc == T0
    assert [h[:2] for h in journal.history(CID)] == [
        (None, "new"),
        ("new", "in_flight"),
        ("in_flight", "rejected"),
    ]


def test_fills_are_idempotent_and_drive_partial_then_filled(journal: OrderJournal) -> None:
    journal.record_new(request())
    journal.transition(CID, OrderState.IN_FLIGHT)
    row, new = journal.record_fill(fill("F1", "4", "50.00"), CID)
    assert new and row.state is OrderState.PARTIALLY_FILLED and row.filled_qty == D("4")
    row, new = journal.record_fill(fill("F1", "4", "50.00"), CID)
    assert not new and row.filled_qty == D("4")
    row, new = journal.record_fill(fill("F2", "6", "49.00", fee="0.02"), CID)
    assert row.state is OrderState.FILLED and row.filled_qty == D("10")
    assert row.avg_fill_price == D("49.4") and row.fees == D("0.03")
    assert row.broker_order_id == "BRK-1"
    assert [f.external_id for f in journal.fills(CID)] == ["F1", "F2"]
    assert journal.net_positions() == {"MSFT": D("10")}
    assert journal.latest_fill_ts() == T0 + timedelta(minutes=1)


def test_broker_reports_are_adopted_and_stale_ones_ignored(journal: OrderJournal) -> None:
    journal.record_new(request())
    journal.transition(CID, OrderState.IN_FLIGHT)

    def report(state: OrderState, filled: str, avg: str | None = None) -> OrderReport:
        return OrderReport(
            CID,
            "BRK-1",
            "MSFT",
            OrderSide.BUY,
            D("10"),
            D(filled),
            D(avg) if avg else None,
            state,
            OrderType.LIMIT,
        )

    assert journal.apply_report(report(OrderState.ACCEPTED, "0")).state is OrderState.ACCEPTED
    journal.record_fill(fill("F1", "4", "50"), CID)
    stale = journal.apply_report(report(OrderState.ACCEPTED, "0"))
    assert stale.state is OrderState.PARTIALLY_FILLED and stale.filled_qty == D("4")
    done = journal.apply_report(report(OrderState.CANCELLED, "4", "50"))
    assert done.state is OrderState.CANCELLED and done.filled_qty == D("4")
    with pytest.raises(StateError):
        journal.apply_report(report(OrderState.FILLED, "10", "50"))


def test_new_row_found_at_the_broker_is_adopted_via_unresolved(journal: OrderJournal) -> None:
    journal.record_new(request())
    row = journal.apply_report(
        OrderReport(
            CID,
            "BRK-9",
            "MSFT",
            OrderSide.BUY,
            D("10"),
            D("0"),
            None,
            OrderState.ACCEPTED,
            OrderType.LIMIT,
        )
    )
    assert row.state is OrderState.ACCEPTED and row.broker_order_id == "BRK-9"
    assert [h[1] for h in journal.history(CID)] == ["new", "unresolved", "accepted"]


def test_decimals_are_stored_exactly_and_options_round_trip(journal: OrderJournal) -> None:
    option = OptionContract("MSFT", date(2025, 7, 18), D("250.5"), "P")
    put = OrderRequest(
        "B01-20250715-C01-MSFT-EN00",
        "MSFT250718P00250500",
        OrderSide.BUY,
        D("0.000001"),
        OrderType.LIMIT,
        limit_price=D("1.23"),
        asset_class=AssetClass.OPTION,
        option=option,
    )
    row = journal.record_new(put)
    assert row.request == put
    stored = journal._conn.execute("SELECT qty FROM orders").fetchone()[0]
    assert stored == "0.000001"  # never exponent notation, never REAL


def test_orders_by_state_date_and_broker_id(journal: OrderJournal) -> None:
    journal.record_new(request(), OrderContext(trading_date="2025-07-15"))
    journal.record_new(request("B01-20250715-O02-MSFT-EN00"), OrderContext("2025-07-15"))
    journal.transition(CID, OrderState.IN_FLIGHT)
    assert [o.client_order_id for o in journal.in_states({OrderState.NEW})] == [
        "B01-20250715-O02-MSFT-EN00"
    ]
    assert len(journal.orders_of_date("2025-07-15")) == 2
    journal.record_fill(fill("F1", "1", "50"), CID)
    found = journal.by_broker_order_id("BRK-1")
    assert found is not None and found.client_order_id == CID
    assert journal.get("nope") is None
