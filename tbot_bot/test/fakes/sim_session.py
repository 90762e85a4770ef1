"""A SIM trading session a test can drive bar by bar through the production interfaces.

Everything is the real code path the runner uses: the broker comes from the registry
(`create_broker("SIM", ...)`), orders go through `OrderManager` + `OrderJournal` on a real state
database, time is a `FakeClock` moved to each bar end (the moment a bar becomes visible, trading
spec §14), and due fills are delivered (`poll_fills`, `on_fill` callbacks) right after each move,
before the test looks at anything else, just as the runner does before its timeouts.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tbot_bot.broker.models import FillReport
from tbot_bot.broker.registry import create_broker
from tbot_bot.broker.sim.broker import SimBroker
from tbot_bot.broker.sim.replay import ListReplay
from tbot_bot.clock import FakeClock
from tbot_bot.market.bars import Bar, Quote
from tbot_bot.trading import state_db
from tbot_bot.trading.order_journal import JournalOrder, OrderJournal
from tbot_bot.trading.order_manager import OrderManager


@dataclass
class SimSession:
    clock: FakeClock
    broker: SimBroker
    journal: OrderJournal
    orders: OrderManager
    bar_ends: list[datetime]
    fills: list[tuple[FillReport, JournalOrder]] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        bars: Iterable[Bar],
        *,
        start_utc: datetime,
        db_path: Path,
        settings: Any = None,
        vix: Iterable[tuple[datetime, Decimal]] = (),
        **broker_options: Any,
    ) -> SimSession:
        bars = list(bars)
        clock = FakeClock(start_utc)
        broker = create_broker(
            "SIM",
            {},
            settings=settings,
            clock=clock,
            replay=ListReplay(bars, vix),
            **broker_options,
        )
        assert isinstance(broker, SimBroker)
        journal = OrderJournal(state_db.connect(db_path), clock)
        orders = OrderManager(broker, journal, clock, sleep=lambda _seconds: None)
        session = cls(clock, broker, journal, orders, sorted({bar.end_utc for bar in bars}))
        orders.on_fill(lambda fill, order: session.fills.append((fill, order)))
        return session

    @property
    def now(self) -> datetime:
        return self.clock.now_utc()

    def tick(self) -> datetime | None:
        """Move to the next bar end and deliver due fills; None when the replay is over."""
        index = bisect.bisect_right(self.bar_ends, self.now)
        if index >= len(self.bar_ends):
            return None
        self.clock.sleep_until(self.bar_ends[index])
        self.orders.poll_fills()
        return self.now

    def run_until(self, when: datetime) -> None:
        while self.now < when and self.tick() is not None:
            pass

    def quote(self, symbol: str) -> Quote:
        return self.broker.get_latest_quotes([symbol])[symbol]
