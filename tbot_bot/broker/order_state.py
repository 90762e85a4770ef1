"""The order state machine of trading spec §7.1, as one explicit table.

`NEW` (journal row committed) -> `IN_FLIGHT` (sent, no answer yet) -> the broker's answer. Every
change of an order's state in the journal goes through `check_transition`; anything the table does
not list raises `StateError` and is logged, so a stale or contradictory broker report can never
move an order backwards (a FILLED order never becomes ACCEPTED again).

Two transitions deserve a word:
- `NEW -> CANCELLED` marks an intent that was never sent: after a crash between the journal write
  and the send, the broker confirmed by lookup that it does not know the order.
- `NEW -> UNRESOLVED` is the same crash when the lookup could not confirm either way (or found
  the order): from there the broker's state is adopted like after any unclear answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType

from tbot_bot.broker.models import OrderState
from tbot_bot.errors import StateError

logger = logging.getLogger(__name__)

_S = OrderState
# The venue may still reject an order it had acknowledged (IBKR "Inactive"), hence ACCEPTED ->
# REJECTED. PARTIALLY_FILLED -> PARTIALLY_FILLED is a real transition: one more partial fill.
ALLOWED_TRANSITIONS: Mapping[OrderState, frozenset[OrderState]] = MappingProxyType(
    {
        _S.NEW: frozenset({_S.IN_FLIGHT, _S.UNRESOLVED, _S.CANCELLED}),
        _S.IN_FLIGHT: frozenset(
            {
                _S.ACCEPTED,
                _S.REJECTED,
                _S.UNRESOLVED,
                _S.PARTIALLY_FILLED,
                _S.FILLED,
                _S.CANCELLED,
                _S.EXPIRED,
            }
        ),
        _S.UNRESOLVED: frozenset(
            {_S.ACCEPTED, _S.REJECTED, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.EXPIRED}
        ),
        _S.ACCEPTED: frozenset(
            {_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.EXPIRED, _S.REJECTED}
        ),
        _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.EXPIRED}),
        _S.FILLED: frozenset(),
        _S.CANCELLED: frozenset(),
        _S.REJECTED: frozenset(),
        _S.EXPIRED: frozenset(),
    }
)

# States a broker report can put an order in. A broker never reports our own bookkeeping states;
# an adapter that says NEW/IN_FLIGHT means "the venue has it, nothing happened yet".
BROKER_REPORTABLE: frozenset[OrderState] = frozenset(
    {
        _S.ACCEPTED,
        _S.PARTIALLY_FILLED,
        _S.FILLED,
        _S.CANCELLED,
        _S.REJECTED,
        _S.EXPIRED,
    }
)


def can_transition(current: OrderState, target: OrderState) -> bool:
    """True if the table allows `current -> target` (staying in the same state is no change)."""
    return target == current or target in ALLOWED_TRANSITIONS[current]


def check_transition(
    current: OrderState, target: OrderState, *, client_order_id: str = "", reason: str = ""
) -> OrderState:
    """Return `target` if the move is allowed; otherwise log it and raise `StateError`."""
    if can_transition(current, target):
        return target
    logger.warning(
        "refused order state transition %s -> %s for %s (%s)",
        current.value,
        target.value,
        client_order_id or "?",
        reason or "no reason given",
    )
    raise StateError(
        f"order {client_order_id or '?'}: illegal state transition "
        f"{current.value} -> {target.value}; allowed from {current.value}: "
        f"{sorted(s.value for s in ALLOWED_TRANSITIONS[current]) or 'none (terminal)'}"
    )


def normalise_reported_state(state: OrderState) -> OrderState:
    """Map what an adapter reported to a state the journal can adopt."""
    if state in {_S.NEW, _S.IN_FLIGHT}:
        return _S.ACCEPTED
    return state


_LIFECYCLE_RANK = {
    _S.NEW: 0,
    _S.IN_FLIGHT: 0,
    _S.UNRESOLVED: 0,
    _S.ACCEPTED: 1,
    _S.PARTIALLY_FILLED: 2,
    _S.FILLED: 3,
    _S.CANCELLED: 3,
    _S.REJECTED: 3,
    _S.EXPIRED: 3,
}


def is_stale_report(current: OrderState, reported: OrderState) -> bool:
    """True when a broker report lags what the journal already knows.

    Fills often arrive before the order status catches up (journal PARTIALLY_FILLED, report still
    ACCEPTED; journal FILLED from its fills, report PARTIALLY_FILLED). Such a report carries no
    news and is not a contradiction; two different terminal states are, and are not stale.
    """
    target = normalise_reported_state(reported)
    if target == _S.UNRESOLVED:
        return True
    return _LIFECYCLE_RANK[target] < _LIFECYCLE_RANK[current] or (
        current.is_terminal and not target.is_terminal
    )


def adoption_path(current: OrderState, reported: OrderState) -> tuple[OrderState, ...]:
    """The steps that take a journal row from `current` to a broker-reported state.

    A row still `NEW` (crash before it was marked sent) passes through `UNRESOLVED` first, so its
    history shows that the send was never confirmed. Raises `StateError` if no legal path exists.
    """
    target = normalise_reported_state(reported)
    if target == _S.UNRESOLVED or target == current:
        return ()
    if current == _S.NEW:
        check_transition(_S.UNRESOLVED, target)
        return (_S.UNRESOLVED, target)
    check_transition(current, target)
    return (target,)
