"""Trailing stops with pre-close tightening (trading spec §6).

Long (also inverse ETF and puts): peak = max(fill, highest since), stop = peak x (1 - p_eff), exit
when price <= stop. Short sale: trough = min(fill, lowest since), stop = trough x (1 + p_eff), exit
when price >= stop. Stops only ever ratchet in the protective direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

TIGHTENING_FLOOR = Decimal("0.0005")


def effective_pct(
    base_pct: Decimal,
    now_utc: datetime,
    tightening_from_utc: datetime | None,
    factor: Decimal = Decimal("0.5"),
) -> Decimal:
    """From `hard_exit - buffer` on: max(p x factor, 0.0005); before it: p."""
    if tightening_from_utc is not None and now_utc >= tightening_from_utc:
        return max(base_pct * factor, TIGHTENING_FLOOR)
    return base_pct


def base_trail_pct(strategy_pct: Decimal | None, default_pct: Decimal) -> Decimal:
    """`TRAIL_PCT_<S>` if set and > 0, else `TRADING_TRAILING_STOP_PCT`."""
    return strategy_pct if strategy_pct is not None and strategy_pct > 0 else default_pct


@dataclass
class TrailingStopState:
    """Local trailing stop of one held instrument. `side` is 'long' or 'short'."""

    side: str
    pct: Decimal
    anchor: Decimal  # peak for long, trough for short
    stop: Decimal | None = None

    def __post_init__(self) -> None:
        if self.side not in {"long", "short"}:
            raise ValueError(f"side must be 'long' or 'short', got {self.side!r}")

    def register_tick(
        self, price: Decimal, p_eff: Decimal | None = None, atr_stop: Decimal | None = None
    ) -> Decimal:
        """Update the anchor and ratchet the stop; returns the current stop."""
        pct = self.pct if p_eff is None else p_eff
        if self.side == "long":
            self.anchor = max(self.anchor, price)
            candidate = self.anchor * (1 - pct)
            if atr_stop is not None:
                candidate = max(candidate, atr_stop)
            self.stop = candidate if self.stop is None else max(self.stop, candidate)
        else:
            self.anchor = min(self.anchor, price)
            candidate = self.anchor * (1 + pct)
            if atr_stop is not None:
                candidate = min(candidate, atr_stop)
            self.stop = candidate if self.stop is None else min(self.stop, candidate)
        return self.stop

    def should_exit(self, price: Decimal) -> bool:
        if self.stop is None:
            return False
        return price <= self.stop if self.side == "long" else price >= self.stop
