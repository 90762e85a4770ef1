"""Per-bot log files in LOG_FORMAT json and csv (same fields, same order), trade history CSV ==
JSON, and the daily summary's required keys (trading spec §9)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.redact import register_secret
from tbot_bot.reporting.bot_logs import DECISION_FIELDS, UNRESOLVED_FIELDS, BotLogs
from tbot_bot.reporting.daily_summary import SUMMARY_KEYS, build_summary, percentiles
from tbot_bot.reporting.trade_history import TRADE_FIELDS, TradeHistory

ID = "ACME_USA_SIMB_B07"
RECORD = {
    "ts_utc": "2025-07-15T13:51:00.000Z",
    "level": "info",
    "module": "test",
    "event": "order",
    "message": "submitted",
    "trading_date": "2025-07-15",
    "session_id": "20250715-OPEN",
    "strategy": "open",
    "phase": "entry",
    "symbol": "MSFT",
    "pool_rank": 1,
    "slot": 1,
    "fallback_level": 0,
    "stage": "order",
    "outcome": "pass",
    "reason": "submitted",
    "client_order_id": "B07-20250715-O01-MSFT-EN00",
    "allocation": Decimal("20.00"),
    "qty": Decimal("0.5"),
    "ref_price": Decimal("40.01"),
    "detail": {"k": "v"},
}


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_decision_log_has_the_fields_in_order(tbot_home: Path, fmt: str) -> None:
    outputs = RuntimePaths.for_home().bot_outputs(ID)
    logs = BotLogs(outputs, fmt)
    logs.decision("open", RECORD)
    logs.decision("open", RECORD)
    text = outputs.log_file("open.log").read_text()
    if fmt == "json":
        rows = [json.loads(line) for line in text.splitlines()]
        assert len(rows) == 2
        assert list(rows[0]) == list(DECISION_FIELDS)
        assert rows[0]["bot_identity"] == ID
        assert rows[0]["session_id"] == "20250715-OPEN"  # not masked: a session id is no secret
        assert rows[0]["allocation"] == "20.00"
    else:
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == list(DECISION_FIELDS)  # one header, when the file is created
        assert len(rows) == 3
        assert dict(zip(rows[0], rows[1], strict=True))["qty"] == "0.5"


def test_secrets_never_reach_a_log_line(tbot_home: Path) -> None:
    register_secret("FAKE-BROKER-KEY-987654")
    outputs = RuntimePaths.for_home().bot_outputs(ID)
    BotLogs(outputs, "json").unresolved(
        {
            "ts_utc": "2025-07-15T13:51:00.000Z",
            "strategy": "open",
            "broker": "ALPACA",
            "error_type": "network",
            "exception_repr": "auth FAKE-BROKER-KEY-987654 refused",
            "context": {"api_key": "FAKE-BROKER-KEY-987654"},
            "client_order_id": None,
        }
    )
    line = outputs.log_file("unresolved_orders.log").read_text()
    assert "FAKE-BROKER-KEY-987654" not in line
    assert list(json.loads(line)) == list(UNRESOLVED_FIELDS)


def test_trade_history_csv_equals_json(tbot_home: Path) -> None:
    outputs = RuntimePaths.for_home().bot_outputs(ID)
    history = TradeHistory(outputs)
    history.upsert(
        {
            "trade_id": "B07-20250715-O01-MSFT-EN00",
            "status": "closed",
            "symbol": "MSFT",
            "PnL": Decimal("1.25"),
            "entry_ledger_fitids": ["a" * 64],
        }
    )
    history.flush()
    records = json.loads(outputs.trade_history("json").read_text())["records"]
    rows = list(csv.DictReader(io.StringIO(outputs.trade_history("csv").read_text())))
    assert list(rows[0]) == list(TRADE_FIELDS)
    assert rows[0]["PnL"] == records[0]["PnL"] == "1.25"
    assert json.loads(rows[0]["entry_ledger_fitids"]) == records[0]["entry_ledger_fitids"]
    with pytest.raises(ValueError, match="status"):
        history.upsert({"trade_id": "x", "status": "bogus"})


def test_summary_requires_every_key_and_latency_percentiles() -> None:
    with pytest.raises(ValueError, match="missing"):
        build_summary({"bot_identity": ID})
    assert percentiles([]) == {"p50": None, "p95": None, "max": None}
    assert percentiles([500, 100, 300, 200, 400]) == {"p50": 300, "p95": 500, "max": 500}
    assert SUMMARY_KEYS[0] == "schema_version"
