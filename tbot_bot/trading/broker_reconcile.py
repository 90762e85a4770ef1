"""Reconcile the order journal with the broker (trading spec §1.3, §7.1; ARCHITECTURE §4).

Run at start, after a reconnect and at each phase end. The broker is the truth for positions,
orders and cash; the journal is the truth for what we intended. Steps:
1. settle rows left `new` / `in_flight` / `unresolved` by looking them up by client order id;
2. compare open orders: broker orders the journal does not know, journal orders the broker does
   not know (each open journal row is refreshed first, it may have filled or been cancelled);
3. fetch fills (including those made while we were offline) and apply them;
4. compare positions: the journal's net fills (plus positions owned elsewhere, e.g. holdings)
   against the broker's positions; read cash.
If the broker cannot be reached (after retries) the report carries `blocked_reason` and trading
must stay blocked until a later run completes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tbot_bot.broker.models import OrderReport, OrderState
from tbot_bot.errors import BrokerError, NetworkError
from tbot_bot.money import ZERO
from tbot_bot.trading.order_manager import OrderManager

logger = logging.getLogger(__name__)

_OPEN_STATES = frozenset({OrderState.ACCEPTED, OrderState.PARTIALLY_FILLED})


@dataclass(frozen=True, slots=True)
class PositionMismatch:
    """`broker_qty` and `expected_qty` are signed (negative = short)."""

    symbol: str
    broker_qty: Decimal
    expected_qty: Decimal

    @property
    def difference(self) -> Decimal:
        return self.broker_qty - self.expected_qty


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What one reconciliation found. `blocked_reason` set = it could not complete."""

    ts_utc: datetime
    completed: bool
    blocked_reason: str | None = None
    resolved_orders: tuple[str, ...] = ()  # pending rows settled by lookup
    still_unresolved: tuple[str, ...] = ()
    unknown_broker_orders: tuple[OrderReport, ...] = ()  # open at the broker, not journalled
    missing_at_broker: tuple[str, ...] = ()  # open in the journal, unknown to the broker
    position_mismatches: tuple[PositionMismatch, ...] = ()
    fills_applied: int = 0
    cash: Decimal | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def clean(self) -> bool:
        """Completed with nothing to look at."""
        return (
            self.completed
            and not self.still_unresolved
            and not self.unknown_broker_orders
            and not self.missing_at_broker
            and not self.position_mismatches
        )


def reconcile(
    manager: OrderManager,
    now: datetime,
    *,
    other_owned_positions: Mapping[str, Decimal] | None = None,
) -> ReconcileReport:
    """Reconcile `manager`'s journal with its broker; never raises for broker trouble."""
    try:
        return _reconcile(manager, now, other_owned_positions or {})
    except NetworkError as exc:
        reason = f"broker_unreachable: {type(exc).__name__}: {exc}"
    except BrokerError as exc:  # e.g. AuthenticationError: credentials refused
        reason = f"broker_refused: {type(exc).__name__}: {exc}"
    logger.error("reconciliation blocked: %s", reason)
    return ReconcileReport(ts_utc=now, completed=False, blocked_reason=reason)


def _reconcile(
    manager: OrderManager, now: datetime, other_owned: Mapping[str, Decimal]
) -> ReconcileReport:
    journal, broker = manager.journal, manager.broker
    resolved, still_unresolved = manager.recover()
    fills_applied = len(manager.poll_fills())

    broker_open = {
        order.client_order_id: order
        for order in manager.read(broker.get_open_orders, "get_open_orders")
    }
    missing: list[str] = []
    for row in journal.in_states(_OPEN_STATES):
        if row.client_order_id in broker_open:
            continue
        refreshed = manager.sync_order(row.client_order_id)
        if refreshed.state in _OPEN_STATES:
            missing.append(row.client_order_id)
    unknown = tuple(
        report for cid, report in sorted(broker_open.items()) if journal.get(cid) is None
    )

    expected = dict(journal.net_positions())
    for symbol, qty in other_owned.items():
        expected[symbol] = expected.get(symbol, ZERO) + qty
    broker_positions = {
        p.symbol: p.qty for p in manager.read(broker.get_positions, "get_positions")
    }
    mismatches = tuple(
        PositionMismatch(symbol, broker_positions.get(symbol, ZERO), expected.get(symbol, ZERO))
        for symbol in sorted(set(expected) | set(broker_positions))
        if broker_positions.get(symbol, ZERO) != expected.get(symbol, ZERO)
    )
    account = manager.read(broker.get_account, "get_account")

    problems = [f"unresolved order {cid}" for cid in still_unresolved]
    problems += [
        f"broker order {r.client_order_id} ({r.symbol}) not in the journal" for r in unknown
    ]
    problems += [f"journal order {cid} unknown to the broker" for cid in missing]
    problems += [
        f"position {m.symbol}: broker {m.broker_qty}, expected {m.expected_qty}" for m in mismatches
    ]
    for problem in problems:
        logger.warning("reconciliation: %s", problem)
    return ReconcileReport(
        ts_utc=now,
        completed=True,
        resolved_orders=tuple(resolved),
        still_unresolved=tuple(still_unresolved),
        unknown_broker_orders=unknown,
        missing_at_broker=tuple(missing),
        position_mismatches=mismatches,
        fills_applied=fills_applied,
        cash=account.cash,
        problems=tuple(problems),
    )
