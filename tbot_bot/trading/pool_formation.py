"""Forming a session's candidate pool at the end of its analysis window (trading spec §3).

Every universe symbol with bars today gets a market snapshot (with the previous session's close
as the gap reference), the strategy's ranker picks the pool, full tapes are built for the pool
only, and each member's eligibility (tradable, not a holdings symbol, fractional or whole shares)
is written to the decision log. The session runner calls this once per phase; it is separate
because it is the one step that reads the whole universe rather than the symbols in play.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tbot_bot.strategy.base import SymbolTape
from tbot_bot.trading.entries import EntryDesk
from tbot_bot.trading.pool import (
    MarketSnapshot,
    PoolMember,
    build_tapes,
    members_from_ranking,
    snapshot_fields,
)
from tbot_bot.trading.runner_context import DayContext

Ranker = Callable[..., list[Any]]


def rank_pool(
    ctx: DayContext, strategy: str, ranker: Ranker
) -> tuple[list[PoolMember], dict[str, SymbolTape]]:
    """The ranked pool of `strategy` and the tapes of its members (bars since the open)."""
    records = {str(r["symbol"]): r for r in ctx.universe}
    symbols = sorted(records)
    # From the previous session's last minute on: its close is the gap reference.
    since = (
        ctx.previous_close_utc - timedelta(minutes=1)
        if ctx.previous_close_utc
        else ctx.session_open_utc
    )
    fetched = ctx.broker.get_recent_bars(symbols, since) if symbols else {}
    bars = {
        s: [b for b in series if b.ts_utc >= ctx.session_open_utc] for s, series in fetched.items()
    }
    previous = {
        s: series[0].close
        for s, series in fetched.items()
        if series and series[0].ts_utc < ctx.session_open_utc
    }
    quotes = ctx.broker.get_latest_quotes(symbols) if symbols else {}
    snapshots = []
    for s in symbols:
        if not bars.get(s):
            continue
        snapshot = snapshot_fields(MarketSnapshot(s, bars[s], quotes.get(s), records[s]))
        if s in previous:
            snapshot["prev_close"] = previous[s]
        snapshots.append(snapshot)
    settings = ctx.settings
    size = int(settings.MAX_TRADES) * int(settings.CANDIDATE_MULTIPLIER)
    ranked = ranker(strategy, snapshots, pool_size=size, settings=settings)
    pool_bars = {c.symbol: bars[c.symbol] for c in ranked if c.symbol in bars}
    tapes = build_tapes(pool_bars, ctx.session_open_utc)  # full tapes for the pool only
    pool = members_from_ranking(ranked, tapes, records)
    return pool, {m.symbol: tapes[m.symbol] for m in pool if m.symbol in tapes}


def record_eligibility(
    ctx: DayContext, desk: EntryDesk, pool: list[PoolMember], now: datetime
) -> None:
    """Judge and log every member's eligibility; the pool size and eligible count go to the
    session's statistics, an empty pool is logged as a block."""
    desk.stats.pool_size = len(pool)
    for member in pool:
        _eligibility(ctx, desk, now, member)
    desk.stats.eligible = sum(m.eligible for m in pool)
    if not pool:
        desk.log(now, None, "eligibility", "block", "empty_pool")


def _eligibility(ctx: DayContext, desk: EntryDesk, now: datetime, member: PoolMember) -> None:
    broker, settings = ctx.broker, ctx.settings
    if not broker.is_tradable(member.symbol):
        member.eligible, member.ineligible_reason = False, "not_tradable"
    holdings = getattr(settings, "HOLDINGS_ETF_LIST", None) or ()
    if member.symbol in holdings:
        member.eligible, member.ineligible_reason = False, "holdings_symbol"
    outcome = "pass" if member.eligible else "block"
    reason = member.ineligible_reason or "eligible"
    if member.eligible and not (settings.FRACTIONAL and broker.supports_fractional(member.symbol)):
        reason = "no_fractional"  # whole shares only: noted, not a rejection
    _log_eligibility(desk, now, member, outcome, reason, member.fitness)


def _log_eligibility(
    desk: EntryDesk,
    now: datetime,
    member: PoolMember,
    outcome: str,
    reason: str,
    fitness: Decimal,
) -> None:
    desk.log(
        now,
        member,
        "eligibility",
        outcome,
        reason,
        phase="analysis",
        detail={
            "fitness": str(fitness),
            **{k: str(v) for k, v in member.record.items() if k in ("sector", "marketCap")},
        },
    )
