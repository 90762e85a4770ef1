"""`{ID}_BOT_daily_summary.json` (trading spec §9): rewritten atomically after each phase,
`final: true` after the close. The builder is pure; the writer is the only I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from tbot_bot.config.fileio import OUTPUT_DIR_MODE, OUTPUT_FILE_MODE, atomic_write_text, ensure_dir
from tbot_bot.config.path_resolver import BotOutputs

SCHEMA_VERSION = 1
SUMMARY_KEYS: tuple[str, ...] = (
    "schema_version",
    "bot_identity",
    "trading_date",
    "generated_utc",
    "final",
    "session",
    "phases",
    "strategies",
    "totals",
    "latency_ms",
    "risk_triggers",
    "errors",
    "unresolved_orders",
    "open_positions_at_close",
    "bot_state_at_close",
)


def percentiles(values: Sequence[int]) -> dict[str, int | None]:
    """p50/p95/max of millisecond latencies (nearest-rank); nulls when empty."""
    if not values:
        return {"p50": None, "p95": None, "max": None}
    ordered = sorted(values)

    def rank(p: int) -> int:
        index = max(0, -(-p * len(ordered) // 100) - 1)
        return ordered[min(index, len(ordered) - 1)]

    return {"p50": rank(50), "p95": rank(95), "max": ordered[-1]}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def build_summary(parts: Mapping[str, Any]) -> dict[str, Any]:
    """Order and check the summary document; every key of §9 must be present."""
    missing = [key for key in SUMMARY_KEYS if key not in parts and key != "schema_version"]
    if missing:
        raise ValueError(f"daily summary is missing {missing}")
    body = {"schema_version": SCHEMA_VERSION, **{k: parts[k] for k in SUMMARY_KEYS[1:]}}
    return dict(_jsonable(body))


def write_summary(outputs: BotOutputs, summary: Mapping[str, Any]) -> None:
    ensure_dir(outputs.summaries_dir, OUTPUT_DIR_MODE)
    atomic_write_text(outputs.daily_summary, json.dumps(summary, indent=1) + "\n", OUTPUT_FILE_MODE)
