"""`report.html`: one self-contained page per backtest (trading spec §15).

Images are inlined as base64 data URIs and the style sheet is inline, so the file opens anywhere
without a network or the run folder next to it. Every value is HTML-escaped.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tbot_bot import __version__
from tbot_bot.backtest.metrics import METRIC_NAMES
from tbot_bot.market.replay_data import ReplayDataSet

if TYPE_CHECKING:
    from tbot_bot.backtest.engine import BacktestOutcome

TRADE_COLUMNS: tuple[str, ...] = (
    "trade_id",
    "trading_date",
    "strategy_name",
    "symbol",
    "direction",
    "entry_timestamp",
    "entry_price",
    "exit_timestamp",
    "exit_price",
    "size",
    "fees",
    "PnL",
    "exit_reason",
    "status",
)
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#1f2328}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #d0d7de;padding:.25em .6em;text-align:right}
th{background:#f6f8fa}td.l,th.l{text-align:left}
.neg{color:#d1242f}.pos{color:#1a7f37}.note{color:#57606a;font-size:.9em}
img{max-width:100%;border:1px solid #d0d7de;margin:.4em 0}
"""


def _cell(value: object, *, left: bool = False) -> str:
    text = "null" if value is None else str(value)
    classes = ["l"] if left else []
    if text.startswith("-") and text[1:2].isdigit():
        classes.append("neg")
    attr = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{attr}>{escape(text)}</td>"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]], left: int = 1) -> str:
    head = "".join(
        f'<th class="l">{escape(h)}</th>' if i < left else f"<th>{escape(h)}</th>"
        for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>" + "".join(_cell(v, left=i < left) for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def metrics_table(metrics: dict[str, Any]) -> str:
    strategies = metrics.get("strategies", {})
    header = ["metric", "overall", *strategies]
    rows = [
        [name, metrics["overall"].get(name), *(s.get(name) for s in strategies.values())]
        for name in METRIC_NAMES
    ]
    return _table(header, rows)


def sessions_table(outcome: BacktestOutcome) -> str:
    rows = []
    for day in outcome.days:
        phases = ", ".join(
            f"{name}:{status}" + (f" ({reason})" if reason else "")
            for name, (status, reason) in day.phases.items()
            if name in ("open", "mid", "close")
        )
        rows.append(
            [
                day.trading_date.isoformat(),
                phases,
                day.trades,
                day.realized_pnl,
                day.equity_close,
                day.cash_close,
                day.errors,
            ]
        )
    header = [
        "session",
        "phases",
        "trades",
        "realized P&L",
        "equity at close",
        "cash at close",
        "runner errors",
    ]
    return _table(header, rows, left=2)


def trades_table(trades: Sequence[dict[str, Any]]) -> str:
    if not trades:
        return '<p class="note">No trade reached the broker.</p>'
    rows = [[record.get(column) for column in TRADE_COLUMNS] for record in trades]
    return _table(TRADE_COLUMNS, rows, left=5)


def _errors_note(metrics: dict[str, Any]) -> str:
    errors = metrics.get("runner_errors") or 0
    if not errors:
        return ""
    return (
        f'<p class="neg"><b>{errors} runner error(s)</b> during the replay (see '
        "logs/error_tracebacks.log): the results below are suspect.</p>"
    )


def render_report(outcome: BacktestOutcome, data: ReplayDataSet, settings: Any) -> str:
    """The whole page as text."""
    metrics = outcome.metrics
    synthetic = (
        '<p class="note"><b>Synthetic data:</b> this data set is labelled synthetic in its '
        "manifest.</p>"
        if data.synthetic
        else ""
    )
    config = json.loads(outcome.files.config_json.read_text(encoding="utf-8"))
    overrides = config.get("overrides") or {}
    override_rows = [[key, value] for key, value in overrides.items()]
    images = "".join(_image(path, name) for name, path in outcome.charts.items())
    first = outcome.sessions[0].isoformat() if outcome.sessions else "-"
    last = outcome.sessions[-1].isoformat() if outcome.sessions else "-"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Backtest {escape(outcome.run_id)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Backtest {escape(outcome.run_id)}</h1>",
        f"<p>TradeBot {escape(__version__)}, identity {escape(str(config.get('identity')))}, "
        f"broker SIM, data set <b>{escape(data.name)}</b>, sessions {first} .. {last} "
        f"({len(outcome.sessions)}), starting equity {escape(str(settings.ACCOUNT_BALANCE))} "
        f"USD, final equity {escape(str(metrics.get('final_equity')))} USD.</p>",
        synthetic,
        _errors_note(metrics),
        "<h2>Metrics</h2>",
        metrics_table(metrics),
        '<p class="note">Trading spec §15: 6-dp decimals, null when undefined; returns are per '
        "session, Sharpe and Sortino annualised with 252 sessions.</p>",
        "<h2>Charts</h2>",
        images,
        "<h2>Sessions</h2>",
        sessions_table(outcome),
        "<h2>Trades</h2>",
        trades_table(outcome.trades),
        "<h2>Settings overrides</h2>",
        _table(["key", "value"], override_rows, left=2)
        if override_rows
        else '<p class="note">None: schema defaults with BROKER_NAME=SIM.</p>',
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"
