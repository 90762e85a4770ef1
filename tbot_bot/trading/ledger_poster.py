"""The runner's one door into the books: each fill is posted the moment it is reported.

`Books.post(normalize_fill(...))` per fill, inside one `fills` write session per phase (snapshotted
at phase start); after each phase the broker sync only deduplicates what was already posted, books
what was missed (cash activities, fills while offline) and reconciles (accounting spec §6.1).
Strategies never write the ledger; the ledger is posted from fills only, never from intents.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import date
from typing import Any

from tbot_bot.accounting import Books, normalize_activity, normalize_fill, sync_broker
from tbot_bot.accounting.exports import ExportResult, export_day
from tbot_bot.accounting.models import SyncResult
from tbot_bot.broker.base import Broker
from tbot_bot.broker.models import FillReport
from tbot_bot.trading.order_journal import JournalOrder

logger = logging.getLogger(__name__)
METADATA_KEYS = ("bearish_mode", "target_symbol", "inverse_symbol", "leverage", "exit_reason")


class LedgerPoster:
    def __init__(self, books: Books, broker: Broker, broker_code: str, account_id: str) -> None:
        self.books = books
        self.broker = broker
        self.broker_code = broker_code
        self.account_id = account_id
        self._session: contextlib.ExitStack | None = None

    def begin_phase(self) -> None:
        if self._session is not None:
            return
        stack = contextlib.ExitStack()
        stack.enter_context(self.books.session("fills", trigger="fills"))
        self._session = stack

    def end_phase(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def post(self, fill: FillReport, order: JournalOrder) -> list[str]:
        """Post one fill; returns the FITIDs of the events it produced (or already had)."""
        meta: dict[str, Any] = dict(order.context.meta)
        metadata = {k: str(meta[k]) for k in METADATA_KEYS if meta.get(k) is not None}
        metadata["session_id"] = order.context.session_id or ""
        if order.context.strategy:
            metadata["strategy"] = order.context.strategy
        record = normalize_fill(
            fill, broker_code=self.broker_code, account_id=self.account_id, metadata=metadata
        )
        opened_here = self._session is None
        if opened_here:
            self.begin_phase()
        try:
            result = self.books.post(record)
        finally:
            if opened_here:
                self.end_phase()
        if not result.posted and result.status.value != "duplicate":
            logger.warning(
                "fill %s not posted: %s %s", fill.external_id, result.status, result.reason_code
            )
        return list(result.fitids)

    def post_opening_deposits(self) -> None:
        """Book the account's cash activities (the SIM's opening deposit, dividends, ...)."""
        records = [
            normalize_activity(a, broker_code=self.broker_code, account_id=self.account_id)
            for a in self.broker.get_activities(None)
        ]
        if not records:
            return
        with self.books.session("sync", trigger="startup"):
            for record in records:
                self.books.post(record)

    def export_day(self, day: date) -> ExportResult:
        """The day's export package after the EOD sync (accounting spec §9; raises
        ExportBlocked, audited, while verify errors or open reconciliation rows remain)."""
        with self.books.session("export"):
            return export_day(self.books, day)

    def sync(self, trigger: str) -> SyncResult:
        """After a phase: dedup, book what was missed, reconcile with the broker."""
        return sync_broker(self.books, self.broker, trigger=trigger, actor="runner")
