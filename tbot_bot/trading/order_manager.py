"""The one owner of broker traffic for orders (trading spec §7.1, §7.5; STYLE §2.9).

Submit: journal `new` (committed) -> `in_flight` (committed) -> `broker.submit_order`. Then:
- an answer -> adopt the broker's state;
- `BrokerError` (the broker said no) -> `rejected`, never retried (the runner falls back);
- `DuplicateClientOrderIdError`, `NetworkError` (timeout, 5xx, dropped connection) or anything
  unexpected -> `unresolved`, then look the order up by client order id with backoff
  (API_RETRY_LIMIT retries): found -> adopt, absent -> stays `unresolved` and is logged. An
  exit (EX/TS) the broker still answers absent after that round never reached the venue: the
  runner calls `retire_absent_exit` (also done by `resolve_unresolved`, `recover`, `cancel`),
  which asks a cancel of its id anyway (should it surface late) and closes it `cancelled`
  (`absent_at_broker`), so the next attempt may be sent (§7.1 "confirmed absent");
- `RateLimitError` (HTTP 429: the request was throttled, not processed) -> wait (Retry-After),
  look the id up, and only if the broker confirms it absent send the same request again with
  the same client order id (a broker that did take it refuses the duplicate).
An intent is never sent twice: `submit` of an id the journal already holds sends nothing. An exit
is re-sent only through `resubmit_exit`, under the next attempt's id (seq + 1), after the broker
confirmed the previous attempt absent, cancelled, rejected or expired, or filled while the
strategy still holds a remainder (the runner sizes that next attempt).

Fills are applied by `poll_fills` idempotently (keyed by the broker's `external_id`) and handed to
the `on_fill` callbacks (the runner posts them to the ledger) after the journal committed them.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from tbot_bot.broker.base import Broker, DuplicateClientOrderIdError
from tbot_bot.broker.models import FillReport, OrderReport, OrderRequest, OrderState
from tbot_bot.broker.retry import (
    DEFAULT_RETRY_LIMIT,
    backoff_delay,
    call_with_retry,
    retry_delay,
)
from tbot_bot.clock import Clock, iso_utc
from tbot_bot.errors import (
    BrokerError,
    LogicError,
    NetworkError,
    RateLimitError,
    StateError,
    TbotError,
)
from tbot_bot.trading.client_order_id import next_attempt_id
from tbot_bot.trading.order_journal import JournalOrder, OrderContext, OrderJournal

logger = logging.getLogger(__name__)

T = TypeVar("T")
FillCallback = Callable[[FillReport, JournalOrder], None]
UnresolvedSink = Callable[[Mapping[str, Any]], None]
FILL_CURSOR_OVERLAP = timedelta(minutes=5)  # broker vs our clock skew and late fill delivery
# FILLED too: a filled attempt that left quantity open (the runner decides) needs a next attempt.
_RESENDABLE_EXIT_STATES = frozenset(
    {OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED, OrderState.FILLED}
)
EXIT_PURPOSES = frozenset({"EX", "TS"})
_PENDING = frozenset({OrderState.NEW, OrderState.IN_FLIGHT, OrderState.UNRESOLVED})
_NON_TERMINAL = frozenset(state for state in OrderState if not state.is_terminal)


class OrderManager:
    """Submits, resolves, cancels and tracks orders through one `Broker` and one journal."""

    def __init__(
        self,
        broker: Broker,
        journal: OrderJournal,
        clock: Clock,
        *,
        retry_limit: int = DEFAULT_RETRY_LIMIT,
        sleep: Callable[[float], None] | None = None,
        rand: Callable[[], float] = random.random,
        unresolved_sink: UnresolvedSink | None = None,
    ) -> None:
        self.broker = broker
        self.journal = journal
        self._clock = clock
        self._retry_limit = retry_limit
        self._sleep = sleep or self._clock_sleep
        self._rand = rand
        self._unresolved_sink = unresolved_sink
        self._fill_callbacks: list[FillCallback] = []
        self._foreign_fills: set[str] = set()

    def _clock_sleep(self, seconds: float) -> None:
        self._clock.sleep_until(self._clock.now_utc() + timedelta(seconds=seconds))

    def on_fill(self, callback: FillCallback) -> None:
        """Call `callback(fill, order)` for every newly applied fill, after it is committed."""
        self._fill_callbacks.append(callback)

    def read(self, operation: Callable[[], T], what: str = "broker call") -> T:
        """Run an idempotent broker call with this manager's retry policy (NetworkError only)."""
        return call_with_retry(
            operation, retry_limit=self._retry_limit, sleep=self._sleep, rand=self._rand, what=what
        )

    # -- submit ----------------------------------------------------------------------------------
    def submit(self, request: OrderRequest, context: OrderContext | None = None) -> JournalOrder:
        """Journal the intent, send it once, and return the journal row as it stands after."""
        cid = request.client_order_id
        existing = self.journal.get(cid)
        if existing is not None:
            logger.warning(
                "order %s is already journalled (%s): not sent again", cid, existing.state
            )
            return existing
        self.journal.record_new(request, context)
        self.journal.transition(cid, OrderState.IN_FLIGHT)
        return self._send(request)

    def _send(self, request: OrderRequest) -> JournalOrder:
        cid = request.client_order_id
        throttled = 0
        while True:
            try:
                report = self.broker.submit_order(request)
            except DuplicateClientOrderIdError as exc:
                return self._unresolved_then_lookup(cid, "duplicate_client_order_id", exc)
            except RateLimitError as exc:
                if throttled >= self._retry_limit:
                    return self._unresolved_then_lookup(cid, "rate_limited", exc)
                self._sleep(retry_delay(exc, throttled, rand=self._rand))
                throttled += 1
                try:
                    found = self._lookup(cid)
                except NetworkError as lookup_exc:
                    return self._unresolved_then_lookup(cid, "rate_limited", lookup_exc)
                if found is not None:
                    return self._adopt(found, cid)
                logger.info("order %s throttled and confirmed absent: sending it again", cid)
                continue
            except NetworkError as exc:
                return self._unresolved_then_lookup(cid, "network_error", exc)
            except BrokerError as exc:
                logger.info("order %s rejected by the broker: %s", cid, exc)
                return self.journal.transition(
                    cid, OrderState.REJECTED, reason=str(exc) or "rejected"
                )
            except Exception as exc:
                # An adapter leaked an untyped error: the outcome is unknown, so it is handled
                # like a lost answer (lookup, never a resend). Logged with its traceback.
                logger.exception("submit of %s raised an untyped error", cid)
                return self._unresolved_then_lookup(cid, "unexpected_error", exc)
            return self._adopt(report, cid)

    def _unresolved_then_lookup(self, cid: str, reason: str, error: Exception) -> JournalOrder:
        self.journal.transition(cid, OrderState.UNRESOLVED, reason=f"{reason}: {error}")
        row, _ = self._resolve(cid, attempts=self._retry_limit + 1)
        if row.state is OrderState.UNRESOLVED:
            self._report_unresolved(row, reason, error)
        return row

    def _resolve(self, cid: str, *, attempts: int) -> tuple[JournalOrder, bool]:
        """Look `cid` up until found or `attempts` are used (an absent answer may be lag).

        Returns the row and whether the last lookup got an answer (so a row still `unresolved`
        is confirmed absent, not merely unreachable).
        """
        answered = False
        for attempt in range(attempts):
            try:
                report = self.broker.get_order_by_client_id(cid)
            except NetworkError as exc:
                report, answered = None, False
                wait = retry_delay(exc, attempt, rand=self._rand)
            else:
                answered = True
                wait = backoff_delay(attempt, rand=self._rand)
            if report is not None:
                return self._adopt(report, cid), True
            if attempt + 1 < attempts:
                self._sleep(wait)
        return self.journal.require(cid), answered

    def retire_absent_exit(self, cid: str) -> JournalOrder:
        """An `unresolved` exit the broker answers absent after its lookup round is dead: cancel
        its id anyway (it may surface late), look once more, and close it `cancelled`
        (`absent_at_broker`) so its next attempt can be sent. Other rows come back unchanged."""
        row = self.journal.require(cid)
        if row.state is not OrderState.UNRESOLVED or row.purpose not in EXIT_PURPOSES:
            return row
        try:
            self.broker.cancel_order(cid)
        except (BrokerError, NetworkError) as exc:
            logger.info("cancel of absent exit %s: %s", cid, exc)
        try:
            report = self.broker.get_order_by_client_id(cid)
        except NetworkError as exc:
            logger.warning("exit %s: absence not reconfirmed (%s); still unresolved", cid, exc)
            return self.journal.require(cid)
        if report is not None:
            return self._adopt(report, cid)
        logger.warning("exit %s never reached the broker: closed, next attempt may be sent", cid)
        return self.journal.transition(cid, OrderState.CANCELLED, reason="absent_at_broker")

    def _lookup(self, cid: str) -> OrderReport | None:
        return self.read(lambda: self.broker.get_order_by_client_id(cid), f"lookup of {cid}")

    def _adopt(self, report: OrderReport, cid: str | None = None) -> JournalOrder:
        if cid is not None and report.client_order_id != cid:
            # An adapter bug must not move another intent's row.
            raise LogicError(f"broker answered for {report.client_order_id} when asked about {cid}")
        try:
            return self.journal.apply_report(report)
        except StateError:
            # Already logged by the state machine; the journal keeps what it knew.
            return self.journal.require(report.client_order_id)

    def _report_unresolved(self, row: JournalOrder, reason: str, error: Exception) -> None:
        record = {
            "ts_utc": iso_utc(self._clock.now_utc()),
            "strategy": row.context.strategy,
            "broker": self.broker.name,
            "error_type": reason,
            "error_code": type(error).__name__,
            "exception_repr": repr(error),
            "context": {"symbol": row.symbol, "state": row.state.value},
            "client_order_id": row.client_order_id,
        }
        logger.warning("order %s unresolved after lookups (%s)", row.client_order_id, reason)
        if self._unresolved_sink is not None:
            self._unresolved_sink(record)

    # -- sync and recovery ---------------------------------------------------------------------
    def sync_order(self, client_order_id: str) -> JournalOrder:
        """Refresh one order from the broker (NetworkError after retries propagates)."""
        row = self.journal.require(client_order_id)
        report = self._lookup(client_order_id)
        if report is None:
            if row.state not in _PENDING and not row.is_terminal:
                logger.warning(
                    "order %s is %s in the journal but unknown to the broker",
                    client_order_id,
                    row.state,
                )
            return row
        return self._adopt(report, client_order_id)

    def resolve_unresolved(self) -> list[JournalOrder]:
        """One lookup round for every `unresolved` order (run until the session ends); an exit
        the broker answers absent is retired (`retire_absent_exit`)."""
        rows: list[JournalOrder] = []
        for row in self.journal.in_states({OrderState.UNRESOLVED}):
            found, absent = self._resolve(row.client_order_id, attempts=1)
            if found.state is OrderState.UNRESOLVED and absent and found.purpose in EXIT_PURPOSES:
                found = self.retire_absent_exit(found.client_order_id)
            rows.append(found)
        return rows

    def recover(self) -> tuple[list[str], list[str]]:
        """After a restart: settle rows left `new`, `in_flight` or `unresolved` by lookup.

        `new` and absent: it was never sent (the send follows the `in_flight` commit), so it is
        closed as `cancelled` (`not_sent`). An exit still absent after a full lookup round is
        retired like after a lost submit answer, so the resumed runner sends its next attempt.
        Returns (resolved ids, still unresolved ids).
        NetworkError propagates: reconciliation then blocks trading.
        """
        resolved: list[str] = []
        for row in self.journal.in_states({OrderState.NEW}):
            report = self._lookup(row.client_order_id)
            if report is None:
                self.journal.transition(
                    row.client_order_id, OrderState.CANCELLED, reason="not_sent"
                )
            else:
                self._adopt(report, row.client_order_id)
            resolved.append(row.client_order_id)
        for row in self.journal.in_states({OrderState.IN_FLIGHT}):
            self.journal.transition(
                row.client_order_id, OrderState.UNRESOLVED, reason="restart_while_in_flight"
            )
        still: list[str] = []
        for row in self.journal.in_states({OrderState.UNRESOLVED}):
            report = self._lookup(row.client_order_id)
            if report is None and row.purpose in EXIT_PURPOSES:
                found, absent = self._resolve(
                    row.client_order_id, attempts=max(1, self._retry_limit)
                )
                if found.state is OrderState.UNRESOLVED and absent:
                    found = self.retire_absent_exit(row.client_order_id)
                if found.state is not OrderState.UNRESOLVED:
                    resolved.append(row.client_order_id)
                    continue
            if report is None:
                still.append(row.client_order_id)
            else:
                self._adopt(report, row.client_order_id)
                resolved.append(row.client_order_id)
        return resolved, still

    # -- fills -----------------------------------------------------------------------------------
    def _fill_cursor(self) -> datetime | None:
        candidates = [self.journal.latest_fill_ts()]
        candidates += [row.created_utc for row in self.journal.in_states(_NON_TERMINAL)]
        known = [ts for ts in candidates if ts is not None]
        return min(known) - FILL_CURSOR_OVERLAP if known else None

    def poll_fills(self) -> list[FillReport]:
        """Fetch fills from the broker and apply the new ones; returns those applied now."""
        since = self._fill_cursor()
        fills = self.read(lambda: self.broker.get_fills(since), "get_fills")
        applied: list[FillReport] = []
        for fill in sorted(fills, key=lambda f: (f.ts_utc, f.external_id)):
            if fill.external_id in self._foreign_fills or self.journal.has_fill(fill.external_id):
                continue
            row = self.journal.get(fill.client_order_id) if fill.client_order_id else None
            if row is None:
                row = self.journal.by_broker_order_id(fill.broker_order_id)
            if row is None:
                # Not ours (a manual order, another tool): the ledger sync books it.
                self._foreign_fills.add(fill.external_id)
                logger.info(
                    "fill %s of a non-journalled order %s skipped",
                    fill.external_id,
                    fill.client_order_id or fill.broker_order_id,
                )
                continue
            order, new = self.journal.record_fill(fill, row.client_order_id)
            if new:
                applied.append(fill)
                for callback in self._fill_callbacks:
                    callback(fill, order)
        return applied

    # -- cancels ---------------------------------------------------------------------------------
    def cancel(self, client_order_id: str) -> JournalOrder:
        """Ask the broker to cancel (idempotent) and adopt the resulting state. An `unresolved`
        exit the broker then answers absent is closed (`retire_absent_exit`)."""
        row = self.journal.require(client_order_id)
        if row.is_terminal:
            return row
        try:
            self.read(lambda: self.broker.cancel_order(client_order_id), "cancel")
        except BrokerError as exc:
            logger.info("cancel of %s refused: %s", client_order_id, exc)
        row = self.sync_order(client_order_id)
        if row.state is OrderState.UNRESOLVED and row.purpose in EXIT_PURPOSES:
            row = self.retire_absent_exit(client_order_id)
        return row

    def cancel_all(self) -> list[str]:
        """Cancel every open order of this bot (trading spec §7.3: strategy orders only; a manual
        order in the same account is not ours) and adopt each resulting state; returns the ids
        asked. One order the broker cannot be reached for does not stop the others."""
        asked: list[str] = []
        for row in self.journal.in_states(_NON_TERMINAL - {OrderState.NEW}):
            asked.append(row.client_order_id)
            try:
                self.cancel(row.client_order_id)
            except TbotError as exc:
                logger.warning("cancel of %s failed: %s", row.client_order_id, exc)
        return asked

    def resubmit_exit(self, previous_client_order_id: str, request: OrderRequest) -> JournalOrder:
        """Send the next attempt of an exit once the broker confirms the previous one is dead."""
        previous = self.journal.require(previous_client_order_id)
        if previous.purpose not in {"EX", "TS"}:
            raise LogicError(
                f"{previous_client_order_id} is not an exit; entries are never re-sent"
            )
        expected = next_attempt_id(previous_client_order_id)
        if request.client_order_id != expected:
            raise LogicError(f"the next attempt of {previous_client_order_id} must be {expected}")
        report = self._lookup(previous_client_order_id)
        if report is not None:
            previous = self._adopt(report, previous_client_order_id)
            if report.state not in _RESENDABLE_EXIT_STATES:
                raise StateError(
                    f"exit {previous_client_order_id} is {report.state.value} at the broker; "
                    "not re-sent"
                )
        context = replace(previous.context, previous_attempt=previous_client_order_id)
        return self.submit(request, context)
