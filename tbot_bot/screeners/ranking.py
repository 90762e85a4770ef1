"""Candidate ranking at phase start (trading spec §3.1): pure, Decimal, deterministic.

The pool is the top `pool_size` (= MAX_TRADES x CANDIDATE_MULTIPLIER) universe symbols by fitness:

- `open`: abs(gap) x relative volume, gap = (open - prev_close) / prev_close and relative
  volume = volume / avg_volume;
- `mid`: abs(VWAP deviation) = abs(price - vwap) / vwap;
- `close`: closeness to the day's high or low x momentum, closeness = max(p, 1 - p) with
  p = (price - low) / (high - low), momentum = abs(price - open) / open.

Only `MAX_GAP_PCT_<S>` (abs(gap) at today's open) and `MIN_/MAX_MARKET_CAP_<S>` are applied; never
tradability, fractional support or capital (those are eligibility checks of the runner). A symbol
whose fitness cannot be computed (no previous close, no cap, no average volume for OPEN, no VWAP for
MID) is left out; `exclusion_reason` says why. Ties are broken by symbol; the result never changes
once formed (frozen candidates, no re-sorting).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tbot_bot.clock import iso_utc
from tbot_bot.errors import LogicError
from tbot_bot.money import ZERO

STRATEGIES: tuple[str, ...] = ("open", "mid", "close")
FITNESS_QUANTUM = Decimal("0.0000000001")  # 10 dp: stable text in logs, ties stay rare
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class SymbolSnapshot:
    """Market state of one universe symbol at phase start (prices USD, volumes in shares)."""

    symbol: str
    price: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    vwap: Decimal | None
    volume: int
    avg_volume: int | None
    prev_close: Decimal | None
    bid: Decimal | None
    ask: Decimal | None
    quote_ts: datetime | None
    sector: str | None
    market_cap: Decimal | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pool member: the snapshot plus its 1-based rank, fitness and how fitness was reached."""

    snapshot: SymbolSnapshot
    rank: int
    fitness: Decimal
    reason: str

    @property
    def symbol(self) -> str:
        return self.snapshot.symbol

    def to_record(self) -> dict[str, Any]:
        """The pool record of §3.1 (Decimals as strings, quote_ts ISO UTC)."""
        snap = self.snapshot
        return {
            "symbol": snap.symbol,
            "rank": self.rank,
            "fitness": str(self.fitness),
            "price": _text(snap.price),
            "open": _text(snap.open),
            "high": _text(snap.high),
            "low": _text(snap.low),
            "vwap": _text(snap.vwap),
            "volume": snap.volume,
            "bid": _text(snap.bid),
            "ask": _text(snap.ask),
            "quote_ts": iso_utc(snap.quote_ts) if snap.quote_ts else None,
            "sector": snap.sector,
            "market_cap": _text(snap.market_cap),
            "reason": self.reason,
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _check_strategy(strategy: str) -> str:
    name = strategy.strip().lower()
    if name not in STRATEGIES:
        raise LogicError(f"unknown strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}")
    return name


def gap_of(snapshot: SymbolSnapshot) -> Decimal | None:
    """(open - prev_close) / prev_close, None without a positive previous close."""
    if snapshot.prev_close is None or snapshot.prev_close <= 0:
        return None
    return (snapshot.open - snapshot.prev_close) / snapshot.prev_close


def exclusion_reason(
    strategy: str,
    snapshot: SymbolSnapshot,
    *,
    max_gap_pct: Decimal,
    min_cap: Decimal,
    max_cap: Decimal,
) -> str | None:
    """Why `snapshot` cannot be in the pool (filters or missing inputs), or None."""
    return _exclusion(_check_strategy(strategy), snapshot, max_gap_pct, min_cap, max_cap)


def _exclusion(
    name: str, snapshot: SymbolSnapshot, max_gap_pct: Decimal, min_cap: Decimal, max_cap: Decimal
) -> str | None:
    if snapshot.price <= 0 or snapshot.open <= 0:
        return "no_price"
    gap = gap_of(snapshot)
    if gap is None:
        return "no_prev_close"
    if abs(gap) > max_gap_pct:
        return "gap_too_large"
    if snapshot.market_cap is None:
        return "no_market_cap"
    if not min_cap <= snapshot.market_cap <= max_cap:
        return "market_cap_out_of_band"
    if name == "open" and (snapshot.avg_volume is None or snapshot.avg_volume <= 0):
        return "no_avg_volume"
    if name == "mid" and (snapshot.vwap is None or snapshot.vwap <= 0):
        return "no_vwap"
    return None


def _components(name: str, snapshot: SymbolSnapshot) -> tuple[Decimal, tuple[Decimal, ...]]:
    """Exact fitness and the factors it came from (for the reason text)."""
    if name == "open":
        gap = abs(gap_of(snapshot) or ZERO)
        relative = Decimal(snapshot.volume) / Decimal(snapshot.avg_volume or 1)
        return gap * relative, (gap, relative)
    if name == "mid":
        vwap = snapshot.vwap or ONE
        deviation = (snapshot.price - vwap) / vwap
        return abs(deviation), (deviation,)
    span = snapshot.high - snapshot.low
    if span > 0:
        position = min(ONE, max(ZERO, (snapshot.price - snapshot.low) / span))
        closeness = max(position, ONE - position)
    else:
        position = closeness = ZERO  # no range yet: nothing to be close to
    momentum = abs(snapshot.price - snapshot.open) / snapshot.open
    return closeness * momentum, (closeness, momentum, position)


def _reason(name: str, factors: tuple[Decimal, ...]) -> str:
    if name == "open":
        return f"{name}: |gap| {_short(factors[0])} x relvol {_short(factors[1])}"
    if name == "mid":
        return f"{name}: vwap deviation {_short(factors[0])}"
    side = "hod" if factors[2] >= Decimal("0.5") else "lod"
    return f"{name}: near {side} {_short(factors[0])} x momentum {_short(factors[1])}"


def _short(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def _quantized(fitness: Decimal) -> Decimal:
    return fitness.quantize(FITNESS_QUANTUM, rounding=ROUND_HALF_EVEN)


def fitness_of(strategy: str, snapshot: SymbolSnapshot) -> tuple[Decimal, str]:
    """(fitness rounded to 10 dp, reason text) of an admissible snapshot."""
    name = _check_strategy(strategy)
    fitness, factors = _components(name, snapshot)
    return _quantized(fitness), _reason(name, factors)


def rank_candidates(
    strategy: str,
    snapshots: Sequence[SymbolSnapshot],
    *,
    pool_size: int,
    max_gap_pct: Decimal,
    min_cap: Decimal,
    max_cap: Decimal,
) -> list[Candidate]:
    """The frozen pool: admissible snapshots by fitness (desc), ties by symbol, top `pool_size`.

    Ordering uses the exact fitness; equal fitness falls back to the symbol, so the same input
    always gives the same pool. Reason texts are built for pool members only.
    """
    name = _check_strategy(strategy)
    if pool_size < 1:
        raise LogicError(f"pool_size must be >= 1, got {pool_size}")
    if len({snapshot.symbol for snapshot in snapshots}) != len(snapshots):
        raise LogicError("rank_candidates: snapshots repeat a symbol")
    scored: list[tuple[Decimal, str, SymbolSnapshot, tuple[Decimal, ...]]] = []
    for snapshot in snapshots:
        if _exclusion(name, snapshot, max_gap_pct, min_cap, max_cap) is None:
            fitness, factors = _components(name, snapshot)
            scored.append((-fitness, snapshot.symbol, snapshot, factors))
    best = heapq.nsmallest(pool_size, scored, key=lambda item: (item[0], item[1]))
    return [
        Candidate(snapshot, rank, _quantized(-negated), _reason(name, factors))
        for rank, (negated, _, snapshot, factors) in enumerate(best, start=1)
    ]
