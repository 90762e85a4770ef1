"""The files a finished backtest leaves in its run folder (trading spec §15).

`equity.csv` (`ts_utc, equity, cash` at every bar end of each phase and at each close),
`metrics.json` (overall and per strategy, see `metrics`), `equity_drawdown.png`,
`strategy_pnl.png`, `trades_<SYMBOL>.png` and the self-contained `report.html`.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tbot_bot.backtest.metrics import (
    EquityPoint,
    RoundTrip,
    compute_metrics,
    format_metrics,
    strategy_metrics,
)
from tbot_bot.backtest.report import render_report
from tbot_bot.clock import iso_utc, parse_iso_utc
from tbot_bot.config.fileio import OUTPUT_FILE_MODE, atomic_write_text
from tbot_bot.config.path_resolver import BacktestRunFiles
from tbot_bot.market.replay_data import ReplayDataSet
from tbot_bot.money import ZERO
from tbot_bot.reporting.charts import bar_chart, equity_drawdown_chart, trades_on_price_chart

if TYPE_CHECKING:
    from tbot_bot.backtest.engine import BacktestOutcome

METRICS_SCHEMA_VERSION = 1
EQUITY_COLUMNS = ("ts_utc", "equity", "cash")


@dataclass(frozen=True, slots=True)
class EquitySample:
    """Account equity and cash at one instant; `session` is 0 before the first session."""

    ts_utc: datetime
    equity: Decimal
    cash: Decimal
    session: int


def equity_csv_text(samples: Sequence[EquitySample]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EQUITY_COLUMNS)
    for sample in samples:
        writer.writerow((iso_utc(sample.ts_utc), str(sample.equity), str(sample.cash)))
    return buffer.getvalue()


def round_trips(trades: Sequence[dict[str, Any]]) -> list[RoundTrip]:
    """Closed trade-history records with a P&L (rejected/unfilled entries are not round trips)."""
    trips = []
    for record in trades:
        if record.get("status") != "closed" or record.get("PnL") in (None, ""):
            continue
        if not record.get("entry_timestamp") or not record.get("exit_timestamp"):
            continue
        trips.append(
            RoundTrip(
                str(record["strategy_name"]),
                Decimal(str(record["PnL"])),
                parse_iso_utc(str(record["entry_timestamp"])),
                parse_iso_utc(str(record["exit_timestamp"])),
            )
        )
    return trips


def strategy_names(settings: Any, trips: Sequence[RoundTrip]) -> list[str]:
    """The scheduled strategies plus any that traded, in day order."""
    order = ("open", "mid", "close")
    names = set(settings.STRATEGY_SEQUENCE) | {trip.strategy for trip in trips}
    return sorted(names, key=lambda name: (order.index(name) if name in order else 99, name))


def metrics_document(
    settings: Any,
    samples: Sequence[EquitySample],
    closes: Sequence[Decimal],
    trades: Sequence[dict[str, Any]],
    bounds: Sequence[tuple[datetime, datetime]],
    run_id: str,
    *,
    runner_errors: int = 0,
    unresolved_orders: int = 0,
) -> dict[str, Any]:
    """`metrics.json`: the §15 table overall and per strategy, 6-dp strings, null if undefined."""
    e0 = Decimal(settings.ACCOUNT_BALANCE)
    rate = Decimal(settings.RISK_FREE_RATE)
    trips = round_trips(trades)
    curve = [EquityPoint(s.ts_utc, s.equity, s.session) for s in samples]
    overall = compute_metrics(e0, closes, curve, trips, bounds, rate)
    start = samples[0].ts_utc if samples else bounds[0][0]
    per_strategy = {
        name: format_metrics(
            strategy_metrics(e0, [t for t in trips if t.strategy == name], bounds, rate, start)
        )
        for name in strategy_names(settings, trips)
    }
    return {
        "schema_version": METRICS_SCHEMA_VERSION,
        "run_id": run_id,
        "sessions": len(closes),
        "first_session_open_utc": iso_utc(bounds[0][0]) if bounds else None,
        "last_session_close_utc": iso_utc(bounds[-1][1]) if bounds else None,
        "starting_equity": str(e0),
        "final_equity": str(closes[-1]) if closes else None,
        "risk_free_rate": str(rate),
        "runner_errors": runner_errors,
        "unresolved_orders": unresolved_orders,
        "overall": format_metrics(overall),
        "strategies": per_strategy,
    }


def chart_symbol(requested: str | None, trades: Sequence[dict[str, Any]], fallback: str) -> str:
    """`--chart-symbol`, else the most traded symbol (ties alphabetical), else `fallback`."""
    if requested:
        return requested
    counts = Counter(str(t["symbol"]) for t in trades if t.get("status") == "closed")
    if not counts:
        return fallback
    return min(counts, key=lambda symbol: (-counts[symbol], symbol))


def _price_series(
    data: ReplayDataSet, symbol: str, sessions: Sequence[Any]
) -> list[tuple[datetime, Decimal]]:
    return [
        (bar.end_utc, bar.close) for day in sessions for bar in data.bars_for_session(symbol, day)
    ]


def _markers(
    trades: Sequence[dict[str, Any]], symbol: str, when: str, price: str
) -> list[tuple[datetime, Decimal]]:
    return [
        (parse_iso_utc(str(t[when])), Decimal(str(t[price])))
        for t in trades
        if t.get("symbol") == symbol and t.get(when) and t.get(price) not in (None, "")
    ]


def write_artifacts(
    files: BacktestRunFiles,
    settings: Any,
    data: ReplayDataSet,
    outcome: BacktestOutcome,
    bounds: Sequence[tuple[datetime, datetime]],
    *,
    requested_chart: str | None = None,
    universe: Sequence[str] = (),
) -> None:
    """equity.csv, metrics.json, the three charts and report.html."""
    atomic_write_text(files.equity_csv, equity_csv_text(outcome.equity), OUTPUT_FILE_MODE)
    closes = [day.equity_close for day in outcome.days]
    outcome.metrics = metrics_document(
        settings,
        outcome.equity,
        closes,
        outcome.trades,
        bounds,
        outcome.run_id,
        runner_errors=sum(day.errors for day in outcome.days),
        unresolved_orders=sum(day.unresolved_orders for day in outcome.days),
    )
    text = json.dumps(outcome.metrics, indent=2) + "\n"
    atomic_write_text(files.metrics_json, text, OUTPUT_FILE_MODE)
    title = f"{outcome.run_id} ({data.name}{', synthetic data' if data.synthetic else ''})"
    outcome.charts["equity_drawdown"] = equity_drawdown_chart(
        [(s.ts_utc, s.equity) for s in outcome.equity],
        files.equity_drawdown_png,
        f"Equity and drawdown {title}",
    )
    names = list(outcome.metrics["strategies"])
    pnl = {name: ZERO for name in names}
    for trip in round_trips(outcome.trades):
        pnl[trip.strategy] = pnl.get(trip.strategy, ZERO) + trip.pnl
    outcome.charts["strategy_pnl"] = bar_chart(
        list(pnl), list(pnl.values()), files.strategy_pnl_png, "Net P&L per strategy (USD)"
    )
    fallback = universe[0] if universe else data.symbols[0]
    symbol = chart_symbol(requested_chart, outcome.trades, fallback)
    if symbol not in data.symbols:  # e.g. a traded instrument outside the replayed market
        symbol = fallback
    outcome.charts[f"trades_{symbol}"] = trades_on_price_chart(
        _price_series(data, symbol, outcome.sessions),
        _markers(outcome.trades, symbol, "entry_timestamp", "entry_price"),
        _markers(outcome.trades, symbol, "exit_timestamp", "exit_price"),
        files.trades_chart(symbol),
        f"{symbol}: entries and exits {title}",
    )
    html = render_report(outcome, data, settings)
    atomic_write_text(files.report_html, html, OUTPUT_FILE_MODE)
