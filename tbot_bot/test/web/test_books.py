"""Trades, ledger and COA pages through the reader APIs (web_runtime §3)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.reporting.trade_history import TradeHistory
from tbot_bot.test.web.webkit import IDENTITY, TestClient


def _trade(trade_id: str, day: str, strategy: str, symbol: str, pnl: str) -> dict[str, object]:
    return {
        "trade_id": trade_id,
        "trading_date": day,
        "strategy_name": strategy,
        "symbol": symbol,
        "direction": "long",
        "entry_timestamp": f"{day}T14:35:00.000Z",
        "entry_price": "10.00",
        "exit_price": "10.50",
        "size": "5",
        "PnL": pnl,
        "status": "closed",
    }


def _seed_trades(home: RuntimePaths) -> None:
    history = TradeHistory(home.bot_outputs(IDENTITY))
    history.upsert(_trade("t1", "2025-03-03", "open", "MSFT", "2.50"))
    history.upsert(_trade("t2", "2025-03-04", "mid", "AAPL", "-1.25"))
    history.upsert(_trade("t3", "2025-03-04", "open", "IBM", "0.75"))
    history.flush()


def test_trades_filters_and_export(
    home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    _seed_trades(home)
    viewer = client_as("viewer")
    page = viewer.get("/trades").get_data(as_text=True)
    assert "3 trade(s)" in page and "-1.25" in page
    assert "1 trade(s)" in viewer.get("/trades?strategy=mid").get_data(as_text=True)
    assert "2 trade(s)" in viewer.get("/trades?from=2025-03-04").get_data(as_text=True)
    assert "1 trade(s)" in viewer.get("/trades?ticker=ibm").get_data(as_text=True)
    assert viewer.get("/trades?from=yesterday").status_code == 400
    assert viewer.get("/trades/export.csv").status_code == 403
    export = client_as("analyst").get("/trades/export.csv?strategy=open")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert sorted(r["trade_id"] for r in rows) == ["t1", "t3"]


def test_ledger_and_trial_balance(client_as: Callable[[str], TestClient]) -> None:
    viewer = client_as("viewer")
    page = viewer.get("/ledger")
    assert page.status_code == 200
    assert 'id="trial-balance"' in page.get_data(as_text=True)
    export = client_as("analyst").get("/ledger/export.csv")
    assert export.status_code == 200
    assert export.get_data(as_text=True).splitlines()[0].startswith("FITID,group_id")


def test_coa_pages(client_as: Callable[[str], TestClient]) -> None:
    viewer = client_as("viewer")
    page = viewer.get("/coa").get_data(as_text=True)
    assert page.count("<tr>") > 10  # the shipped template tree
    assert "1.0.0" in viewer.get("/coa/versions").get_data(as_text=True)
    assert "Identical to the current tree" in viewer.get("/coa/versions/1").get_data(as_text=True)
    assert viewer.get("/coa/versions/99").status_code == 404
