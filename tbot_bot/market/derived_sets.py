"""Data sets derived from the real files: `msft_1m/` and `universe/sp500_universe.csv`.

`msft_1m` keeps the real MSFT minute bars (rounded to 4 dp, trailing zeros dropped) and the real
daily bars of `MSFT_D1.csv`; only the VIX series and the reference row's cap, fundamentals and
flags are synthetic, and they say so. The universe file keeps the real prices and volumes of the
524 S&P 500 symbols (2009-2010) and adds seeded synthetic caps, exchanges and flags (trading spec
§10, LOCAL_FILE columns).

Unit check: `SP500_ind.csv` stores volume in lots of 100 shares. This is verified against the
independent bokeh MSFT daily volumes (unadjusted shares) before scaling; a different ratio stops
the build instead of writing volumes that are off by 100x.
"""

from __future__ import annotations

import csv
import gzip
import statistics
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from tbot_bot.config.path_resolver import ReplaySetFiles
from tbot_bot.errors import DataError
from tbot_bot.market import synthetic_paths as paths
from tbot_bot.market.data_writers import (
    CentsText,
    csv_text,
    format_4dp,
    quoted_csv_text,
    ts_text,
    write_json,
    write_text,
)
from tbot_bot.market.minute_source import SLOTS, MinuteSource
from tbot_bot.market.synthetic_data import DAILY_HEADER, REFERENCE_HEADER, vix_rows

DAILY_HISTORY = 250  # real daily sessions kept before the first replayed session
SP500_VOLUME_LOT = 100
_UNIVERSE_STREAM = 6
_MSFT_STREAM = 7


def _read_csv(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc


# -- msft_1m -------------------------------------------------------------------------------------


def _msft_daily(daily_csv: Path, source: MinuteSource) -> list[tuple[str, ...]]:
    """Real daily rows up to the last session; a session D1 lacks is aggregated from minutes."""
    last = source.dates[-1].isoformat()
    first = source.dates[0].isoformat()
    real = {row["date"]: row for row in _read_csv(daily_csv) if row["date"] <= last}
    before = sorted(day for day in real if day < first)[-DAILY_HISTORY:]
    rows: list[tuple[str, ...]] = []
    for day in before + [d.isoformat() for d in source.dates]:
        row = real.get(day)
        if row is not None:
            prices = [format_4dp(float(row[k])) for k in ("open", "high", "low", "close")]
            rows.append((day, *prices, str(int(float(row["volume"]))), "false", "real_daily"))
            continue
        minutes = [r for r in source.rows if r.ts_utc.date().isoformat() == day]
        rows.append(
            (
                day,
                format_4dp(minutes[0].open),
                format_4dp(max(r.high for r in minutes)),
                format_4dp(min(r.low for r in minutes)),
                format_4dp(minutes[-1].close),
                str(sum(r.volume for r in minutes)),
                "false",
                "minute_aggregate",
            )
        )
    return rows


def _partial_sessions(source: MinuteSource) -> dict[str, str]:
    notes = {}
    for index, item in enumerate(source.sessions):
        present = np.flatnonzero(np.isfinite(source.close[index, : item.minutes]))
        if len(present) < item.minutes:
            first, last = int(present[0]), int(present[-1])
            notes[item.session.isoformat()] = (
                f"{len(present)} of {item.minutes} bars (minutes {first}-{last} after the open)"
            )
    return notes


def build_msft_set(
    source: MinuteSource, daily_csv: Path, out_dir: Path, inputs: dict[str, Any], seed: int = 42
) -> dict[str, Any]:
    """Write `msft_1m` into `out_dir` (an empty staging folder); returns its manifest."""
    files = ReplaySetFiles(out_dir)
    bars = [
        (
            ts_text(r.ts_utc),
            format_4dp(r.open),
            format_4dp(r.high),
            format_4dp(r.low),
            format_4dp(r.close),
            str(r.volume),
        )
        for r in source.rows
    ]
    write_text(
        files.bars_file("MSFT"),
        csv_text(("ts_utc", "open", "high", "low", "close", "volume"), bars),
    )
    daily = _msft_daily(daily_csv, source)
    write_text(files.daily_file("MSFT"), csv_text(DAILY_HEADER, daily))
    # VIX needs a full-session market path: fill missing minutes of partial sessions.
    closes = np.rint(source.close * 100.0)
    for index in range(len(closes)):
        row = closes[index]
        valid = np.flatnonzero(np.isfinite(row))
        row[: valid[0]] = row[valid[0]]
        for slot in range(valid[0] + 1, SLOTS):
            if not np.isfinite(row[slot]):
                row[slot] = row[slot - 1]
    vix = vix_rows(closes.astype(np.int64), list(source.sessions), 0, seed, CentsText())
    write_text(files.vix_file, csv_text(("ts_utc", "value", "synthetic"), vix))
    first = source.dates[0].isoformat()
    prior = [row for row in daily if row[0] < first][-20:]
    reference = [
        (
            "MSFT",
            "NASDAQ",
            "common",
            prior[-1][4],
            "9500000000",
            prior[-1][5],
            str(sum(int(row[5]) for row in prior) // len(prior)),
            "Microsoft Corporation",
            "Information Technology",
            "Software",
            "true",
            "true",
            "30.00",
            "0.45",
            "true",
        )
    ]
    write_text(files.reference_file, quoted_csv_text(REFERENCE_HEADER, reference))
    manifest = {
        "name": "msft_1m",
        "source": f"real MSFT 1-minute and daily bars from {inputs['package']} "
        "(MSFT_T1.csv, MSFT_D1.csv)",
        "synthetic": False,
        "seed": seed,
        "sessions": [d.isoformat() for d in source.dates],
        "symbols": ["MSFT"],
        "synthetic_parts": [
            "vix.csv",
            "reference.csv: marketCap, pe_ratio, debt_equity, fractionable, shortable",
        ],
        "partial_sessions": _partial_sessions(source),
        "inputs": inputs,
        "notes": "marketCap is synthetic and set inside the default universe band (300M-10B) so "
        "the default settings can trade MSFT; prices rounded to 4 dp; daily/ holds full-day rows "
        "of the replayed sessions too: use rows before a session only.",
    }
    write_json(files.manifest_file, manifest)
    return manifest


# -- S&P 500 universe ----------------------------------------------------------------------------


def _check_volume_unit(by_symbol: dict[str, list[dict[str, str]]], bokeh_csv: Path) -> float:
    """Median ratio bokeh MSFT volume / SP500_ind MSFT volume on common dates (expect 100)."""
    bokeh = {
        row["Date"].replace("-", ""): int(row["Volume"])
        for row in _read_csv(bokeh_csv)
        if row["Ticker"] == "MSFT"
    }
    ratios = [
        bokeh[row["Date"]] / int(row["Volume"])
        for row in by_symbol.get("MSFT", [])
        if row["Date"] in bokeh and int(row["Volume"]) > 0
    ]
    ratio = statistics.median(ratios) if ratios else 0.0
    if not 0.9 * SP500_VOLUME_LOT <= ratio <= 1.1 * SP500_VOLUME_LOT:
        raise DataError(
            f"SP500_ind.csv volume unit check failed: bokeh/SP500 MSFT volume ratio {ratio:.1f} "
            f"over {len(ratios)} days, expected ~{SP500_VOLUME_LOT}"
        )
    return ratio


def _names(xml_path: Path) -> dict[str, tuple[str, str, str]]:
    # The XML comes from a hash-pinned sdist verified before extraction, not from users.
    root = ElementTree.parse(xml_path).getroot()  # noqa: S314
    return {
        node.get("ticker", ""): (
            node.get("name", ""),
            node.get("sector", ""),
            node.get("industry", ""),
        )
        for node in root.iter("symbol")
    }


def build_universe(
    sp500_csv: Path,
    xml_path: Path,
    bokeh_csv: Path,
    out_dir: Path,
    inputs: dict[str, Any],
    seed: int = 42,
) -> dict[str, Any]:
    """Write `sp500_universe.csv` and its manifest into `out_dir`; returns the manifest."""
    by_symbol: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in _read_csv(sp500_csv):
        by_symbol[row["Symbol"]].append(row)
    ratio = _check_volume_unit(by_symbol, bokeh_csv)
    names = _names(xml_path)
    rows: list[tuple[str, ...]] = []
    as_of = ""
    for index, symbol in enumerate(sorted(by_symbol)):
        history = sorted(by_symbol[symbol], key=lambda row: row["Date"])
        last, recent = history[-1], history[-20:]
        as_of = max(as_of, last["Date"])
        avg = sum(int(row["Volume"]) for row in recent) * SP500_VOLUME_LOT // len(recent)
        rng = paths.stream(seed, _UNIVERSE_STREAM, index)
        draws = rng.random(4)
        cap = int(np.exp(rng.uniform(np.log(1.0e9), np.log(3.0e11)))) // 1000 * 1000
        company, sector, industry = names.get(symbol, ("", "", ""))
        rows.append(
            (
                symbol,
                "NYSE" if draws[0] < 0.6 else "NASDAQ",
                "common",
                format_4dp(float(last["Close"])),
                str(cap),
                str(int(last["Volume"]) * SP500_VOLUME_LOT),
                str(avg),
                company,
                sector,
                industry,
                "true" if draws[1] < 0.9 else "false",
                "true" if draws[2] < 0.9 else "false",
                f"{rng.uniform(5.0, 70.0):.2f}",
                f"{rng.uniform(0.0, 4.0):.2f}",
                "true",
            )
        )
    write_text(out_dir / "sp500_universe.csv", quoted_csv_text(REFERENCE_HEADER, rows))
    manifest = {
        "name": "universe/sp500",
        "source": f"real daily bars of {inputs['package']} (SP500_ind.csv, SP_500.xml)",
        "synthetic": True,
        "seed": seed,
        "symbols": [row[0] for row in rows],
        "as_of": date(int(as_of[:4]), int(as_of[4:6]), int(as_of[6:])).isoformat(),
        "real_fields": [
            "symbol",
            "lastClose",
            "volume",
            "avgVolume",
            "companyName",
            "sector",
            "industry",
        ],
        "synthetic_fields": [
            "marketCap",
            "exchange",
            "type",
            "fractionable",
            "shortable",
            "pe_ratio",
            "debt_equity",
        ],
        "volume_unit_check": {
            "lot_size": SP500_VOLUME_LOT,
            "bokeh_msft_median_ratio": round(ratio, 2),
        },
        "inputs": inputs,
    }
    write_json(out_dir / "manifest.json", manifest)
    return manifest
