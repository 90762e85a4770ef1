"""Reconciliation of the journal with the broker (SIM venue)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tbot_bot.broker.models import OrderReport, OrderRequest, OrderSide, OrderState, OrderType
from tbot_bot.broker.sim.broker import SimBroker
from tbot_bot.broker.sim.fill_model import FillModelConfig
from tbot_bot.broker.sim.replay import ListReplay
from tbot_bot.clock import FakeClock
from tbot_bot.errors import AuthenticationError
from tbot_bot.market.bars import Bar
from tbot_bot.trading import state_db
from tbot_bot.trading.broker_reconcile import PositionMismatch, reconcile
from tbot_bot.trading.order_journal import OrderJournal
from tbot_bot.trading.order_manager import OrderManager

D = Decimal  # short alias: the tests are mostly price tables

OPEN = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)


def make(
    tmp_path: Path, sim_class: type[SimBroker] = SimBroker
) -> tuple[OrderManager, SimBroker, FakeClock]:
    clock = FakeClock(OPEN + timedelta(minutes=2))
    price = D("100")
    bars = [
        Bar("MSFT", OPEN + timedelta(minutes=i), price, price, price, price, 1000)
        for i in range(60)
    ]
    sim = sim_class(ListReplay(bars), clock, config=FillModelConfig(slippage_enabled=False))
    journal = OrderJournal(state_db.connect(tmp_path / "state.db"), clock)
    return OrderManager(sim, journal, clock, sleep=lambda _s: None), sim, clock


def market(cid: str) -> OrderRequest:
    return OrderRequest(cid, "MSFT", OrderSide.BUY, D("10"), OrderType.MARKET)


def test_clean_after_a_normal_fill(tmp_path: Path) -> None:
    manager, _, clock = make(tmp_path)
    manager.submit(market("B01-20250715-O01-MSFT-EN00"))
    clock.advance(timedelta(seconds=1))
    report = reconcile(manager, clock.now_utc())
    assert report.clean and report.fills_applied == 1
    assert report.cash == D("99987") - D("1000.00")


def test_unknown_orders_missing_orders_and_position_mismatches(tmp_path: Path) -> None:
    manager, sim, clock = make(tmp_path)
    limit = OrderRequest(
        "manual-1", "MSFT", OrderSide.BUY, D("1"), OrderType.LIMIT, limit_price=D("50")
    )
    sim.submit_order(limit)  # open at the broker, unknown to the journal
    sim.submit_order(market("manual-2"))  # fills: a position nobody journalled
    ghost = OrderRequest(
        "B01-20250715-O02-MSFT-EN00",
        "MSFT",
        OrderSide.BUY,
        D("5"),
        OrderType.LIMIT,
        limit_price=D("60"),
    )
    manager.journal.record_new(ghost)
    manager.journal.transition(ghost.client_order_id, OrderState.IN_FLIGHT)
    manager.journal.apply_report(
        OrderReport(
            ghost.client_order_id,
            "LOST-1",
            "MSFT",
            OrderSide.BUY,
            D("5"),
            D("0"),
            None,
            OrderState.ACCEPTED,
            OrderType.LIMIT,
        )
    )
    clock.advance(timedelta(seconds=1))
    report = reconcile(manager, clock.now_utc())
    assert report.completed and not report.clean
    assert [r.client_order_id for r in report.unknown_broker_orders] == ["manual-1"]
    assert report.missing_at_broker == (ghost.client_order_id,)
    assert report.position_mismatches == (PositionMismatch("MSFT", D("10"), D("0")),)
    assert report.position_mismatches[0].difference == D("10")
    owned = reconcile(manager, clock.now_utc(), other_owned_positions={"MSFT": D("10")})
    assert owned.position_mismatches == ()


def test_unreachable_broker_blocks_trading(tmp_path: Path) -> None:
    manager, sim, clock = make(tmp_path)
    sim.faults.disconnect()
    report = reconcile(manager, clock.now_utc())
    assert not report.completed
    assert (report.blocked_reason or "").startswith("broker_unreachable")


def test_refused_credentials_block_trading(tmp_path: Path) -> None:
    class Refusing(SimBroker):
        def get_fills(self, since_utc: datetime | None = None) -> list:  # type: ignore[type-arg]
            raise AuthenticationError("401 unauthorized")

    manager, _, clock = make(tmp_path, Refusing)
    report = reconcile(manager, clock.now_utc())
    assert not report.completed
    assert (report.blocked_reason or "").startswith("broker_refused")
