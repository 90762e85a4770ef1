"""`ContractHarness` over the SIM broker: the venue is the SIM itself, faults via `sim.faults`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tbot_bot.broker.sim.broker import SimBroker
from tbot_bot.broker.sim.replay import ListReplay
from tbot_bot.clock import FakeClock
from tbot_bot.market.bars import Bar
from tbot_bot.test.integration.broker_contract.cases import START, SYMBOL

SESSION_OPEN = START.replace(hour=13, minute=30)


def flat_bars(minutes: int = 390, price: Decimal = Decimal("100.00")) -> list[Bar]:
    """A quiet session around `price`; the contract's limit buys at 50 are never touched."""
    return [
        Bar(
            SYMBOL,
            SESSION_OPEN + timedelta(minutes=i),
            price,
            price + Decimal("0.20"),
            price - Decimal("0.20"),
            price,
            10_000,
        )
        for i in range(minutes)
    ]


class SimHarness:
    """The SIM venue; `enforce_unique_client_ids=False` makes duplicates countable."""

    name = "SIM"

    def __init__(self, *, enforce_unique_client_ids: bool = True) -> None:
        self.clock = FakeClock(START)
        self.sim = SimBroker(
            ListReplay(flat_bars()),
            self.clock,
            enforce_unique_client_ids=enforce_unique_client_ids,
        )
        if not enforce_unique_client_ids:
            self.name = "SIM-permissive"

    def make_broker(self) -> SimBroker:
        self.sim.connect()
        return self.sim

    def venue_order_ids(self, client_order_id: str) -> list[str]:
        return self.sim.venue_order_ids(client_order_id)

    def venue_fill(self, client_order_id: str, qty: Decimal, price: Decimal) -> None:
        self.sim.venue_fill(client_order_id, qty, price)

    def venue_cancel(self, client_order_id: str) -> None:
        self.sim.venue_cancel(client_order_id)

    def script_reject_next_submit(self, reason: str) -> None:
        self.sim.faults.reject_next(reason)

    def script_timeout_after_accept(self) -> None:
        self.sim.faults.lose_next_response()

    def script_server_errors(self, count: int, accept_first: bool) -> None:
        self.sim.faults.fail_next(count, accept=accept_first)

    def script_rate_limit(self, count: int) -> None:
        self.sim.faults.rate_limit_next(count, retry_after_s=2.0)

    def script_disconnect(self) -> None:
        self.sim.faults.disconnect()

    def restore_connection(self) -> None:
        self.sim.faults.reconnect()
