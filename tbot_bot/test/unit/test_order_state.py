"""The order state machine of trading spec §7.1."""

from __future__ import annotations

import itertools
import logging

import pytest

from tbot_bot.broker.models import OrderState as S
from tbot_bot.broker.order_state import (
    ALLOWED_TRANSITIONS,
    adoption_path,
    can_transition,
    check_transition,
    is_stale_report,
)
from tbot_bot.errors import StateError

LEGAL = {
    (S.NEW, S.IN_FLIGHT),
    (S.NEW, S.UNRESOLVED),
    (S.NEW, S.CANCELLED),
    *(
        (S.IN_FLIGHT, t)
        for t in (
            S.ACCEPTED,
            S.REJECTED,
            S.UNRESOLVED,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCELLED,
            S.EXPIRED,
        )
    ),
    *(
        (S.UNRESOLVED, t)
        for t in (S.ACCEPTED, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED)
    ),
    *((S.ACCEPTED, t) for t in (S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED, S.REJECTED)),
    *((S.PARTIALLY_FILLED, t) for t in (S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED)),
}


def test_table_is_exactly_the_documented_transitions() -> None:
    table = {(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets}
    assert table == LEGAL
    assert set(ALLOWED_TRANSITIONS) == set(S)


@pytest.mark.parametrize(("current", "target"), sorted(itertools.product(S, S)))
def test_every_pair_is_allowed_or_refused_with_a_state_error(
    current: S, target: S, caplog: pytest.LogCaptureFixture
) -> None:
    if (current, target) in LEGAL or current == target:
        assert check_transition(current, target) is target
        return
    with caplog.at_level(logging.WARNING), pytest.raises(StateError, match="illegal"):
        check_transition(current, target, client_order_id="B01-X")
    assert "refused order state transition" in caplog.text
    assert not can_transition(current, target)


def test_terminal_states_are_final() -> None:
    for state in (S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED):
        assert state.is_terminal and not ALLOWED_TRANSITIONS[state]


def test_adoption_from_new_passes_through_unresolved() -> None:
    assert adoption_path(S.NEW, S.ACCEPTED) == (S.UNRESOLVED, S.ACCEPTED)
    assert adoption_path(S.IN_FLIGHT, S.FILLED) == (S.FILLED,)
    assert adoption_path(S.IN_FLIGHT, S.NEW) == (S.ACCEPTED,)  # "the venue has it"
    assert adoption_path(S.ACCEPTED, S.ACCEPTED) == ()
    with pytest.raises(StateError):
        adoption_path(S.FILLED, S.CANCELLED)


def test_reports_that_lag_the_journal_are_stale_not_contradictions() -> None:
    assert is_stale_report(S.PARTIALLY_FILLED, S.ACCEPTED)
    assert is_stale_report(S.FILLED, S.PARTIALLY_FILLED)
    assert is_stale_report(S.CANCELLED, S.ACCEPTED)
    assert is_stale_report(S.ACCEPTED, S.UNRESOLVED)
    assert not is_stale_report(S.ACCEPTED, S.FILLED)
    assert not is_stale_report(S.FILLED, S.CANCELLED)  # a real contradiction
    assert not is_stale_report(S.UNRESOLVED, S.ACCEPTED)
