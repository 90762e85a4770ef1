"""TradeBot books: COA, double-entry ledger, FIFO lots, float ledger, exports, verify.

Writer side (the runner; one process per bot holds the lock):
    create_ledgers(outputs, identity, *, currency="USD", clock=None)
    open_books(outputs, identity, *, actor, paths, clock, shorting_enabled=False) -> Books
    Books.session(kind, sync_run_id=None) / Books.post(record) -> PostResult
    Books.reverse / reclass / correct / post_opening_balance / adjust_opening_basis
    Books.publish_coa / rollback_coa
    sync_broker(books, broker, *, trigger, actor, annotate=None) -> SyncResult
    export_day(books, day, formats) / export(outputs, identity, fmt, from_day, to_day)
Converters from the broker layer:
    normalize_fill(fill, *, broker_code, account_id, metadata) -> NormalizedRecord
    normalize_activity(activity, *, broker_code, account_id, metadata) -> NormalizedRecord
Read side (mode=ro): account_balances, open_lots, positions, realized_net, trial_balance,
    list_events, latest_float_snapshot, ledger_status; verify(outputs, identity, deep=False).
"""

from __future__ import annotations

from tbot_bot.accounting.books import Books, open_books
from tbot_bot.accounting.exports import ExportBlocked, ExportResult, export, export_day
from tbot_bot.accounting.floatbook import SessionNumbers, session_numbers
from tbot_bot.accounting.models import (
    EventView,
    FloatSnapshot,
    Issue,
    NormalizedRecord,
    OpeningPosition,
    OpenLot,
    PostResult,
    PostStatus,
    ReconResult,
    SyncResult,
    TrialBalanceRow,
)
from tbot_bot.accounting.normalize import normalize_activity, normalize_fill
from tbot_bot.accounting.queries import (
    account_balances,
    latest_float_snapshot,
    ledger_status,
    list_events,
    open_lots,
    open_reconciliation,
    positions,
    realized_net,
    trial_balance,
    unmapped_open,
)
from tbot_bot.accounting.store import create_ledgers
from tbot_bot.accounting.sync import sync_broker
from tbot_bot.accounting.verify import verify

__all__ = [
    "Books",
    "EventView",
    "ExportBlocked",
    "ExportResult",
    "FloatSnapshot",
    "Issue",
    "NormalizedRecord",
    "OpenLot",
    "OpeningPosition",
    "PostResult",
    "PostStatus",
    "ReconResult",
    "SessionNumbers",
    "SyncResult",
    "TrialBalanceRow",
    "account_balances",
    "create_ledgers",
    "export",
    "export_day",
    "latest_float_snapshot",
    "ledger_status",
    "list_events",
    "normalize_activity",
    "normalize_fill",
    "open_books",
    "open_lots",
    "open_reconciliation",
    "positions",
    "realized_net",
    "session_numbers",
    "sync_broker",
    "trial_balance",
    "unmapped_open",
    "verify",
]
