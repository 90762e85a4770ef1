"""Backtest statistics of trading spec §15: pure functions over Decimals, no I/O, no clock.

Definitions (E_0 = `ACCOUNT_BALANCE`, E_d = equity at the close of session d = 1..n):
- r_d = E_d/E_(d-1) - 1, x_d = r_d - RISK_FREE_RATE/252.
- total_return = E_n/E_0 - 1.
- sharpe = mean(x)/stdev(x) x sqrt(252), sample stdev (n - 1); null if n < 2 or stdev = 0.
- sortino = mean(x)/sqrt(sum(min(0, x_d)^2)/n) x sqrt(252); null if n < 2 or no x_d < 0.
- max_drawdown = max over t of 1 - E_t/max_(s<=t) E_s over every point of the equity curve.
- max_drawdown_duration_sessions = sessions from the peak of that drawdown to the first session
  that regains the peak, or to the last session when it never does (0 without a drawdown).
- Round trips: a win has PnL > 0, a loss PnL < 0; zero PnL counts only in trade_count.
  win_rate = wins/(wins + losses); profit_factor = sum(wins)/|sum(losses)| (null without losses);
  avg_win, avg_loss (the mean losing PnL, negative); exposure = share of session time with at
  least one open strategy position (time-weighted, so a position held 37 min of a 390-min session
  counts 37/390). With no round trips the trade metrics (win_rate, profit_factor, avg_win,
  avg_loss, exposure) are null and trade_count is 0.
- Per strategy: the same on its own round trips, with E_d = E_0 + its cumulative P&L at the close
  of session d; its drawdown is measured over those session closes.

Reported values are Decimal strings rounded half-even to 6 dp, null when undefined; trade_count and
max_drawdown_duration_sessions are integers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from tbot_bot.money import SIX_DP, ZERO

TRADING_DAYS_PER_YEAR = 252
PRECISION = 34  # digits for the intermediate arithmetic, far beyond the 6 reported
METRIC_NAMES: tuple[str, ...] = (
    "total_return",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_duration_sessions",
    "win_rate",
    "profit_factor",
    "avg_win",
    "avg_loss",
    "exposure",
    "trade_count",
)
HEADLINE_METRICS: tuple[str, ...] = (
    "total_return",
    "sharpe",
    "sortino",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "trade_count",
)


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """One equity sample; `session` is 0 before the first session, else its 1-based number."""

    ts_utc: datetime
    equity: Decimal
    session: int


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """A closed trade: net P&L (after fees) and when the position was open."""

    strategy: str
    pnl: Decimal
    opened_utc: datetime
    closed_utc: datetime


@dataclass(frozen=True, slots=True)
class Drawdown:
    depth: Decimal
    duration_sessions: int


# -- returns -------------------------------------------------------------------------------------
def session_returns(e0: Decimal, closes: Sequence[Decimal]) -> list[Decimal]:
    """r_d = E_d/E_(d-1) - 1 for d = 1..n."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        previous = [e0, *closes][: len(closes)]
        return [close / before - 1 for before, close in zip(previous, closes, strict=True)]


def excess_returns(returns: Sequence[Decimal], risk_free_rate: Decimal) -> list[Decimal]:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        daily = risk_free_rate / TRADING_DAYS_PER_YEAR
        return [r - daily for r in returns]


def total_return(e0: Decimal, closes: Sequence[Decimal]) -> Decimal | None:
    if not closes:
        return None
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return closes[-1] / e0 - 1


def _mean(values: Sequence[Decimal]) -> Decimal:
    return sum(values, ZERO) / len(values)


def sharpe(excess: Sequence[Decimal]) -> Decimal | None:
    n = len(excess)
    if n < 2 or len(set(excess)) == 1:
        # Equal values have stdev 0 exactly; testing it here, not on the computed variance,
        # keeps a rounding residue of the mean (e.g. of 0.045/252) from posing as a tiny stdev.
        return None
    with localcontext() as ctx:
        ctx.prec = PRECISION
        mean = _mean(excess)
        variance = sum(((x - mean) ** 2 for x in excess), ZERO) / (n - 1)
        if variance == 0:
            return None
        return mean / variance.sqrt() * Decimal(TRADING_DAYS_PER_YEAR).sqrt()


def sortino(excess: Sequence[Decimal]) -> Decimal | None:
    n = len(excess)
    if n < 2 or not any(x < 0 for x in excess):
        return None
    with localcontext() as ctx:
        ctx.prec = PRECISION
        downside = sum((x * x for x in excess if x < 0), ZERO) / n
        return _mean(excess) / downside.sqrt() * Decimal(TRADING_DAYS_PER_YEAR).sqrt()


# -- drawdown ------------------------------------------------------------------------------------
def max_drawdown(curve: Sequence[EquityPoint]) -> Drawdown | None:
    """Deepest fall from a running peak and how many sessions it took to regain that peak."""
    if not curve:
        return None
    with localcontext() as ctx:
        ctx.prec = PRECISION
        peak_index, best, best_peak, trough = 0, ZERO, 0, 0
        for index, point in enumerate(curve):
            if point.equity > curve[peak_index].equity:
                peak_index = index
            peak = curve[peak_index].equity
            depth = 1 - point.equity / peak if peak > 0 else ZERO
            if depth > best:
                best, best_peak, trough = depth, peak_index, index
    if best == 0:
        return Drawdown(ZERO, 0)
    peak_value = curve[best_peak].equity
    recovered = next((p for p in curve[trough + 1 :] if p.equity >= peak_value), None)
    end_session = recovered.session if recovered else max(p.session for p in curve)
    return Drawdown(best, end_session - curve[best_peak].session)


# -- round trips ---------------------------------------------------------------------------------
def exposure(
    trips: Sequence[RoundTrip], sessions: Sequence[tuple[datetime, datetime]]
) -> Decimal | None:
    """Share of session time with at least one open position (overlaps counted once)."""
    if not trips or not sessions:
        return None
    total = sum(_micros(close - open_) for open_, close in sessions)
    if total <= 0:
        return None
    covered = 0
    for open_, close in sessions:
        spans = sorted(
            (max(t.opened_utc, open_), min(t.closed_utc, close))
            for t in trips
            if t.opened_utc < close and t.closed_utc > open_
        )
        end = open_
        for start, stop in spans:
            start = max(start, end)
            if stop > start:
                covered += _micros(stop - start)
                end = stop
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return Decimal(covered) / Decimal(total)


def _micros(span: timedelta) -> int:
    """Whole microseconds: exact integer time arithmetic (no float seconds)."""
    return span // timedelta(microseconds=1)


def trade_stats(trips: Sequence[RoundTrip]) -> dict[str, Decimal | int | None]:
    wins = [t.pnl for t in trips if t.pnl > 0]
    losses = [t.pnl for t in trips if t.pnl < 0]
    stats: dict[str, Decimal | int | None] = {
        "win_rate": None,
        "profit_factor": None,
        "avg_win": None,
        "avg_loss": None,
        "trade_count": len(trips),
    }
    with localcontext() as ctx:
        ctx.prec = PRECISION
        if wins or losses:
            stats["win_rate"] = Decimal(len(wins)) / (len(wins) + len(losses))
        if losses:
            stats["profit_factor"] = sum(wins, ZERO) / abs(sum(losses, ZERO))
            stats["avg_loss"] = _mean(losses)
        if wins:
            stats["avg_win"] = _mean(wins)
    return stats


# -- the whole table -----------------------------------------------------------------------------
def compute_metrics(
    e0: Decimal,
    closes: Sequence[Decimal],
    curve: Sequence[EquityPoint],
    trips: Sequence[RoundTrip],
    sessions: Sequence[tuple[datetime, datetime]],
    risk_free_rate: Decimal,
) -> dict[str, Decimal | int | None]:
    """Every §15 metric, unrounded. `closes` are E_1..E_n; `curve` holds every equity sample."""
    excess = excess_returns(session_returns(e0, closes), risk_free_rate)
    drawdown = max_drawdown(curve)
    stats = trade_stats(trips)
    return {
        "total_return": total_return(e0, closes),
        "sharpe": sharpe(excess),
        "sortino": sortino(excess),
        "max_drawdown": drawdown.depth if drawdown else None,
        "max_drawdown_duration_sessions": drawdown.duration_sessions if drawdown else None,
        "win_rate": stats["win_rate"],
        "profit_factor": stats["profit_factor"],
        "avg_win": stats["avg_win"],
        "avg_loss": stats["avg_loss"],
        "exposure": exposure(trips, sessions) if trips else None,
        "trade_count": stats["trade_count"],
    }


def strategy_closes(
    e0: Decimal, trips: Sequence[RoundTrip], session_closes: Sequence[datetime]
) -> list[Decimal]:
    """E_0 + the strategy's cumulative P&L at each session close (trips by their close time)."""
    ordered = sorted(trips, key=lambda t: t.closed_utc)
    closes, running, index = [], e0, 0
    for close in session_closes:
        while index < len(ordered) and ordered[index].closed_utc <= close:
            running += ordered[index].pnl
            index += 1
        closes.append(running)
    return closes


def strategy_metrics(
    e0: Decimal,
    trips: Sequence[RoundTrip],
    sessions: Sequence[tuple[datetime, datetime]],
    risk_free_rate: Decimal,
    start_utc: datetime,
) -> dict[str, Decimal | int | None]:
    """The §15 table for one strategy: its trades, returns on E_0 + its cumulative P&L."""
    session_closes = [close for _, close in sessions]
    closes = strategy_closes(e0, trips, session_closes)
    curve = [EquityPoint(start_utc, e0, 0)] + [
        EquityPoint(ts, value, number)
        for number, (ts, value) in enumerate(zip(session_closes, closes, strict=True), start=1)
    ]
    return compute_metrics(e0, closes, curve, trips, sessions, risk_free_rate)


def format_metric(value: Decimal | int | None) -> str | int | None:
    """6-dp Decimal string (half-even); integers and null pass through."""
    if value is None or isinstance(value, int):
        return value
    with localcontext() as ctx:
        # quantize needs every digit of the result inside the precision: room for huge ratios
        ctx.prec = max(PRECISION, value.adjusted() + 8)
        return str(value.quantize(SIX_DP, rounding=ROUND_HALF_EVEN))


def format_metrics(values: Mapping[str, Decimal | int | None]) -> dict[str, str | int | None]:
    return {name: format_metric(values[name]) for name in METRIC_NAMES}
