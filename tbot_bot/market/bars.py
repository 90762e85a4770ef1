"""Bar and quote records shared by data loaders, the SIM broker, strategies and backtests.

Prices and volumes are Decimal/int, timestamps aware UTC. A 1-minute bar is identified by its start
(`ts_utc`) and becomes visible at its end (`end_utc`), as in the replay contract (trading spec §14).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

BAR_LENGTH = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; `vwap` is the bar's own VWAP when the source supplies it."""

    symbol: str
    ts_utc: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    vwap: Decimal | None = None

    @property
    def end_utc(self) -> datetime:
        return self.ts_utc + BAR_LENGTH


@dataclass(frozen=True, slots=True)
class Quote:
    """Latest quote of a symbol; `quote_ts` is when it was observed (bar end in replays)."""

    symbol: str
    bid: Decimal
    ask: Decimal
    last: Decimal
    quote_ts: datetime

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class DailyBar:
    """One daily bar (previous close, 20-day average volume)."""

    symbol: str
    date: str  # YYYY-MM-DD, exchange date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
