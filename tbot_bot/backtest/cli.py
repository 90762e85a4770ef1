"""`tbot backtest` (web_runtime §1.1, trading spec §15).

    tbot backtest --from D --to D [--symbols S,... | --universe FILE] [--data SET]
        [--strategies open,mid,close] [--set KEY=VALUE ...] [--sweep KEY=a,b,c ...]
        [--executor local|ray|dask] [--workers N] [--chart-symbol S] [--home PATH]

Prints a progress bar (rich), then the metrics table and the run folder. Bad input exits 2 with
one line naming the option or settings key.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import ConfigError

PROGRESS_STEPS = 10_000


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `backtest` subcommand to the `tbot` parser."""
    cmd = sub.add_parser(
        "backtest",
        parents=[common],
        help="replay history through the session runner on SIM (trading spec §15)",
    )
    cmd.add_argument(
        "--from", dest="start", required=True, type=_date, metavar="D", help="first date"
    )
    cmd.add_argument("--to", dest="end", required=True, type=_date, metavar="D", help="last date")
    which = cmd.add_mutually_exclusive_group()
    which.add_argument("--symbols", help="comma list: only these symbols form the universe")
    which.add_argument("--universe", metavar="FILE", help="LOCAL_FILE universe (CSV or JSON)")
    cmd.add_argument("--data", metavar="SET", help="data set name under the data root, or a folder")
    cmd.add_argument("--strategies", help="comma list of open,mid,close (default: all)")
    cmd.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=".env_bot override on top of the defaults (repeatable)",
    )
    cmd.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="KEY=a,b,c",
        help="grid values of one key (repeatable: full grid); use | between values with commas",
    )
    cmd.add_argument(
        "--executor",
        choices=("local", "ray", "dask"),
        default="local",
        help="where sweep runs execute; ray/dask need `pip install ray` / `dask[distributed]`",
    )
    cmd.add_argument("--workers", type=int, default=None, help="sweep processes (default: CPUs)")
    cmd.add_argument("--chart-symbol", metavar="S", help="symbol of trades_<S>.png")
    cmd.set_defaults(handler=cmd_backtest)


def parse_overrides(items: Sequence[str]) -> dict[str, str]:
    """`KEY=VALUE` items; a key given twice is an error (which one was meant?)."""
    overrides: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        if key in overrides:
            raise ConfigError(f"--set {key} is given twice")
        overrides[key] = value
    return overrides


def _csv(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def request_from_args(args: argparse.Namespace) -> Any:
    from tbot_bot.backtest.config import BacktestRequest, is_folder

    data = args.data
    if data is not None and is_folder(data):
        data = str(Path(data).expanduser().resolve())  # sweep workers and config.json agree
    universe = str(Path(args.universe).expanduser().resolve()) if args.universe else None
    return BacktestRequest(
        start=args.start,
        end=args.end,
        data=data,
        symbols=tuple(s.upper() for s in _csv(args.symbols)),
        universe_file=universe,
        strategies=_csv(args.strategies.lower()) if args.strategies else None,
        overrides=parse_overrides(args.overrides),
        chart_symbol=args.chart_symbol.upper() if args.chart_symbol else None,
    )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]backtest {task.fields[label]}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def cmd_backtest(args: argparse.Namespace) -> int:
    from tbot_bot.backtest.engine import prepare, run_prepared  # heavy imports only here

    paths = RuntimePaths.for_home(args.home)
    request = request_from_args(args)
    console = Console(stderr=True)
    if args.sweep:
        return _sweep(args, paths, request, console)
    with console.status("loading and checking the data set"):
        prepared = prepare(request)
    with _progress(console) as progress:
        task = progress.add_task("run", total=PROGRESS_STEPS, label="setting up")

        def report(share: float, label: str) -> None:
            progress.update(task, completed=share * PROGRESS_STEPS, label=label)

        outcome = run_prepared(paths, prepared, progress=report)
    out = Console()
    out.print(metrics_table(outcome.metrics))
    errors = outcome.metrics.get("runner_errors") or 0
    if errors:
        out.print(
            f"[bold red]{errors} runner error(s) during the replay[/]: see "
            "logs/error_tracebacks.log in the run folder; the results are suspect."
        )
    out.print(f"run folder: {outcome.files.root}", soft_wrap=True)
    out.print(f"report:     {outcome.files.report_html}", soft_wrap=True)
    return 0


def _sweep(args: argparse.Namespace, paths: RuntimePaths, request: Any, console: Console) -> int:
    from tbot_bot.backtest.executors import make_executor
    from tbot_bot.backtest.sweep import expand_grid, parse_sweep, run_sweep

    grid = parse_sweep(args.sweep)
    combos = len(expand_grid(grid))
    workers = args.workers or min(combos, os.cpu_count() or 1)
    executor = make_executor(args.executor, workers)
    with _progress(console) as progress:
        task = progress.add_task("sweep", total=combos, label=f"sweep of {combos} runs")
        outcome = run_sweep(
            paths, request, grid, executor, on_done=lambda _index: progress.advance(task)
        )
    table = Table(title=f"Sweep {outcome.run_id} ({executor.name}, {workers} workers)")
    columns = ["run", *grid, "total_return", "sharpe", "max_drawdown", "trade_count", "error"]
    for column in columns:
        table.add_column(column)
    for row in outcome.rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    out = Console()
    out.print(table)
    out.print(f"sweep folder: {outcome.files.root}", soft_wrap=True)
    out.print(f"sweep.csv:    {outcome.files.sweep_csv}", soft_wrap=True)
    return 0 if not any(row.get("error") for row in outcome.rows) else 1


def metrics_table(metrics: dict[str, Any]) -> Table:
    from tbot_bot.backtest.metrics import METRIC_NAMES

    strategies = metrics.get("strategies", {})
    table = Table(title=f"Backtest {metrics.get('run_id')} ({metrics.get('sessions')} sessions)")
    for column in ("metric", "overall", *strategies):
        table.add_column(column)
    for name in METRIC_NAMES:
        values = [metrics["overall"].get(name), *(s.get(name) for s in strategies.values())]
        table.add_row(name, *("null" if v is None else str(v) for v in values))
    return table
