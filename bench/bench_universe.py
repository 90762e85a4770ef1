"""Universe filter, candidate ranking and a full LOCAL_FILE build (run via `make bench`).

1. Filter 10,000 seeded synthetic universe records with the default §12.3 settings and rank
   10,000 phase-start snapshots for each strategy (pool 20). Target: filter + rank < 50 ms.
2. A full build (stages 1-4, atomic publish) from the LOCAL_FILE provider: the 524-symbol S&P file
   of the data cache (skipped when absent) and a 10,000-row synthetic CSV, in a temporary home
   under a FakeClock after the close.

Prints the numbers and the change against the previous run, and writes them as JSON to
`bench/results/universe.json` (git-ignored).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchlib import git_commit, save_results

from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths, data_root
from tbot_bot.config.settings_schema import default_settings_record, validate_settings
from tbot_bot.market.calendar import TradingCalendar
from tbot_bot.screeners.build import UniverseBuilder
from tbot_bot.screeners.filters import UniverseCriteria, filter_universe
from tbot_bot.screeners.providers.local_file import LocalFileProvider
from tbot_bot.screeners.ranking import SymbolSnapshot, rank_candidates
from tbot_bot.screeners.records import UniverseRecord

AFTER_CLOSE = datetime(2025, 7, 15, 22, 0, tzinfo=UTC)
TARGET_MS = 50.0
EXCHANGES = ("NYSE", "NASDAQ", "NYSE_ARCA", "OTC")
HEADER = ("symbol", "exchange", "type", "lastClose", "marketCap", "volume", "avgVolume", "sector")


def settings() -> Any:
    return validate_settings(default_settings_record("SIM"), strict=True).settings


def synthetic_rows(count: int, seed: int = 42) -> list[dict[str, str]]:
    """Seeded rows: log-uniform caps 50M-500B, prices 0.5-800, mixed exchanges and types."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        cap = int(10 ** rng.uniform(7.7, 11.7)) // 1000 * 1000
        rows.append(
            {
                "symbol": f"S{i:05d}",
                "exchange": rng.choice(EXCHANGES),
                "type": "etf" if rng.random() < 0.1 else "common",
                "lastClose": f"{rng.uniform(0.5, 800):.2f}",
                "marketCap": str(cap),
                "volume": str(rng.randint(10_000, 50_000_000)),
                "avgVolume": str(rng.randint(10_000, 50_000_000)),
                "sector": rng.choice(("Tech", "Health", "Energy", "Financials")),
            }
        )
    return rows


def snapshots(count: int, seed: int = 7) -> list[SymbolSnapshot]:
    rng = random.Random(seed)
    result = []
    for i in range(count):
        prev = Decimal(f"{rng.uniform(5, 300):.2f}")
        open_ = (prev * Decimal(f"{rng.uniform(0.9, 1.1):.4f}")).quantize(Decimal("0.01"))
        low = (open_ * Decimal(f"{rng.uniform(0.95, 1):.4f}")).quantize(Decimal("0.01"))
        high = (open_ * Decimal(f"{rng.uniform(1, 1.05):.4f}")).quantize(Decimal("0.01"))
        price = (low + (high - low) * Decimal(f"{rng.random():.4f}")).quantize(Decimal("0.01"))
        result.append(
            SymbolSnapshot(
                symbol=f"S{i:05d}",
                price=price,
                open=open_,
                high=high,
                low=low,
                vwap=((high + low + price) / 3).quantize(Decimal("0.0001")),
                volume=rng.randint(1_000, 5_000_000),
                avg_volume=rng.randint(100_000, 20_000_000),
                prev_close=prev,
                bid=price - Decimal("0.01"),
                ask=price + Decimal("0.01"),
                quote_ts=AFTER_CLOSE,
                sector="Tech",
                market_cap=Decimal(int(10 ** rng.uniform(8, 11))),
            )
        )
    return result


def best_ms(action: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(best, median) wall time of `action` in milliseconds."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1e3)
    return round(min(times), 3), round(statistics.median(times), 3)


def bench_filter_rank(count: int, repeats: int) -> dict[str, Any]:
    config = settings()
    criteria = UniverseCriteria.from_settings(config)
    records = [UniverseRecord.from_json(row, "bench") for row in synthetic_rows(count)]
    snaps = snapshots(count)
    pool = config.MAX_TRADES * config.CANDIDATE_MULTIPLIER
    band = {
        "max_gap_pct": config.MAX_GAP_PCT_OPEN,
        "min_cap": config.MIN_MARKET_CAP_OPEN,
        "max_cap": config.MAX_MARKET_CAP_OPEN,
    }
    result: dict[str, Any] = {"symbols": count}
    result["filter_ms_best"], result["filter_ms_median"] = best_ms(
        lambda: filter_universe(records, criteria), repeats
    )
    result["kept"] = len(filter_universe(records, criteria).records)
    for strategy in ("open", "mid", "close"):

        def rank(name: str = strategy) -> object:
            return rank_candidates(name, snaps, pool_size=pool, **band)

        best, median = best_ms(rank, repeats)
        result[f"rank_{strategy}_ms_best"], result[f"rank_{strategy}_ms_median"] = best, median
    worst_rank = max(result[f"rank_{s}_ms_median"] for s in ("open", "mid", "close"))
    result["filter_plus_rank_ms"] = round(result["filter_ms_median"] + worst_rank, 3)
    result["target_ms"] = TARGET_MS
    result["meets_target"] = result["filter_plus_rank_ms"] < TARGET_MS
    return result


def bench_build(csv_path: Path, label: str) -> dict[str, Any]:
    """One full build from `csv_path` in a throwaway home (the file is read by the provider)."""
    with tempfile.TemporaryDirectory(prefix="tbot_bench_universe_") as folder:
        paths = RuntimePaths.for_home(folder)
        calendar = TradingCalendar(date(2025, 6, 1), date(2025, 8, 31))
        calendar.is_session(AFTER_CLOSE.date())  # build the calendar table outside the timing
        began = time.perf_counter()
        result = UniverseBuilder(
            paths, settings(), calendar, FakeClock(AFTER_CLOSE), [LocalFileProvider(csv_path)]
        ).build()
        elapsed = time.perf_counter() - began
        size = paths.screener_file("symbol_universe.json").stat().st_size
    if result.status != "published":
        raise RuntimeError(f"{label}: build {result.status}: {result.reason}")
    return {
        "source": label,
        "seconds": round(elapsed, 4),
        "counts": result.counts,
        "published_bytes": size,
        "symbols_per_s": round(result.counts["raw"] / elapsed, 1),
    }


def compare(previous: dict[str, Any], current: dict[str, Any]) -> None:
    for key, value in current["filter_rank"].items():
        old = previous.get("filter_rank", {}).get(key)
        if "_ms" in key and key != "target_ms" and isinstance(old, int | float) and old:
            print(f"  filter_rank.{key}: {old} -> {value} ({(value - old) / old:+.1%})")
    for name, build in current["builds"].items():
        old = previous.get("builds", {}).get(name, {}).get("seconds")
        if old:
            change = (build["seconds"] - old) / old
            print(f"  builds.{name}.seconds: {old} -> {build['seconds']} ({change:+.1%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    os.environ.setdefault("TBOT_HOME", tempfile.mkdtemp(prefix="tbot_bench_home_"))
    bench_filter_rank(1_000, 3)  # warm-up: imports, caches, allocator
    builds: dict[str, Any] = {}
    sp500 = data_root() / "universe" / "sp500_universe.csv"
    if sp500.is_file():
        builds["sp500_524"] = bench_build(sp500, "S&P 500 cache file (524 symbols)")
    with tempfile.TemporaryDirectory(prefix="tbot_bench_csv_") as folder:
        synthetic = Path(folder) / "synthetic_universe.csv"
        with open(synthetic, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=HEADER)
            writer.writeheader()
            writer.writerows(synthetic_rows(args.symbols))
        builds[f"synthetic_{args.symbols}"] = bench_build(synthetic, "seeded synthetic CSV")
    results: dict[str, Any] = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "filter_rank": bench_filter_rank(args.symbols, args.repeats),
        "builds": builds,
    }
    print(json.dumps(results, indent=2))
    total = results["filter_rank"]["filter_plus_rank_ms"]
    verdict = "meets" if total < TARGET_MS else "MISSES"
    print(f"filter + rank of {args.symbols:,} symbols: {total} ms ({verdict} < {TARGET_MS} ms)")
    save_results("universe", results, compare)


if __name__ == "__main__":
    main()
