"""A tiny replay data set on disk for backtest tests (trading spec §14 format, labelled synthetic).

One or more full sessions of 1-minute bars for a handful of symbols. `AAA` holds still through
OPEN's 20-minute analysis window, then climbs 5 % and falls back, so the OPEN strategy has a long
breakout signal with the default settings; the others drift on a seeded random walk.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

SESSIONS: tuple[date, ...] = (date(2025, 7, 14), date(2025, 7, 15))
SYMBOLS: tuple[str, ...] = ("AAA", "BBB", "CCC", "SH")
HEADER = "ts_utc,open,high,low,close,volume"
CENT = Decimal("0.01")


def session_open(day: date) -> datetime:
    """13:30 UTC: every session used here falls in US summer time with a regular close."""
    return datetime(day.year, day.month, day.day, 13, 30, tzinfo=UTC)


def _aaa_step(minute: int) -> Decimal:
    """Flat for the 20-minute opening range, +0.10/min to 42.00, back to 40.00, then flat."""
    if 20 <= minute < 40:
        return Decimal("0.10")
    if 40 <= minute < 60:
        return Decimal("-0.10")
    return Decimal(0)


def _walk(symbol: str, day: date, start: Decimal, seed: int) -> list[tuple[Decimal, ...]]:
    rng = random.Random(f"{seed}-{symbol}-{day}")
    rows: list[tuple[Decimal, ...]] = []
    price = start
    for minute in range(390):
        step = _aaa_step(minute) if symbol == "AAA" else Decimal(rng.randint(-6, 6)) * CENT
        close = max(price + step, Decimal(1))
        high = max(price, close) + Decimal("0.02")
        low = min(price, close) - Decimal("0.02")
        rows.append((price, high, low, close))
        price = close
    return rows


def bar_lines(symbol: str, day: date, start: Decimal, seed: int = 7) -> list[str]:
    opened = session_open(day)
    lines = []
    for minute, (o, h, lo, c) in enumerate(_walk(symbol, day, start, seed)):
        ts = (opened + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{ts},{o},{h},{lo},{c},{20000 + minute}")
    return lines


def write_data_set(
    root: Path,
    *,
    sessions: Sequence[date] = SESSIONS,
    symbols: Sequence[str] = SYMBOLS,
    name: str = "tiny",
) -> Path:
    """Write manifest, bars_1m/, vix.csv and reference.csv under `root`; returns `root`."""
    (root / "bars_1m").mkdir(parents=True, exist_ok=True)
    starts = {symbol: Decimal(40 + 10 * index) for index, symbol in enumerate(symbols)}
    for symbol in symbols:
        lines = [HEADER]
        for day in sessions:
            lines.extend(bar_lines(symbol, day, starts[symbol]))
        (root / "bars_1m" / f"{symbol}.csv").write_text("\n".join(lines) + "\n")
    vix = ["ts_utc,value"] + [f"{session_open(day):%Y-%m-%dT%H:%M:%SZ},22.5" for day in sessions]
    (root / "vix.csv").write_text("\n".join(vix) + "\n")
    reference = [
        "symbol,exchange,type,lastClose,marketCap,volume,avgVolume,sector,fractionable,"
        "shortable,pe_ratio,debt_equity,synthetic"
    ]
    for symbol in symbols:
        kind, exchange = ("etf", "NYSE_ARCA") if symbol == "SH" else ("common", "NYSE")
        reference.append(
            f"{symbol},{exchange},{kind},{starts[symbol]}.00,5000000000,8000000,8000000,"
            "Industrials,true,true,20,1.0,true"
        )
    (root / "reference.csv").write_text("\n".join(reference) + "\n")
    manifest = {
        "name": name,
        "source": "synthetic test bars (tbot_bot/test/unit/backtest/data_builder.py)",
        "synthetic": True,
        "seed": 7,
        "sessions": [day.isoformat() for day in sessions],
        "symbols": list(symbols),
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return root
