"""MID: VWAP reversion with ADX and Bollinger confirmation (trading spec §2.2)."""

from __future__ import annotations

from decimal import Decimal

from tbot_bot.strategy.base import Direction, ExitReason, MarketInputs, SymbolTape
from tbot_bot.strategy.indicators import session_vwap
from tbot_bot.strategy.strategy_mid import MidParams, MidStrategy
from tbot_bot.test.fakes.bars import at_minute, bar, flat_bars, tape_of

D = Decimal


def _mid(fail_open: bool = False) -> MidStrategy:
    return MidStrategy(MidParams(True, D("0.02"), D(25), fail_open))


def _ranging_tape() -> SymbolTape:
    """150 minutes oscillating around 40.00: VWAP 40, low ADX, tight bands."""
    bars = []
    for i in range(150):
        close = D("40.00") + (D("0.10") if (i // 5) % 2 else D("-0.10"))
        bars.append(bar(i, str(close), str(close + D("0.05")), str(close - D("0.05")), str(close)))
    return tape_of(bars)


def test_vwap_from_bars_uses_typical_price_weighted_by_volume() -> None:
    bars = [bar(0, "10", "12", "8", "10", v=100), bar(1, "20", "21", "19", "20", v=300)]
    assert session_vwap(bars) == (D(10) * 100 + D(20) * 300) / 400


def test_no_volume_is_no_vwap_never_the_price() -> None:
    tape = tape_of(flat_bars(0, 10, "40", volume=0))
    result = _mid().signal(tape, MarketInputs(at_minute(11), D("30")))
    assert result.reason == "no_vwap"


def test_long_zone_needs_threshold_and_lower_band() -> None:
    tape = _ranging_tape()
    vwap = tape.vwap()
    assert vwap is not None
    assert abs(vwap - D(40)) < D("0.05")
    result = _mid().signal(tape, MarketInputs(at_minute(151), D("39.10")))
    assert result.signal is not None
    assert result.signal.direction is Direction.LONG
    assert Decimal(result.metrics["adx"]) <= 25
    inside = _mid().signal(tape, MarketInputs(at_minute(151), D("39.50")))
    assert inside.reason == "no_signal"


def test_bearish_zone() -> None:
    result = _mid().signal(_ranging_tape(), MarketInputs(at_minute(151), D("40.90")))
    assert result.signal is not None
    assert result.signal.direction is Direction.BEARISH


def test_trend_blocks_with_adx_trend() -> None:
    bars = [
        bar(
            i,
            str(D(40) + D("0.1") * i),
            str(D("40.05") + D("0.1") * i),
            str(D("39.95") + D("0.1") * i),
            str(D(40) + D("0.1") * i),
        )
        for i in range(150)
    ]
    tape = tape_of(bars)
    vwap = tape.vwap()
    assert vwap is not None
    price = (vwap * D("0.97")).quantize(D("0.01"))
    result = _mid().signal(tape, MarketInputs(at_minute(151), price))
    assert result.reason == "adx_trend"


def test_bollinger_must_confirm() -> None:
    # Wide swings: the lower band sits far below the 2 % zone, so the deviation alone is not enough.
    bars = []
    for i in range(150):
        close = D(40) + (D(3) if (i // 5) % 2 else D(-3))
        bars.append(bar(i, str(close), str(close + D("0.05")), str(close - D("0.05")), str(close)))
    result = _mid().signal(tape_of(bars), MarketInputs(at_minute(151), D("39.10")))
    assert result.reason == "bollinger_unconfirmed"
    assert result.metrics["lower_band"] == "34"


def test_short_history_fails_closed_or_open() -> None:
    tape = tape_of(flat_bars(0, 20, "40"))
    assert _mid().signal(tape, MarketInputs(at_minute(21), D("39"))).reason == "adx_unavailable"
    opened = _mid(fail_open=True).signal(tape, MarketInputs(at_minute(21), D("39")))
    assert opened.signal is not None


def test_vwap_touch_exit_on_the_target() -> None:
    tape = _ranging_tape()
    mid = _mid()
    assert (
        mid.manage(Direction.LONG, tape, MarketInputs(at_minute(151), D("40.10")))
        is ExitReason.VWAP_TOUCH
    )
    assert mid.manage(Direction.LONG, tape, MarketInputs(at_minute(151), D("39.50"))) is None
    # A bearish trade holding an inverse ETF exits when the *target* falls back to its VWAP.
    assert (
        mid.manage(Direction.BEARISH, tape, MarketInputs(at_minute(151), D("39.90")))
        is ExitReason.VWAP_TOUCH
    )
