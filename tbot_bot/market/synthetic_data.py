"""Write a seeded synthetic replay data set (`synthetic/<name>/`, trading spec §14).

The set has ~n synthetic stocks (`SYNAA`, `SYNAB`, ...) plus `SPY` (the market path) and `SH` (its
exact inverse, the shipped catch-all bearish ETF), full regular sessions on the real MSFT session
dates, daily bars with `PRIOR_SESSIONS` sessions of history before the first replayed day (for the
20-day average volume), a VIX series and a LOCAL_FILE `reference.csv`. Everything is labelled:
`synthetic: true` in the manifest, a `synthetic` column in daily, VIX and reference rows.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from tbot_bot.config.path_resolver import ReplaySetFiles
from tbot_bot.market import synthetic_paths as paths
from tbot_bot.market.data_writers import (
    CentsText,
    csv_text,
    quoted_csv_text,
    ts_text,
    write_json,
    write_text,
)
from tbot_bot.market.minute_source import MinuteSource, SessionTimes, xnys_sessions
from tbot_bot.market.synthetic_paths import Bars, Instrument

GENERATOR_VERSION = "2"  # 2: the demo set also carries the real MSFT bars
PRIOR_SESSIONS = 30
DAILY_HEADER = ("date", "open", "high", "low", "close", "volume", "synthetic", "source")
BAR_HEADER = ("ts_utc", "open", "high", "low", "close", "volume")
REFERENCE_HEADER = (
    "symbol",
    "exchange",
    "type",
    "lastClose",
    "marketCap",
    "volume",
    "avgVolume",
    "companyName",
    "sector",
    "industry",
    "fractionable",
    "shortable",
    "pe_ratio",
    "debt_equity",
    "synthetic",
)
SECTORS: dict[str, tuple[str, ...]] = {
    "Information Technology": ("Software", "Semiconductors", "IT Services"),
    "Health Care": ("Biotechnology", "Health Care Equipment", "Pharmaceuticals"),
    "Financials": ("Regional Banks", "Insurance", "Capital Markets"),
    "Consumer Discretionary": ("Specialty Retail", "Hotels & Leisure", "Automotive Parts"),
    "Industrials": ("Machinery", "Aerospace & Defense", "Trucking"),
    "Energy": ("Oil & Gas Exploration", "Energy Equipment"),
    "Materials": ("Chemicals", "Metals & Mining"),
    "Consumer Staples": ("Food Products", "Household Products"),
    "Utilities": ("Electric Utilities", "Gas Utilities"),
    "Real Estate": ("REITs", "Real Estate Services"),
    "Communication Services": ("Interactive Media", "Entertainment"),
}
# Synthetic net assets (USD) in the marketCap column, so ETF records are never "missing cap".
ETF_NET_ASSETS: dict[str, str] = {"SPY": "375000000000", "SH": "2500000000"}
# Stream purposes (SeedSequence spawn keys): one independent stream each.
_MARKET, _PARAMS, _PATH, _REFERENCE, _VIX = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class SyntheticSpec:
    name: str
    n_symbols: int
    seed: int = 42


def synthetic_symbols(count: int) -> list[str]:
    """`SYNAA`, `SYNAB`, ... (676 at most): obviously not real tickers."""
    letters = string.ascii_uppercase
    if count > len(letters) ** 2:
        raise ValueError(f"at most {len(letters) ** 2} synthetic symbols, asked for {count}")
    return [f"SYN{letters[i // 26]}{letters[i % 26]}" for i in range(count)]


def _instrument(symbol: str, seed: int, index: int) -> Instrument:
    rng = paths.stream(seed, _PARAMS, index)
    draws = rng.random(5)
    # ~10 % of names trade below the 500,000-share default floor so the volume gate has work.
    volume = (
        np.exp(rng.uniform(np.log(8e5), np.log(1.2e7)))
        if draws[0] > 0.1
        else rng.uniform(1.5e5, 4.5e5)
    )
    return Instrument(
        symbol=symbol,
        base_price=float(np.exp(rng.uniform(np.log(8.0), np.log(120.0)))),
        volatility=float(np.exp(rng.uniform(np.log(1.0), np.log(2.4)))),
        beta=float(rng.uniform(0.6, 1.4)),
        daily_volume=float(volume),
        events=True,
    )


def session_stamps(sessions: list[SessionTimes]) -> list[list[str]]:
    """`ts_utc` text of every bar start, per session (shared by all symbols)."""
    return [
        [ts_text(item.open_utc + timedelta(minutes=slot)) for slot in range(item.minutes)]
        for item in sessions
    ]


def _write_bars(
    files: ReplaySetFiles,
    symbol: str,
    bars: Bars,
    stamps: list[list[str]],
    first: int,
    text: CentsText,
) -> None:
    lines = [",".join(BAR_HEADER)]
    for index in range(first, len(stamps)):
        columns = zip(
            stamps[index],
            bars.open[index].tolist(),
            bars.high[index].tolist(),
            bars.low[index].tolist(),
            bars.close[index].tolist(),
            bars.volume[index].tolist(),
            strict=False,  # a shorter (early-close) session uses the first minutes only
        )
        lines.extend(
            f"{ts},{text(o)},{text(h)},{text(lo)},{text(c)},{v}" for ts, o, h, lo, c, v in columns
        )
    write_text(files.bars_file(symbol), "\n".join(lines) + "\n")


def daily_rows(bars: Bars, sessions: list[SessionTimes], text: CentsText) -> list[tuple[str, ...]]:
    """Daily bars aggregated from the grid (each session cut to its calendar length)."""
    rows: list[tuple[str, ...]] = []
    for index, item in enumerate(sessions):
        cut = slice(0, item.minutes)
        rows.append(
            (
                item.session.isoformat(),
                text(int(bars.open[index, 0])),
                text(int(bars.high[index, cut].max())),
                text(int(bars.low[index, cut].min())),
                text(int(bars.close[index, item.minutes - 1])),
                str(int(bars.volume[index, cut].sum())),
                "true",
                "synthetic",
            )
        )
    return rows


def _reference_row(
    instrument: Instrument, daily: list[tuple[str, ...]], seed: int, index: int, etf: bool
) -> tuple[str, ...]:
    rng = paths.stream(seed, _REFERENCE, index)
    draws = rng.random(6)
    history = daily[-20:]
    avg_volume = sum(int(row[5]) for row in history) // len(history)
    sector = sorted(SECTORS)[int(draws[0] * len(SECTORS))]
    industries = SECTORS[sector]
    # Caps fall in the default universe band (300M-10B); ~85 % also clear the 2B guard floor.
    cap = rng.uniform(2.0e9, 9.5e9) if draws[1] > 0.15 else rng.uniform(3.5e8, 1.9e9)
    if etf:
        return (
            instrument.symbol,
            "NYSE_ARCA",
            "etf",
            daily[-1][4],
            ETF_NET_ASSETS[instrument.symbol],  # an ETF has no cap: its net assets stand in
            daily[-1][5],
            str(avg_volume),
            f"Synthetic {instrument.symbol} ETF",
            "",
            "",
            "true",
            "true",
            "",
            "",
            "true",
        )
    return (
        instrument.symbol,
        "NYSE" if draws[2] < 0.55 else "NASDAQ",
        "common",
        daily[-1][4],
        str(int(cap) // 1000 * 1000),
        daily[-1][5],
        str(avg_volume),
        f"Synthetic {instrument.symbol[3:]} Corp",
        sector,
        industries[int(draws[3] * len(industries))],
        "true" if draws[4] < 0.9 else "false",
        "true" if draws[5] < 0.85 else "false",
        f"{rng.uniform(6.0, 55.0):.2f}",
        f"{rng.uniform(0.05, 3.0):.2f}",
        "true",
    )


def vix_rows(
    market_close: np.ndarray[Any, Any],
    sessions: list[SessionTimes],
    first: int,
    seed: int,
    text: CentsText,
) -> list[tuple[str, ...]]:
    """Synthetic VIX per minute: a daily level in 19-34 that rises as the market falls."""
    rng = paths.stream(seed, _VIX)
    level = 27.0
    rows: list[tuple[str, ...]] = []
    for index in range(first, len(sessions)):
        item = sessions[index]
        level = float(np.clip(level + rng.normal(0.0, 1.5), 19.0, 34.0))
        closes = market_close[index, : item.minutes].astype(np.float64)
        moved = np.log(closes / closes[0])
        values = np.clip(level * np.exp(-5.0 * moved), 10.0, 80.0)
        for slot, value in enumerate(values[: item.minutes].tolist()):
            stamp = ts_text(item.open_utc + timedelta(minutes=slot))
            rows.append((stamp, text(round(value * 100)), "true"))
    return rows


def _per_session(flags: list[list[bool]], dates: list[str]) -> dict[str, int]:
    return {day: sum(column) for day, column in zip(dates, zip(*flags, strict=True), strict=True)}


def build_synthetic_set(
    source: MinuteSource, out_dir: Path, spec: SyntheticSpec, inputs: dict[str, Any]
) -> dict[str, Any]:
    """Generate the set into `out_dir` (an empty staging folder); returns its manifest."""
    replay = list(source.sessions)
    sessions = xnys_sessions(replay[0].session, replay[-1].session, prior=PRIOR_SESSIONS)
    if [s.session for s in sessions[PRIOR_SESSIONS:]] != [s.session for s in replay]:
        raise ValueError("the MSFT sessions are not consecutive XNYS sessions")
    features = paths.extract_features(source)
    market_rng = paths.stream(spec.seed, _MARKET)
    market = [paths.resample_session(features, market_rng) for _ in sessions]
    events = np.arange(len(sessions)) >= PRIOR_SESSIONS
    files, text = ReplaySetFiles(out_dir), CentsText()
    spy = Instrument("SPY", 410.0, paths.MARKET_SCALE, 1.0, 7.0e7, events=False)
    instruments = [
        _instrument(s, spec.seed, i) for i, s in enumerate(synthetic_symbols(spec.n_symbols))
    ]
    built: list[tuple[Instrument, Bars, bool]] = []
    spy_bars = paths.simulate_market(spy, market, features, paths.stream(spec.seed, _PATH, 9999))
    built.append((spy, spy_bars, True))
    built.append(
        (Instrument("SH", 15.5, 0.8, -1.0, 3.5e6, False), paths.inverse_of(spy_bars, 15.5), True)
    )
    for index, instrument in enumerate(instruments):
        rng = paths.stream(spec.seed, _PATH, index)
        built.append((instrument, paths.simulate(instrument, market, features, rng, events), False))
    reference, orb_up, orb_down, mid = [], [], [], []
    replayed = slice(PRIOR_SESSIONS, None)
    stamps = session_stamps(sessions)
    for index, (instrument, bars, etf) in enumerate(built):
        _write_bars(files, instrument.symbol, bars, stamps, PRIOR_SESSIONS, text)
        daily = daily_rows(bars, sessions, text)
        write_text(files.daily_file(instrument.symbol), csv_text(DAILY_HEADER, daily))
        reference.append(_reference_row(instrument, daily[:PRIOR_SESSIONS], spec.seed, index, etf))
        if not etf:
            up, down = paths.breakout_counts(bars, replayed)
            orb_up.append(up)
            orb_down.append(down)
            mid.append(paths.vwap_dislocations(bars, replayed))
    write_text(files.reference_file, quoted_csv_text(REFERENCE_HEADER, reference))
    vix = vix_rows(spy_bars.close, sessions, PRIOR_SESSIONS, spec.seed, text)
    write_text(files.vix_file, csv_text(("ts_utc", "value", "synthetic"), vix))
    dates = [item.session.isoformat() for item in replay]
    manifest = {
        "name": f"synthetic/{spec.name}",
        "source": "synthetic: seeded block bootstrap of real MSFT 1-minute log returns "
        f"({inputs.get('package', 'market-prices')} MSFT_T1.csv)",
        "synthetic": True,
        "seed": spec.seed,
        "sessions": dates,
        "symbols": [item.symbol for item, _, _ in built],
        "synthetic_parts": ["bars_1m/*", "daily/*", "vix.csv", "reference.csv"],
        "generator": {
            "version": GENERATOR_VERSION,
            "n_symbols": spec.n_symbols,
            "prior_sessions": PRIOR_SESSIONS,
            "block_minutes": paths.BLOCK,
            "orb_share": paths.ORB_SHARE,
            "mid_share": paths.MID_SHARE,
            "rng": "numpy Generator(PCG64(SeedSequence(seed, spawn_key=(purpose, index))))",
        },
        "inputs": inputs,
        "stats": {
            "orb_long_breakouts_per_session": _per_session(orb_up, dates),
            "orb_bearish_breakouts_per_session": _per_session(orb_down, dates),
            "mid_vwap_dislocations_per_session": _per_session(mid, dates),
        },
        "notes": "SPY is the synthetic market path, SH its exact inverse; daily/ starts "
        f"{PRIOR_SESSIONS} sessions before the first replayed session; "
        "use rows before a session only.",
    }
    write_json(files.manifest_file, manifest)
    return manifest
