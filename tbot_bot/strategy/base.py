"""The common strategy contract (trading spec §2.0).

A strategy is pure: it sees a `SymbolTape` (the session's 1-minute bars of one symbol with running
aggregates), a price and a few market inputs, and returns an `Evaluation`: a `Signal` or the reason
code why not. No I/O, no config, no clock: the runner passes everything in, so the same code runs
live, in the demo and in backtests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from tbot_bot.market.bars import Bar
from tbot_bot.money import ZERO
from tbot_bot.strategy.indicators import resample_5min, typical_price


class Direction(StrEnum):
    LONG = "long"
    BEARISH = "bearish"


class ExitReason(StrEnum):
    STOP_LOSS = "stop_loss"
    VWAP_TOUCH = "vwap_touch"
    TIMEOUT = "timeout"
    MANUAL = "manual"
    KILL = "kill"
    DATA_OUTAGE = "data_outage"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Signal:
    direction: Direction
    reason: str
    metrics: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Result of one signal evaluation: `signal` or the reason code (trading spec §3.3)."""

    signal: Signal | None
    reason: str
    metrics: dict[str, str] = field(default_factory=dict)

    @classmethod
    def no(cls, reason: str, **metrics: Any) -> Evaluation:
        return cls(None, reason, {k: str(v) for k, v in metrics.items()})

    @classmethod
    def yes(cls, direction: Direction, reason: str, **metrics: Any) -> Evaluation:
        shown = {k: str(v) for k, v in metrics.items()}
        return cls(Signal(direction, reason, shown), reason, shown)


class SymbolTape:
    """The session's 1-minute bars of one symbol since the regular open, with running aggregates.

    Bars are added in time order (older or repeated bars are ignored), so a restart can backfill
    freely. VWAP and the high/low are kept incrementally: strategies are evaluated every tick.
    """

    __slots__ = ("_hod", "_lod", "_tpv", "_volume", "bars", "session_open_utc", "symbol")

    def __init__(self, symbol: str, session_open_utc: datetime) -> None:
        self.symbol = symbol
        self.session_open_utc = session_open_utc
        self.bars: list[Bar] = []
        self._tpv = ZERO
        self._volume = 0
        self._hod: Decimal | None = None
        self._lod: Decimal | None = None

    def add(self, bar: Bar) -> bool:
        """Append a bar; returns False when it is older than the last one or before the open."""
        if bar.ts_utc < self.session_open_utc or (self.bars and bar.ts_utc <= self.bars[-1].ts_utc):
            return False
        self.bars.append(bar)
        if bar.volume > 0:
            self._tpv += typical_price(bar) * bar.volume
            self._volume += bar.volume
        self._hod = bar.high if self._hod is None else max(self._hod, bar.high)
        self._lod = bar.low if self._lod is None else min(self._lod, bar.low)
        return True

    @property
    def last(self) -> Bar | None:
        return self.bars[-1] if self.bars else None

    def vwap(self) -> Decimal | None:
        """Session VWAP; None without volume (the price is never substituted)."""
        return self._tpv / self._volume if self._volume else None

    def high_low(self) -> tuple[Decimal, Decimal] | None:
        """Highest high / lowest low of every bar on the tape (all are completed bars)."""
        if self._hod is None or self._lod is None:
            return None
        return self._hod, self._lod

    def range_between(self, start: datetime, end: datetime) -> tuple[Decimal, Decimal] | None:
        """High/low of the bars starting in [start, end)."""
        window = [b for b in self.bars if start <= b.ts_utc < end]
        if not window:
            return None
        return max(b.high for b in window), min(b.low for b in window)

    def bars_5min(self, now: datetime) -> list[Bar]:
        return resample_5min(self.bars, self.session_open_utc, now)


@dataclass(frozen=True, slots=True)
class MarketInputs:
    """Everything besides the tape a strategy may look at for one evaluation."""

    now_utc: datetime
    price: Decimal
    vix: Decimal | None = None


class Strategy(Protocol):
    """What the session runner calls. `name` is lowercase: open, mid or close."""

    name: str

    def signal(self, tape: SymbolTape, market: MarketInputs) -> Evaluation: ...

    def manage(
        self, direction: Direction, target_tape: SymbolTape, market: MarketInputs
    ) -> ExitReason | None: ...

    def self_check(self) -> dict[str, Any]: ...


def check_result(
    ok: bool, status: str, module: str, reason: str = "", hint: str = ""
) -> dict[str, Any]:
    """The self_check record of trading spec §8.3."""
    return {"ok": ok, "status": status, "module": module, "reason": reason, "hint": hint}
