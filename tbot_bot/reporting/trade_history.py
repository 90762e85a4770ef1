"""`{ID}_BOT_trade_history.csv` and `.json` (trading spec §9).

One record per entry that reached the broker, `trade_id` = its entry client_order_id. Both files
hold identical fields and are cumulative across days: the writer reads the existing JSON, upserts
the record by trade_id and rewrites both files atomically (the seed's fixed names force one file).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tbot_bot.config.fileio import OUTPUT_DIR_MODE, OUTPUT_FILE_MODE, atomic_write_text, ensure_dir
from tbot_bot.config.path_resolver import BotOutputs

SCHEMA_VERSION = 1
TRADE_FIELDS: tuple[str, ...] = (
    "trade_id",
    "trading_date",
    "session_id",
    "strategy_name",
    "symbol",
    "target_symbol",
    "bearish_mode",
    "instrument_type",
    "direction",
    "trade_side",
    "pool_rank",
    "fallback_level",
    "signal_trigger_time",
    "entry_timestamp",
    "exit_timestamp",
    "entry_price",
    "exit_price",
    "size",
    "allocation",
    "fees",
    "PnL",
    "exit_reason",
    "status",
    "broker",
    "entry_client_order_id",
    "exit_client_order_id",
    "broker_order_ids",
    "entry_ledger_fitids",
    "exit_ledger_fitids",
    "error_code",
)
LIST_FIELDS = frozenset({"broker_order_ids", "entry_ledger_fitids", "exit_ledger_fitids"})
STATUSES = frozenset({"open", "closed", "rejected", "unfilled", "unresolved"})


def _normalise(record: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(record) - set(TRADE_FIELDS)
    if unknown:
        raise ValueError(f"unknown trade history fields: {sorted(unknown)}")
    if record.get("status") not in STATUSES:
        raise ValueError(f"trade status must be one of {sorted(STATUSES)}: {record.get('status')}")
    out: dict[str, Any] = {}
    for name in TRADE_FIELDS:
        value = record.get(name)
        if name in LIST_FIELDS:
            out[name] = list(value or [])
        elif value is None or isinstance(value, int | str):
            out[name] = value
        else:
            out[name] = str(value)  # Decimals as exact strings
    return out


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    records = data.get("records", [])
    if not isinstance(records, list):
        raise ValueError(f"{path}: 'records' must be a list")
    return records


def render_csv(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TRADE_FIELDS)
    for record in records:
        writer.writerow(
            [
                json.dumps(record[n])
                if n in LIST_FIELDS
                else ("" if record[n] is None else record[n])
                for n in TRADE_FIELDS
            ]
        )
    return buffer.getvalue()


class TradeHistory:
    """Upserts trade records and rewrites both files atomically."""

    def __init__(self, outputs: BotOutputs) -> None:
        self.outputs = outputs
        self.json_path = outputs.trade_history("json")
        self.csv_path = outputs.trade_history("csv")
        self._dirty = False
        self._records: dict[str, dict[str, Any]] = {
            r["trade_id"]: r for r in read_records(self.json_path)
        }

    @property
    def records(self) -> list[dict[str, Any]]:
        return list(self._records.values())

    def upsert(self, record: Mapping[str, Any]) -> None:
        clean = _normalise(record)
        if self._records.get(clean["trade_id"]) != clean:
            self._records[clean["trade_id"]] = clean
            self._dirty = True

    def flush(self) -> None:
        """Rewrite both files if anything changed since the last flush (atomic, fsynced)."""
        if not self._dirty and self.json_path.exists() and self.csv_path.exists():
            return
        ensure_dir(self.outputs.trades_dir, OUTPUT_DIR_MODE)
        body = {
            "schema_version": SCHEMA_VERSION,
            "bot_identity": self.outputs.identity,
            "records": self.records,
        }
        atomic_write_text(self.json_path, json.dumps(body, indent=1) + "\n", OUTPUT_FILE_MODE)
        atomic_write_text(self.csv_path, render_csv(self.records), OUTPUT_FILE_MODE)
        self._dirty = False
