"""A short SIM day driven bar by bar: entry, native trailing stop after the fill, exit, books."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from types import SimpleNamespace

from tbot_bot.broker.models import (
    FillReport,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderType,
    PositionIntent,
)
from tbot_bot.market.bars import Bar
from tbot_bot.test.fakes.sim_session import SimSession
from tbot_bot.trading.broker_reconcile import reconcile
from tbot_bot.trading.client_order_id import make_client_order_id
from tbot_bot.trading.order_journal import JournalOrder, OrderContext

OPEN = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)
SETTINGS = SimpleNamespace(ACCOUNT_BALANCE=Decimal("2500.00"), SIM_FEE_PER_ORDER=Decimal("0.50"))


def day_bars() -> list[Bar]:
    """Up 0.20 a minute for 30 minutes, then down 0.30 a minute."""
    bars, price = [], Decimal("100.00")
    for minute in range(60):
        step = Decimal("0.20") if minute < 30 else Decimal("-0.30")
        close = price + step
        high, low = max(price, close) + Decimal("0.05"), min(price, close) - Decimal("0.05")
        bars.append(Bar("MSFT", OPEN + timedelta(minutes=minute), price, high, low, close, 5000))
        price = close
    return bars


def run_day(tmp_path: Path) -> SimSession:
    session = SimSession.start(
        day_bars(), start_utc=OPEN, db_path=tmp_path / "s.db", settings=SETTINGS
    )
    entry_id = make_client_order_id("B01", "20250715", "O", 1, "MSFT", "EN", 0)
    stop_id = make_client_order_id("B01", "20250715", "O", 1, "MSFT", "TS", 0)

    def place_stop(
        fill: FillReport, order: JournalOrder
    ) -> None:  # the runner's rule: native stop only after the fill
        if order.client_order_id == entry_id and order.state is OrderState.FILLED:
            session.orders.submit(
                OrderRequest(
                    stop_id,
                    "MSFT",
                    OrderSide.SELL,
                    order.filled_qty,
                    OrderType.TRAILING_STOP,
                    trail_percent=Decimal("0.02"),
                    intent=PositionIntent.CLOSE_LONG,
                ),
                OrderContext("2025-07-15", "open", "20250715-OPEN"),
            )

    session.orders.on_fill(place_stop)
    session.run_until(OPEN + timedelta(minutes=10))
    quote = session.quote("MSFT")
    limit = (quote.ask * Decimal("1.005")).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    entry = session.orders.submit(
        OrderRequest(
            entry_id, "MSFT", OrderSide.BUY, Decimal("5"), OrderType.LIMIT, limit_price=limit
        ),
        OrderContext("2025-07-15", "open", "20250715-OPEN"),
    )
    assert entry.state is OrderState.ACCEPTED
    session.run_until(OPEN + timedelta(minutes=60))
    return session


def test_entry_trailing_stop_and_flat_books(tmp_path: Path) -> None:
    session = run_day(tmp_path)
    entry, stop = [order for _, order in session.fills]
    assert entry.state is OrderState.FILLED and stop.state is OrderState.FILLED
    fills = [fill for fill, _ in session.fills]
    # entry at the 09:40 bar open 102.00 + 0.15 % slippage = 102.153 -> 102.16
    assert (fills[0].price, fills[0].ts_utc) == (
        Decimal("102.16"),
        OPEN + timedelta(minutes=10, milliseconds=500),
    )
    # peak 106.05 (the 10:00 bar high) -> stop 103.929; the falling bars cross it
    assert fills[1].price == Decimal("103.92")
    assert session.broker.get_positions() == []
    cash = (
        Decimal("2500.00")
        - Decimal("510.80")
        - Decimal("0.50")
        + Decimal("519.60")
        - Decimal("0.50")
    )
    assert session.broker.get_account().cash == cash
    report = reconcile(session.orders, session.now)
    assert report.clean, report


def test_two_runs_give_identical_fills(tmp_path: Path) -> None:
    first = run_day(tmp_path / "a")
    second = run_day(tmp_path / "b")
    assert [f for f, _ in first.fills] == [f for f, _ in second.fills]
