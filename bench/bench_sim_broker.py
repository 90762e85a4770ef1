"""SIM broker throughput and order-journal cost (run via `make bench`, never in the test suite).

1. SIM round trips: submit a market order, move the FakeClock to the next bar, fetch the fill.
   Target >= 20,000 round trips per second in process.
2. Journal cost: the same round trip through `OrderManager` + `OrderJournal` on a real state
   database (WAL, synchronous=FULL): four commits per order (new, in_flight, accepted, fill).

Prints the numbers and the change against the previous run, and writes them as JSON to
`bench/results/sim_broker.json` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchlib import git_commit, save_results

from tbot_bot.broker.models import FillReport, OrderRequest, OrderSide, OrderType
from tbot_bot.broker.sim.broker import SimBroker
from tbot_bot.broker.sim.fill_model import FillModelConfig
from tbot_bot.broker.sim.replay import ListReplay
from tbot_bot.clock import FakeClock
from tbot_bot.market.bars import Bar
from tbot_bot.trading import state_db
from tbot_bot.trading.order_journal import OrderJournal
from tbot_bot.trading.order_manager import OrderManager

START = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
STEP = timedelta(seconds=1)  # submit 1 s into a bar; the fill is due 0.5 s into the next one


def make_bars(count: int) -> list[Bar]:
    """A continuous minute series wobbling around 100 (sessions do not matter here)."""
    bars = []
    for i in range(count):
        price = Decimal(100) + Decimal(i % 50 - 25) / 100
        bars.append(Bar("MSFT", START + i * MINUTE, price, price + 1, price - 1, price, 10_000))
    return bars


def make_sim(bars: list[Bar]) -> tuple[SimBroker, FakeClock]:
    clock = FakeClock(START + STEP)
    config = FillModelConfig()  # spec defaults: rule_based slippage, 500 ms latency
    return SimBroker(ListReplay(bars), clock, config=config, starting_cash=Decimal(10**9)), clock


def request(i: int) -> OrderRequest:
    side = OrderSide.BUY if i % 2 == 0 else OrderSide.SELL  # keeps the position at 0 or 1
    return OrderRequest(f"B01-BENCH-{i:08d}", "MSFT", side, Decimal(1), OrderType.MARKET)


def bench_round_trips(count: int) -> dict[str, float]:
    """Submit -> advance one bar -> get_fills, `count` times."""
    sim, clock = make_sim(make_bars(count + 2))
    requests = [request(i) for i in range(count)]  # built outside the timed loop
    since: datetime | None = None
    fills: list[FillReport] = []
    began, cpu_began = time.perf_counter(), time.process_time()
    for order in requests:
        sim.submit_order(order)
        clock.advance(MINUTE)
        fills = sim.get_fills(since)
        since = fills[-1].ts_utc + timedelta(microseconds=1)
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    if len(sim.get_fills()) != count:
        raise RuntimeError(f"expected {count} fills, got {len(sim.get_fills())}")
    return {
        "round_trips": count,
        "seconds": round(elapsed, 4),
        "round_trips_per_s": round(count / elapsed, 1),
        "us_per_round_trip": round(elapsed / count * 1e6, 2),
        # CPU time of this process: stable when other processes share the machine
        "round_trips_per_cpu_s": round(count / cpu, 1),
    }


def bench_journal(count: int) -> dict[str, float]:
    """The same round trip through the order manager and the journal on disk."""
    sim, clock = make_sim(make_bars(count + 2))
    requests = [request(i) for i in range(count)]
    with tempfile.TemporaryDirectory(prefix="tbot_bench_") as folder:
        conn = state_db.connect(Path(folder) / "BENCH_STATE.db")
        manager = OrderManager(sim, OrderJournal(conn, clock), clock, sleep=lambda _s: None)
        submit_s = fill_s = 0.0
        for order in requests:
            t0 = time.perf_counter()
            manager.submit(order)
            t1 = time.perf_counter()
            clock.advance(MINUTE)
            applied = manager.poll_fills()
            fill_s += time.perf_counter() - t1
            submit_s += t1 - t0
            if len(applied) != 1:
                raise RuntimeError(f"order {order.client_order_id}: {len(applied)} fills applied")
        conn.close()
    total = submit_s + fill_s
    return {
        "orders": count,
        "commits_per_order": 4,
        "ms_per_order_submit": round(submit_s / count * 1e3, 3),
        "ms_per_order_fill": round(fill_s / count * 1e3, 3),
        "ms_per_order_total": round(total / count * 1e3, 3),
        "orders_per_s": round(count / total, 1),
    }


def compare(previous: dict[str, Any], current: dict[str, Any]) -> None:
    for section in ("sim", "journal"):
        for key, value in current[section].items():
            old = previous.get(section, {}).get(key)
            if isinstance(value, int | float) and isinstance(old, int | float) and old:
                print(f"  {section}.{key}: {old} -> {value} ({(value - old) / old:+.1%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=50_000)
    parser.add_argument("--journal-orders", type=int, default=1_000)
    args = parser.parse_args()
    bench_round_trips(2_000)  # warm-up: imports, caches, allocator
    results: dict[str, Any] = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "sim": bench_round_trips(args.round_trips),
        "journal": bench_journal(args.journal_orders),
        "target_round_trips_per_s": 20_000,
    }
    print(json.dumps(results, indent=2))
    rate = results["sim"]["round_trips_per_s"]
    print(f"SIM round trips: {rate:,.0f}/s ({'meets' if rate >= 20_000 else 'BELOW'} 20,000/s)")
    save_results("sim_broker", results, compare)


if __name__ == "__main__":
    main()
