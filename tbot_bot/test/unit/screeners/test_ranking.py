"""Candidate ranking per strategy on crafted snapshots (spec §3.1)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tbot_bot.errors import LogicError
from tbot_bot.screeners.ranking import SymbolSnapshot, exclusion_reason, rank_candidates

D = Decimal
TS = datetime(2025, 7, 15, 13, 50, tzinfo=UTC)
BAND = {"max_gap_pct": D("0.1"), "min_cap": D("3E8"), "max_cap": D("1E10")}


def snap(
    symbol: str,
    *,
    price: str = "100",
    open_: str = "100",
    high: str = "101",
    low: str = "99",
    vwap: str | None = "100",
    volume: int = 1_000_000,
    avg_volume: int | None = 1_000_000,
    prev_close: str | None = "100",
    cap: str | None = "1E9",
) -> SymbolSnapshot:
    return SymbolSnapshot(
        symbol=symbol,
        price=D(price),
        open=D(open_),
        high=D(high),
        low=D(low),
        vwap=None if vwap is None else D(vwap),
        volume=volume,
        avg_volume=avg_volume,
        prev_close=None if prev_close is None else D(prev_close),
        bid=D(price) - D("0.01"),
        ask=D(price) + D("0.01"),
        quote_ts=TS,
        sector="Tech",
        market_cap=None if cap is None else D(cap),
    )


def ranked(strategy: str, snapshots: list[SymbolSnapshot], pool: int = 20) -> list[str]:
    return [c.symbol for c in rank_candidates(strategy, snapshots, pool_size=pool, **BAND)]


def test_open_ranks_by_gap_times_relative_volume() -> None:
    snapshots = [
        snap("GAPUP", open_="104", volume=500_000),  # 0.04 x 0.5 = 0.02
        snap("GAPDN", open_="97", volume=2_000_000),  # 0.03 x 2 = 0.06
        snap("FLAT", open_="100", volume=9_000_000),  # 0
        snap("LOUD", open_="102", volume=1_500_000),  # 0.02 x 1.5 = 0.03
    ]
    candidates = rank_candidates("open", snapshots, pool_size=20, **BAND)
    assert [c.symbol for c in candidates] == ["GAPDN", "LOUD", "GAPUP", "FLAT"]
    assert [c.rank for c in candidates] == [1, 2, 3, 4]
    assert candidates[0].fitness == D("0.06")
    assert candidates[0].reason.startswith("open: |gap| 0.0300 x relvol 2.0000")


def test_mid_ranks_by_absolute_vwap_deviation() -> None:
    snapshots = [
        snap("ABOVE", price="103", vwap="100"),  # 0.03
        snap("BELOW", price="95", vwap="100"),  # 0.05
        snap("ON", price="100", vwap="100"),  # 0
        snap("NOVWAP", price="90", vwap=None),
    ]
    assert ranked("mid", snapshots) == ["BELOW", "ABOVE", "ON"]


def test_close_ranks_by_extreme_closeness_times_momentum() -> None:
    snapshots = [
        # at the high, +5 % since the open: 1.0 x 0.05
        snap("HOD", price="105", open_="100", high="105", low="99"),
        # 10 % of the range above the low, -4 % since the open: 0.9 x 0.04 = 0.036
        snap("LOD", price="96.6", open_="100.625", high="102", low="96"),
        # mid-range, +5 %: 0.5 x 0.05 = 0.025
        snap("MIDR", price="105", open_="100", high="110", low="100"),
        # no range at all
        snap("STILL", price="100", open_="100", high="100", low="100"),
    ]
    candidates = rank_candidates("close", snapshots, pool_size=20, **BAND)
    assert [c.symbol for c in candidates] == ["HOD", "LOD", "MIDR", "STILL"]
    assert candidates[0].fitness == D("0.05")
    assert "near hod" in candidates[0].reason
    assert "near lod" in candidates[1].reason


def test_ties_are_broken_by_symbol_whatever_the_input_order() -> None:
    a = [snap("ZED", price="102"), snap("ALPHA", price="102"), snap("MID", price="98")]
    assert ranked("mid", a) == ranked("mid", list(reversed(a))) == ["ALPHA", "MID", "ZED"]


def test_only_gap_and_cap_filters_apply() -> None:
    snapshots = [
        snap("WIDE", open_="111", prev_close="100"),  # gap 11 % > 10 %
        snap("EDGE", open_="110", prev_close="100"),  # gap exactly 10 %: kept
        snap("SMALL", cap="2.99E8"),
        snap("LARGE", cap="1.01E10"),
        snap("NOCAP", cap=None),
        snap("NOPREV", prev_close=None),
    ]
    assert ranked("open", snapshots) == ["EDGE"]
    reasons = {s.symbol: exclusion_reason("open", s, **BAND) for s in snapshots}
    assert reasons == {
        "WIDE": "gap_too_large",
        "EDGE": None,
        "SMALL": "market_cap_out_of_band",
        "LARGE": "market_cap_out_of_band",
        "NOCAP": "no_market_cap",
        "NOPREV": "no_prev_close",
    }


def test_pool_is_cut_to_size_and_frozen() -> None:
    snapshots = [snap(f"S{i:02d}", price=str(100 + i)) for i in range(30)]
    candidates = rank_candidates("mid", snapshots, pool_size=4 * 5, **BAND)
    assert len(candidates) == 20
    assert candidates[0].symbol == "S29"
    with pytest.raises(dataclasses.FrozenInstanceError):
        candidates[0].rank = 2  # type: ignore[misc]
    record = candidates[0].to_record()
    assert record["rank"] == 1
    assert record["fitness"] == str(candidates[0].fitness)
    assert record["quote_ts"] == "2025-07-15T13:50:00.000Z"
    assert set(record) >= {
        "symbol",
        "price",
        "open",
        "high",
        "low",
        "vwap",
        "volume",
        "bid",
        "ask",
        "sector",
        "market_cap",
    }


def test_bad_calls_are_refused() -> None:
    with pytest.raises(LogicError, match="strategy"):
        rank_candidates("lunch", [snap("A")], pool_size=1, **BAND)
    with pytest.raises(LogicError, match="repeat"):
        rank_candidates("mid", [snap("A"), snap("A")], pool_size=1, **BAND)
    with pytest.raises(LogicError, match="pool_size"):
        rank_candidates("mid", [snap("A")], pool_size=0, **BAND)
    assert rank_candidates("mid", [], pool_size=20, **BAND) == []
