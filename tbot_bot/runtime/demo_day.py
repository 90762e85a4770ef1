"""The demo trading day (ARCHITECTURE §5, trading spec §14): the README's main job.

Replays the latest full session of the demo data set (`SIM_DATA_SET`: the real MSFT minute bars
plus seeded synthetic symbols derived from MSFT's returns, labelled synthetic) on the SIM broker
under a FakeClock: universe build at the previous
session's 18:00, then OPEN, MID and CLOSE through the production day runner, with the ledger posted
from fills. Prints a progress bar, a summary table, every output path and an intraday equity chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tbot_bot.config.path_resolver import RuntimePaths, data_set_dir
from tbot_bot.errors import DataError
from tbot_bot.market.calendar import TradingCalendar
from tbot_bot.market.replay_data import load_data_set
from tbot_bot.reporting.charts import equity_chart
from tbot_bot.runtime.provisioning import load_runtime_config
from tbot_bot.runtime.sim_day import (
    book_opening_deposit,
    build_universe,
    full_sessions,
    make_setup,
    run_day,
)
from tbot_bot.trading.day_runner import DayResult


@dataclass
class DemoResult:
    trading_date: str
    synthetic: bool
    result: DayResult
    equity: list[tuple[datetime, Decimal]] = field(default_factory=list)
    chart: Path | None = None
    outputs: dict[str, Path] = field(default_factory=dict)


def run_demo(paths: RuntimePaths, console: Console | None = None) -> DemoResult:
    """Run the demo day in a provisioned demo home."""
    console = console or Console(stderr=True)
    config = load_runtime_config(paths)
    settings, identity = config.settings, config.identity
    data_path = data_set_dir(str(settings.SIM_DATA_SET))
    if not (data_path / "manifest.json").exists():
        raise DataError(f"demo data set missing at {data_path}: run `make data` first")
    data = load_data_set(data_path)
    outputs = paths.bot_outputs(identity.string)
    probe_calendar = TradingCalendar(data.sessions[0], data.sessions[-1])
    day = full_sessions(data, probe_calendar)[-1]
    setup = make_setup(
        paths, outputs, identity, settings, data, day, state_db_path=paths.state_db(identity.string)
    )
    universe = build_universe(setup)
    open_utc, close_utc = setup.calendar.session_bounds(day)
    equity: list[tuple[datetime, Decimal]] = []
    total_s = (close_utc - open_utc).total_seconds()
    with Progress(
        TextColumn("[bold]demo day {task.fields[day]}"),
        BarColumn(),
        TextColumn("{task.fields[clock]} UTC"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("day", total=total_s, day=day.isoformat(), clock="--:--")

        def on_tick(now: datetime) -> None:
            equity.append((now, setup.broker.get_account().equity))
            progress.update(
                task,
                completed=max(0.0, (now - open_utc).total_seconds()),
                clock=now.strftime("%H:%M"),
            )

        book_opening_deposit(setup)
        result = run_day(setup, day, universe, on_tick=on_tick)
        progress.update(task, completed=total_s, clock=close_utc.strftime("%H:%M"))
    chart = equity_chart(
        equity,
        outputs.intraday_equity_chart,
        f"{identity.string} intraday equity {day} (SIM, synthetic data)",
    )
    listing = {
        name: path
        for name, path in paths.layout(identity.string).items()
        if name.startswith(("log:", "ledger:"))
        or name in ("daily_summary", "trade_history_csv", "trade_history_json", "state_db")
    }
    listing["intraday_equity_chart"] = chart
    # The day's ledger export package (LEDGER_EXPORT_MODE=auto), written after the EOD sync.
    exports = outputs.exports_dir(day.strftime("%Y%m%d"))
    if exports.is_dir():
        for path in sorted(exports.iterdir()):  # {ID}_BOT_{kind}_{YYYYMMDD}.{ext}
            kind = path.stem.split("_BOT_", 1)[-1].rsplit("_", 1)[0]
            listing[f"export:{kind}{path.suffix}"] = path
    return DemoResult(day.isoformat(), bool(data.synthetic), result, equity, chart, listing)


def print_demo(console: Console, demo: DemoResult) -> None:
    summary = demo.result.summary
    table = Table(
        title=f"Demo day {demo.trading_date} on SIM"
        + (" (synthetic data)" if demo.synthetic else "")
    )
    for column in (
        "strategy",
        "pool",
        "signals",
        "entries",
        "fills",
        "realized P&L",
        "wins",
        "losses",
        "top blocks",
    ):
        table.add_column(column, overflow="fold")
    for name, stats in summary.get("strategies", {}).items():
        blocks = sorted(stats["blocks"].items(), key=lambda kv: -kv[1])[:3]
        table.add_row(
            name,
            str(stats["pool_size"]),
            str(stats["signals"]),
            str(stats["entries"]),
            str(stats["fills"]),
            stats["realized_pnl"],
            str(stats["wins"]),
            str(stats["losses"]),
            ", ".join(f"{k}:{v}" for k, v in blocks),
        )
    console.print(table)
    phases = Table(title="Phases")
    phases.add_column("phase")
    phases.add_column("status")
    phases.add_column("reason")
    for name, (status, reason) in demo.result.phases.items():
        phases.add_row(name, status, reason or "")
    console.print(phases)
    totals = summary.get("totals", {})
    console.print(
        f"trades: {totals.get('trades')}  realized P&L net of fees: "
        f"{totals.get('realized_pnl')}  fees: {totals.get('fees')}  open at close: "
        f"{len(summary.get('open_positions_at_close', []))}"
    )
    console.print("[bold]Output files[/bold]")
    width = max(len(name) for name in demo.outputs)
    for name, path in demo.outputs.items():
        # One line per file, never cut or wrapped inside the path: it can be copied as is.
        console.print(f"  {name:<{width}}  {path}", soft_wrap=True, highlight=False)
