"""Trial balance, ledger trade export and manifest bytes (accounting spec §9.2, §9.3).

Pure formatting of `DayData`: money and quantities as plain decimal strings (never exponent form),
CSV per RFC 4180 with a header row, JSON with a fixed key order, so identical data gives
identical bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from tbot_bot.accounting.codec import format_minor, format_qty_e9
from tbot_bot.accounting.drafts import TRADE_EVENTS
from tbot_bot.accounting.export_data import DayData

TRADE_COLUMNS: tuple[str, ...] = (
    "timestamp_utc",
    "fitid",
    "group_id",
    "trade_id",
    "fill_id",
    "event_type",
    "action",
    "instrument",
    "position_effect",
    "symbol",
    "side",
    "qty",
    "price",
    "multiplier",
    "gross",
    "commission",
    "fees",
    "net_cash",
    "basis_closed",
    "realized_pnl",
    "currency",
    "strategy",
    "tags",
    "session_id",
    "exit_reason",
    "broker",
    "bot_identity",
    "sync_run_id",
    "reverses_fitid",
)
TRIAL_BALANCE_COLUMNS = (
    "as_of_utc",
    "account_code",
    "account_name",
    "account_type",
    "normal_side",
    "debit",
    "credit",
    "balance",
)


def _csv(rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def trial_balance_csv(data: DayData) -> bytes:
    rows: list[list[object]] = [list(TRIAL_BALANCE_COLUMNS)]
    debit_total = credit_total = 0
    for row in data.trial_balance:
        debit_total += row.debit_minor
        credit_total += row.credit_minor
        rows.append(
            [
                data.period_end,
                row.account_code,
                row.account_name,
                row.account_type,
                row.normal_side,
                format_minor(row.debit_minor),
                format_minor(row.credit_minor),
                format_minor(row.balance_minor),
            ]
        )
    rows.append(
        [
            data.period_end,
            "TOTAL",
            "",
            "",
            "",
            format_minor(debit_total),
            format_minor(credit_total),
            format_minor(debit_total - credit_total),
        ]
    )
    return _csv(rows)


def trade_records(data: DayData, *, bot_identity: str, broker_code: str) -> list[dict[str, Any]]:
    """One record per sealed fill event of the day and per REVERSAL of one (§9.3)."""
    records = []
    for e in data.events:
        kind = e["reversed_type"] if e["event_type"] == "REVERSAL" else e["event_type"]
        if kind not in TRADE_EVENTS or e["qty_e9"] is None:
            continue
        sign = -1 if e["event_type"] == "REVERSAL" else 1
        meta = json.loads(e["json_metadata"])
        closing = e["position_effect"] == "close"
        records.append(
            {
                "timestamp_utc": e["DTPOSTED"],
                "fitid": e["FITID"],
                "group_id": e["group_id"],
                "trade_id": e["trade_id"] or "",
                "fill_id": e["fill_id"] or "",
                "event_type": e["event_type"],
                "action": e["action"],
                "instrument": e["instrument"],
                "position_effect": e["position_effect"],
                "symbol": e["symbol"],
                "side": e["side"],
                "qty": ("-" if sign < 0 else "") + format_qty_e9(int(e["qty_e9"])),
                "price": e["price"],
                "multiplier": str(e["multiplier"]),
                "gross": format_minor(sign * int(e["gross_minor"])),
                "commission": format_minor(sign * int(e["commission_minor"])),
                "fees": format_minor(sign * int(e["fee_minor"])),
                "net_cash": format_minor(int(e["cash_minor"])),
                "basis_closed": format_minor(sign * int(e["basis_closed"])) if closing else "",
                "realized_pnl": format_minor(sign * int(e["realized"])) if closing else "",
                "currency": e["currency_code"],
                "strategy": e["strategy"] or "",
                "tags": json.loads(e["tags"]),
                "session_id": str(meta.get("session_id", "")),
                "exit_reason": str(meta.get("exit_reason", "")),
                "broker": broker_code,
                "bot_identity": bot_identity,
                "sync_run_id": e["sync_run_id"] or "",
                "reverses_fitid": e["reverses_fitid"] or "",
            }
        )
    return records


def trades_csv(records: Sequence[dict[str, Any]]) -> bytes:
    rows: list[list[object]] = [list(TRADE_COLUMNS)]
    for record in records:
        rows.append(
            [
                json.dumps(record[c], ensure_ascii=False, separators=(",", ":"))
                if c == "tags"
                else record[c]
                for c in TRADE_COLUMNS
            ]
        )
    return _csv(rows)


def trades_json(records: Sequence[dict[str, Any]], data: DayData, *, bot_identity: str) -> bytes:
    doc = {
        "schema_version": 1,
        "bot_identity": bot_identity,
        "period_start": data.period_start,
        "period_end": data.period_end,
        "records": [{c: r[c] for c in TRADE_COLUMNS} for r in records],
    }
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def manifest_json(
    data: DayData,
    *,
    bot_identity: str,
    schema_version: int,
    coa_version: str,
    mapping_version: int,
    files: Sequence[dict[str, Any]],
) -> bytes:
    doc = {
        "bot_identity": bot_identity,
        "period_start": data.period_start,
        "period_end": data.period_end,
        "generated_as_of_utc": data.period_end,
        "schema_version": schema_version,
        "coa_version": coa_version,
        "mapping_version": mapping_version,
        "first_event_id": data.first_event_id,
        "last_event_id": data.last_event_id,
        "journal_chain_head": data.journal_chain_head,
        "audit_chain_head": data.audit_chain_head,
        "row_counts": data.row_counts,
        "files": list(files),
    }
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
