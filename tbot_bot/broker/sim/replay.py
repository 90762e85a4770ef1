"""What the SIM broker reads the market from: a small protocol and an in-memory implementation.

`MarketReplay` asks only for bars by symbol (ordered by start) and a VIX series, so a plain list of
`Bar`s in a test and a stored replay data set (trading spec §14) both drive the same simulator.
`SymbolTape` is the per-symbol index the SIM uses: bisect over bar starts, and for every bar the
end of its session, so a day order knows when it expires.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from tbot_bot.clock import require_utc
from tbot_bot.errors import DataError
from tbot_bot.market.bars import BAR_LENGTH, Bar
from tbot_bot.money import to_decimal

EXCHANGE_TZ = ZoneInfo("America/New_York")


class MarketReplay(Protocol):
    """The market as the SIM sees it."""

    @property
    def symbols(self) -> Sequence[str]:
        """Every symbol with bars."""
        ...

    def bars(self, symbol: str) -> Sequence[Bar]:
        """1-minute bars of `symbol`, ordered by `ts_utc`, no duplicates."""
        ...

    def vix_points(self) -> Sequence[tuple[datetime, Decimal]]:
        """(ts_utc, value) of the VIX series, ordered; empty if the set has none."""
        ...


class ListReplay:
    """A `MarketReplay` over bars held in memory (tests, benchmarks, converted data sets)."""

    def __init__(
        self,
        bars: Iterable[Bar],
        vix: Iterable[tuple[datetime, Decimal]] = (),
    ) -> None:
        by_symbol: dict[str, list[Bar]] = {}
        for bar in bars:
            by_symbol.setdefault(bar.symbol, []).append(bar)
        for symbol, series in by_symbol.items():
            series.sort(key=lambda item: item.ts_utc)
            for before, after in itertools.pairwise(series):
                if before.ts_utc == after.ts_utc:
                    raise DataError(f"replay bars of {symbol}: duplicate ts_utc {after.ts_utc}")
        self._bars = by_symbol
        self._vix = sorted(((require_utc(ts), value) for ts, value in vix), key=lambda p: p[0])

    @property
    def symbols(self) -> Sequence[str]:
        return tuple(sorted(self._bars))

    def bars(self, symbol: str) -> Sequence[Bar]:
        return self._bars.get(symbol, [])

    def vix_points(self) -> Sequence[tuple[datetime, Decimal]]:
        return self._vix


def replay_from_data_set(data_set: Any) -> ListReplay:
    """Adapt a loaded replay data set (`tbot_bot.market.replay_data.ReplayDataSet`).

    Duck-typed on purpose (`.symbols`, `.bars(symbol)`, `.vix()`), so the SIM does not depend on
    the loader's module. VIX rows may be `(ts, value)` pairs or records with `ts_utc`/`value`.
    """
    bars: list[Bar] = []
    for symbol in data_set.symbols:
        bars.extend(data_set.bars(symbol))
    vix_source = data_set.vix() if hasattr(data_set, "vix") else ()
    points: list[tuple[datetime, Decimal]] = []
    for row in vix_source or ():
        if isinstance(row, tuple):
            ts, value = row
        else:
            ts, value = row.ts_utc, row.value
        points.append((ts, to_decimal(value)))
    return ListReplay(bars, points)


_TRUE = frozenset({"true", "1", "yes", "y"})


def reference_flags(data_set: Any) -> dict[str, frozenset[str] | None]:
    """`shortable` / `fractionable` symbol sets from the set's `reference.csv` (trading spec §10).

    A flag whose column is absent (or a set without reference rows) gives None: the SIM then
    treats every symbol as shortable / fractionable.
    """
    rows = data_set.reference() if hasattr(data_set, "reference") else []
    flags: dict[str, frozenset[str] | None] = {"shortable": None, "fractionable": None}
    for flag in flags:
        if rows and all(flag in row for row in rows):
            flags[flag] = frozenset(
                row["symbol"] for row in rows if str(row[flag]).strip().lower() in _TRUE
            )
    return flags


@dataclass(frozen=True, slots=True)
class Session:
    """One replayed session: first bar start to last bar end (over all symbols)."""

    trading_date: date
    open_utc: datetime
    close_utc: datetime


def exchange_date(ts_utc: datetime) -> date:
    return ts_utc.astimezone(EXCHANGE_TZ).date()


class SymbolTape:
    """Bars of one symbol with the lookups the SIM needs, all O(log n)."""

    __slots__ = ("bars", "dates", "session_ends", "starts", "symbol")

    def __init__(self, symbol: str, bars: Sequence[Bar]) -> None:
        self.symbol = symbol
        self.bars: list[Bar] = list(bars)
        self.starts: list[datetime] = [bar.ts_utc for bar in self.bars]
        if any(a >= b for a, b in itertools.pairwise(self.starts)):
            raise DataError(f"replay bars of {symbol} are not strictly ordered by ts_utc")
        self.dates: list[date] = [exchange_date(start) for start in self.starts]
        # For each bar, the end of the last bar of the same exchange date: when a DAY order
        # placed into this session expires.
        ends: list[datetime] = [bar.end_utc for bar in self.bars]
        for index in range(len(self.bars) - 2, -1, -1):
            if self.dates[index] == self.dates[index + 1]:
                ends[index] = ends[index + 1]
        self.session_ends = ends

    def first_index_at_or_after(self, when: datetime) -> int:
        """Index of the first bar starting at or after `when` (len(bars) if none)."""
        return bisect.bisect_left(self.starts, when)

    def last_completed(self, now: datetime) -> Bar | None:
        """The latest bar whose end is at or before `now`."""
        index = bisect.bisect_right(self.starts, now - BAR_LENGTH) - 1
        return self.bars[index] if index >= 0 else None

    def completed_since(self, since: datetime, now: datetime) -> list[Bar]:
        """Completed bars starting at or after `since`."""
        first = bisect.bisect_left(self.starts, since)
        last = bisect.bisect_right(self.starts, now - BAR_LENGTH)
        return self.bars[first:last] if last > first else []


def sessions_of(tapes: Iterable[SymbolTape]) -> list[Session]:
    """Sessions derived from the bars: per exchange date, earliest start to latest end."""
    spans: dict[date, tuple[datetime, datetime]] = {}
    for tape in tapes:
        if not tape.bars:
            continue
        # Per date only the first start and the last end matter; bars are ordered.
        first = 0
        for index in range(1, len(tape.bars) + 1):
            if index < len(tape.bars) and tape.dates[index] == tape.dates[first]:
                continue
            day = tape.dates[first]
            start, end = tape.starts[first], tape.bars[index - 1].end_utc
            known = spans.get(day)
            spans[day] = (min(known[0], start), max(known[1], end)) if known else (start, end)
            first = index
    return [Session(day, start, end) for day, (start, end) in sorted(spans.items())]
