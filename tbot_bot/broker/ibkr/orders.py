"""Orders and executions over ib_async, keyed by our client_order_id in IB's `orderRef`.

IB does not enforce unique `orderRef`s, so this desk does (STYLE §2.9): before sending, it looks
for an order already carrying the id; after an ambiguous send (no acknowledgement in time, socket
or gateway link dropped while waiting) it asks the venue (`reqOpenOrders` + `reqCompletedOrders`)
before it would ever send that id again.

A local trade that ib_async created on `placeOrder` but the venue never confirmed (still
PendingSubmit without a permId after an authoritative refresh) is treated as absent: its message
never reached the venue, so the same id may be sent again without doubling the position.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ib_async import IB, ExecutionFilter, Fill, Trade

from tbot_bot.broker.ibkr.config import IbkrConfig
from tbot_bot.broker.ibkr.errors import (
    TRANSIENT_ORDER_CODES,
    error_for_code,
    error_for_exception,
)
from tbot_bot.broker.ibkr.parsing import (
    IN_FLIGHT_STATUSES,
    build_ib_order,
    client_order_id_of,
    commission_known,
    contract_for_request,
    fatal_error,
    fill_report,
    order_report,
    order_state,
)
from tbot_bot.broker.ibkr.session import IbSession
from tbot_bot.broker.models import FillReport, OrderReport, OrderRequest, OrderState
from tbot_bot.clock import require_utc
from tbot_bot.errors import BrokerError, NetworkError, OrderRejectedError, TbotError

logger = logging.getLogger(__name__)

OrderKey = tuple[int, int]


def _key(trade: Trade) -> OrderKey:
    return (trade.order.clientId, trade.order.orderId)


def _unconfirmed(trade: Trade) -> bool:
    """Sent by us, never acknowledged by the venue (no permId, still pending submit)."""
    perm_id = trade.order.permId or trade.orderStatus.permId
    return trade.orderStatus.status in IN_FLIGHT_STATUSES and not perm_id


def _rank(trade: Trade) -> tuple[int, int]:
    """Prefer a live order, then a filled one, then the most recent."""
    state, _ = order_state(trade)
    live = state.is_open or state is OrderState.IN_FLIGHT
    filled = state is OrderState.FILLED
    return (2 if live else 1 if filled else 0, trade.order.permId)


class IbOrderDesk:
    """Submit, look up, cancel and list orders; report fills with their commissions."""

    def __init__(self, session: IbSession, config: IbkrConfig) -> None:
        self._session = session
        self._account = config.account
        self._timeout_s = config.request_timeout_s
        self._grace = timedelta(seconds=config.commission_grace_s)
        self._ambiguous: set[str] = set()
        self._absent: set[OrderKey] = set()
        self._sent_at: dict[str, datetime] = {}

    def _report(self, trade: Trade) -> OrderReport:
        return order_report(trade, self._sent_at.get(trade.order.orderRef))

    # -- lookup --------------------------------------------------------------------------------
    def _mine(self, trade: Trade) -> bool:
        return trade.order.account in ("", self._account) and _key(trade) not in self._absent

    def _matching(self, ib: IB, client_order_id: str) -> list[Trade]:
        return [t for t in ib.trades() if t.order.orderRef == client_order_id and self._mine(t)]

    def _refresh(self, ib: IB) -> None:
        """Ask the venue for its open and completed orders; ib_async merges them into trades()."""
        try:
            ib.reqOpenOrders()
            ib.reqCompletedOrders(True)
        except Exception as exc:
            raise error_for_exception(exc, self._account, "order refresh") from exc

    def find(self, client_order_id: str, *, ask_venue: bool) -> Trade | None:
        """The venue's order for this id, or None when the venue does not know it.

        Without `ask_venue` only ib_async's synchronised cache is read. With it, a missing or
        unconfirmed local order triggers a venue refresh, after which unconfirmed orders are
        written off as never received.
        """
        ib = self._session.ensure_connected()
        self._session.pump()
        trades = self._matching(ib, client_order_id)
        confirmed = [t for t in trades if not _unconfirmed(t)]
        if ask_venue and (client_order_id in self._ambiguous or not confirmed):
            self._refresh(ib)
            self._session.pump()
            trades = self._matching(ib, client_order_id)
            for trade in trades:
                if _unconfirmed(trade):
                    logger.info("IBKR order %s never reached the venue", client_order_id)
                    self._absent.add(_key(trade))
            trades = [t for t in trades if not _unconfirmed(t)]
            self._ambiguous.discard(client_order_id)
        if len({t.order.permId for t in trades}) > 1:
            logger.warning("IBKR holds several orders with orderRef %s", client_order_id)
        return max(trades, key=_rank) if trades else None

    def lookup(self, client_order_id: str) -> OrderReport | None:
        trade = self.find(client_order_id, ask_venue=True)
        return None if trade is None else self._report(trade)

    def _open_trades(self, ib: IB) -> list[Trade]:
        """Open trades of our account; sends nobody answered are settled with the venue first."""
        self._session.pump()
        trades = [t for t in ib.openTrades() if self._mine(t)]
        if any(_unconfirmed(t) for t in trades):
            self._refresh(ib)
            self._session.pump()
            for trade in ib.openTrades():
                if self._mine(trade) and _unconfirmed(trade):
                    self._absent.add(_key(trade))
                    self._ambiguous.discard(trade.order.orderRef)
            trades = [t for t in ib.openTrades() if self._mine(t)]
        return trades

    def open_orders(self) -> list[OrderReport]:
        ib = self._session.ensure_connected()
        return [self._report(t) for t in self._open_trades(ib)]

    # -- submit --------------------------------------------------------------------------------
    def submit(self, request: OrderRequest) -> OrderReport:
        """Send once. Ambiguous outcomes raise NetworkError; look the id up before resending."""
        cid = request.client_order_id
        existing = self.find(cid, ask_venue=cid in self._ambiguous)
        if existing is not None:
            logger.info("IBKR already holds order %s; not sending it again", cid)
            return self._report_or_raise(existing, cid)
        self._session.require_server_link()
        ib = self._session.ensure_connected()
        contract = contract_for_request(request)
        order = build_ib_order(request, self._account)
        epoch = self._session.link_epoch
        self._sent_at[cid] = self._session.now()
        try:
            trade = ib.placeOrder(contract, order)
        except Exception as exc:
            raise error_for_exception(exc, self._account, f"submit {cid}") from exc

        def answered() -> bool:
            status = trade.orderStatus.status
            return status not in IN_FLIGHT_STATUSES or self._session.link_epoch != epoch

        self._session.wait_until(answered, self._timeout_s)
        state, _ = order_state(trade)
        if state is OrderState.IN_FLIGHT:
            self._ambiguous.add(cid)
            raise NetworkError(
                f"IBKR gave no answer for order {cid} (connection or timeout); "
                "look it up by client_order_id before sending it again"
            )
        return self._report_or_raise(trade, cid)

    def _report_or_raise(self, trade: Trade, cid: str) -> OrderReport:
        state, reason = order_state(trade)
        if state is not OrderState.REJECTED:
            return self._report(trade)
        entry = fatal_error(trade)
        if entry is None:
            raise OrderRejectedError(f"order {cid}: {reason}")
        if entry.errorCode in TRANSIENT_ORDER_CODES:
            # Throttled or dropped before it went live: the id is free to be sent again.
            self._absent.add(_key(trade))
        # The session kept IB's own text; ib_async's log entry wraps it in "Error N, reqId M".
        raw = self._session.order_error(trade.order.orderId)
        message = raw.message if raw is not None and raw.code == entry.errorCode else entry.message
        raise error_for_code(
            entry.errorCode, message, self._account, f"order {cid}", for_order=True
        )

    # -- cancel --------------------------------------------------------------------------------
    def _send_cancel(self, ib: IB, trade: Trade) -> None:
        if trade.order.orderId <= 0:
            raise BrokerError(
                f"order {client_order_id_of(trade)} was placed outside this API client; "
                "cancel it in TWS"
            )
        try:
            ib.cancelOrder(trade.order)
        except Exception as exc:
            raise error_for_exception(exc, self._account, "cancel") from exc

    def cancel(self, client_order_id: str) -> None:
        """Cancel and wait for the venue's confirmation; a finished or unknown order is a no-op."""
        trade = self.find(client_order_id, ask_venue=True)
        if trade is None or trade.isDone():
            logger.info("IBKR cancel %s: nothing open to cancel", client_order_id)
            return
        self._send_cancel(self._session.ensure_connected(), trade)
        if not self._session.wait_until(trade.isDone, self._timeout_s):
            raise NetworkError(
                f"IBKR did not confirm the cancel of {client_order_id}; look the order up"
            )

    def cancel_all(self) -> list[str]:
        """Cancel every open order of this account; returns the ids asked to cancel."""
        ib = self._session.ensure_connected()
        targets = [t for t in self._open_trades(ib) if t.order.orderId > 0]
        errors: list[TbotError] = []
        for trade in targets:
            try:
                self._send_cancel(ib, trade)
            except TbotError as exc:
                errors.append(exc)
        if not self._session.wait_until(lambda: all(t.isDone() for t in targets), self._timeout_s):
            logger.warning("IBKR cancel_all: some cancels are not confirmed yet")
        if errors and len(errors) == len(targets):
            raise errors[0]
        return [client_order_id_of(t) for t in targets]

    # -- fills ---------------------------------------------------------------------------------
    def fills(self, since_utc: datetime | None) -> list[FillReport]:
        """Executions at or after `since_utc`, oldest first, each with its commission.

        A fill whose commission report has not arrived is held back (with everything after it,
        so a caller's cursor never skips it) for `commission_grace_s`, then reported with a
        zero fee and a warning.
        """
        since = require_utc(since_utc, "since_utc") if since_utc is not None else None
        ib = self._session.ensure_connected()
        self._session.pump()
        if self._session.take_executions_stale():
            self._request_executions(ib)
        now = self._session.now()
        candidates: list[tuple[datetime, Fill]] = []
        for fill in ib.fills():
            execution = fill.execution
            if execution.acctNumber not in ("", self._account):
                continue
            when = require_utc(execution.time, f"IBKR execution {execution.execId} time")
            if since is None or when >= since:
                candidates.append((when, fill))
        candidates.sort(key=lambda item: (item[0], item[1].execution.execId))
        reports: list[FillReport] = []
        for when, fill in candidates:
            if commission_known(fill):
                reports.append(fill_report(fill))
            elif now - when < self._grace:
                break
            else:
                logger.warning(
                    "IBKR fill %s has no commission report; fee 0", fill.execution.execId
                )
                reports.append(fill_report(fill, fee_missing=True))
        return reports

    def _request_executions(self, ib: IB) -> None:
        """After the gateway's link came back, fetch executions it may have buffered."""
        try:
            ib.reqExecutions(ExecutionFilter(acctCode=self._account))
        except Exception as exc:
            raise error_for_exception(exc, self._account, "executions") from exc
        self._session.pump()
