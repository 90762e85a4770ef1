"""Read-only books pages (web_runtime §3): trades, ledger, chart of accounts, CSV exports.

Everything goes through the reader APIs (`tbot_bot.reporting.trade_history.read_records`,
`tbot_bot.accounting` queries and COA readers), which open the files read-only. COA edit and
rollback (admin requests to the runner) and the COA exports live in `coa_web.py`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, render_template, request
from werkzeug.wrappers import Response

from tbot_bot.accounting import list_events, trial_balance
from tbot_bot.accounting.coa import read_metadata, read_tree, read_versions
from tbot_bot.accounting.schema import connect as ledger_connect
from tbot_bot.config.path_resolver import BotOutputs
from tbot_bot.errors import LedgerError
from tbot_bot.money import from_minor
from tbot_bot.reporting.trade_history import read_records, render_csv
from tbot_web.support.context import ctx
from tbot_web.support.guard import require

bp = Blueprint("books", __name__)
PAGE_SIZE = 50
MAX_EXPORT_ROWS = 1000
QTY_SCALE = Decimal(10) ** 9


def _outputs() -> BotOutputs:
    identity = ctx().identity_string()
    if identity is None:
        abort(404, description="No bot identity yet")
    return ctx().paths.bot_outputs(identity)


def money(minor: int | None) -> str:
    return "" if minor is None else f"{from_minor(int(minor)):,.2f}"


def _date_arg(name: str) -> str | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        abort(400, description=f"{name} must be YYYY-MM-DD")


def _page() -> int:
    try:
        return max(int(request.args.get("page", "1")), 1)
    except ValueError:
        abort(400, description="page must be a number")


# -- trades --------------------------------------------------------------------------------------
def _filtered_trades() -> list[dict[str, Any]]:
    try:
        records = read_records(_outputs().trade_history("json"))
    except (ValueError, json.JSONDecodeError):
        abort(500, description="trade history file is unreadable")
    start, end = _date_arg("from"), _date_arg("to")
    strategy = request.args.get("strategy", "").strip().lower()
    ticker = request.args.get("ticker", "").strip().upper()
    kept = []
    for record in records:
        day = str(record.get("trading_date") or "")
        if (start and day < start) or (end and day > end):
            continue
        if strategy and str(record.get("strategy_name") or "").lower() != strategy:
            continue
        if ticker and ticker not in {str(record.get("symbol")), str(record.get("target_symbol"))}:
            continue
        kept.append(record)
    kept.sort(key=lambda r: str(r.get("entry_timestamp") or ""), reverse=True)
    return kept


@bp.get("/trades")
@require("view")
def trades() -> str:
    records = _filtered_trades()
    page = _page()
    rows = records[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return render_template(
        "trades.html",
        rows=rows,
        page=page,
        total=len(records),
        page_size=PAGE_SIZE,
        args=request.args,
    )


@bp.get("/trades/export.csv")
@require("export")
def trades_export() -> Response:
    body = render_csv(_filtered_trades())
    return _csv_response(body, "trades.csv")


# -- ledger --------------------------------------------------------------------------------------
def _events(limit: int, offset: int) -> list[Any]:
    start, end = _date_arg("from"), _date_arg("to")
    symbol = request.args.get("symbol", "").strip().upper() or None
    event_type = request.args.get("type", "").strip() or None
    try:
        return list_events(
            _outputs(),
            limit=limit,
            offset=offset,
            symbol=symbol,
            event_type=event_type,
            start_utc=f"{start}T00:00:00.000Z" if start else None,
            end_utc=f"{end}T23:59:59.999Z" if end else None,
        )
    except LedgerError as exc:
        abort(404, description=str(exc))


def _grouped(events: list[Any]) -> list[tuple[str, list[Any]]]:
    groups: dict[str, list[Any]] = {}
    for event in events:
        groups.setdefault(event.group_id, []).append(event)
    return list(groups.items())


@bp.get("/ledger")
@require("view")
def ledger() -> str:
    page = _page()
    events = _events(PAGE_SIZE, (page - 1) * PAGE_SIZE)
    try:
        balances = trial_balance(_outputs())
    except LedgerError:
        balances = []
    return render_template(
        "ledger.html",
        groups=_grouped(events),
        balances=balances,
        page=page,
        has_more=len(events) == PAGE_SIZE,
        money=money,
        qty=_qty,
        args=request.args,
    )


def _qty(qty_e9: int | None) -> str:
    return "" if qty_e9 is None else f"{Decimal(int(qty_e9)) / QTY_SCALE:f}"


@bp.get("/ledger/export.csv")
@require("export")
def ledger_export() -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "FITID",
            "group_id",
            "DTPOSTED",
            "event_type",
            "symbol",
            "action",
            "strategy",
            "leg",
            "account",
            "amount",
            "qty",
            "price",
            "memo",
        ]
    )
    for event in _events(MAX_EXPORT_ROWS, 0):
        for split in event.splits:
            writer.writerow(
                [
                    event.fitid,
                    event.group_id,
                    event.dtposted,
                    event.event_type,
                    event.symbol or "",
                    event.action,
                    event.strategy or "",
                    split.leg_no,
                    split.account_code,
                    from_minor(split.amount_minor),
                    _qty(split.qty_e9),
                    split.price or "",
                    event.memo or "",
                ]
            )
    return _csv_response(buffer.getvalue(), "ledger.csv")


# -- chart of accounts ---------------------------------------------------------------------------
@contextlib.contextmanager
def _coa_reader() -> Iterator[Any]:
    try:
        conn = ledger_connect(_outputs().ledger_db("coa"), readonly=True)
    except LedgerError as exc:
        abort(404, description=str(exc))
    try:
        yield conn
    finally:
        conn.close()


@bp.get("/coa")
@require("view")
def coa() -> str:
    with _coa_reader() as conn:
        tree, metadata = read_tree(conn), read_metadata(conn)
    return render_template("coa.html", tree=tree, metadata=metadata or {})


@bp.get("/coa/versions")
@require("view")
def coa_versions() -> str:
    with _coa_reader() as conn:
        versions = read_versions(conn)
    return render_template("coa_versions.html", versions=versions)


@bp.get("/coa/versions/<int:number>")
@require("view")
def coa_version(number: int) -> str:
    with _coa_reader() as conn:
        versions, current = read_versions(conn), read_tree(conn)
    if not 1 <= number <= len(versions):
        abort(404)
    version = versions[number - 1]
    old = {str(a["code"]): a for a in json.loads(version["tree_json"])}
    now = {str(a["code"]): a for a in current}
    diff = [
        (code, old.get(code), now.get(code))
        for code in sorted(set(old) | set(now))
        if old.get(code) != now.get(code)
    ]
    return render_template(
        "coa_version.html",
        version=version,
        number=number,
        diff=diff,
        is_current=number == len(versions),
    )


def _csv_response(body: str, filename: str) -> Response:
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
