"""Exchange calendar: XNYS sessions, holidays, early closes and exchange-time conversion.

Trading spec §0 and §1.2. Session open/close instants always come from `exchange_calendars`
(calendar `XNYS`), never from configuration. Every `*_LOCAL` setting is exchange time
(America/New_York) and is converted to UTC per date, so DST moves the UTC instants while the local
times stay fixed. `TIMEZONE` (a UI display setting) is deliberately not an input anywhere here.

The library calendar is always built with an explicit start/end (its default range depends on
today's date, which would make replays of old days fail). Tables are built lazily and cached per
range; a query outside the current range widens it instead of failing, because a long-running
runner keeps asking for "the next session".
"""

from __future__ import annotations

import bisect
import functools
import logging
import re
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import exchange_calendars as xcals

from tbot_bot.clock import require_utc
from tbot_bot.errors import ConfigError

logger = logging.getLogger(__name__)

CALENDAR_NAME = "XNYS"
EXCHANGE_TZ = ZoneInfo("America/New_York")
WEEKDAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Reasons a date is not a trading day (DayPlan.reason_if_not).
REASON_MARKET_CLOSED = "market_closed"
REASON_NOT_IN_TRADING_DAYS = "not_in_trading_days"
REASON_EXTRA_CLOSURE = "extra_closure"

# Padding around a requested range so next/previous session at its edges needs no rebuild.
_PAD = timedelta(days=31)
# When a query falls outside the range, widen by this much beyond it (one rebuild per year).
_WIDEN = timedelta(days=366)
# Sanity bounds: far outside them the library (nanosecond timestamps) or the data make no sense.
_MIN_DATE = date(1990, 1, 1)
_MAX_DATE = date(2199, 12, 31)
_HOLIDAY_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class _SessionTable:
    """Plain-Python copy of the library schedule for one range (no pandas past this point)."""

    start: date
    end: date
    sessions: tuple[date, ...]
    opens: Mapping[date, datetime]
    closes: Mapping[date, datetime]
    close_instants: tuple[datetime, ...]
    early_closes: frozenset[date]
    regular_close_local: time

    def covers(self, lo: date, hi: date) -> bool:
        return self.start <= lo and hi <= self.end


@functools.lru_cache(maxsize=16)
def _session_table(start: date, end: date) -> _SessionTable:
    """Build the XNYS table for [start, end] (cached per range; building costs ~0.1 s)."""
    logger.debug("building %s calendar for %s..%s", CALENDAR_NAME, start, end)
    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads `Series.values` of tz-aware columns, which pandas 3.1
        # deprecates; the result is still correct (UTC nanoseconds), so keep the logs quiet.
        warnings.filterwarnings(
            "ignore", message="Series.values returning an ndarray", category=DeprecationWarning
        )
        cal = xcals.get_calendar(CALENDAR_NAME, start=start.isoformat(), end=end.isoformat())
    schedule = cal.schedule
    sessions = tuple(ts.date() for ts in schedule.index)
    opens = {
        d: ts.to_pydatetime().astimezone(UTC)
        for d, ts in zip(sessions, schedule["open"], strict=True)
    }
    closes = {
        d: ts.to_pydatetime().astimezone(UTC)
        for d, ts in zip(sessions, schedule["close"], strict=True)
    }
    # close_times is ((effective_from | None, time), ...); the last entry is today's rule.
    regular_close_local = cal.close_times[-1][1]
    return _SessionTable(
        start=start,
        end=end,
        sessions=sessions,
        opens=opens,
        closes=closes,
        close_instants=tuple(closes[d] for d in sessions),
        early_closes=frozenset(ts.date() for ts in cal.early_closes),
        regular_close_local=regular_close_local,
    )


def exchange_time_to_utc(d: date, t: time) -> datetime:
    """Exchange-local wall time `t` on date `d` (America/New_York) as an aware UTC datetime."""
    if t.tzinfo is not None:
        raise ValueError(f"exchange time {t.isoformat()} must be a naive wall time")
    return datetime.combine(d, t, tzinfo=EXCHANGE_TZ).astimezone(UTC)


def trading_date_of(instant_utc: datetime) -> date:
    """The New York calendar date of an instant (the trading date it belongs to)."""
    return require_utc(instant_utc, "instant_utc").astimezone(EXCHANGE_TZ).date()


def to_exchange_time(instant_utc: datetime) -> datetime:
    """An instant as aware America/New_York wall time (for messages and logs)."""
    return require_utc(instant_utc, "instant_utc").astimezone(EXCHANGE_TZ)


def parse_trading_days(values: Iterable[str], key: str = "TRADING_DAYS") -> frozenset[int]:
    """Weekday names ('mon'..'sun', any case) to `date.weekday()` numbers; bad names are errors."""
    days: set[int] = set()
    problems: list[str] = []
    for raw in values:
        name = raw.strip().lower()
        if name in WEEKDAY_NAMES:
            days.add(WEEKDAY_NAMES.index(name))
        else:
            problems.append(f"{key}: {raw!r} is not a weekday; expected one of {WEEKDAY_NAMES}")
    if not days and not problems:
        problems.append(f"{key}: at least one weekday is required")
    if problems:
        raise ConfigError("; ".join(problems), problems)
    return frozenset(days)


def load_extra_closures(path: Path) -> dict[date, str]:
    """Parse `control/market_holidays.txt`: `YYYY-MM-DD [name]` per line, `#` comments.

    Only the first token is parsed as the date; the rest of the line (before any `#`) is the
    name. A missing file means no extra closures. A bad line is a ConfigError naming file and
    line number.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read market holidays file: {exc}") from exc
    closures: dict[date, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        token, _, name = content.partition(" ")
        try:
            if not _HOLIDAY_DATE.match(token):
                raise ValueError(token)
            day = date.fromisoformat(token)
        except ValueError:
            raise ConfigError(
                f"{path}:{number}: {token!r} is not a date; expected 'YYYY-MM-DD [name]'"
            ) from None
        closures[day] = name.strip()
    return closures


class TradingCalendar:
    """XNYS sessions plus the operator's extra closures, over an explicit date range.

    All instants returned are aware UTC datetimes. `is_session` and friends are the pure
    exchange calendar; `is_trading_day` adds `TRADING_DAYS` and the extra closures.
    """

    def __init__(
        self, start: date, end: date, extra_closures: Mapping[date, str] | None = None
    ) -> None:
        if end < start:
            raise ValueError(f"calendar range end {end} is before start {start}")
        self._check_bounds(start)
        self._check_bounds(end)
        self._start = start - _PAD
        self._end = end + _PAD
        self._table: _SessionTable | None = None
        self._lock = threading.Lock()
        self.extra_closures: Mapping[date, str] = dict(extra_closures or {})

    # -- table management ------------------------------------------------------------------------

    @staticmethod
    def _check_bounds(d: date) -> None:
        if not _MIN_DATE <= d <= _MAX_DATE:
            raise ValueError(f"date {d} is outside the supported range {_MIN_DATE}..{_MAX_DATE}")

    def _tbl(self, lo: date, hi: date | None = None) -> _SessionTable:
        """The table covering [lo, hi], widening the range (and rebuilding) when needed."""
        hi = lo if hi is None else hi
        with self._lock:
            if self._table is not None and self._table.covers(lo, hi):
                return self._table
            if not (self._start <= lo and hi <= self._end):
                self._check_bounds(lo)
                self._check_bounds(hi)
                new_start = min(self._start, max(lo - _WIDEN, _MIN_DATE))
                new_end = max(self._end, min(hi + _WIDEN, _MAX_DATE))
                logger.info("widening calendar range to %s..%s", new_start, new_end)
                self._start, self._end = new_start, new_end
            self._table = _session_table(self._start, self._end)
            return self._table

    # -- exchange sessions -----------------------------------------------------------------------

    def is_session(self, d: date) -> bool:
        """True if XNYS holds a session on `d`."""
        return d in self._tbl(d).opens

    def _require_session(self, d: date) -> _SessionTable:
        table = self._tbl(d)
        if d not in table.opens:
            raise ValueError(f"{d} is not an {CALENDAR_NAME} session")
        return table

    def session_bounds(self, d: date) -> tuple[datetime, datetime]:
        """(open_utc, close_utc) of the session on `d`; ValueError if `d` is not a session."""
        table = self._require_session(d)
        return table.opens[d], table.closes[d]

    def is_early_close(self, d: date) -> bool:
        """True if the session on `d` closes before the regular close (e.g. 13:00)."""
        return d in self._tbl(d).early_closes

    def regular_close_utc(self, d: date) -> datetime:
        """The regular (not early) close of date `d` as UTC, from the library's close rule."""
        return exchange_time_to_utc(d, self._tbl(d).regular_close_local)

    def next_session(self, d: date) -> date:
        """The first session strictly after `d`."""
        table = self._tbl(d, d + _PAD)
        index = bisect.bisect_right(table.sessions, d)
        if index == len(table.sessions):  # pragma: no cover - the pad always holds a session
            raise ValueError(f"no {CALENDAR_NAME} session found after {d}")
        return table.sessions[index]

    def previous_session(self, d: date) -> date:
        """The last session strictly before `d`."""
        table = self._tbl(d - _PAD, d)
        index = bisect.bisect_left(table.sessions, d) - 1
        if index < 0:  # pragma: no cover - the pad always holds a session
            raise ValueError(f"no {CALENDAR_NAME} session found before {d}")
        return table.sessions[index]

    def sessions_between(self, a: date, b: date) -> list[date]:
        """Sessions `s` with `a <= s <= b` (empty if `a > b`)."""
        if a > b:
            return []
        table = self._tbl(a, b)
        lo = bisect.bisect_left(table.sessions, a)
        hi = bisect.bisect_right(table.sessions, b)
        return list(table.sessions[lo:hi])

    def sessions_closed_since(self, instant_utc: datetime, now_utc: datetime) -> int:
        """Number of session closes `c` with `instant_utc < c <= now_utc` (universe staleness)."""
        instant_utc = require_utc(instant_utc, "instant_utc")
        now_utc = require_utc(now_utc, "now_utc")
        if now_utc <= instant_utc:
            return 0
        table = self._tbl(trading_date_of(instant_utc), trading_date_of(now_utc))
        closes = table.close_instants
        return bisect.bisect_right(closes, now_utc) - bisect.bisect_right(closes, instant_utc)

    # -- trading days (exchange + configuration) -------------------------------------------------

    def non_trading_reason(self, d: date, trading_days: Sequence[str]) -> str | None:
        """Why `d` is not a trading day (`market_closed`, `not_in_trading_days`,
        `extra_closure`), or None when it is one."""
        if not self.is_session(d):
            return REASON_MARKET_CLOSED
        if d.weekday() not in parse_trading_days(trading_days):
            return REASON_NOT_IN_TRADING_DAYS
        if d in self.extra_closures:
            return REASON_EXTRA_CLOSURE
        return None

    def is_trading_day(self, d: date, trading_days: Sequence[str]) -> bool:
        """XNYS session AND weekday in `trading_days` AND not an extra closure."""
        return self.non_trading_reason(d, trading_days) is None

    def next_trading_day(self, d: date, trading_days: Sequence[str], max_days: int = 60) -> date:
        """The first trading day strictly after `d`; ConfigError if none within `max_days`."""
        allowed = parse_trading_days(trading_days)
        candidate = d
        for _ in range(max_days):
            candidate = self.next_session(candidate)
            if candidate - d > timedelta(days=max_days):
                break
            if candidate.weekday() in allowed and candidate not in self.extra_closures:
                return candidate
        raise ConfigError(
            f"no trading day within {max_days} days after {d}: check TRADING_DAYS and "
            "control/market_holidays.txt"
        )
