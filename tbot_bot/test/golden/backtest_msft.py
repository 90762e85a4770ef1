"""The golden MSFT backtest: its fixed configuration and how its golden file is (re)made.

Real MSFT 1-minute bars (`msft_1m`, market-prices==0.12.14), seven full sessions 2022-05-19 ..
2022-05-27, MSFT alone in the universe. The defaults trade once in these sessions (one CLOSE
long), so the configuration loosens what a single large-cap symbol rarely meets, to pin more of
the engine: a 0.1 % opening-range breakout buffer instead of 2 %, ADX_MAX 60 (MSFT trended in
May 2022 and MID's ADX gate blocked every signal), ShortSell for bearish signals (the set holds no
inverse ETF, MSFT is shortable), and SIM fees so fee arithmetic is pinned too.

Update the golden file only after a deliberate change of trading behaviour (see README.md):

    .venv/bin/python -m tbot_bot.test.golden.backtest_msft
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from tbot_bot.backtest.config import BacktestRequest
from tbot_bot.backtest.engine import BacktestOutcome, run_backtest
from tbot_bot.config.path_resolver import RuntimePaths

GOLDEN_FILE = Path(__file__).resolve().parent / "backtest_msft.json"
DATA_SET = "msft_1m"
FIRST, LAST = date(2022, 5, 19), date(2022, 5, 27)
OVERRIDES: dict[str, str] = {
    "STRAT_OPEN_BUFFER": "0.001",
    "ADX_MAX": "60",
    "SHORT_TYPE_OPEN": "ShortSell",
    "SHORT_TYPE_MID": "ShortSell",
    "SHORT_TYPE_CLOSE": "ShortSell",
    "SIM_FEE_PER_SHARE": "0.005",
    "SIM_FEE_PER_ORDER": "0.35",
}
# Everything in a trade record except the ledger FITIDs (hashes of ledger content whose pinning
# belongs to the accounting tests) and the allocation bookkeeping already implied by size.
TRADE_KEYS: tuple[str, ...] = (
    "trade_id",
    "trading_date",
    "session_id",
    "strategy_name",
    "symbol",
    "target_symbol",
    "bearish_mode",
    "direction",
    "trade_side",
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
    "entry_client_order_id",
    "exit_client_order_id",
    "broker_order_ids",
)


def request() -> BacktestRequest:
    return BacktestRequest(FIRST, LAST, data=DATA_SET, symbols=("MSFT",), overrides=OVERRIDES)


def run(home: Path) -> BacktestOutcome:
    return run_backtest(RuntimePaths.for_home(home), request())


def snapshot(outcome: BacktestOutcome) -> dict[str, Any]:
    """The pinned part of a run: trades, session closes and metrics (run id left out)."""
    metrics = {k: v for k, v in outcome.metrics.items() if k != "run_id"}
    return {
        "data_set": DATA_SET,
        "from": FIRST.isoformat(),
        "to": LAST.isoformat(),
        "symbols": ["MSFT"],
        "overrides": OVERRIDES,
        "sessions": [
            {
                "trading_date": day.trading_date.isoformat(),
                "trades": day.trades,
                "realized_pnl": day.realized_pnl,
                "equity_close": str(day.equity_close),
                "cash_close": str(day.cash_close),
            }
            for day in outcome.days
        ],
        "trades": [{key: record.get(key) for key in TRADE_KEYS} for record in outcome.trades],
        "metrics": metrics,
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as home:
        current = snapshot(run(Path(home)))
    document = {
        "_comment": "Golden MSFT backtest; regenerate deliberately, see README.md in this folder.",
        **current,
    }
    GOLDEN_FILE.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {GOLDEN_FILE} ({len(current['trades'])} trades)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
