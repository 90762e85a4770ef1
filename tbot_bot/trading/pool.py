"""Candidate pool of one phase (trading spec §3.1): ranked, eligibility-checked, then frozen.

The pool is formed once per phase from the published universe: market snapshots (bars since the
open, latest quotes) go to the screener's ranking; the top `MAX_TRADES x CANDIDATE_MULTIPLIER`
are checked for eligibility in rank order, and every result is logged. Ineligible candidates keep
their rank but are never armed. Nothing re-sorts or expands the pool afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tbot_bot.market.bars import Bar, Quote
from tbot_bot.money import to_decimal
from tbot_bot.strategy.base import SymbolTape
from tbot_bot.strategy.indicators import bar_summary


@dataclass
class PoolMember:
    """One ranked candidate and its per-session progress."""

    symbol: str
    rank: int
    fitness: Decimal
    sector: str | None
    market_cap: Decimal | None
    avg_volume: int | None
    eligible: bool = True
    ineligible_reason: str | None = None
    considered: bool = False  # signalled and tried (or failed a per-symbol check): never again
    last_reason: str | None = None
    tape: SymbolTape | None = None
    record: dict[str, Any] = field(default_factory=dict)


Ranker = Callable[..., list[Any]]


def _opt_decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    return to_decimal(str(value))


def _opt_int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    return int(Decimal(str(value)))


@dataclass(frozen=True)
class MarketSnapshot:
    """What the ranking needs of one symbol at pool formation."""

    symbol: str
    bars: Sequence[Bar]
    quote: Quote | None
    universe_record: dict[str, Any]


def snapshot_fields(snap: MarketSnapshot) -> dict[str, Any]:
    """Fields of the screener's SymbolSnapshot, built from bars, quote and the universe record."""
    last = snap.bars[-1]
    high, low, vwap, volume = bar_summary(snap.bars)
    rec = snap.universe_record
    return {
        "symbol": snap.symbol,
        "price": snap.quote.last if snap.quote else last.close,
        "open": snap.bars[0].open,
        "high": high,
        "low": low,
        "vwap": vwap,
        "volume": volume,
        "avg_volume": _opt_int(rec.get("avgVolume")),
        "prev_close": _opt_decimal(rec.get("lastClose")),
        "bid": snap.quote.bid if snap.quote else None,
        "ask": snap.quote.ask if snap.quote else None,
        "quote_ts": snap.quote.quote_ts if snap.quote else None,
        "sector": rec.get("sector"),
        "market_cap": _opt_decimal(rec.get("marketCap")),
    }


def build_tapes(
    bars_by_symbol: dict[str, list[Bar]], session_open: datetime
) -> dict[str, SymbolTape]:
    tapes: dict[str, SymbolTape] = {}
    for symbol, bars in bars_by_symbol.items():
        tape = SymbolTape(symbol, session_open)
        for bar in bars:
            tape.add(bar)
        tapes[symbol] = tape
    return tapes


def members_from_ranking(
    ranked: Sequence[Any], tapes: dict[str, SymbolTape], records: dict[str, dict[str, Any]]
) -> list[PoolMember]:
    """Turn the screener's ranked candidates into pool members (rank order kept)."""
    members: list[PoolMember] = []
    for candidate in ranked:
        record = records.get(candidate.symbol, {})
        members.append(
            PoolMember(
                symbol=candidate.symbol,
                rank=int(candidate.rank),
                fitness=to_decimal(str(candidate.fitness)),
                sector=record.get("sector") or None,
                market_cap=_opt_decimal(record.get("marketCap")),
                avg_volume=_opt_int(record.get("avgVolume")),
                tape=tapes.get(candidate.symbol),
                record=record,
            )
        )
    return members


def screener_ranker(
    strategy: str, snapshots: Sequence[dict[str, Any]], *, pool_size: int, settings: Any
) -> list[Any]:
    """Rank with the screener's per-strategy fitness and the strategy's gap and cap filters."""
    from tbot_bot.screeners.ranking import SymbolSnapshot, rank_candidates

    key = strategy.upper()
    return rank_candidates(
        strategy,
        [SymbolSnapshot(**snap) for snap in snapshots],
        pool_size=pool_size,
        max_gap_pct=getattr(settings, f"MAX_GAP_PCT_{key}"),
        min_cap=Decimal(getattr(settings, f"MIN_MARKET_CAP_{key}")),
        max_cap=Decimal(getattr(settings, f"MAX_MARKET_CAP_{key}")),
    )
