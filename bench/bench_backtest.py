"""Backtest throughput, memory and sweep scaling (run via `make bench`, never in the test suite).

1. Symbol-bars per second of a whole backtest (prepare: load and validate the bars, universe;
   execute: SIM set-up, the replay through the production day runner with ledger posting, the
   outputs) for MSFT alone (`msft_1m`), 100 and 500 synthetic symbols (`synthetic/bench500`, built
   with `ensure_synthetic_set` if missing; the 100 are its 100 largest-cap universe members), over
   all full sessions (or `--sessions N`). A symbol-bar is one 1-minute bar of one symbol of the
   SIM's market in a replayed session. Each case runs in a fresh process, so `peak_rss_mb`
   (ru_maxrss) is that case's own peak. Target: >= 200,000 symbol-bars/s in one process.
2. Sweep wall time of the same 2-combination grid on 1 versus 2 local worker processes.
3. `--profile CASE`: cProfile of one case, reported as the cumulative seconds of the hot spots.

Prints the numbers and the change against the previous run, and writes them as JSON to
`bench/results/backtest.json` (git-ignored).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchlib import git_commit, save_results

from tbot_bot.backtest.config import BacktestRequest, config_bytes, make_run_id
from tbot_bot.backtest.engine import execute, prepare
from tbot_bot.backtest.executors import LocalProcessExecutor
from tbot_bot.backtest.sweep import run_sweep
from tbot_bot.backtest.universe import select_universe
from tbot_bot.config.path_resolver import RuntimePaths, data_set_dir
from tbot_bot.market.data_fetch import ensure_synthetic_set
from tbot_bot.market.replay_data import load_data_set

RESULTS = Path(__file__).resolve().parent / "results" / "backtest.json"
TARGET = 200_000
FIRST, LAST = date(2022, 5, 18), date(2022, 6, 15)
CASES: dict[str, tuple[str, int | None]] = {  # name -> (data set, universe size; None = all)
    "msft": ("msft_1m", None),
    "synthetic_100": ("synthetic/bench500", 100),
    "synthetic_500": ("synthetic/bench500", None),
}
HOT_SPOTS: tuple[tuple[str, str, str], ...] = (
    ("load + validate bars", "market/bar_files.py", "read_bars_file"),
    ("load bars (cache)", "market/bars_cache.py", "load_bars"),
    ("SIM broker set-up", "broker/sim/broker.py", "__init__"),
    ("day runner (all phases)", "trading/day_runner.py", "run"),
    ("pool formation", "trading/session_runner.py", "_form_pool"),
    ("  tapes of every universe symbol", "trading/pool.py", "build_tapes"),
    ("entries per tick", "trading/entries.py", "tick"),
    ("exits per tick", "trading/exits.py", "manage"),
    ("market data per tick", "trading/session_runner.py", "_market"),
    ("broker polling per tick", "trading/session_runner.py", "_broker_work"),
    ("hard exits", "trading/hard_exit.py", "close_out"),
    ("ledger posting per fill", "trading/ledger_poster.py", "post"),
    ("  ledger snapshots", "accounting/snapshots.py", "take"),
    ("broker sync after phases", "trading/ledger_poster.py", "sync"),
    ("trade history rewrites", "reporting/trade_history.py", "flush"),
    ("daily summary rewrites", "trading/day_summary_writer.py", "write_day_summary"),
    ("equity sampling", "backtest/engine.py", "sample"),
    ("outputs: csv, metrics, charts, html", "backtest/artifacts.py", "write_artifacts"),
    ("exchange calendar tables", "market/calendar.py", "_session_table"),
    ("fsync (all callers)", "~", "<built-in method posix.fsync>"),
)


def case_request(name: str, sessions: int | None) -> BacktestRequest:
    data_name, size = CASES[name]
    if data_name.startswith("synthetic/"):
        ensure_synthetic_set(data_name.split("/", 1)[1], 500)
    data = load_data_set(data_set_dir(data_name))
    last = LAST if sessions is None else data.sessions[min(sessions, len(data.sessions)) - 1]
    base = BacktestRequest(FIRST, last, data=data_name)
    if size is None:
        return base
    from tbot_bot.backtest.config import resolve_settings

    universe = select_universe(data, resolve_settings(base))
    return BacktestRequest(FIRST, last, data=data_name, symbols=tuple(universe.symbols[:size]))


def run_case(name: str, sessions: int | None) -> dict[str, Any]:
    """One backtest, timed by stage (this process only)."""
    request = case_request(name, sessions)
    marks: list[float] = []
    cpu_started = time.process_time()
    started = time.perf_counter()
    prepared = prepare(request)
    prepared_at = time.perf_counter()
    content = config_bytes(prepared.document())
    with tempfile.TemporaryDirectory() as home:
        files = RuntimePaths.for_home(home).backtest_files(make_run_id(content, datetime.now(UTC)))
        outcome = execute(
            files, prepared, content, progress=lambda _s, _l: marks.append(time.perf_counter())
        )
    finished = time.perf_counter()
    cpu_s = time.process_time() - cpu_started
    bars = sum(
        len(prepared.market.bars_for_session(symbol, day))
        for symbol in prepared.market.symbols
        for day in prepared.sessions
    )
    total_s = finished - started
    replay_s = (marks[-1] - marks[0]) if len(marks) > 1 else finished - prepared_at
    return {
        "data_set": prepared.data.name,
        "sessions": len(prepared.sessions),
        "universe_symbols": len(prepared.universe.symbols),
        "market_symbols": len(prepared.market.symbols),
        "symbol_bars": bars,
        "trades": len(outcome.trades),
        "prepare_s": round(prepared_at - started, 2),
        "setup_s": round(marks[0] - prepared_at, 2) if marks else None,
        "replay_s": round(replay_s, 2),
        "outputs_s": round(finished - marks[-1], 2) if marks else None,
        "total_s": round(total_s, 2),
        "symbol_bars_per_s": round(bars / total_s),
        "cpu_s": round(cpu_s, 2),
        "symbol_bars_per_cpu_s": round(bars / cpu_s),
        "symbol_bars_per_s_replay_only": round(bars / replay_s) if replay_s > 0 else None,
        "s_per_session_replay": round(replay_s / max(1, len(prepared.sessions)), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run_case_in_child(name: str, sessions: int | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--case", name]
    if sessions is not None:
        command += ["--sessions", str(sessions)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def bench_sweep(sessions: int) -> dict[str, Any]:
    """The same 2-combination grid (demo data) on 1 and on 2 worker processes."""
    data = load_data_set(data_set_dir("synthetic/demo"))
    request = BacktestRequest(data.sessions[1], data.sessions[sessions], data="synthetic/demo")
    grid = {"STRAT_OPEN_BUFFER": ["0.02", "0.03"]}
    results: dict[str, Any] = {"grid": grid, "sessions": sessions, "cpus": os.cpu_count()}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as home:
            started = time.perf_counter()
            outcome = run_sweep(
                RuntimePaths.for_home(home), request, grid, LocalProcessExecutor(workers)
            )
            results[f"wall_s_{workers}_process"] = round(time.perf_counter() - started, 2)
            assert all(not row.get("error") for row in outcome.rows), outcome.rows  # noqa: S101
    results["speedup"] = round(results["wall_s_1_process"] / results["wall_s_2_process"], 2)
    return results


def profile_case(name: str, sessions: int | None, top: int) -> dict[str, Any]:
    profiler = cProfile.Profile()
    profiler.enable()
    run_case(name, sessions)
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = max(entry[3] for entry in raw.values())
    spots: dict[str, float] = {}
    for label, file_part, function in HOT_SPOTS:
        seconds = sum(
            entry[3]
            for (filename, _line, func), entry in raw.items()
            if func == function and filename.endswith(file_part)
        )
        spots[label] = round(seconds, 2)
    ranked = sorted(raw.items(), key=lambda item: -item[1][2])[:top]
    return {
        "case": name,
        "sessions": sessions,
        "profiled_total_s": round(total, 2),
        "cumulative_s": spots,
        "top_self_time": [
            {"function": f"{Path(key[0]).name}:{key[1]}({key[2]})", "self_s": round(v[2], 2)}
            for key, v in ranked
        ],
    }


def compare(previous: dict[str, Any], current: dict[str, Any]) -> None:
    for name, values in current.get("cases", {}).items():
        for key in ("symbol_bars_per_s", "symbol_bars_per_cpu_s", "peak_rss_mb"):
            old = previous.get("cases", {}).get(name, {}).get(key)
            new = values.get(key)
            if isinstance(new, int | float) and isinstance(old, int | float) and old:
                print(f"  {name}.{key}: {old} -> {new} ({(new - old) / old:+.1%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), help="run one case here, print JSON")
    parser.add_argument("--sessions", type=int, default=None, help="replay the first N only")
    parser.add_argument("--profile", choices=sorted(CASES), help="profile one case")
    parser.add_argument("--sweep-sessions", type=int, default=2)
    parser.add_argument("--skip-sweep", action="store_true")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.sessions)))
        return
    if args.profile:
        profile = profile_case(args.profile, args.sessions, 25)
        print(json.dumps(profile, indent=2))
        if RESULTS.is_file():  # keep the latest profile next to the numbers it explains
            stored = json.loads(RESULTS.read_text(encoding="utf-8"))
            stored.setdefault("profiles", {})[args.profile] = profile
            RESULTS.write_text(json.dumps(stored, indent=2) + "\n", encoding="utf-8")
        return
    results: dict[str, Any] = {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "target_symbol_bars_per_s": TARGET,
        "cases": {},
    }
    for name in CASES:
        results["cases"][name] = run_case_in_child(name, args.sessions)
        print(name, json.dumps(results["cases"][name]))
    if not args.skip_sweep:
        results["sweep"] = bench_sweep(args.sweep_sessions)
        print("sweep", json.dumps(results["sweep"]))
    for name, values in results["cases"].items():
        rate = values["symbol_bars_per_s"]
        verdict = "meets" if rate >= TARGET else "BELOW"
        print(f"{name}: {rate:,} symbol-bars/s end to end ({verdict} {TARGET:,}/s)")
    save_results("backtest", results, compare)


if __name__ == "__main__":
    main()
