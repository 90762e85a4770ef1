"""In-memory events built by the posting rules before anything is written (§4.1, §8.3).

A `Draft` is one whole economic event: header, legs, lot effects and the optional `trades` row.
Legs carry signed amounts (+ debit, - credit); a zero leg is dropped when the draft is built, so a
negative formula value simply lands on the other side. `Draft.check()` refuses an unbalanced or
one-legged draft before the database is touched (the seal trigger would refuse it anyway).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tbot_bot.errors import LedgerError

# event_type -> (TRNTYPE, ofx_aggregate, ofx_subtype) for equities (§9.1).
OFX_TYPES: dict[str, tuple[str, str, str | None]] = {
    "BUY": ("DEBIT", "BUYSTOCK", "BUY"),
    "SELL": ("CREDIT", "SELLSTOCK", "SELL"),
    "SHORT_OPEN": ("CREDIT", "SELLSTOCK", "SELLSHORT"),
    "SHORT_COVER": ("DEBIT", "BUYSTOCK", "BUYTOCOVER"),
    "OPTION_EXPIRE": ("OTHER", "CLOSUREOPT", "EXPIRE"),
    "DIVIDEND": ("DIV", "INCOME", "DIV"),
    "INTEREST": ("INT", "INVBANKTRAN", None),
    "FEE": ("FEE", "INVBANKTRAN", None),
    "FEE_REBATE": ("CREDIT", "INVBANKTRAN", None),
    "TAX_WITHHELD": ("DEBIT", "INVBANKTRAN", None),
    "DEPOSIT": ("DEP", "INVBANKTRAN", None),
    "WITHDRAWAL": ("XFER", "INVBANKTRAN", None),
    "JOURNAL_CASH": ("XFER", "INVBANKTRAN", None),
    "OPENING_BALANCE": ("OTHER", "NONE", None),
    "RECLASS": ("OTHER", "NONE", None),
    "ADJUSTMENT": ("OTHER", "NONE", None),
}
OPTION_OFX: dict[str, tuple[str, str, str | None]] = {
    "BUY": ("DEBIT", "BUYOPT", "BUYTOOPEN"),
    "SELL": ("CREDIT", "SELLOPT", "SELLTOCLOSE"),
}
FILL_EVENTS = frozenset({"BUY", "SELL", "SHORT_OPEN", "SHORT_COVER"})
TRADE_EVENTS = FILL_EVENTS | {"OPTION_EXPIRE"}


def ofx_types(
    event_type: str, instrument: str, capgain_subtype: str | None = None
) -> tuple[str, str, str | None]:
    if instrument == "option" and event_type in OPTION_OFX:
        return OPTION_OFX[event_type]
    if event_type == "CAPGAIN_DIST":
        return ("DIV", "INCOME", capgain_subtype or "CGSHORT")
    return OFX_TYPES[event_type]


@dataclass(frozen=True)
class Leg:
    """One split; `new_lot` = index into `Draft.lot_opens` for the lot this leg opens."""

    account: str
    amount_minor: int
    symbol: str | None = None
    qty_e9: int | None = None
    price: str | None = None
    lot_id: int | None = None
    new_lot: int | None = None
    memo: str | None = None


@dataclass(frozen=True)
class LotOpen:
    symbol: str
    instrument: str
    side: str
    qty_e9: int
    basis_minor: int
    multiplier: int
    opened_at_utc: str
    source: str = "trade"
    est_basis: bool = False
    term_start_utc: str | None = None


@dataclass(frozen=True)
class ClosureRow:
    lot_id: int
    qty_e9: int
    basis_minor: int
    proceeds_minor: int
    realized_minor: int
    term: str
    closed_at_utc: str


@dataclass(frozen=True)
class AdjustmentRow:
    lot_id: int
    qty_delta_e9: int
    basis_delta_minor: int
    reason: str


@dataclass(frozen=True)
class TradeRow:
    trade_id: str | None
    fill_id: str | None
    symbol: str
    instrument: str
    side: str
    position_effect: str
    action: str
    qty_e9: int
    price: str
    multiplier: int
    gross_minor: int
    commission_minor: int
    fee_minor: int
    filled_at_utc: str
    status: str = "filled"


@dataclass(frozen=True)
class Draft:
    """One event, complete, before it is written."""

    fitid: str
    group_id: str
    event_type: str
    trntype: str
    ofx_aggregate: str
    ofx_subtype: str | None
    dtposted: str
    currency: str
    action: str
    position_effect: str
    source: str
    content_hash: str
    legs: tuple[Leg, ...]
    dttrade: str | None = None
    dtsettle: str | None = None
    trade_id: str | None = None
    external_id: str | None = None
    symbol: str | None = None
    strategy: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    memo: str | None = None
    raw_record_id: int | None = None
    response_hash: str | None = None
    reverses_event_id: int | None = None
    lot_opens: tuple[LotOpen, ...] = ()
    closures: tuple[ClosureRow, ...] = ()
    adjustments: tuple[AdjustmentRow, ...] = ()
    trade: TradeRow | None = None

    def check(self) -> None:
        """Balanced, at least two legs, every leg non-zero (§4.1)."""
        if len(self.legs) < 2:
            raise LedgerError(f"{self.event_type} {self.fitid[:12]}: fewer than two legs")
        if any(leg.amount_minor == 0 for leg in self.legs):
            raise LedgerError(f"{self.event_type} {self.fitid[:12]}: zero leg")
        total = sum(leg.amount_minor for leg in self.legs)
        if total != 0:
            raise LedgerError(f"{self.event_type} {self.fitid[:12]}: legs sum to {total}, not 0")


def legs(*candidates: Leg) -> tuple[Leg, ...]:
    """Drop zero legs (§4.1: a leg whose value is 0 is omitted)."""
    return tuple(leg for leg in candidates if leg.amount_minor != 0)


def negate(items: Sequence[Leg]) -> tuple[Leg, ...]:
    return tuple(
        Leg(
            leg.account,
            -leg.amount_minor,
            leg.symbol,
            None if leg.qty_e9 is None else -leg.qty_e9,
            leg.price,
            leg.lot_id,
            None,
            leg.memo,
        )
        for leg in items
    )
