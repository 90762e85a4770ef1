"""Per-bot log files with the seed's names (trading spec §9): `open.log`, `mid.log`, `close.log`,
`unresolved_orders.log`, `error_tracebacks.log`.

Append-only, one record per line, `LOG_FORMAT` json (one object per line) or csv (same fields, same
order, a header when the file is created). Each line is one `write()` so concurrent appends never
interleave. Every text field passes the redactor.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tbot_bot.config.fileio import OUTPUT_DIR_MODE, OUTPUT_FILE_MODE, ensure_dir
from tbot_bot.config.path_resolver import BotOutputs
from tbot_bot.config.redact import redact

DECISION_FIELDS: tuple[str, ...] = (
    "ts_utc",
    "level",
    "bot_identity",
    "module",
    "event",
    "message",
    "trading_date",
    "session_id",
    "strategy",
    "phase",
    "symbol",
    "pool_rank",
    "slot",
    "fallback_level",
    "stage",
    "outcome",
    "reason",
    "client_order_id",
    "target_symbol",
    "mapped_inverse",
    "mapping_version",
    "allocation",
    "qty",
    "ref_price",
    "detail",
)
UNRESOLVED_FIELDS: tuple[str, ...] = (
    "ts_utc",
    "strategy",
    "broker",
    "error_type",
    "error_code",
    "exception_repr",
    "context",
    "client_order_id",
)
TRACEBACK_FIELDS: tuple[str, ...] = (
    "ts_utc",
    "error_id",
    "module",
    "strategy_name",
    "broker",
    "error_type",
    "error_code",
    "message",
    "stack_trace",
)
STRATEGY_LOG_NAMES = {"open": "open.log", "mid": "mid.log", "close": "close.log"}


def _text(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping | list | tuple):
        return value
    return str(value)  # Decimals and other values as exact strings


def encode_line(record: Mapping[str, Any], fields: Sequence[str], fmt: str) -> str:
    """One line of the file in `fmt` (json or csv) with exactly `fields`, in order."""
    clean = redact({name: _text(record.get(name)) for name in fields})
    if fmt == "json":
        return json.dumps(clean, separators=(",", ":"), default=str) + "\n"
    buffer = io.StringIO()
    row = [
        json.dumps(v, separators=(",", ":")) if isinstance(v, dict | list) else v
        for v in (clean[name] for name in fields)
    ]
    csv.writer(buffer, lineterminator="\n").writerow(["" if v is None else v for v in row])
    return buffer.getvalue()


def append_record(path: Path, record: Mapping[str, Any], fields: Sequence[str], fmt: str) -> None:
    ensure_dir(path.parent, OUTPUT_DIR_MODE)
    line = encode_line(record, fields, fmt)
    if fmt == "csv" and not path.exists():
        header = io.StringIO()
        csv.writer(header, lineterminator="\n").writerow(fields)
        line = header.getvalue() + line
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, OUTPUT_FILE_MODE)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


class BotLogs:
    """Writers for one output tree; `fmt` is the `LOG_FORMAT` setting (json or csv)."""

    def __init__(self, outputs: BotOutputs, fmt: str = "json") -> None:
        if fmt not in {"json", "csv"}:
            raise ValueError(f"LOG_FORMAT must be json or csv, got {fmt!r}")
        self.outputs = outputs
        self.fmt = fmt

    def decision(self, strategy: str, record: Mapping[str, Any]) -> None:
        path = self.outputs.log_file(STRATEGY_LOG_NAMES[strategy])
        append_record(
            path, {"bot_identity": self.outputs.identity, **record}, DECISION_FIELDS, self.fmt
        )

    def unresolved(self, record: Mapping[str, Any]) -> None:
        append_record(
            self.outputs.log_file("unresolved_orders.log"), record, UNRESOLVED_FIELDS, self.fmt
        )

    def traceback(self, record: Mapping[str, Any]) -> None:
        # Tracebacks are always JSON: a multi-line stack trace does not fit a CSV line reliably.
        append_record(
            self.outputs.log_file("error_tracebacks.log"), record, TRACEBACK_FIELDS, "json"
        )

    def touch_all(self) -> None:
        """Create every seed log file, so the output tree is complete from the first run."""
        for name in (
            "open.log",
            "mid.log",
            "close.log",
            "unresolved_orders.log",
            "error_tracebacks.log",
        ):
            path = self.outputs.log_file(name)
            ensure_dir(path.parent, OUTPUT_DIR_MODE)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, OUTPUT_FILE_MODE)
            os.close(fd)
