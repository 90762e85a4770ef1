"""Reconciliation problems into `unresolved_orders.log` (accounting spec §6.5, trading spec §9).

Each new non-INTRADAY reconciliation row with status `mismatch`, `broker-only` or `local-only`
appends one line: `error_type` = `recon_<recon_type>`, `error_code` = the status, `context` =
{symbol, delta_minor, fitid, sync_run_id}, `client_order_id` when the journal knows it. The
runner's own syncs and the syncs asked for through `tbot ledger sync` write through here.
"""

from __future__ import annotations

from tbot_bot.accounting.models import SyncResult
from tbot_bot.reporting.bot_logs import BotLogs


def log_reconciliation_problems(
    logs: BotLogs, result: SyncResult, *, trigger: str, broker: str, now_utc: str
) -> int:
    """Append one line per new problem of `result`; returns how many were written."""
    for problem in result.new_problems:
        logs.unresolved(
            {
                "ts_utc": now_utc,
                "strategy": trigger,
                "broker": broker,
                "error_type": f"recon_{problem.recon_type}",
                "error_code": problem.status,
                "exception_repr": None,
                "context": {
                    "symbol": problem.symbol,
                    "delta_minor": problem.delta,
                    "fitid": problem.fitid,
                    "sync_run_id": result.sync_run_id,
                },
                "client_order_id": problem.client_order_id,
            }
        )
    return len(result.new_problems)
