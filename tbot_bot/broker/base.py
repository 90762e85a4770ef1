"""The one broker interface everything above the adapters uses (STYLE §2.3).

| Hook | Required | Contract |
|---|---|---|
| `capabilities()` | yes | static flags: fractional, native trailing stops, shorting, options |
| `connect()` / `close()` | yes | open/close; bad credentials -> AuthenticationError |
| `get_account()` | yes | equity, cash, buying power (Decimal) |
| `get_positions()` | yes | signed quantities; a short is negative |
| `get_open_orders()` | yes | every order not in a terminal state |
| `submit_order(request)` | yes | sends once; never retries a submit itself |
| `get_order_by_client_id(client_order_id)` | yes | the broker's view, or None if unknown |
| `cancel_order(client_order_id)` | yes | idempotent: cancelling a finished order is not an error |
| `cancel_all_orders()` | yes | returns the client ids it asked to cancel |
| `get_fills(since_utc)` | yes | executions after a cursor, oldest first, stable ids |
| `get_activities(since_utc)` | yes | non-fill cash activities (dividends, fees, deposits, ...) |
| `get_clock()` | yes | market open flag and next open/close |
| `get_latest_quotes(symbols)` | yes | latest bid/ask/last per symbol (missing symbols omitted) |
| `get_recent_bars(symbols, since_utc)` | yes | completed 1-minute bars after `since_utc` |
| `get_min_order_size(symbol)` | optional | default: 1 share, or 0.000001 where fractional |
| `supports_fractional(symbol)` | optional | default: capability flag |
| `is_tradable(symbol)` / `is_shortable(symbol)` | optional | default: True / capability flag |
| `get_vix()` | optional | latest VIX value or None (CLOSE strategy gate) |
| `get_option_chain(underlying)` | optional | (expiries, strikes) of listed puts; default: none |
| `get_option_quote(contract)` | optional | the contract's quote or None; default: None |
| `take_reconcile_signal()` | optional | a pending reconcile request after a reconnect, or None |
| `get_average_volume(symbol)` | optional | 20-session average volume or None (gate check 3) |
| `list_assets()` | optional | the broker's US-equity asset list (BROKER universe provider) |
| `self_check()` | optional | read-only health probe for launch checks |

Adapters translate every SDK or HTTP error into the `tbot_bot.errors` tree at their edge:
`AuthenticationError` (bad credentials), `NetworkError`/`RateLimitError` (timeouts, 5xx, 429),
`OrderRejectedError`/`InsufficientFundsError` (the broker said no), `BrokerError` (other refusals).
A submit the broker refuses because it already holds an order with that client order id (e.g.
Alpaca's 422 "client_order_id must be unique" after its own retry of a 504) raises
`DuplicateClientOrderIdError`: the order manager then looks the order up, it never resubmits.
No vendor exception or raw payload travels past an adapter.

`list_assets` is optional: an adapter that has one sets `has_asset_list = True` and overrides it.
The default raises `AssetListUnsupportedError` rather than returning [] on purpose: an empty list
would look like "the broker lists nothing" and publish an empty universe. The screener factory
reads `has_asset_list` first and lists a BROKER entry on such an adapter as unavailable, with the
adapter's name in the reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tbot_bot.broker.models import (
    Account,
    ActivityReport,
    AssetInfo,
    Capabilities,
    FillReport,
    MarketClock,
    OptionContract,
    OrderReport,
    OrderRequest,
    Position,
)
from tbot_bot.errors import (  # re-exported: adapters import them from here
    AssetListUnsupportedError,
    DuplicateClientOrderIdError,
)
from tbot_bot.market.bars import Bar, Quote

__all__ = ["AssetListUnsupportedError", "Broker", "DuplicateClientOrderIdError"]


ONE_SHARE = Decimal(1)
SMALLEST_FRACTION = Decimal("0.000001")


def self_check_result(
    ok: bool, status: str, module: str, reason: str = "", hint: str = ""
) -> dict[str, Any]:
    """The self_check record of trading spec §8.3."""
    return {"ok": ok, "status": status, "module": module, "reason": reason, "hint": hint}


class Broker(ABC):
    """One adapter instance trades one account. See the module docstring for the hook table."""

    name: str = "BASE"
    has_asset_list: bool = False  # True where `list_assets` is implemented

    # -- lifecycle ---------------------------------------------------------------------------
    @abstractmethod
    def capabilities(self) -> Capabilities:
        raise NotImplementedError("Broker.capabilities")

    @abstractmethod
    def connect(self) -> None:
        raise NotImplementedError("Broker.connect")

    @abstractmethod
    def close(self) -> None:
        raise NotImplementedError("Broker.close")

    # -- account state -----------------------------------------------------------------------
    @abstractmethod
    def get_account(self) -> Account:
        raise NotImplementedError("Broker.get_account")

    @abstractmethod
    def get_positions(self) -> list[Position]:
        raise NotImplementedError("Broker.get_positions")

    @abstractmethod
    def get_open_orders(self) -> list[OrderReport]:
        raise NotImplementedError("Broker.get_open_orders")

    # -- orders ------------------------------------------------------------------------------
    @abstractmethod
    def submit_order(self, request: OrderRequest) -> OrderReport:
        raise NotImplementedError("Broker.submit_order")

    @abstractmethod
    def get_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
        raise NotImplementedError("Broker.get_order_by_client_id")

    @abstractmethod
    def cancel_order(self, client_order_id: str) -> None:
        raise NotImplementedError("Broker.cancel_order")

    @abstractmethod
    def cancel_all_orders(self) -> list[str]:
        raise NotImplementedError("Broker.cancel_all_orders")

    # -- executions and activities -----------------------------------------------------------
    @abstractmethod
    def get_fills(self, since_utc: datetime | None = None) -> list[FillReport]:
        raise NotImplementedError("Broker.get_fills")

    @abstractmethod
    def get_activities(self, since_utc: datetime | None = None) -> list[ActivityReport]:
        raise NotImplementedError("Broker.get_activities")

    # -- market data -------------------------------------------------------------------------
    @abstractmethod
    def get_clock(self) -> MarketClock:
        raise NotImplementedError("Broker.get_clock")

    @abstractmethod
    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        raise NotImplementedError("Broker.get_latest_quotes")

    @abstractmethod
    def get_recent_bars(self, symbols: Sequence[str], since_utc: datetime) -> dict[str, list[Bar]]:
        raise NotImplementedError("Broker.get_recent_bars")

    # -- optional hooks with safe defaults ---------------------------------------------------
    def supports_fractional(self, symbol: str) -> bool:
        return self.capabilities().fractional_shares

    def get_min_order_size(self, symbol: str) -> Decimal:
        return SMALLEST_FRACTION if self.supports_fractional(symbol) else ONE_SHARE

    def is_tradable(self, symbol: str) -> bool:
        return True

    def is_shortable(self, symbol: str) -> bool:
        return self.capabilities().short_selling

    def get_vix(self) -> Decimal | None:
        return None

    def get_option_chain(self, underlying: str) -> tuple[list[date], list[Decimal]]:
        """Expiries and strikes of the puts on `underlying` (LongPut); empty: no chain."""
        return [], []

    def get_option_quote(self, contract: OptionContract) -> Quote | None:
        """Latest quote of one option contract (price per share), or None if none is known."""
        return None

    def take_reconcile_signal(self) -> object | None:
        """A pending "reconcile me" after a reconnect (then cleared), or None. Brokers with a
        persistent connection (IBKR) raise it; the runner reconciles on the next tick."""
        return None

    def get_average_volume(self, symbol: str, sessions: int = 20) -> int | None:
        """Average daily volume over the last `sessions` completed sessions, or None."""
        return None

    def list_assets(self) -> list[AssetInfo]:
        """Active US-equity assets with their flags (the BROKER universe provider's source)."""
        raise AssetListUnsupportedError(f"{self.name} has no asset list")

    def self_check(self) -> dict[str, Any]:
        """Read-only probe: the account call must answer (trading spec §8.3)."""
        module = f"broker:{self.name}"
        try:
            self.get_account()
        except Exception as exc:  # noqa: BLE001 - a probe reports every failure, it never raises
            return self_check_result(
                False,
                "unhealthy",
                module,
                type(exc).__name__,
                "check the broker credentials and network",
            )
        return self_check_result(True, "ok", module)
