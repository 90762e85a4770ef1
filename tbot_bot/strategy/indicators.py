"""The one shared indicator module (trading spec §2.0): session VWAP, intraday high/low,
5-minute resampling, ADX(14), ATR(14) and Bollinger(20, 2 sigma).

Everything is Decimal: these values are compared with prices, and a float comparison at a band edge
could flip a signal between a live run and a backtest. Functions return None when the input is too
short to compute the indicator, and the caller decides what "unavailable" means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from tbot_bot.market.bars import Bar
from tbot_bot.money import ZERO

THREE = Decimal(3)
FIVE_MINUTES_S = 300


def typical_price(bar: Bar) -> Decimal:
    """Bar VWAP when supplied, else (high + low + close) / 3."""
    return bar.vwap if bar.vwap is not None else (bar.high + bar.low + bar.close) / THREE


def bar_summary(bars: Sequence[Bar]) -> tuple[Decimal, Decimal, Decimal | None, int]:
    """High, low, VWAP (None without volume) and volume of non-empty `bars`, in one pass.

    Pool formation summarises every universe symbol with it each phase, so it avoids the per-bar
    method calls of a full tape.
    """
    high, low = bars[0].high, bars[0].low
    volume = 0
    weighted = ZERO
    for bar in bars:
        if bar.high > high:
            high = bar.high
        if bar.low < low:
            low = bar.low
        if bar.volume > 0:
            weighted += typical_price(bar) * bar.volume
            volume += bar.volume
    return high, low, (weighted / volume if volume else None), volume


def session_vwap(bars: Sequence[Bar]) -> Decimal | None:
    """Sum(tp * v) / Sum(v) over the session's bars; None without volume (never the price)."""
    return bar_summary(bars)[2] if bars else None


def high_low(bars: Sequence[Bar]) -> tuple[Decimal, Decimal] | None:
    """Highest high and lowest low of the given bars."""
    if not bars:
        return None
    return max(b.high for b in bars), min(b.low for b in bars)


def _bucket_start(ts: datetime, session_open: datetime) -> datetime:
    offset = int((ts - session_open).total_seconds()) // FIVE_MINUTES_S * FIVE_MINUTES_S
    return session_open + timedelta(seconds=offset)


def resample_5min(bars: Sequence[Bar], session_open: datetime, now: datetime) -> list[Bar]:
    """Completed 5-minute bars aligned to the session open (a bucket counts once it has ended)."""
    buckets: list[Bar] = []
    current: list[Bar] = []
    current_start: datetime | None = None
    for bar in bars:
        start = _bucket_start(bar.ts_utc, session_open)
        if current_start is not None and start != current_start:
            buckets.append(_merge(current, current_start))
            current = []
        current_start = start
        current.append(bar)
    if current and current_start is not None:
        end = current_start.timestamp() + FIVE_MINUTES_S
        if now.timestamp() >= end:
            buckets.append(_merge(current, current_start))
    return buckets


def _merge(bars: list[Bar], start: datetime) -> Bar:
    return Bar(
        symbol=bars[0].symbol,
        ts_utc=start,
        open=bars[0].open,
        high=max(b.high for b in bars),
        low=min(b.low for b in bars),
        close=bars[-1].close,
        volume=sum(b.volume for b in bars),
    )


def _true_range(bar: Bar, previous_close: Decimal) -> Decimal:
    return max(bar.high - bar.low, abs(bar.high - previous_close), abs(bar.low - previous_close))


def _wilder(values: Sequence[Decimal], period: int) -> list[Decimal]:
    """Wilder smoothing: first value is the sum of `period` values, then s - s/period + x."""
    if len(values) < period:
        return []
    smoothed = [sum(values[:period], ZERO)]
    for value in values[period:]:
        smoothed.append(smoothed[-1] - smoothed[-1] / period + value)
    return smoothed


def atr(bars: Sequence[Bar], period: int = 14) -> Decimal | None:
    """Average true range (Wilder) over the bars; None with fewer than period + 1 bars."""
    if len(bars) < period + 1:
        return None
    ranges = [_true_range(bars[i], bars[i - 1].close) for i in range(1, len(bars))]
    value = sum(ranges[:period], ZERO) / period
    for tr in ranges[period:]:
        value = (value * (period - 1) + tr) / period
    return value


def adx(bars: Sequence[Bar], period: int = 14) -> Decimal | None:
    """ADX (Wilder); needs 2 * period + 1 bars, else None."""
    if len(bars) < 2 * period + 1:
        return None
    plus_dm: list[Decimal] = []
    minus_dm: list[Decimal] = []
    ranges: list[Decimal] = []
    for prev, bar in pairwise(bars):
        up = bar.high - prev.high
        down = prev.low - bar.low
        plus_dm.append(up if up > down and up > ZERO else ZERO)
        minus_dm.append(down if down > up and down > ZERO else ZERO)
        ranges.append(_true_range(bar, prev.close))
    tr_s, plus_s, minus_s = (_wilder(x, period) for x in (ranges, plus_dm, minus_dm))
    dx: list[Decimal] = []
    for tr_value, plus_value, minus_value in zip(tr_s, plus_s, minus_s, strict=True):
        if tr_value == ZERO:
            dx.append(ZERO)
            continue
        plus_di = 100 * plus_value / tr_value
        minus_di = 100 * minus_value / tr_value
        total = plus_di + minus_di
        dx.append(ZERO if total == ZERO else 100 * abs(plus_di - minus_di) / total)
    if len(dx) < period:
        return None
    value = sum(dx[:period], ZERO) / period
    for item in dx[period:]:
        value = (value * (period - 1) + item) / period
    return value


@dataclass(frozen=True, slots=True)
class Bands:
    lower: Decimal
    middle: Decimal
    upper: Decimal


def bollinger(
    closes: Sequence[Decimal], period: int = 20, width: Decimal = Decimal(2)
) -> Bands | None:
    """Bollinger bands over the last `period` closes (population sigma); None if too few."""
    if len(closes) < period:
        return None
    window = closes[-period:]
    mean = sum(window, ZERO) / period
    variance = sum(((c - mean) ** 2 for c in window), ZERO) / period
    sigma = variance.sqrt()
    return Bands(mean - width * sigma, mean, mean + width * sigma)
