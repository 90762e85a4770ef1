"""The real MSFT 1-minute bars as a session x minute grid, and the XNYS session table they need.

`market-prices` ships `MSFT_T1.csv` (yfinance-style: `date` = bar start with a UTC offset, float
prices, float volumes). The synthetic generator resamples its returns and the `msft_1m` set copies
its rows; both read it through `load_minute_source`. Floats are fine here: this is a statistical
model of price moves; every price that leaves this package is rounded to exact decimal text.
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tbot_bot.errors import DataError

SLOTS = 390  # minutes in a regular XNYS session (09:30-16:00 ET)
FloatGrid = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SessionTimes:
    """Regular-session open (UTC) and its length in minutes, from the XNYS calendar."""

    session: date
    open_utc: datetime
    minutes: int


@dataclass(frozen=True)
class SourceRow:
    """One source bar exactly as read (floats as the file wrote them)."""

    ts_utc: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int


@dataclass(frozen=True)
class MinuteSource:
    """Real bars on a (session, minute-of-session) grid; NaN where the source has no bar."""

    path: Path
    sessions: tuple[SessionTimes, ...]
    rows: tuple[SourceRow, ...]
    open: FloatGrid
    high: FloatGrid
    low: FloatGrid
    close: FloatGrid
    volume: FloatGrid

    @property
    def dates(self) -> tuple[date, ...]:
        return tuple(item.session for item in self.sessions)


def xnys_sessions(first: date, last: date, prior: int = 0) -> list[SessionTimes]:
    """XNYS sessions from `prior` sessions before `first` through `last`, with open and length."""
    import exchange_calendars as xcals  # heavy import, only needed when building data

    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads `Series.values` of tz-aware columns, deprecated by pandas
        # 3.1; the values it gets are still correct UTC nanoseconds.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        calendar = xcals.get_calendar(
            "XNYS", start=(first - timedelta(days=3 * prior + 10)).isoformat(), end=last.isoformat()
        )
    labels = list(calendar.sessions_in_range(first.isoformat(), last.isoformat()))
    if prior:
        labels = list(calendar.sessions_window(first.isoformat(), -(prior + 1)))[:-1] + labels
    result = []
    for label in labels:
        opened = calendar.session_open(label).to_pydatetime().astimezone(UTC)
        closed = calendar.session_close(label).to_pydatetime().astimezone(UTC)
        minutes = int((closed - opened).total_seconds() // 60)
        result.append(SessionTimes(label.date(), opened, minutes))
    return result


def _parse_rows(path: Path) -> list[SourceRow]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))
    except OSError as exc:
        raise DataError(f"{path}: cannot read the MSFT minute bars: {exc}") from exc
    rows = []
    for number, record in enumerate(records, start=1):
        try:
            stamp = datetime.fromisoformat(record["date"])
            if stamp.tzinfo is None:
                raise ValueError("timestamp without UTC offset")
            rows.append(
                SourceRow(
                    stamp.astimezone(UTC),
                    float(record["open"]),
                    float(record["high"]),
                    float(record["low"]),
                    float(record["close"]),
                    int(float(record["volume"])),
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise DataError(f"{path}: row {number}: unexpected source bar ({exc})") from exc
    if not rows:
        raise DataError(f"{path}: no bars")
    return rows


def load_minute_source(path: Path) -> MinuteSource:
    """Read MSFT_T1.csv, keep regular-session bars only and lay them on the session grid."""
    rows = _parse_rows(path)
    first = rows[0].ts_utc.date() - timedelta(days=1)
    last = rows[-1].ts_utc.date() + timedelta(days=1)
    calendar = {item.session: item for item in xnys_sessions(first, last)}
    by_day: dict[date, list[tuple[int, SourceRow]]] = {}
    for row in rows:
        for item in calendar.values():
            slot = int((row.ts_utc - item.open_utc).total_seconds() // 60)
            if 0 <= slot < item.minutes:
                by_day.setdefault(item.session, []).append((slot, row))
                break
    sessions = tuple(calendar[day] for day in sorted(by_day))
    grids = {name: np.full((len(sessions), SLOTS), np.nan) for name in ("o", "h", "l", "c", "v")}
    kept: list[SourceRow] = []
    for index, item in enumerate(sessions):
        for slot, row in by_day[item.session]:
            grids["o"][index, slot] = row.open
            grids["h"][index, slot] = row.high
            grids["l"][index, slot] = row.low
            grids["c"][index, slot] = row.close
            grids["v"][index, slot] = row.volume
            kept.append(row)
    return MinuteSource(
        path, sessions, tuple(kept), grids["o"], grids["h"], grids["l"], grids["c"], grids["v"]
    )
