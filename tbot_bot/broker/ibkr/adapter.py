"""`IbkrBroker`: the Broker interface on top of ib_async (BROKER_NAME=IBKR).

| Hook | How |
|---|---|
| `connect()` / `close()` | `IB.connect` with a timeout; account checked in `managedAccounts()` |
| `get_account()` | account values NetLiquidation / TotalCashValue / BuyingPower (USD) |
| `get_positions()` | `IB.positions(account)`, market price from the portfolio stream |
| `get_open_orders()` | `IB.openTrades()` of our account |
| `submit_order()` | `placeOrder` with `orderRef` = client_order_id, waits for the venue's answer |
| `get_order_by_client_id()` | scan of trades by `orderRef`, venue refresh when unsure |
| `cancel_order()` / `cancel_all_orders()` | `cancelOrder`, waits for the confirmation |
| `get_fills()` | `IB.fills()`; `execId` is the external id, commission reports give the fee |
| `get_activities()` | empty: the socket API has no cash-activity feed (IB Flex reports do) |
| `get_clock()` | XNYS exchange calendar |
| `get_latest_quotes()` / `get_recent_bars()` | snapshots / historical 1-minute bars |
| `get_vix()` | `Index('VIX', 'CBOE', 'USD')` snapshot, None if unavailable |
| `get_option_chain()` | `reqSecDefOptParams` of the qualified stock, SMART entry; empty if none |
| `get_option_quote()` | `reqTickers` snapshot of the qualified `Option`, None if unavailable |
| `is_shortable()` / `get_moc_imbalance()` | generic ticks 236 / 225 |

Beyond the ABC the runner may use `maintain()` (reconnect + pump, never raises),
`connection_status()`, `take_reconcile_signal()` / `reconcile_pending` and
`add_reconnect_listener()` to learn that it must reconcile after a reconnect or a restored
gateway link (trading spec §1.3).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ib_async import IB

from tbot_bot.broker.base import Broker
from tbot_bot.broker.ibkr.config import IbkrConfig, config_from
from tbot_bot.broker.ibkr.market_data import IbMarketData
from tbot_bot.broker.ibkr.orders import IbOrderDesk
from tbot_bot.broker.ibkr.parsing import account_from_values, position_from_ib, positive
from tbot_bot.broker.ibkr.session import (
    ConnectionStatus,
    IbSession,
    ReconcileListener,
    ReconcileSignal,
)
from tbot_bot.broker.models import (
    Account,
    ActivityReport,
    Capabilities,
    FillReport,
    MarketClock,
    OptionContract,
    OrderReport,
    OrderRequest,
    Position,
)
from tbot_bot.clock import Clock
from tbot_bot.market.bars import Bar, Quote

logger = logging.getLogger(__name__)

OVERRIDABLE_FIELDS = frozenset(
    f.name for f in fields(IbkrConfig) if f.name not in {"host", "port", "client_id", "account"}
)

CAPABILITIES = Capabilities(
    fractional_shares=False,
    native_trailing_stops=True,
    short_selling=True,
    options=True,
    index_data=True,
    extra={"moc_imbalance": True, "activities": False},
)


class IbkrBroker(Broker):
    """One IBKR account through one TWS / IB Gateway API session. Use from one thread."""

    name = "IBKR"

    def __init__(
        self, config: IbkrConfig, *, clock: Clock, ib_factory: Callable[[], IB] | None = None
    ) -> None:
        self._config = config
        self._session = IbSession(config, clock, ib_factory or IB)
        self._orders = IbOrderDesk(self._session, config)
        self._market = IbMarketData(self._session, config)

    def __repr__(self) -> str:
        return f"IbkrBroker({self._config!r})"

    # -- lifecycle -----------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    def connect(self) -> None:
        self._session.connect()

    def close(self) -> None:
        self._session.close()

    # -- connection supervision (IBKR extras) --------------------------------------------------
    def maintain(self) -> ConnectionStatus:
        """Call on every runner tick: reconnects when due, processes messages, never raises."""
        return self._session.maintain()

    def connection_status(self) -> ConnectionStatus:
        return self._session.status()

    @property
    def reconcile_pending(self) -> bool:
        return self._session.status().reconcile_pending

    def take_reconcile_signal(self) -> ReconcileSignal | None:
        """The pending reconcile request (then cleared), or None."""
        return self._session.take_reconcile_signal()

    def add_reconnect_listener(self, listener: ReconcileListener) -> None:
        """`listener(signal)` runs on the runner thread whenever a reconcile becomes due."""
        self._session.add_listener(listener)

    # -- account state -------------------------------------------------------------------------
    def get_account(self) -> Account:
        ib = self._session.ensure_connected(cached_read=True)
        self._session.pump()
        return account_from_values(ib.accountValues(self._config.account), self._config.account)

    def get_positions(self) -> list[Position]:
        ib = self._session.ensure_connected(cached_read=True)
        self._session.pump()
        account = self._config.account
        prices = {item.contract.conId: positive(item.marketPrice) for item in ib.portfolio(account)}
        return [
            position_from_ib(p, prices.get(p.contract.conId))
            for p in ib.positions(account)
            if p.position != 0
        ]

    def get_open_orders(self) -> list[OrderReport]:
        return self._orders.open_orders()

    # -- orders --------------------------------------------------------------------------------
    def submit_order(self, request: OrderRequest) -> OrderReport:
        return self._orders.submit(request)

    def get_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
        return self._orders.lookup(client_order_id)

    def cancel_order(self, client_order_id: str) -> None:
        self._orders.cancel(client_order_id)

    def cancel_all_orders(self) -> list[str]:
        return self._orders.cancel_all()

    # -- executions and activities -------------------------------------------------------------
    def get_fills(self, since_utc: datetime | None = None) -> list[FillReport]:
        return self._orders.fills(since_utc)

    def get_activities(self, since_utc: datetime | None = None) -> list[ActivityReport]:
        """The TWS socket API carries no cash-activity feed; IB reports those via Flex."""
        return []

    # -- market data ---------------------------------------------------------------------------
    def get_clock(self) -> MarketClock:
        return self._market.market_clock()

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        return self._market.quotes(symbols)

    def get_recent_bars(self, symbols: Sequence[str], since_utc: datetime) -> dict[str, list[Bar]]:
        return self._market.bars(symbols, since_utc)

    def get_vix(self) -> Decimal | None:
        return self._market.vix()

    def get_option_chain(self, underlying: str) -> tuple[list[date], list[Decimal]]:
        """Expiries and strikes listed at SMART for `underlying` (LongPut); empty: no chain."""
        return self._market.option_chain(underlying)

    def get_option_quote(self, contract: OptionContract) -> Quote | None:
        """Snapshot quote of `contract` (per share), or None when IB has no data for us."""
        return self._market.option_quote(contract)

    def is_shortable(self, symbol: str) -> bool:
        return self._market.shortable(symbol)

    def get_moc_imbalance(self, symbol: str) -> int | None:
        """Latest market-on-close imbalance in shares (CLOSE gate, `moc_imbalance`)."""
        return self._market.moc_imbalance(symbol)


def create(
    credentials: Mapping[str, Any],
    *,
    settings: Any,
    clock: Clock,
    ib_factory: Callable[[], IB] | None = None,
    **kwargs: Any,
) -> Broker:
    """Registry factory for BROKER_NAME=IBKR (does not connect; call `connect()`).

    `kwargs` may override `IbkrConfig` fields (e.g. `reset_window`, `connect_timeout_s`); other
    keywords the registry passes to every factory are not ours and are ignored.
    """
    overrides = {k: v for k, v in kwargs.items() if k in OVERRIDABLE_FIELDS}
    ignored = sorted(set(kwargs) - set(overrides))
    if ignored:
        logger.debug("IBKR factory ignores keywords %s", ignored)
    config = config_from(credentials, settings, **overrides)
    return IbkrBroker(config, clock=clock, ib_factory=ib_factory)
