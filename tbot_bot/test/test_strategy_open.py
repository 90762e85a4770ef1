"""OPEN: opening-range breakout (trading spec §2.1), on crafted bars."""

from __future__ import annotations

from decimal import Decimal

from tbot_bot.strategy.base import Direction, MarketInputs, SymbolTape
from tbot_bot.strategy.strategy_open import OpenParams, OpenStrategy
from tbot_bot.test.fakes.bars import at_minute, bar, tape_of

D = Decimal


def _strategy(buffer: str = "0.02", enabled: bool = True) -> OpenStrategy:
    return OpenStrategy(OpenParams(enabled, D(buffer), at_minute(0), at_minute(20)))


def _range_tape() -> SymbolTape:
    # Range 50.00-51.00 in the analysis window; a later bar outside the window must not count.
    bars = [
        bar(0, "50.50", "51.00", "50.20", "50.60"),
        bar(10, "50.40", "50.80", "50.00", "50.30"),
        bar(19, "50.30", "50.90", "50.10", "50.50"),
        bar(21, "50.5", "60.00", "40.00", "50.5"),
    ]
    return tape_of(bars)


def test_long_above_range_high_plus_buffer() -> None:
    tape = _range_tape()
    hit = _strategy().signal(tape, MarketInputs(at_minute(22), D("52.03"))).signal
    assert hit is not None
    assert hit.direction is Direction.LONG
    none = _strategy().signal(tape, MarketInputs(at_minute(22), D("52.02")))
    assert none.signal is None
    assert none.reason == "no_signal"
    assert none.metrics["long_above"] == "52.0200"


def test_bearish_below_range_low_minus_buffer() -> None:
    tape = _range_tape()
    hit = _strategy().signal(tape, MarketInputs(at_minute(22), D("48.99")))
    assert hit.signal is not None
    assert hit.signal.direction is Direction.BEARISH
    assert _strategy().signal(tape, MarketInputs(at_minute(22), D("49.00"))).signal is None


def test_no_bars_in_analysis_window_is_no_range() -> None:
    tape = tape_of([bar(25, "50", "51", "49", "50")])
    result = _strategy().signal(tape, MarketInputs(at_minute(26), D("70")))
    assert result.signal is None
    assert result.reason == "no_range"


def test_self_check_statuses() -> None:
    assert _strategy().self_check()["status"] == "ok"
    assert _strategy(enabled=False).self_check()["status"] == "disabled"
    bad = _strategy(buffer="0").self_check()
    assert bad["status"] == "unhealthy"
    assert "STRAT_OPEN_BUFFER" in bad["reason"]
