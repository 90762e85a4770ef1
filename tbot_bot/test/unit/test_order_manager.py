"""The order manager against the SIM venue and its fault injection (trading spec §7.1, §7.5)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tbot_bot.broker.models import (
    FillReport,
    OrderReport,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
    PositionIntent,
)
from tbot_bot.broker.sim.broker import SimBroker
from tbot_bot.broker.sim.fill_model import FillModelConfig
from tbot_bot.broker.sim.replay import ListReplay
from tbot_bot.clock import FakeClock
from tbot_bot.errors import LogicError, NetworkError, StateError
from tbot_bot.market.bars import Bar
from tbot_bot.trading import state_db
from tbot_bot.trading.order_journal import JournalOrder, OrderContext, OrderJournal
from tbot_bot.trading.order_manager import OrderManager

D = Decimal  # short alias: the tests are mostly price tables

OPEN = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)
NOW = OPEN + timedelta(minutes=2)
ENTRY = "B01-20250715-O01-MSFT-EN00"
EXIT = "B01-20250715-O01-MSFT-EX00"


def bars() -> list[Bar]:
    price = D("100")
    return [
        Bar("MSFT", OPEN + timedelta(minutes=i), price, price, price, price, 1000)
        for i in range(60)
    ]


class Setup:
    def __init__(self, tmp_path: Path, broker_class: type[SimBroker] = SimBroker) -> None:
        self.clock = FakeClock(NOW)
        self.sim = broker_class(
            ListReplay(bars()), self.clock, config=FillModelConfig(slippage_enabled=False)
        )
        self.db_path = tmp_path / "state.db"
        self.journal = OrderJournal(state_db.connect(self.db_path), self.clock)
        self.sleeps: list[float] = []
        self.unresolved: list[dict[str, Any]] = []
        self.manager = OrderManager(
            self.sim,
            self.journal,
            self.clock,
            retry_limit=3,
            sleep=self.sleeps.append,
            rand=lambda: 0.0,
            unresolved_sink=lambda record: self.unresolved.append(dict(record)),
        )


def limit(cid: str = ENTRY, side: OrderSide = OrderSide.BUY, price: str = "50") -> OrderRequest:
    return OrderRequest(cid, "MSFT", side, D("10"), OrderType.LIMIT, limit_price=D(price))


def market(cid: str, side: OrderSide = OrderSide.BUY) -> OrderRequest:
    return OrderRequest(cid, "MSFT", side, D("10"), OrderType.MARKET)


def states(setup: Setup, cid: str) -> list[str]:
    return [to for _, to, _, _ in setup.journal.history(cid)]


def test_the_intent_is_committed_before_the_broker_sees_it(tmp_path: Path) -> None:
    seen: list[list[tuple[str, str]]] = []

    class Spy(SimBroker):
        def submit_order(self, request: OrderRequest) -> OrderReport:
            other = sqlite3.connect(setup.db_path)  # a second connection: only committed rows
            seen.append(
                other.execute(
                    "SELECT o.state, h.to_state FROM orders o JOIN order_state_history h "
                    "USING (client_order_id) ORDER BY h.id"
                ).fetchall()
            )
            other.close()
            return super().submit_order(request)

    setup = Setup(tmp_path, Spy)
    row = setup.manager.submit(limit())
    assert seen == [[("in_flight", "new"), ("in_flight", "in_flight")]]
    assert row.state is OrderState.ACCEPTED and states(setup, ENTRY) == [
        "new",
        "in_flight",
        "accepted",
    ]


def test_rejection_is_final_and_not_retried(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.sim.faults.reject_next("price outside band")
    before = setup.sim.faults.requests_seen
    row = setup.manager.submit(limit())
    assert row.state is OrderState.REJECTED and "price outside band" in (row.state_reason or "")
    assert setup.sim.faults.requests_seen == before + 1 and setup.sleeps == []


def test_a_journalled_intent_is_never_sent_again(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.manager.submit(limit())
    before = setup.sim.faults.requests_seen
    assert setup.manager.submit(limit()).state is OrderState.ACCEPTED
    assert setup.sim.faults.requests_seen == before
    assert setup.sim.venue_order_ids(ENTRY) == ["SIM-00000001"]


def test_duplicate_answer_is_resolved_by_lookup(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.sim.submit_order(limit())  # an earlier attempt landed (e.g. an SDK-level retry)
    row = setup.manager.submit(limit())
    assert row.state is OrderState.ACCEPTED and row.broker_order_id == "SIM-00000001"
    assert "unresolved" in states(setup, ENTRY)
    assert setup.sim.venue_order_ids(ENTRY) == ["SIM-00000001"]


def test_untyped_adapter_error_is_treated_as_unknown_outcome(tmp_path: Path) -> None:
    class Leaky(SimBroker):
        def submit_order(self, request: OrderRequest) -> OrderReport:
            super().submit_order(request)
            raise RuntimeError("socket closed by peer")

    setup = Setup(tmp_path, Leaky)
    row = setup.manager.submit(limit())
    assert row.state is OrderState.ACCEPTED
    assert states(setup, ENTRY) == ["new", "in_flight", "unresolved", "accepted"]


def test_lookups_that_fail_leave_it_unresolved_logged_and_found_later(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.journal.record_new(limit(), OrderContext(strategy="open"))
    setup.journal.transition(ENTRY, OrderState.IN_FLIGHT)
    setup.sim.faults.fail_next(5, accept=True)  # submit lands, then every lookup fails
    row = setup.manager._send(limit())
    assert row.state is OrderState.UNRESOLVED
    assert setup.sleeps == [1.0, 2.0, 4.0]
    [record] = setup.unresolved
    assert record["client_order_id"] == ENTRY and record["strategy"] == "open"
    assert record["broker"] == "SIM" and record["error_type"] == "network_error"
    assert record["error_code"] == "NetworkError" and "503" in record["exception_repr"]
    assert set(record) == {
        "ts_utc",
        "strategy",
        "broker",
        "error_type",
        "error_code",
        "exception_repr",
        "context",
        "client_order_id",
    }
    [found] = setup.manager.resolve_unresolved()
    assert found.state is OrderState.ACCEPTED
    assert setup.sim.venue_order_ids(ENTRY) == ["SIM-00000001"]


def test_throttled_submit_is_resent_only_after_confirmed_absence(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.sim.faults.rate_limit_next(1, retry_after_s=2.5)
    row = setup.manager.submit(limit())
    assert row.state is OrderState.ACCEPTED and setup.sleeps == [2.5]
    assert setup.sim.venue_order_ids(ENTRY) == ["SIM-00000001"]


def test_a_throttle_storm_longer_than_the_limit_ends_unresolved(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.sim.faults.rate_limit_next(100, retry_after_s=1.0)
    row = setup.manager.submit(limit())
    assert row.state is OrderState.UNRESOLVED
    assert setup.sim.venue_order_ids(ENTRY) == []
    assert setup.unresolved and setup.unresolved[0]["error_type"] == "rate_limited"


def test_default_sleep_moves_the_injected_clock(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    manager = OrderManager(setup.sim, setup.journal, setup.clock, rand=lambda: 0.0)
    setup.sim.faults.rate_limit_next(1, retry_after_s=3.0)
    manager.submit(limit())
    assert setup.clock.now_utc() == NOW + timedelta(seconds=3)


def test_fills_reach_callbacks_once_and_foreign_fills_are_skipped(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    seen: list[tuple[str, OrderState]] = []
    setup.manager.on_fill(lambda fill, order: seen.append((fill.external_id, order.state)))
    setup.manager.submit(market(ENTRY))
    setup.sim.submit_order(market("manual-order-1"))  # not ours
    setup.clock.advance(timedelta(seconds=1))
    applied = setup.manager.poll_fills()
    assert [f.client_order_id for f in applied] == [ENTRY]
    assert seen == [("SIM-00000001-F001", OrderState.FILLED)]
    assert setup.manager.poll_fills() == [] and len(seen) == 1


def test_fill_without_client_id_is_matched_by_broker_order_id(tmp_path: Path) -> None:
    class NoClientIds(SimBroker):
        def get_fills(self, since_utc: datetime | None = None) -> list[FillReport]:
            return [replace(f, client_order_id=None) for f in super().get_fills(since_utc)]

    setup = Setup(tmp_path, NoClientIds)
    setup.manager.submit(market(ENTRY))
    setup.clock.advance(timedelta(seconds=1))
    assert len(setup.manager.poll_fills()) == 1
    assert setup.journal.require(ENTRY).state is OrderState.FILLED


def test_cancel_adopts_the_broker_state_and_skips_finished_orders(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.manager.submit(limit())
    assert setup.manager.cancel(ENTRY).state is OrderState.CANCELLED
    before = setup.sim.faults.requests_seen
    assert setup.manager.cancel(ENTRY).state is OrderState.CANCELLED
    assert setup.sim.faults.requests_seen == before


def test_cancel_all_refreshes_every_open_row(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.manager.submit(limit())
    setup.manager.submit(limit("B01-20250715-O02-MSFT-EN00"))
    assert sorted(setup.manager.cancel_all()) == [ENTRY, "B01-20250715-O02-MSFT-EN00"]
    assert {o.state for o in setup.journal.in_states(set(OrderState))} == {OrderState.CANCELLED}


def test_cancel_all_leaves_orders_the_bot_did_not_send(tmp_path: Path) -> None:
    """Trading spec §7.3: a kill cancels the strategy's orders, not a manual order that an
    operator placed in the same account."""
    setup = Setup(tmp_path)
    setup.manager.submit(limit())
    setup.sim.submit_order(limit("MANUAL-ORDER-1", price="40"))  # straight at the broker
    assert setup.manager.cancel_all() == [ENTRY]
    assert setup.journal.require(ENTRY).state is OrderState.CANCELLED
    manual = setup.sim.get_order_by_client_id("MANUAL-ORDER-1")
    assert manual is not None and manual.state is OrderState.ACCEPTED


def test_unreachable_broker_raises_typed_errors_from_reads(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.manager.submit(limit())
    setup.sim.faults.disconnect()
    with pytest.raises(NetworkError):
        setup.manager.sync_order(ENTRY)
    with pytest.raises(NetworkError):
        setup.manager.poll_fills()
    assert setup.sleeps == [1.0, 2.0, 4.0, 1.0, 2.0, 4.0]


def _filled_long(setup: Setup) -> None:
    setup.manager.submit(market(ENTRY))
    setup.clock.advance(timedelta(seconds=1))
    setup.manager.poll_fills()


def test_exit_is_resent_with_seq_plus_one_after_confirmed_cancel(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    _filled_long(setup)
    setup.manager.submit(limit(EXIT, OrderSide.SELL, price="150"))
    with pytest.raises(StateError, match="accepted at the broker"):
        setup.manager.resubmit_exit(EXIT, market("B01-20250715-O01-MSFT-EX01", OrderSide.SELL))
    setup.manager.cancel(EXIT)
    with pytest.raises(LogicError, match="must be B01-20250715-O01-MSFT-EX01"):
        setup.manager.resubmit_exit(EXIT, market("B01-20250715-O01-MSFT-EX05", OrderSide.SELL))
    with pytest.raises(LogicError, match="not an exit"):
        setup.manager.resubmit_exit(ENTRY, market("B01-20250715-O01-MSFT-EN01"))
    second = replace(
        market("B01-20250715-O01-MSFT-EX01", OrderSide.SELL), intent=PositionIntent.CLOSE_LONG
    )
    row: JournalOrder = setup.manager.resubmit_exit(EXIT, second)
    assert row.state is OrderState.ACCEPTED and row.context.previous_attempt == EXIT


def test_exit_confirmed_absent_may_be_resent(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    _filled_long(setup)
    setup.sim.faults.fail_next(1, accept=False)
    first = setup.manager.submit(market(EXIT, OrderSide.SELL))
    assert first.state is OrderState.UNRESOLVED and not setup.sim.venue_order_ids(EXIT)
    row = setup.manager.resubmit_exit(EXIT, market("B01-20250715-O01-MSFT-EX01", OrderSide.SELL))
    assert row.state is OrderState.ACCEPTED


def test_recover_settles_rows_left_by_a_crash(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    never, flying, lost = (
        limit(),
        limit("B01-20250715-O02-MSFT-EN00"),
        limit("B01-20250715-O03-MSFT-EN00"),
    )
    setup.journal.record_new(never)
    for request in (flying, lost):
        setup.journal.record_new(request)
        setup.journal.transition(request.client_order_id, OrderState.IN_FLIGHT)
    setup.sim.submit_order(flying)
    resolved, still = setup.manager.recover()
    assert sorted(resolved) == [never.client_order_id, flying.client_order_id]
    assert still == [lost.client_order_id]
    assert setup.journal.require(never.client_order_id).state_reason == "not_sent"
    assert setup.journal.require(flying.client_order_id).state is OrderState.ACCEPTED
    assert setup.journal.require(lost.client_order_id).state is OrderState.UNRESOLVED


def test_rejection_reasons_from_the_venue_are_kept(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    row = setup.manager.submit(
        OrderRequest("B01-20250715-O01-AAPL-EN00", "AAPL", OrderSide.BUY, D("1"), OrderType.MARKET)
    )
    assert row.state is OrderState.REJECTED and "not in the replay" in (row.state_reason or "")


def test_an_answer_about_another_order_is_refused(tmp_path: Path) -> None:
    class Confused(SimBroker):
        def get_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
            report = super().get_order_by_client_id(client_order_id)
            return None if report is None else replace(report, client_order_id="other")

    setup = Setup(tmp_path, Confused)
    setup.manager.submit(limit())
    with pytest.raises(LogicError, match="answered for other"):
        setup.manager.sync_order(ENTRY)
    assert setup.journal.get("other") is None
