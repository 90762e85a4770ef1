"""The order journal: what we intended, keyed by client order id (trading spec §7.1, §7.6).

The journal is the truth for intent; the broker is the truth for what happened. A row is committed
in state `new` before anything is sent; every later state change is checked against the state
machine (`tbot_bot.broker.order_state`) and recorded in `order_state_history`. Fills are stored by
the broker's stable `external_id`, so applying the same fill twice changes nothing.

Quantities and prices are stored as exact decimal strings, fees as integer cents (the column
encoding is `journal_columns.py`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tbot_bot.broker.models import FillReport, OrderReport, OrderRequest, OrderSide, OrderState
from tbot_bot.broker.order_state import adoption_path, check_transition, is_stale_report
from tbot_bot.clock import Clock, iso_utc, parse_iso_utc
from tbot_bot.errors import LogicError
from tbot_bot.money import SIX_DP, ZERO, from_minor, to_minor
from tbot_bot.trading.client_order_id import parse_client_order_id
from tbot_bot.trading.journal_columns import (
    decimal_or_none,
    decimal_text,
    fill_from_row,
    option_json,
    request_from_row,
)
from tbot_bot.trading.state_db import named_queries, transaction

logger = logging.getLogger(__name__)

_Q = named_queries("journal_queries.sql")


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What the runner knows about an intent beyond the broker request."""

    trading_date: str | None = None  # YYYY-MM-DD
    strategy: str | None = None
    session_id: str | None = None
    previous_attempt: str | None = None  # client id of the exit attempt this one replaces
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JournalOrder:
    """One journal row."""

    request: OrderRequest
    state: OrderState
    broker_order_id: str | None
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    fees: Decimal
    state_reason: str | None
    context: OrderContext
    purpose: str | None
    created_utc: datetime
    updated_utc: datetime
    sent_utc: datetime | None
    closed_utc: datetime | None

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    @property
    def symbol(self) -> str:
        return self.request.symbol

    @property
    def remaining_qty(self) -> Decimal:
        return max(self.request.qty - self.filled_qty, ZERO)

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal


def _row_to_order(row: sqlite3.Row) -> JournalOrder:
    request = request_from_row(row)
    context = OrderContext(
        trading_date=row["trading_date"],
        strategy=row["strategy"],
        session_id=row["session_id"],
        previous_attempt=row["previous_attempt"],
        meta=json.loads(row["meta_json"]),
    )
    return JournalOrder(
        request=request,
        state=OrderState(row["state"]),
        broker_order_id=row["broker_order_id"],
        filled_qty=Decimal(row["filled_qty"]),
        avg_fill_price=decimal_or_none(row["avg_fill_price"]),
        fees=from_minor(row["fees_minor"]),
        state_reason=row["state_reason"],
        context=context,
        purpose=row["purpose"],
        created_utc=parse_iso_utc(row["created_utc"]),
        updated_utc=parse_iso_utc(row["updated_utc"]),
        sent_utc=parse_iso_utc(row["sent_utc"]) if row["sent_utc"] else None,
        closed_utc=parse_iso_utc(row["closed_utc"]) if row["closed_utc"] else None,
    )


class OrderJournal:
    """Journal rows in the runner state database; one writer (the runner)."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    def _now(self) -> str:
        return iso_utc(self._clock.now_utc())

    def close(self) -> None:
        self._conn.close()

    # -- writes ------------------------------------------------------------------------------------
    def record_new(
        self, request: OrderRequest, context: OrderContext | None = None
    ) -> JournalOrder:
        """Commit the intent in state `new`; a second row for the same id is a LogicError."""
        context = context or OrderContext()
        try:
            purpose: str | None = parse_client_order_id(request.client_order_id).purpose
        except ValueError:
            purpose = None  # ids of manual tools need not follow the runner's pattern
        now = self._now()
        params = {
            "client_order_id": request.client_order_id,
            "trading_date": context.trading_date,
            "strategy": context.strategy,
            "session_id": context.session_id,
            "purpose": purpose,
            "symbol": request.symbol,
            "side": request.side.value,
            "qty": decimal_text(request.qty),
            "order_type": request.order_type.value,
            "time_in_force": request.time_in_force.value,
            "limit_price": decimal_text(request.limit_price),
            "stop_price": decimal_text(request.stop_price),
            "trail_percent": decimal_text(request.trail_percent),
            "position_intent": request.intent.value,
            "asset_class": request.asset_class.value,
            "option_json": option_json(request.option),
            "previous_attempt": context.previous_attempt,
            "meta_json": json.dumps(dict(context.meta), sort_keys=True, default=str),
            "now": now,
        }
        try:
            with transaction(self._conn) as conn:
                conn.execute(_Q["insert_order"], params)
                self._history(conn, request.client_order_id, None, OrderState.NEW, "intent", now)
        except sqlite3.IntegrityError as exc:
            raise LogicError(
                f"order {request.client_order_id} is already journalled: one intent, one order"
            ) from exc
        return self.require(request.client_order_id)

    def transition(
        self,
        client_order_id: str,
        target: OrderState,
        *,
        reason: str | None = None,
    ) -> JournalOrder:
        """Move one order to `target` (checked by the state machine) and commit."""
        order = self.require(client_order_id)
        check_transition(order.state, target, client_order_id=client_order_id, reason=reason or "")
        if target == order.state and target is not OrderState.PARTIALLY_FILLED:
            return order
        with transaction(self._conn) as conn:
            self._set_state(conn, order.state, target, client_order_id, reason)
        return self.require(client_order_id)

    def _set_state(
        self,
        conn: sqlite3.Connection,
        current: OrderState,
        target: OrderState,
        client_order_id: str,
        reason: str | None,
    ) -> None:
        now = self._now()
        conn.execute(
            _Q["update_state"],
            {
                "client_order_id": client_order_id,
                "state": target.value,
                "reason": reason,
                "sent_utc": now if target is OrderState.IN_FLIGHT else None,
                "closed_utc": now if target.is_terminal else None,
                "now": now,
            },
        )
        self._history(conn, client_order_id, current, target, reason, now)

    @staticmethod
    def _history(
        conn: sqlite3.Connection,
        client_order_id: str,
        current: OrderState | None,
        target: OrderState,
        reason: str | None,
        now: str,
    ) -> None:
        conn.execute(
            _Q["insert_history"],
            {
                "client_order_id": client_order_id,
                "from_state": current.value if current else None,
                "to_state": target.value,
                "now": now,
                "reason": reason,
            },
        )

    def apply_report(self, report: OrderReport) -> JournalOrder:
        """Adopt the broker's view of an order: state (via legal steps) and execution numbers.

        A report that lags the journal (see `is_stale_report`) only refreshes the numbers.
        Raises `StateError` when the broker contradicts a terminal state we already hold.
        """
        order = self.require(report.client_order_id)
        steps: tuple[OrderState, ...] = ()
        if not is_stale_report(order.state, report.state):
            steps = adoption_path(order.state, report.state)
        filled = max(order.filled_qty, report.filled_qty)
        avg = order.avg_fill_price
        if report.avg_fill_price is not None and report.filled_qty >= order.filled_qty:
            avg = report.avg_fill_price
        with transaction(self._conn) as conn:
            current = order.state
            for step in steps:
                reason = report.reject_reason if step is OrderState.REJECTED else "broker_report"
                self._set_state(conn, current, step, order.client_order_id, reason)
                current = step
            self._set_execution(conn, order, report.broker_order_id, filled, avg, order.fees)
        return self.require(report.client_order_id)

    def _set_execution(
        self,
        conn: sqlite3.Connection,
        order: JournalOrder,
        broker_order_id: str | None,
        filled: Decimal,
        avg: Decimal | None,
        fees: Decimal,
    ) -> None:
        conn.execute(
            _Q["update_execution"],
            {
                "client_order_id": order.client_order_id,
                "broker_order_id": broker_order_id,
                "filled_qty": decimal_text(filled),
                "avg_fill_price": decimal_text(avg),
                "fees_minor": to_minor(fees),
                "now": self._now(),
            },
        )

    def record_fill(self, fill: FillReport, client_order_id: str) -> tuple[JournalOrder, bool]:
        """Store a fill of a journalled order; returns (order, True if the fill was new)."""
        order = self.require(client_order_id)
        now = self._now()
        with transaction(self._conn) as conn:
            inserted = conn.execute(
                _Q["insert_fill"],
                {
                    "external_id": fill.external_id,
                    "client_order_id": client_order_id,
                    "broker_order_id": fill.broker_order_id,
                    "symbol": fill.symbol,
                    "side": fill.side.value,
                    "qty": decimal_text(fill.qty),
                    "price": decimal_text(fill.price),
                    "fee_minor": to_minor(fill.fee),
                    "ts_utc": iso_utc(fill.ts_utc),
                    "now": now,
                },
            ).rowcount
            if not inserted:
                return order, False
            fills = [
                fill_from_row(row)
                for row in conn.execute(
                    _Q["select_fills_of_order"], {"client_order_id": client_order_id}
                )
            ]
            fill_qty = sum((f.qty for f in fills), ZERO)
            filled = max(order.filled_qty, fill_qty)
            avg = order.avg_fill_price
            if fill_qty >= order.filled_qty:
                avg = (sum((f.qty * f.price for f in fills), ZERO) / fill_qty).quantize(SIX_DP)
            fees = sum((f.fee for f in fills), ZERO)
            if not order.state.is_terminal:
                target = (
                    OrderState.FILLED
                    if filled >= order.request.qty
                    else OrderState.PARTIALLY_FILLED
                )
                current = order.state
                for step in adoption_path(current, target):
                    self._set_state(conn, current, step, client_order_id, "fill")
                    current = step
            self._set_execution(conn, order, fill.broker_order_id, filled, avg, fees)
        return self.require(client_order_id), True

    # -- reads -------------------------------------------------------------------------------------
    def get(self, client_order_id: str) -> JournalOrder | None:
        row = self._conn.execute(
            _Q["select_order"], {"client_order_id": client_order_id}
        ).fetchone()
        return _row_to_order(row) if row else None

    def require(self, client_order_id: str) -> JournalOrder:
        order = self.get(client_order_id)
        if order is None:
            raise LogicError(f"order {client_order_id} is not in the journal")
        return order

    def by_broker_order_id(self, broker_order_id: str) -> JournalOrder | None:
        row = self._conn.execute(
            _Q["select_order_by_broker_id"], {"broker_order_id": broker_order_id}
        ).fetchone()
        return _row_to_order(row) if row else None

    def in_states(self, states: Iterable[OrderState]) -> list[JournalOrder]:
        states_json = json.dumps(sorted(state.value for state in states))
        rows = self._conn.execute(_Q["select_orders_in_states"], {"states_json": states_json})
        return [_row_to_order(row) for row in rows]

    def orders_of_date(self, trading_date: str) -> list[JournalOrder]:
        rows = self._conn.execute(_Q["select_orders_of_date"], {"trading_date": trading_date})
        return [_row_to_order(row) for row in rows]

    def fills(self, client_order_id: str | None = None) -> list[FillReport]:
        if client_order_id is None:
            rows = self._conn.execute(_Q["select_all_fills"])
        else:
            rows = self._conn.execute(
                _Q["select_fills_of_order"], {"client_order_id": client_order_id}
            )
        return [fill_from_row(row) for row in rows]

    def has_fill(self, external_id: str) -> bool:
        row = self._conn.execute(_Q["select_fill_exists"], {"external_id": external_id}).fetchone()
        return row is not None

    def latest_fill_ts(self) -> datetime | None:
        row = self._conn.execute(_Q["select_latest_fill_ts"]).fetchone()
        return parse_iso_utc(row["ts_utc"]) if row and row["ts_utc"] else None

    def net_positions(self) -> dict[str, Decimal]:
        """Signed quantity per symbol from every journalled fill (what our orders should hold)."""
        totals: dict[str, Decimal] = {}
        for fill in self.fills():
            signed = fill.qty if fill.side is OrderSide.BUY else -fill.qty
            totals[fill.symbol] = totals.get(fill.symbol, ZERO) + signed
        return {symbol: qty for symbol, qty in totals.items() if qty != ZERO}

    def history(self, client_order_id: str) -> list[tuple[str | None, str, str, str | None]]:
        """(from, to, ts_utc, reason) of every state change, oldest first."""
        rows = self._conn.execute(_Q["select_history"], {"client_order_id": client_order_id})
        return [(r["from_state"], r["to_state"], r["ts_utc"], r["reason"]) for r in rows]
