"""The fill model of trading spec §14, rule by rule, with hand-computed numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from tbot_bot.broker.models import OrderSide, OrderType
from tbot_bot.broker.sim.fill_model import (
    FillModelConfig,
    SlippageType,
    WorkingOrder,
    fill_fee,
    fill_timestamp,
    first_bar_qty,
    is_marketable,
    limit_touch_price,
    marketable_fill_price,
    match_bar,
    quote_from_bar,
    slippage_fraction,
    stop_cross_price,
    trailing_stop_level,
)
from tbot_bot.errors import ConfigError
from tbot_bot.market.bars import Bar

D = Decimal  # short alias: the tests are mostly price tables

T0 = datetime(2025, 7, 15, 13, 50, tzinfo=UTC)
BUY, SELL = OrderSide.BUY, OrderSide.SELL
NO_SLIP = FillModelConfig(slippage_enabled=False)


def bar(o: str, h: str, lo: str, c: str, minute: int = 0) -> Bar:
    return Bar("MSFT", T0 + timedelta(minutes=minute), D(o), D(h), D(lo), D(c), 1000)


# -- quotes -------------------------------------------------------------------------------------
def test_quote_is_close_minus_plus_half_spread_tick_rounded_at_bar_end() -> None:
    quote = quote_from_bar(bar("100", "101", "99", "100.00"), spread_bps=2)
    assert (quote.bid, quote.ask, quote.last) == (D("99.99"), D("100.01"), D("100.00"))
    assert quote.quote_ts == T0 + timedelta(minutes=1)


def test_quote_rounding_never_narrows_the_spread() -> None:
    # half spread of 20.00 at 2 bp is 0.002: bid floors to 19.99, ask ceils to 20.01
    quote = quote_from_bar(bar("20", "20", "20", "20.00"), spread_bps=2)
    assert (quote.bid, quote.ask) == (D("19.99"), D("20.01"))
    flat = quote_from_bar(bar("20", "20", "20", "20.00"), spread_bps=0)
    assert flat.bid == flat.ask == D("20.00")


def test_marketable_means_reaching_the_other_side_of_the_quote() -> None:
    quote = quote_from_bar(bar("100", "101", "99", "100.00"), spread_bps=2)
    assert is_marketable(BUY, OrderType.MARKET, None, None)
    assert is_marketable(BUY, OrderType.LIMIT, D("100.01"), quote)
    assert not is_marketable(BUY, OrderType.LIMIT, D("100.00"), quote)
    assert is_marketable(SELL, OrderType.LIMIT, D("99.99"), quote)
    assert not is_marketable(SELL, OrderType.LIMIT, D("100.00"), quote)
    assert not is_marketable(BUY, OrderType.LIMIT, D("100.01"), None)


# -- slippage -------------------------------------------------------------------------------------
def test_rule_based_slippage_moves_the_open_against_the_trader() -> None:
    config = FillModelConfig(slippage_mean_pct=D("0.15"))
    fraction = slippage_fraction(config, "any")
    assert fraction == D("0.0015")
    assert marketable_fill_price(BUY, D("100.00"), fraction, None) == D("100.15")
    assert marketable_fill_price(SELL, D("100.00"), fraction, None) == D("99.85")
    # 102 x 1.0015 = 102.153 rounds up for a buy, 101.847 down for a sell
    assert marketable_fill_price(BUY, D("102.00"), fraction, None) == D("102.16")
    assert marketable_fill_price(SELL, D("102.00"), fraction, None) == D("101.84")


def test_disabled_or_none_slippage_is_zero() -> None:
    assert slippage_fraction(FillModelConfig(slippage_enabled=False), "k") == 0
    assert slippage_fraction(FillModelConfig(slippage_type=SlippageType.NONE), "k") == 0


def test_randomized_slippage_is_seeded_deterministic_and_never_negative() -> None:
    config = FillModelConfig(
        slippage_type=SlippageType.RANDOMIZED,
        slippage_mean_pct=D("0"),
        slippage_stddev_pct=D("1"),
        seed=7,
    )
    draws = [slippage_fraction(config, f"order-{i}") for i in range(200)]
    assert draws == [slippage_fraction(config, f"order-{i}") for i in range(200)]
    assert all(d >= 0 for d in draws)
    assert draws.count(D(0)) > 50  # half of a zero-mean normal is clipped to zero
    assert len(set(draws)) > 50
    other_seed = [slippage_fraction(replace(config, seed=8), f"order-{i}") for i in range(200)]
    assert other_seed != draws


def test_slippage_never_goes_beyond_the_limit() -> None:
    assert marketable_fill_price(BUY, D("100.00"), D("0.0015"), D("100.10")) == D("100.10")
    assert marketable_fill_price(SELL, D("100.00"), D("0.0015"), D("99.90")) == D("99.90")
    # open already beyond the limit: no fill at the open
    assert marketable_fill_price(BUY, D("100.20"), D("0"), D("100.10")) is None


# -- limits, stops, trailing stops -------------------------------------------------------------
def test_resting_limit_fills_when_touched_at_the_better_of_limit_and_open() -> None:
    assert limit_touch_price(BUY, D("99.50"), bar("100", "100.5", "99.40", "100")) == D("99.50")
    assert limit_touch_price(BUY, D("99.50"), bar("99.00", "99.8", "98.9", "99")) == D("99.00")
    assert limit_touch_price(BUY, D("99.50"), bar("100", "100.5", "99.51", "100")) is None
    assert limit_touch_price(SELL, D("101"), bar("100", "101.20", "99.9", "100")) == D("101")
    assert limit_touch_price(SELL, D("101"), bar("102", "102.5", "101.5", "102")) == D("102")


def test_stop_fills_when_crossed_at_the_worse_of_stop_and_open() -> None:
    assert stop_cross_price(SELL, D("98"), bar("99", "99.5", "97.5", "98")) == D("98.00")
    assert stop_cross_price(SELL, D("98"), bar("97", "97.5", "96.5", "97")) == D("97.00")
    assert stop_cross_price(SELL, D("98"), bar("99", "99.5", "98.01", "99")) is None
    assert stop_cross_price(BUY, D("102"), bar("101", "102.5", "100.5", "102")) == D("102.00")
    assert stop_cross_price(BUY, D("102"), bar("103", "103.5", "102.5", "103")) == D("103.00")


def test_trailing_stop_level_and_spec_example() -> None:
    assert trailing_stop_level(SELL, D("100"), D("0.02")) == D("98.00")
    assert trailing_stop_level(BUY, D("50"), D("0.02")) == D("51.00")
    # trading spec §6: TRAIL_PCT_CLOSE 0.019, peak 20.00 -> 19.62; tightened 0.0095 -> 19.81
    assert trailing_stop_level(SELL, D("20.00"), D("0.019")).quantize(D("0.01")) == D("19.62")
    assert trailing_stop_level(SELL, D("20.00"), D("0.0095")).quantize(D("0.01")) == D("19.81")


def _trailing_sell(extreme: str | None) -> WorkingOrder:
    return WorkingOrder(
        side=SELL,
        order_type=OrderType.TRAILING_STOP,
        remaining=D("10"),
        trail_fraction=D("0.02"),
        trail_extreme=D(extreme) if extreme else None,
    )


def test_trailing_stop_ratchets_with_completed_bars_then_fires() -> None:
    order = _trailing_sell("100")
    up = match_bar(
        order, bar("101", "105", "100.5", "104"), NO_SLIP, slippage=D(0), bar_complete=True
    )
    assert up.qty == 0 and up.order.trail_extreme == D("105")  # peak ratchets to the high
    # level now 105 x 0.98 = 102.90; a bar opening above it and dipping to 102.50 fires at 102.90
    fire = match_bar(
        up.order, bar("104", "104", "102.50", "103"), NO_SLIP, slippage=D(0), bar_complete=True
    )
    assert (fire.qty, fire.price) == (D("10"), D("102.90"))
    assert fire.order.remaining == 0


def test_trailing_stop_checks_the_old_level_before_ratcheting() -> None:
    # high 110 then low 107: with the old peak 100 (level 98) nothing fires, even though a
    # level from the new high (107.80) would have been crossed inside the same bar
    result = match_bar(
        _trailing_sell("100"),
        bar("101", "110", "107", "109"),
        NO_SLIP,
        slippage=D(0),
        bar_complete=True,
    )
    assert result.qty == 0 and result.order.trail_extreme == D("110")


def test_trailing_stop_gap_through_fills_at_the_open_without_waiting() -> None:
    result = match_bar(
        _trailing_sell("100"),
        bar("97.00", "97.5", "96", "97"),
        NO_SLIP,
        slippage=D(0),
        bar_complete=False,
    )
    assert (result.qty, result.price) == (D("10"), D("97.00"))


def test_touch_decisions_wait_for_the_bar_to_complete() -> None:
    order = WorkingOrder(
        side=BUY, order_type=OrderType.LIMIT, remaining=D("5"), limit_price=D("99.50")
    )
    pending = match_bar(
        order, bar("100", "100.5", "99.40", "100"), NO_SLIP, slippage=D(0), bar_complete=False
    )
    assert pending.needs_complete_bar and pending.qty == 0


# -- marketable orders on a bar ------------------------------------------------------------------
def test_marketable_limit_gapping_away_becomes_a_resting_limit() -> None:
    order = WorkingOrder(
        side=BUY,
        order_type=OrderType.LIMIT,
        remaining=D("5"),
        limit_price=D("100.10"),
        marketable=True,
    )
    untouched = match_bar(
        order, bar("100.50", "100.9", "100.20", "100.5"), NO_SLIP, slippage=D(0), bar_complete=True
    )
    assert untouched.qty == 0 and not untouched.order.marketable
    touched = match_bar(
        order, bar("100.50", "100.9", "100.00", "100.5"), NO_SLIP, slippage=D(0), bar_complete=True
    )
    assert (touched.qty, touched.price) == (D("5"), D("100.10"))


def test_partial_fill_leaves_the_share_for_the_next_bar() -> None:
    config = FillModelConfig(partial_fill_pct=D("0.3"), slippage_enabled=False)
    order = WorkingOrder(side=BUY, order_type=OrderType.MARKET, remaining=D("10"), marketable=True)
    first = match_bar(
        order, bar("100", "101", "99", "100"), config, slippage=D(0), bar_complete=False
    )
    assert (first.qty, first.price, first.order.remaining) == (D("7"), D("100.00"), D("3"))
    second = match_bar(
        first.order, bar("101", "102", "100", "101", 1), config, slippage=D(0), bar_complete=False
    )
    assert (second.qty, second.price, second.order.remaining) == (D("3"), D("101.00"), D("0"))


@pytest.mark.parametrize(
    ("qty", "pct", "fractional", "expected"),
    [
        (D("10"), D("0.3"), False, D("7")),
        (D("10"), D("0"), False, D("10")),
        (D("1"), D("0.3"), False, D("1")),  # one share cannot be split
        (D("3"), D("0.5"), False, D("1")),  # floor(1.5) whole shares now, 2 later
        (D("1.5"), D("0.3"), True, D("1.05")),
        (D("0.000001"), D("0.5"), True, D("0.000001")),
    ],
)
def test_first_bar_quantity(qty: D, pct: D, fractional: bool, expected: D) -> None:
    assert first_bar_qty(qty, pct, fractional=fractional) == expected


# -- fees, time, settings -----------------------------------------------------------------------
def test_fees_per_share_plus_per_order_half_even_cents() -> None:
    config = FillModelConfig(fee_per_share=D("0.005"), fee_per_order=D("1.00"))
    assert fill_fee(D("25"), config, first_fill_of_order=False) == D("0.12")  # 0.125 -> even
    assert fill_fee(D("25"), config, first_fill_of_order=True) == D("1.12")
    assert fill_fee(D("35"), config, first_fill_of_order=False) == D("0.18")  # 0.175 -> even
    assert fill_fee(D("10"), FillModelConfig(), first_fill_of_order=True) == D("0.00")


def test_fill_time_is_bar_start_plus_latency() -> None:
    config = FillModelConfig(latency_ms=500)
    assert fill_timestamp(bar("1", "1", "1", "1"), config) == T0 + timedelta(milliseconds=500)


def test_settings_are_read_by_env_key_names_with_spec_defaults() -> None:
    assert FillModelConfig.from_settings(object()) == FillModelConfig()
    assert FillModelConfig.from_settings(None) == FillModelConfig()
    text_flag = SimpleNamespace(ENABLE_SLIPPAGE_MODEL="false")
    assert FillModelConfig.from_settings(text_flag).slippage_enabled is False
    settings = SimpleNamespace(
        SIM_SPREAD_BPS=5,
        SIM_FEE_PER_SHARE=D("0.005"),
        SIM_FEE_PER_ORDER="1.00",
        SIM_PARTIAL_FILL_PCT=D("0.25"),
        ENABLE_SLIPPAGE_MODEL=False,
        SLIPPAGE_SIMULATION_TYPE="Randomized",
        SLIPPAGE_MEAN_PCT=D("0.2"),
        SLIPPAGE_STDDEV_PCT=D("0.05"),
        SIMULATED_LATENCY_MS=250,
        SIM_SEED=99,
    )
    config = FillModelConfig.from_settings(settings)
    assert config == FillModelConfig(
        spread_bps=5,
        fee_per_share=D("0.005"),
        fee_per_order=D("1.00"),
        partial_fill_pct=D("0.25"),
        slippage_enabled=False,
        slippage_type=SlippageType.RANDOMIZED,
        slippage_mean_pct=D("0.2"),
        slippage_stddev_pct=D("0.05"),
        latency_ms=250,
        seed=99,
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SIM_PARTIAL_FILL_PCT", D("1")),
        ("SIM_SPREAD_BPS", -1),
        ("SIM_FEE_PER_SHARE", D("-0.01")),
        ("SLIPPAGE_SIMULATION_TYPE", "gaussian"),
        ("SIMULATED_LATENCY_MS", "soon"),
        ("ENABLE_SLIPPAGE_MODEL", "maybe"),
    ],
)
def test_bad_settings_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        FillModelConfig.from_settings(SimpleNamespace(**{key: value}))
    assert key in str(info.value)
