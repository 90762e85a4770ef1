"""Typed requests in, typed reports out (STYLE §2.5): broker JSON stops at the adapter.

Every amount is Decimal, every timestamp aware UTC. Wire values are StrEnums. `OrderRequest`
enforces cross-field rules at construction, so an invalid order dies before it reaches a broker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from tbot_bot.clock import require_utc
from tbot_bot.money import ZERO

CLIENT_ORDER_ID_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,48}$")


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class PositionIntent(StrEnum):
    """Why an order is sent; lets brokers that need it (options, shorts) pick the right verb."""

    OPEN_LONG = "open_long"
    CLOSE_LONG = "close_long"
    OPEN_SHORT = "open_short"
    CLOSE_SHORT = "close_short"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"


class AssetClass(StrEnum):
    EQUITY = "equity"
    OPTION = "option"


class OrderState(StrEnum):
    """Order lifecycle (trading spec §7.1). The journal enforces the transitions."""

    NEW = "new"
    IN_FLIGHT = "in_flight"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNRESOLVED = "unresolved"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_open(self) -> bool:
        return self in {OrderState.ACCEPTED, OrderState.PARTIALLY_FILLED}


TERMINAL_STATES = frozenset(
    {OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED}
)


@dataclass(frozen=True, slots=True)
class OptionContract:
    """An option is never a ticker string (trading spec §5)."""

    underlying: str
    expiry: date
    strike: Decimal
    right: str  # "P" or "C"
    multiplier: int = 100

    def __post_init__(self) -> None:
        if self.right not in {"P", "C"}:
            raise ValueError(f"option right must be 'P' or 'C', got {self.right!r}")
        if self.strike <= ZERO or self.multiplier <= 0:
            raise ValueError("option strike and multiplier must be positive")

    @property
    def occ_symbol(self) -> str:
        """OCC-style symbol, e.g. MSFT250117P00250000 (used by brokers that want one)."""
        strike_thousandths = int(self.strike * 1000)
        return f"{self.underlying}{self.expiry:%y%m%d}{self.right}{strike_thousandths:08d}"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order intent, as journalled and sent. `client_order_id` is ours and deterministic."""

    client_order_id: str
    symbol: str
    side: OrderSide
    qty: Decimal
    order_type: OrderType
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_percent: Decimal | None = None  # fraction: 0.0225 means 2.25 %
    intent: PositionIntent = PositionIntent.OPEN_LONG
    asset_class: AssetClass = AssetClass.EQUITY
    option: OptionContract | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not CLIENT_ORDER_ID_PATTERN.fullmatch(self.client_order_id):
            problems.append(
                f"client_order_id {self.client_order_id!r} must match [A-Za-z0-9-]{{1,48}}"
            )
        if not isinstance(self.qty, Decimal) or self.qty <= ZERO:
            problems.append(f"qty must be a positive Decimal, got {self.qty!r}")
        # Each order type admits exactly its own price fields; a stray price is refused rather
        # than ignored, because ignoring it would send a different order than the caller meant.
        needs = {
            OrderType.MARKET: set(),
            OrderType.LIMIT: {"limit_price"},
            OrderType.STOP: {"stop_price"},
            OrderType.TRAILING_STOP: {"trail_percent"},
        }[self.order_type]
        for name in ("limit_price", "stop_price", "trail_percent"):
            value = getattr(self, name)
            if name in needs and (value is None or value <= ZERO):
                problems.append(f"{self.order_type} order needs a positive {name}")
            if name not in needs and value is not None:
                problems.append(f"{self.order_type} order must not carry {name}")
        if self.trail_percent is not None and self.trail_percent >= 1:
            problems.append("trail_percent is a fraction (0.02 = 2 %), must be < 1")
        if (self.asset_class is AssetClass.OPTION) != (self.option is not None):
            problems.append("option orders need an OptionContract and only option orders have one")
        if problems:
            raise ValueError("invalid order request: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class OrderReport:
    """The broker's view of one order."""

    client_order_id: str
    broker_order_id: str | None
    symbol: str
    side: OrderSide
    qty: Decimal
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    state: OrderState
    order_type: OrderType
    submitted_at: datetime | None = None
    updated_at: datetime | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    reject_reason: str | None = None


@dataclass(frozen=True, slots=True)
class FillReport:
    """One execution. `external_id` is stable: the activity feed returns the same id later, so the
    ledger sync recognises a fill the runner already posted (accounting spec §6.1)."""

    external_id: str
    client_order_id: str | None
    broker_order_id: str
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    fee: Decimal
    ts_utc: datetime
    asset_class: AssetClass = AssetClass.EQUITY
    option: OptionContract | None = None
    intent: PositionIntent | None = None

    def __post_init__(self) -> None:
        require_utc(self.ts_utc, "fill ts_utc")
        if self.qty <= ZERO or self.price <= ZERO or self.fee < ZERO:
            raise ValueError("a fill needs qty > 0, price > 0 and fee >= 0")


class ActivityKind(StrEnum):
    """Broker-neutral cash activities (accounting spec §6.3); fills are `FillReport`s."""

    DIVIDEND = "dividend"
    INTEREST = "interest"
    FEE = "fee"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TAX_WITHHELD = "tax_withheld"
    CAPITAL_GAIN_DISTRIBUTION = "capital_gain_distribution"
    JOURNAL = "journal"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ActivityReport:
    """A non-fill account activity; `net_amount` is signed cash (+ in, - out), verbatim."""

    external_id: str
    kind: ActivityKind
    net_amount: Decimal
    ts_utc: datetime
    symbol: str | None = None
    description: str = ""
    raw_type: str = ""


@dataclass(frozen=True, slots=True)
class Position:
    """Signed quantity: negative for a short."""

    symbol: str
    qty: Decimal
    avg_entry_price: Decimal
    market_price: Decimal | None = None
    asset_class: AssetClass = AssetClass.EQUITY

    @property
    def market_value(self) -> Decimal | None:
        return None if self.market_price is None else self.qty * self.market_price


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    equity: Decimal
    cash: Decimal
    buying_power: Decimal
    currency: str = "USD"
    shorting_enabled: bool = False


@dataclass(frozen=True, slots=True)
class MarketClock:
    timestamp: datetime
    is_open: bool
    next_open: datetime | None
    next_close: datetime | None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an adapter can do; the session runner and startup checks read these flags."""

    fractional_shares: bool
    native_trailing_stops: bool
    short_selling: bool
    options: bool
    index_data: bool = False
    extra: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """One entry of a broker's asset list (`Broker.list_assets`, the BROKER universe provider).

    Flags are None when the broker does not say. `shortable` is the effective flag: a broker that
    also reports a borrow flag (Alpaca's `easy_to_borrow`) folds it in, because the adapter's
    `is_shortable` refuses hard-to-borrow names the same way; the raw borrow flag is kept apart.
    """

    symbol: str
    exchange: str | None
    asset_type: str = "common"
    name: str | None = None
    active: bool = True
    tradable: bool | None = None
    fractionable: bool | None = None
    shortable: bool | None = None
    easy_to_borrow: bool | None = None
