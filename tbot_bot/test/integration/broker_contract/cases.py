"""The broker contract cases, run against every adapter's fake venue and against the SIM.

Every case drives the real `OrderManager` + `OrderJournal` against the adapter under test and
asserts the three promises of the order path (trading spec §7.1):
- never two broker orders for one intent (`len(venue_order_ids(id)) <= 1`);
- the journal ends in the broker's state (or `unresolved`/`cancelled: not_sent` when the broker
  holds nothing);
- no exception escapes untyped: whatever reaches the caller is a `TbotError`.

Orders are day limit buys far below the market (nothing fills unless the venue is told to), so
the same cases run on venues that match orders themselves (SIM) and on scripted fakes.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tbot_bot.broker.base import Broker
from tbot_bot.broker.models import (
    FillReport,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
    TimeInForce,
)
from tbot_bot.broker.order_state import normalise_reported_state
from tbot_bot.clock import FakeClock
from tbot_bot.errors import TbotError
from tbot_bot.test.integration.broker_contract.harness import ContractHarness
from tbot_bot.trading import state_db
from tbot_bot.trading.broker_reconcile import reconcile
from tbot_bot.trading.client_order_id import make_client_order_id
from tbot_bot.trading.order_journal import JournalOrder, OrderJournal
from tbot_bot.trading.order_manager import OrderManager

SYMBOL = "MSFT"
QTY = Decimal("10")
LIMIT = Decimal("50.00")
FILL_PRICE = Decimal("50.00")
START = datetime(2025, 7, 15, 14, 0, tzinfo=UTC)
RETRY_LIMIT = 3


def client_id(slot: int, seq: int = 0) -> str:
    return make_client_order_id("B01", "20250715", "O", slot, SYMBOL, "EN", seq)


def limit_buy(slot: int, qty: Decimal = QTY) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_id(slot),
        symbol=SYMBOL,
        side=OrderSide.BUY,
        qty=qty,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        limit_price=LIMIT,
    )


@dataclass
class ContractRun:
    """One bot process: journal, manager and adapter; `restart()` simulates a crash + start."""

    harness: ContractHarness
    db_path: Path
    clock: FakeClock = field(default_factory=lambda: FakeClock(START))
    sleeps: list[float] = field(default_factory=list)
    unresolved: list[dict[str, Any]] = field(default_factory=list)
    fills_seen: list[FillReport] = field(default_factory=list)
    broker: Broker = field(init=False)
    conn: sqlite3.Connection = field(init=False)
    journal: OrderJournal = field(init=False)
    manager: OrderManager = field(init=False)

    def __post_init__(self) -> None:
        self.broker = self.harness.make_broker()
        self.conn = state_db.connect(self.db_path)
        self.journal = OrderJournal(self.conn, self.clock)
        self.manager = OrderManager(
            self.broker,
            self.journal,
            self.clock,
            retry_limit=RETRY_LIMIT,
            sleep=self.sleeps.append,
            rand=lambda: 0.0,
            unresolved_sink=lambda record: self.unresolved.append(dict(record)),
        )
        self.manager.on_fill(lambda fill, _order: self.fills_seen.append(fill))

    def restart(self) -> ContractRun:
        """Drop everything in memory (a crash) and start again on the same state database."""
        self.conn.close()
        return ContractRun(self.harness, self.db_path, self.clock)


def start(harness: ContractHarness, tmp_path: Path) -> ContractRun:
    return ContractRun(harness, tmp_path / "contract_state.db")


# -- assertions -------------------------------------------------------------------------------
@contextlib.contextmanager
def only_typed_errors() -> Iterator[list[TbotError]]:
    """Swallow and collect `TbotError`s; anything else fails the case."""
    caught: list[TbotError] = []
    try:
        yield caught
    except TbotError as exc:
        caught.append(exc)
    except Exception as exc:
        raise AssertionError(f"untyped exception escaped: {type(exc).__name__}: {exc}") from exc


def typed(operation: Callable[[], Any]) -> Any:
    """Run `operation`; a TbotError is returned as a value, any other exception fails."""
    with only_typed_errors() as caught:
        return operation()
    return caught[0]


def assert_single_order(harness: ContractHarness, client_order_id: str) -> None:
    ids = harness.venue_order_ids(client_order_id)
    assert len(ids) <= 1, f"{harness.name}: {len(ids)} venue orders for {client_order_id}: {ids}"


def assert_journal_matches_broker(run: ContractRun, client_order_id: str) -> JournalOrder:
    """The journal holds the broker's state for this order (connection must be up)."""
    report = run.broker.get_order_by_client_id(client_order_id)
    row = run.journal.require(client_order_id)
    name = run.harness.name
    if report is None:
        assert (
            row.state is OrderState.UNRESOLVED
            or (row.state is OrderState.CANCELLED and row.state_reason == "not_sent")
            or row.state is OrderState.REJECTED
        ), f"{name}: broker has no order {client_order_id}, journal says {row.state}"
        assert not run.harness.venue_order_ids(client_order_id)
        return row
    assert row.state is normalise_reported_state(report.state), (
        f"{name}: journal {row.state} but broker {report.state} for {client_order_id}"
    )
    assert row.filled_qty == report.filled_qty, (
        f"{name}: journal filled {row.filled_qty}, broker {report.filled_qty}"
    )
    if report.broker_order_id is not None:
        assert row.broker_order_id == report.broker_order_id
    return row


def _history_states(run: ContractRun, client_order_id: str) -> list[str]:
    return [to_state for _, to_state, _, _ in run.journal.history(client_order_id)]


# -- cases ------------------------------------------------------------------------------------
def case_submit_and_fill(harness: ContractHarness, tmp_path: Path) -> None:
    """Normal path: accepted, filled at the venue, fill applied once with a stable id."""
    run = start(harness, tmp_path)
    cid = client_id(1)
    row = run.manager.submit(limit_buy(1))
    assert row.state is OrderState.ACCEPTED, row
    assert row.broker_order_id
    assert _history_states(run, cid)[:2] == ["new", "in_flight"]
    harness.venue_fill(cid, QTY, FILL_PRICE)
    applied = run.manager.poll_fills()
    assert [f.client_order_id for f in applied] == [cid]
    assert run.manager.poll_fills() == []  # idempotent: the same fill is not applied twice
    assert [f.external_id for f in run.fills_seen] == [applied[0].external_id]
    again = {f.external_id for f in run.broker.get_fills(None)}
    assert applied[0].external_id in again  # the feed returns the same stable id later
    row = assert_journal_matches_broker(run, cid)
    assert row.state is OrderState.FILLED and row.filled_qty == QTY
    assert row.avg_fill_price == FILL_PRICE
    assert_single_order(harness, cid)


def case_timeout_after_accept(harness: ContractHarness, tmp_path: Path) -> None:
    """The venue accepted but the answer was lost: unresolved, then adopted by lookup."""
    run = start(harness, tmp_path)
    cid = client_id(2)
    harness.script_timeout_after_accept()
    row = run.manager.submit(limit_buy(2))
    assert "unresolved" in _history_states(run, cid)
    assert row.state is OrderState.ACCEPTED, row
    assert_single_order(harness, cid)
    assert_journal_matches_broker(run, cid)


def case_server_errors_then_success(harness: ContractHarness, tmp_path: Path) -> None:
    """5xx with the order taken, then 5xx with the order not taken: never a second send."""
    run = start(harness, tmp_path)
    taken, lost = client_id(3), client_id(4)
    harness.script_server_errors(2, accept_first=True)
    row = run.manager.submit(limit_buy(3))
    assert row.state is OrderState.ACCEPTED, row
    assert_single_order(harness, taken)
    harness.script_server_errors(1, accept_first=False)
    row = run.manager.submit(limit_buy(4))
    assert row.state is OrderState.UNRESOLVED, row  # looked up, absent: stays unresolved
    assert not harness.venue_order_ids(lost)  # and it was not sent again
    assert [record["client_order_id"] for record in run.unresolved] == [lost]
    assert run.manager.submit(limit_buy(4)).state is OrderState.UNRESOLVED  # same intent: no send
    assert not harness.venue_order_ids(lost)
    for cid in (taken, lost):
        assert_journal_matches_broker(run, cid)


def case_rate_limit_storm(harness: ContractHarness, tmp_path: Path) -> None:
    """429s on the next requests: wait, confirm absence, send once with the same id."""
    run = start(harness, tmp_path)
    cid = client_id(5)
    harness.script_rate_limit(2)
    row = run.manager.submit(limit_buy(5))
    assert row.state is OrderState.ACCEPTED, row
    assert run.sleeps, "a throttled request must be followed by a wait"
    assert_single_order(harness, cid)
    assert_journal_matches_broker(run, cid)


def case_partial_fill_then_cancel(harness: ContractHarness, tmp_path: Path) -> None:
    """A partial fill keeps its quantity; the cancel closes the rest."""
    run = start(harness, tmp_path)
    cid = client_id(6)
    run.manager.submit(limit_buy(6))
    harness.venue_fill(cid, Decimal("4"), FILL_PRICE)
    assert len(run.manager.poll_fills()) == 1
    assert run.journal.require(cid).state is OrderState.PARTIALLY_FILLED
    row = run.manager.cancel(cid)
    assert row.state is OrderState.CANCELLED, row
    assert row.filled_qty == Decimal("4")
    assert run.manager.poll_fills() == []
    assert_single_order(harness, cid)
    assert_journal_matches_broker(run, cid)


def case_reject(harness: ContractHarness, tmp_path: Path) -> None:
    """A broker rejection is final: `rejected` with the reason, no retry."""
    run = start(harness, tmp_path)
    cid = client_id(7)
    harness.script_reject_next_submit("insufficient buying power")
    row = run.manager.submit(limit_buy(7))
    assert row.state is OrderState.REJECTED, row
    assert row.state_reason
    assert_single_order(harness, cid)
    assert_journal_matches_broker(run, cid)


def case_disconnect_mid_order(harness: ContractHarness, tmp_path: Path) -> None:
    """The connection drops with one order working and one being sent."""
    run = start(harness, tmp_path)
    working, sending = client_id(8), client_id(9)
    run.manager.submit(limit_buy(8))
    harness.script_disconnect()
    row = typed(lambda: run.manager.submit(limit_buy(9)))
    assert isinstance(row, JournalOrder) and row.state is OrderState.UNRESOLVED, row
    assert isinstance(typed(lambda: run.manager.sync_order(working)), TbotError)
    assert isinstance(typed(lambda: run.manager.cancel(working)), TbotError)
    harness.restore_connection()
    run.manager.resolve_unresolved()
    run.manager.sync_order(working)
    for cid in (working, sending):
        assert_single_order(harness, cid)
        assert_journal_matches_broker(run, cid)


def case_fill_while_offline(harness: ContractHarness, tmp_path: Path) -> None:
    """A fill made while we cannot reach the broker is found by reconciliation afterwards."""
    run = start(harness, tmp_path)
    cid = client_id(10)
    run.manager.submit(limit_buy(10))
    harness.script_disconnect()
    harness.venue_fill(cid, QTY, FILL_PRICE)
    assert isinstance(typed(run.manager.poll_fills), TbotError)
    blocked = reconcile(run.manager, run.clock.now_utc())
    assert not blocked.completed and blocked.blocked_reason
    harness.restore_connection()
    report = reconcile(run.manager, run.clock.now_utc())
    assert report.completed and report.blocked_reason is None, report
    assert report.fills_applied == 1
    assert len(run.fills_seen) == 1
    row = assert_journal_matches_broker(run, cid)
    assert row.state is OrderState.FILLED
    assert_single_order(harness, cid)


def case_crash_between_journal_and_send(harness: ContractHarness, tmp_path: Path) -> None:
    """Crash after the journal write: before the send (`new`) and during it (`in_flight`)."""
    run = start(harness, tmp_path)
    never_sent, sent = limit_buy(11), limit_buy(12)
    run.journal.record_new(never_sent)
    run.journal.record_new(sent)
    run.journal.transition(sent.client_order_id, OrderState.IN_FLIGHT)
    run.broker.submit_order(sent)  # reached the venue; the process died before the answer
    run = run.restart()
    report = reconcile(run.manager, run.clock.now_utc())
    assert report.completed, report
    assert set(report.resolved_orders) == {never_sent.client_order_id, sent.client_order_id}
    row = assert_journal_matches_broker(run, never_sent.client_order_id)
    assert row.state is OrderState.CANCELLED and row.state_reason == "not_sent"
    assert assert_journal_matches_broker(run, sent.client_order_id).state is OrderState.ACCEPTED
    run.manager.submit(sent)  # the runner replays the same intent after the restart
    for request in (never_sent, sent):
        assert_single_order(harness, request.client_order_id)
    assert len(harness.venue_order_ids(sent.client_order_id)) == 1


CONTRACT_CASES: tuple[Callable[[ContractHarness, Path], None], ...] = (
    case_submit_and_fill,
    case_timeout_after_accept,
    case_server_errors_then_success,
    case_rate_limit_storm,
    case_partial_fill_then_cancel,
    case_reject,
    case_disconnect_mid_order,
    case_fill_while_offline,
    case_crash_between_journal_and_send,
)
