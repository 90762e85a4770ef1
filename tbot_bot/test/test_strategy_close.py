"""CLOSE: momentum / fade behind the VIX gate (trading spec §2.3), with the spec's examples."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tbot_bot.strategy.base import Direction, MarketInputs, SymbolTape
from tbot_bot.strategy.strategy_close import CloseParams, CloseStrategy
from tbot_bot.test.fakes.bars import at_minute, bar, tape_of

D = Decimal


def _close(fail_open: bool = False) -> CloseStrategy:
    return CloseStrategy(CloseParams(True, D(15), D("0.995"), D("0.10"), fail_open))


def _tape(hod: str, lod: str) -> SymbolTape:
    return tape_of(
        [bar(0, hod, hod, hod, hod), bar(1, lod, lod, lod, lod), bar(2, lod, hod, lod, lod)]
    )


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("19.91", Direction.LONG),
        ("19.90", None),
        ("18.19", Direction.BEARISH),
        ("18.10", Direction.BEARISH),
        ("18.20", None),
        ("19.00", None),
    ],
)
def test_spec_thresholds(price: str, expected: Direction | None) -> None:
    result = _close().signal(_tape("20.00", "18.00"), MarketInputs(at_minute(3), D(price), D(20)))
    assert (result.signal.direction if result.signal else None) is expected


def test_narrow_range_gives_no_signal() -> None:
    result = _close().signal(_tape("20.00", "19.95"), MarketInputs(at_minute(3), D("19.93"), D(20)))
    assert result.signal is None
    assert result.reason == "range_too_narrow"


def test_vix_gate_and_fail_modes() -> None:
    tape = _tape("20.00", "18.00")
    assert _close().signal(tape, MarketInputs(at_minute(3), D("19.95"), D(14))).reason == "vix_gate"
    assert (
        _close().signal(tape, MarketInputs(at_minute(3), D("19.95"), None)).reason
        == "vix_unavailable"
    )
    opened = _close(fail_open=True).signal(tape, MarketInputs(at_minute(3), D("19.95"), None))
    assert opened.signal is not None


def test_identical_bars_give_identical_signals() -> None:
    a = _close().signal(_tape("20.00", "18.00"), MarketInputs(at_minute(3), D("19.95"), D(20)))
    b = _close().signal(_tape("20.00", "18.00"), MarketInputs(at_minute(3), D("19.95"), D(20)))
    assert a == b
