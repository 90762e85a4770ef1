"""A hand-written fake `Broker` for the ledger sync tests: it serves the fills, activities,
positions and account it is given and records the calls (no network, no SDK)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from tbot_bot.broker.base import Broker
from tbot_bot.broker.models import (
    Account,
    ActivityReport,
    Capabilities,
    FillReport,
    MarketClock,
    OrderReport,
    OrderRequest,
    Position,
)
from tbot_bot.errors import NetworkError
from tbot_bot.market.bars import Bar, Quote


class FakeLedgerBroker(Broker):
    name = "FAKE"

    def __init__(self, cash: str = "0") -> None:
        self.fills: list[FillReport] = []
        self.activities: list[ActivityReport] = []
        self.positions: list[Position] = []
        self.account = Account("PA-TEST-1", Decimal(cash), Decimal(cash), Decimal(cash))
        self.fail_on: str | None = None
        self.calls: list[str] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_on == name:
            raise NetworkError(f"fake broker: {name} timed out")

    def capabilities(self) -> Capabilities:
        return Capabilities(
            fractional_shares=True, native_trailing_stops=False, short_selling=True, options=True
        )

    def connect(self) -> None:
        self._call("connect")

    def close(self) -> None:
        self._call("close")

    def get_account(self) -> Account:
        self._call("get_account")
        return self.account

    def get_positions(self) -> list[Position]:
        self._call("get_positions")
        return list(self.positions)

    def get_open_orders(self) -> list[OrderReport]:
        return []

    def submit_order(self, request: OrderRequest) -> OrderReport:
        raise NotImplementedError("FakeLedgerBroker.submit_order")

    def get_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
        return None

    def cancel_order(self, client_order_id: str) -> None:
        return None

    def cancel_all_orders(self) -> list[str]:
        return []

    def get_fills(self, since_utc: datetime | None = None) -> list[FillReport]:
        self._call("get_fills")
        return [f for f in self.fills if since_utc is None or f.ts_utc >= since_utc]

    def get_activities(self, since_utc: datetime | None = None) -> list[ActivityReport]:
        self._call("get_activities")
        return [a for a in self.activities if since_utc is None or a.ts_utc >= since_utc]

    def get_clock(self) -> MarketClock:
        raise NotImplementedError("FakeLedgerBroker.get_clock")

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        return {}

    def get_recent_bars(self, symbols: Sequence[str], since_utc: datetime) -> dict[str, list[Bar]]:
        return {}
