"""The SIM's market in a backtest: which symbols, which sessions, which bars (trading spec §14).

- Symbols: the universe plus the shipped inverse ETFs the data set holds (bearish signals buy
  them), so a one-symbol backtest does not load 500 symbols' bars.
- Sessions: the full sessions of the set within [from, to]; a partial one is left out.
- Bars: `SessionWindowReplay` hands the SIM the bars of the replayed sessions and of the session
  before the first one (its close is the first day's gap reference), straight from the loaded
  data set, already validated and ordered, instead of copying and re-sorting every bar of every
  session. A day only ever reads its own bars and the previous close, so the fills are the same.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from tbot_bot.backtest.universe import UniverseSelection
from tbot_bot.errors import DataError
from tbot_bot.market.bars import Bar
from tbot_bot.market.calendar import TradingCalendar
from tbot_bot.market.replay_data import ReplayDataSet
from tbot_bot.runtime.sim_day import full_sessions
from tbot_bot.trading.bearish import SHIPPED_ALLOWLIST

# The range sim_day.make_setup gives its calendar (first day - 14 days .. last session + 7 days):
# building ours the same way lets both share one cached exchange table.
CALENDAR_BEFORE = timedelta(days=14)
CALENDAR_AFTER = timedelta(days=7)


def market_view(
    data: ReplayDataSet, universe: UniverseSelection, extra: Sequence[str] = ()
) -> ReplayDataSet:
    """The data set narrowed to the universe, the shipped inverse ETFs it holds and `extra`."""
    wanted = set(universe.symbols) | (SHIPPED_ALLOWLIST & set(data.symbols)) | set(extra)
    ordered = tuple(symbol for symbol in data.symbols if symbol in wanted)
    if len(ordered) == len(data.symbols):
        return data
    return ReplayDataSet(data.root, replace(data.manifest, symbols=ordered))


def replay_calendar(data: ReplayDataSet, first_day: date) -> TradingCalendar:
    return TradingCalendar(first_day - CALENDAR_BEFORE, data.sessions[-1] + CALENDAR_AFTER)


def replay_sessions(data: ReplayDataSet, start: date, end: date) -> list[date]:
    """Full sessions of the data set within [start, end]; partial sessions are left out."""
    candidates = [day for day in data.sessions if start <= day <= end]
    chosen: list[date] = []
    if candidates:
        calendar = replay_calendar(data, candidates[0])
        chosen = [day for day in full_sessions(data, calendar) if start <= day <= end]
    if not chosen:
        raise DataError(
            f"data set {data.name!r} has no full session between {start} and {end} "
            f"(its sessions: {data.sessions[0]} .. {data.sessions[-1]}, partial ones skipped)"
        )
    return chosen


class SessionWindowReplay:
    """A `MarketReplay` over the loaded data set, limited to a window of its sessions."""

    def __init__(self, data: ReplayDataSet, sessions: Sequence[date]) -> None:
        self._data = data
        self._sessions = tuple(sessions)

    @classmethod
    def for_run(cls, data: ReplayDataSet, replayed: Sequence[date]) -> SessionWindowReplay:
        """The replayed sessions and every set session between them, plus the one before."""
        calendar = replay_calendar(data, replayed[0])
        first = calendar.previous_session(replayed[0])
        window = [day for day in data.sessions if first <= day <= replayed[-1]]
        return cls(data, window)

    @property
    def symbols(self) -> Sequence[str]:
        return self._data.symbols

    def bars(self, symbol: str) -> Sequence[Bar]:
        return tuple(
            itertools.chain.from_iterable(
                self._data.bars_for_session(symbol, day) for day in self._sessions
            )
        )

    def vix_points(self) -> Sequence[tuple[datetime, Decimal]]:
        return self._data.vix()
