"""Frozen records exchanged with the accounting package (accounting spec §1.5, §6.1 step 6).

Amounts are `int` minor units or `Decimal`; timestamps aware UTC `datetime`s or 24-char UTC text.
No dataclass here accepts a single ledger leg from outside: legs are built by the posting rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from tbot_bot.clock import require_utc
from tbot_bot.money import ZERO

RECORD_KINDS = frozenset({"fill", "activity"})
INSTRUMENTS = frozenset({"equity", "etf", "option"})


def _frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class NormalizedRecord:
    """One broker record in the broker-neutral vocabulary (§6.1 step 6, §6.3).

    `activity_type` is `FILL` for executions, else a §6.3 code (DIV, INT, CSD, ...) or `other`.
    Fills carry `side`, `qty`, `price` (the broker's decimal text) and `fee`/`commission`;
    cash activities carry the signed `net_amount` (+ in, - out), used verbatim.
    `metadata` holds order annotations (strategy-level keys such as bearish_mode, target_symbol,
    inverse_symbol, leverage, session_id, exit_reason); `extra` holds unknown broker fields;
    `payload` is the raw record as received (stored once in `raw_broker_records`).
    """

    kind: str
    broker_code: str
    account_id: str
    external_id: str
    activity_type: str
    dtposted: datetime
    currency: str = "USD"
    activity_subtype: str | None = None
    order_id: str | None = None
    client_order_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    qty: Decimal | None = None
    price: str | None = None
    multiplier: int = 1
    instrument: str = "equity"
    net_amount: Decimal | None = None
    fee: Decimal = ZERO
    commission: Decimal = ZERO
    position_intent: str | None = None
    strategy: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtposted", require_utc(self.dtposted, "record dtposted"))
        object.__setattr__(self, "metadata", _frozen_map(self.metadata))
        object.__setattr__(self, "extra", _frozen_map(self.extra))
        object.__setattr__(self, "payload", _frozen_map(self.payload))
        object.__setattr__(self, "tags", tuple(self.tags))
        if self.kind not in RECORD_KINDS:
            raise ValueError(f"record kind {self.kind!r} must be one of {sorted(RECORD_KINDS)}")
        if self.instrument not in INSTRUMENTS:
            raise ValueError(f"instrument {self.instrument!r} must be one of {sorted(INSTRUMENTS)}")


class PostStatus(StrEnum):
    POSTED = "posted"
    DUPLICATE = "duplicate"
    CONTENT_CHANGED = "content_changed"
    QUEUED = "queued"


@dataclass(frozen=True)
class PostResult:
    """Outcome of one `Books.post`: the FITIDs posted (or found), or why it was queued."""

    status: PostStatus
    fitids: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    reason_code: str | None = None
    detail: str = ""
    queue_id: int | None = None

    @property
    def posted(self) -> bool:
        return self.status is PostStatus.POSTED


@dataclass(frozen=True)
class Issue:
    """One finding of `verify()` (§8.5)."""

    code: str
    severity: str  # "error" | "warning"
    db: str  # "coa" | "ledger" | "float"
    table: str
    ref: str
    detail: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


@dataclass(frozen=True)
class ReconResult:
    """One reconciliation comparison (§6.5), returned to the runner, which logs non-ok rows."""

    recon_type: str  # record | cash | position | float
    status: str  # ok | mismatch | local-only | broker-only
    symbol: str | None
    ledger_value: int | None  # minor units (cash/float) or qty_e9 (position)
    broker_value: int | None
    delta: int | None
    fitid: str | None
    error_code: str | None  # "INTRADAY" for non-authoritative cash/position rows
    row_id: int | None = None
    client_order_id: str | None = None

    @property
    def is_problem(self) -> bool:
        return self.status != "ok"


@dataclass(frozen=True)
class SyncResult:
    """Outcome of one `sync_broker` run (§6.1 step 12)."""

    sync_run_id: str
    status: str  # ok | partial | failed
    counts: Mapping[str, int]
    reconciliation: tuple[ReconResult, ...]
    window_start_utc: str | None
    window_end_utc: str
    error: str | None = None

    @property
    def new_problems(self) -> tuple[ReconResult, ...]:
        return tuple(r for r in self.reconciliation if r.is_problem and r.error_code != "INTRADAY")


@dataclass(frozen=True)
class OpenLot:
    """A lot with remaining quantity (reader view of `v_open_lots`)."""

    lot_id: int
    symbol: str
    instrument: str
    side: str
    opened_at_utc: str
    qty_remaining_e9: int
    basis_remaining_minor: int
    multiplier: int
    source: str
    est_basis: bool
    term_start_utc: str | None


@dataclass(frozen=True)
class TrialBalanceRow:
    account_code: str
    account_name: str
    account_type: str
    normal_side: str
    debit_minor: int
    credit_minor: int

    @property
    def balance_minor(self) -> int:
        return self.debit_minor - self.credit_minor


@dataclass(frozen=True)
class SplitView:
    leg_no: int
    account_code: str
    amount_minor: int
    symbol: str | None
    qty_e9: int | None
    price: str | None
    lot_id: int | None


@dataclass(frozen=True)
class EventView:
    """One sealed event with its splits (reader API for the web ledger page)."""

    event_id: int
    fitid: str
    group_id: str
    event_type: str
    dtposted: str
    symbol: str | None
    action: str
    position_effect: str
    strategy: str | None
    tags: tuple[str, ...]
    metadata: Mapping[str, Any]
    memo: str | None
    source: str
    external_id: str | None
    trade_id: str | None
    reverses_event_id: int | None
    splits: tuple[SplitView, ...]


@dataclass(frozen=True)
class FloatSnapshot:
    """A float session snapshot (§7.1): the numbers the risk module uses for the session."""

    trading_day: str
    session: str
    taken_at_utc: str
    account_value_minor: int
    cash_minor: int
    reserved_minor: int
    float_minor: int
    session_cap_minor: int
    daily_loss_limit_minor: int
    policy_version_id: int
    sync_run_id: str | None


@dataclass(frozen=True)
class OpeningPosition:
    """One broker position at the opening-balance cutover (§6.4)."""

    symbol: str
    qty: Decimal  # signed: negative for a short
    basis: Decimal | None  # total cost basis, or None when the broker gives none
    market_value: Decimal | None = None
    instrument: str = "equity"
    multiplier: int = 1
    acquired_at: datetime | None = None
