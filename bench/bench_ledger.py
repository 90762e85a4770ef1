"""Ledger posting throughput and verify() cost (run via `make bench`, never in the test suite).

1. Posting with durable commits (WAL, synchronous=FULL): (a) the runner's path, one
   `Books.post` = one transaction per fill; (b) the sync's path, `Books.post_many` in batches
   (each batch one durable transaction, each fill atomic inside it). Target >= 5,000 fills/s.
2. `verify()` over a ledger of at least 1,000,000 splits (target < 10 s), normal and deep.
3. A diagnostic ceiling: the batched path again on a throw-away ledger whose integrity triggers
   were dropped. It shows how much of the cost is the database enforcing the books (the spec's
   triggers) versus the rows every fill must write (event, splits, seal, trade, lots/closures,
   raw record, audit row) and the Python that builds them.

Everything runs in a throw-away runtime home under the system temp folder. Prints the numbers
and the change against the previous run, and writes them as JSON to `bench/results/ledger.json`.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchlib import git_commit, save_results

from tbot_bot.accounting import Books, normalize_activity, normalize_fill, open_books, verify
from tbot_bot.accounting.models import NormalizedRecord
from tbot_bot.broker.models import ActivityKind, ActivityReport, FillReport, OrderSide
from tbot_bot.clock import FakeClock
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import RuntimePaths

T0 = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)
IDENTITY = BotIdentity.from_codes("BENCH", "USA", "SIM", "01")
SYMBOLS = tuple(f"S{i:02d}" for i in range(10))
TARGET_FILLS_PER_S = 5_000
TARGET_VERIFY_S = 10.0


def fills(start: int, count: int) -> Iterator[NormalizedRecord]:
    """Round trips per symbol: buy 10, then sell 10 (3 and 4 legs with a fee), 1 ms apart."""
    for i in range(start, start + count):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        side = OrderSide.BUY if (i // len(SYMBOLS)) % 2 == 0 else OrderSide.SELL
        price = Decimal(10_000 + i % 997).scaleb(-2)
        report = FillReport(
            f"F{i}",
            None,
            f"O{i}",
            symbol,
            side,
            Decimal(10),
            price,
            Decimal("0.01"),
            T0 + timedelta(milliseconds=i),
        )
        yield normalize_fill(report, broker_code="SIM", account_id="BENCH", metadata=None)


def open_bench_books(home: Path) -> Books:
    paths = RuntimePaths.for_home(home)
    books = open_books(
        paths.bot_outputs(IDENTITY.string),
        IDENTITY,
        actor="bench",
        paths=paths,
        clock=FakeClock(T0 + timedelta(days=400)),
    )
    with books.session("fills"):
        funding = ActivityReport(
            "FUND", ActivityKind.DEPOSIT, Decimal("100000000.00"), T0 - timedelta(days=1)
        )
        books.post(normalize_activity(funding, broker_code="SIM", account_id="BENCH"))
    return books


# Dropped only by the diagnostic ceiling run; never in a real ledger. The indexes stay: the reads
# of every fill (dedup by external id, FIFO lots, chain heads) use them.
INTEGRITY_TRIGGERS: tuple[str, ...] = ("je_identity", "je_active", "le_fitid", "le_postable")
INTEGRITY_TRIGGERS += ("le_currency", "le_sealed", "seal_check", "lc_no_overclose")


def bench_posting_ceiling(batched: int, batch: int) -> dict[str, float]:
    """Batched posting with the integrity triggers dropped."""
    with tempfile.TemporaryDirectory(prefix="tbot_bench_ledger_") as home:
        books = open_bench_books(Path(home))
        try:
            for name in INTEGRITY_TRIGGERS:
                books.ledger.execute(f"DROP TRIGGER {name}")
            with books.session("fills"):
                records = list(fills(0, batched))
                began = time.perf_counter()
                for k in range(0, len(records), batch):
                    books.post_many(records[k : k + batch])
                elapsed = time.perf_counter() - began
        finally:
            books.close()
    return {"fills": batched, "batch_size": batch, "fills_per_s": round(batched / elapsed, 1)}


def bench_posting(single: int, batched: int, batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tbot_bench_ledger_") as home:
        books = open_bench_books(Path(home))
        try:
            with books.session("fills"):
                records = list(fills(0, single))
                began = time.perf_counter()
                for record in records:
                    books.post(record)
                single_s = time.perf_counter() - began
                records = list(fills(single, batched))
                began = time.perf_counter()
                for k in range(0, len(records), batch):
                    books.post_many(records[k : k + batch])
                batched_s = time.perf_counter() - began
        finally:
            books.close()
    return {
        "single_fills": single,
        "single_fills_per_s": round(single / single_s, 1),
        "single_ms_per_fill": round(single_s / single * 1000, 3),
        "batched_fills": batched,
        "batch_size": batch,
        "batched_fills_per_s": round(batched / batched_s, 1),
    }


def bench_verify(splits: int, batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tbot_bench_ledger_") as home:
        books = open_bench_books(Path(home))
        outputs, posted, began = books.outputs, 0, time.perf_counter()
        try:
            with books.session("fills"):
                while True:
                    count = books.ledger.execute("SELECT COUNT(*) FROM ledger_entries").fetchone()[
                        0
                    ]
                    if count >= splits:
                        break
                    books.post_many(list(fills(posted, batch)))
                    posted += batch
        finally:
            books.close()
        build_s = time.perf_counter() - began
        began = time.perf_counter()
        issues = verify(outputs, IDENTITY)
        verify_s = time.perf_counter() - began
        began = time.perf_counter()
        deep_issues = verify(outputs, IDENTITY, deep=True)
        deep_s = time.perf_counter() - began
        size = sum(p.stat().st_size for p in outputs.ledgers_dir.glob("*.db*"))
    if issues or deep_issues:
        raise SystemExit(f"verify found issues: {(issues + deep_issues)[:3]}")
    return {
        "splits": count,
        "events": posted + 1,
        "build_s": round(build_s, 1),
        "verify_s": round(verify_s, 2),
        "verify_deep_s": round(deep_s, 2),
        "files_mb": round(size / 2**20, 1),
    }


def compare(previous: dict[str, Any], current: dict[str, Any]) -> None:
    for section in ("posting", "posting_ceiling", "verify"):
        for key, value in current[section].items():
            old = previous.get(section, {}).get(key)
            if isinstance(value, int | float) and isinstance(old, int | float) and old:
                print(f"  {section}.{key}: {old} -> {value} ({(value - old) / old:+.1%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--single", type=int, default=3_000, help="fills posted one per transaction"
    )
    parser.add_argument("--batched", type=int, default=20_000, help="fills posted with post_many")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--splits", type=int, default=1_000_000, help="ledger size for verify")
    parser.add_argument("--skip-verify", action="store_true", help="posting numbers only")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "posting": bench_posting(args.single, args.batched, args.batch),
        "posting_ceiling": bench_posting_ceiling(args.batched, args.batch),
        "verify": {} if args.skip_verify else bench_verify(args.splits, 2_000),
        "targets": {"fills_per_s": TARGET_FILLS_PER_S, "verify_s": TARGET_VERIFY_S},
    }
    print(json.dumps(results, indent=2))
    posting, check = results["posting"], results["verify"]
    for label, rate in (
        ("one transaction per fill", posting["single_fills_per_s"]),
        (f"batches of {args.batch}", posting["batched_fills_per_s"]),
    ):
        verdict = "meets" if rate >= TARGET_FILLS_PER_S else "BELOW"
        print(f"posting, {label}: {rate:,.0f} fills/s ({verdict} {TARGET_FILLS_PER_S:,}/s)")
    print(
        f"posting without the database's integrity triggers (diagnostic): "
        f"{results['posting_ceiling']['fills_per_s']:,.0f} fills/s"
    )
    if check:
        verdict = "meets" if check["verify_s"] < TARGET_VERIFY_S else "ABOVE"
        print(
            f"verify over {check['splits']:,} splits: {check['verify_s']} s "
            f"({verdict} {TARGET_VERIFY_S} s)"
        )
    save_results("ledger_posting" if args.skip_verify else "ledger", results, compare)


if __name__ == "__main__":
    main()
