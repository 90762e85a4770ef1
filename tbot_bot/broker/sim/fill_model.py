"""The deterministic fill model of trading spec §14, shared by the SIM broker and the backtester.

Pure functions over `Bar`s and Decimals; no clock, no state. The rules:
- Quote = last completed bar: `last = close`, bid/ask = close -/+ close x SIM_SPREAD_BPS/20000.
- A marketable order (market, or a limit already marketable when sent) fills at the open of the
  first bar starting at or after the send, moved against the trader by the slippage model
  (`rule_based`: SLIPPAGE_MEAN_PCT; `randomized`: normal(mean, stddev) seeded by SIM_SEED, never
  negative), never beyond its limit. SIM_PARTIAL_FILL_PCT of it is left for the next bar.
- A resting limit fills when a bar touches it, at the better of limit and open.
- Stops and native trailing stops fill when a bar's low (sell) / high (buy) crosses them, at the
  worse of stop and open. A trailing stop checks the bar against the level from the previous
  bars first and only then ratchets with the bar's extreme: inside one bar we do not know whether
  the high came before the low, and assuming it did would flatter the strategy.
- Fees = qty x SIM_FEE_PER_SHARE + SIM_FEE_PER_ORDER (per order, charged on its first fill),
  rounded half-even to the cent. Fill time = bar start + SIMULATED_LATENCY_MS.

Rounding never favours the trader: computed prices are rounded to the cent against the trader
(buys up, sells down; bids down, asks up) and then clamped to the order's limit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any

from tbot_bot.broker.models import OrderSide, OrderType
from tbot_bot.errors import ConfigError
from tbot_bot.market.bars import Bar, Quote
from tbot_bot.money import ZERO, round_cents, to_decimal

TICK = Decimal("0.01")
ONE = Decimal(1)
HUNDRED = Decimal(100)
BPS_HALF_SPREAD_DIVISOR = Decimal(20000)  # bid/ask = close -/+ close x bps / 20000
SIX_DP = Decimal("0.000001")


class SlippageType(StrEnum):
    NONE = "none"
    RULE_BASED = "rule_based"
    RANDOMIZED = "randomized"


@dataclass(frozen=True, slots=True)
class FillModelConfig:
    """SIM/backtest fill settings; names follow the .env_bot keys (trading spec §12.3, §12.5)."""

    spread_bps: int = 2  # SIM_SPREAD_BPS, basis points >= 0
    fee_per_share: Decimal = Decimal("0.000")  # SIM_FEE_PER_SHARE, USD >= 0
    fee_per_order: Decimal = Decimal("0.00")  # SIM_FEE_PER_ORDER, USD >= 0
    partial_fill_pct: Decimal = ZERO  # SIM_PARTIAL_FILL_PCT, fraction in [0, 1)
    slippage_enabled: bool = True  # ENABLE_SLIPPAGE_MODEL
    slippage_type: SlippageType = SlippageType.RULE_BASED  # SLIPPAGE_SIMULATION_TYPE
    slippage_mean_pct: Decimal = Decimal("0.15")  # SLIPPAGE_MEAN_PCT, whole %
    slippage_stddev_pct: Decimal = Decimal("0.10")  # SLIPPAGE_STDDEV_PCT, whole %
    latency_ms: int = 500  # SIMULATED_LATENCY_MS, >= 0
    seed: int = 42  # SIM_SEED

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.spread_bps < 0:
            problems.append(f"SIM_SPREAD_BPS={self.spread_bps} must be >= 0")
        if self.fee_per_share < ZERO:
            problems.append(f"SIM_FEE_PER_SHARE={self.fee_per_share} must be >= 0")
        if self.fee_per_order < ZERO:
            problems.append(f"SIM_FEE_PER_ORDER={self.fee_per_order} must be >= 0")
        if not ZERO <= self.partial_fill_pct < ONE:
            problems.append(f"SIM_PARTIAL_FILL_PCT={self.partial_fill_pct} must be in [0, 1)")
        if self.slippage_mean_pct < ZERO:
            problems.append(f"SLIPPAGE_MEAN_PCT={self.slippage_mean_pct} must be >= 0")
        if self.slippage_stddev_pct < ZERO:
            problems.append(f"SLIPPAGE_STDDEV_PCT={self.slippage_stddev_pct} must be >= 0")
        if self.latency_ms < 0:
            problems.append(f"SIMULATED_LATENCY_MS={self.latency_ms} must be >= 0")
        if problems:
            raise ConfigError("invalid SIM fill model settings: " + "; ".join(problems), problems)

    @property
    def latency(self) -> timedelta:
        return timedelta(milliseconds=self.latency_ms)

    @classmethod
    def from_settings(cls, settings: Any) -> FillModelConfig:
        """Read the .env_bot keys by their exact names; absent keys take the spec defaults."""
        default = cls()
        try:
            return cls(
                spread_bps=_int(settings, "SIM_SPREAD_BPS", default.spread_bps),
                fee_per_share=_dec(settings, "SIM_FEE_PER_SHARE", default.fee_per_share),
                fee_per_order=_dec(settings, "SIM_FEE_PER_ORDER", default.fee_per_order),
                partial_fill_pct=_dec(settings, "SIM_PARTIAL_FILL_PCT", default.partial_fill_pct),
                slippage_enabled=_bool(settings, "ENABLE_SLIPPAGE_MODEL", default.slippage_enabled),
                slippage_type=_slippage_type(settings),
                slippage_mean_pct=_dec(settings, "SLIPPAGE_MEAN_PCT", default.slippage_mean_pct),
                slippage_stddev_pct=_dec(
                    settings, "SLIPPAGE_STDDEV_PCT", default.slippage_stddev_pct
                ),
                latency_ms=_int(settings, "SIMULATED_LATENCY_MS", default.latency_ms),
                seed=_int(settings, "SIM_SEED", default.seed),
            )
        except ValueError as exc:
            raise ConfigError(f"invalid SIM fill model setting: {exc}") from exc


def setting_decimal(settings: Any, key: str, default: Decimal) -> Decimal:
    """A Decimal setting read by its .env_bot name (also used for ACCOUNT_BALANCE)."""
    return _dec(settings, key, default)


def _dec(settings: Any, key: str, default: Decimal) -> Decimal:
    value = getattr(settings, key, None)
    if value is None:
        return default
    if isinstance(value, float):
        # The Settings model should hand us Decimals; a float from a hand-built object is
        # converted through its shortest repr, which is the number the person typed.
        value = repr(value)
    try:
        return to_decimal(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{key}={value!r} is not a decimal number") from exc


def _bool(settings: Any, key: str, default: bool) -> bool:
    value = getattr(settings, key, None)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off"}:
        return False
    raise ValueError(f"{key}={value!r} must be true or false")


def _slippage_type(settings: Any) -> SlippageType:
    raw = getattr(settings, "SLIPPAGE_SIMULATION_TYPE", None) or SlippageType.RULE_BASED.value
    try:
        return SlippageType(str(raw).strip().lower())
    except ValueError as exc:
        allowed = ", ".join(member.value for member in SlippageType)
        raise ValueError(f"SLIPPAGE_SIMULATION_TYPE={raw!r} must be one of {allowed}") from exc


def _int(settings: Any, key: str, default: int) -> int:
    value = getattr(settings, key, None)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise ValueError(f"{key}={value!r} is not an integer")
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise ValueError(f"{key}={value!r} is not an integer") from exc


# -- rounding and quotes ----------------------------------------------------------------------
def tick_floor(price: Decimal) -> Decimal:
    return price.quantize(TICK, rounding=ROUND_FLOOR)


def tick_ceil(price: Decimal) -> Decimal:
    return price.quantize(TICK, rounding=ROUND_CEILING)


def adverse_round(side: OrderSide, price: Decimal) -> Decimal:
    """Round a computed fill price to the cent against the trader."""
    return tick_ceil(price) if side is OrderSide.BUY else tick_floor(price)


def clamp_to_limit(side: OrderSide, price: Decimal, limit: Decimal | None) -> Decimal:
    """Never beyond the limit: a buy pays at most it, a sell receives at least it."""
    if limit is None:
        return price
    return min(price, limit) if side is OrderSide.BUY else max(price, limit)


def quote_from_bar(bar: Bar, spread_bps: int) -> Quote:
    """The quote the SIM shows once `bar` has completed (trading spec §14)."""
    half_spread = bar.close * spread_bps / BPS_HALF_SPREAD_DIVISOR
    return Quote(
        symbol=bar.symbol,
        bid=tick_floor(bar.close - half_spread),
        ask=tick_ceil(bar.close + half_spread),
        last=bar.close,
        quote_ts=bar.end_utc,
    )


def is_marketable(
    side: OrderSide, order_type: OrderType, limit_price: Decimal | None, quote: Quote | None
) -> bool:
    """Market orders always; a limit if it reaches the opposite side of the current quote."""
    if order_type is OrderType.MARKET:
        return True
    if order_type is not OrderType.LIMIT or limit_price is None or quote is None:
        return False
    return limit_price >= quote.ask if side is OrderSide.BUY else limit_price <= quote.bid


# -- slippage -------------------------------------------------------------------------------
def slippage_fraction(config: FillModelConfig, draw_key: str) -> Decimal:
    """Adverse price move as a fraction (0.0015 = 0.15 %), never negative.

    `randomized` draws from a generator seeded by `SIM_SEED` and `draw_key` (order id and fill
    number): each fill has its own draw, so changing one trade does not shift the slippage of
    every later one, and two runs with the same seed agree exactly.
    """
    if not config.slippage_enabled or config.slippage_type is SlippageType.NONE:
        return ZERO
    if config.slippage_type is SlippageType.RULE_BASED:
        return config.slippage_mean_pct / HUNDRED
    generator = random.Random(f"{config.seed}|{draw_key}")  # noqa: S311 - simulation, not security
    draw = generator.gauss(float(config.slippage_mean_pct), float(config.slippage_stddev_pct))
    # The float draw is fixed to 6 decimals before it touches a price, so no binary float ever
    # reaches the money path and the value is identical on every platform.
    pct = Decimal(f"{draw:.6f}")
    return max(ZERO, pct) / HUNDRED


def slipped_price(side: OrderSide, price: Decimal, fraction: Decimal) -> Decimal:
    """`price` moved against the trader by `fraction`, rounded against the trader."""
    moved = price * (ONE + fraction) if side is OrderSide.BUY else price * (ONE - fraction)
    return adverse_round(side, moved)


# -- price rules of one bar ---------------------------------------------------------------------
def marketable_fill_price(
    side: OrderSide, bar_open: Decimal, fraction: Decimal, limit: Decimal | None
) -> Decimal | None:
    """Open moved by slippage, capped at the limit; None if the open is already beyond it."""
    if limit is not None and (bar_open > limit if side is OrderSide.BUY else bar_open < limit):
        return None
    return clamp_to_limit(side, slipped_price(side, bar_open, fraction), limit)


def limit_touch_price(side: OrderSide, limit: Decimal, bar: Bar) -> Decimal | None:
    """A resting limit touched by `bar` fills at the better of limit and open."""
    if side is OrderSide.BUY:
        return min(limit, bar.open) if bar.low <= limit else None
    return max(limit, bar.open) if bar.high >= limit else None


def stop_cross_price(side: OrderSide, stop: Decimal, bar: Bar) -> Decimal | None:
    """A stop crossed by `bar` fills at the worse of stop and open (rounded against us)."""
    if side is OrderSide.SELL:
        return tick_floor(min(stop, bar.open)) if bar.low <= stop else None
    return tick_ceil(max(stop, bar.open)) if bar.high >= stop else None


def trailing_stop_level(side: OrderSide, extreme: Decimal, trail_fraction: Decimal) -> Decimal:
    """Sell: peak x (1 - p); buy (cover): trough x (1 + p)."""
    if side is OrderSide.SELL:
        return extreme * (ONE - trail_fraction)
    return extreme * (ONE + trail_fraction)


def next_trailing_extreme(side: OrderSide, extreme: Decimal, bar: Bar) -> Decimal:
    """Ratchet the peak (sell) or trough (buy) with a completed bar."""
    return max(extreme, bar.high) if side is OrderSide.SELL else min(extreme, bar.low)


def open_is_through(side: OrderSide, level: Decimal, bar_open: Decimal, *, stop: bool) -> bool:
    """Does the open alone decide the fill? (gap through a stop, or open inside a limit)."""
    if stop:
        return bar_open <= level if side is OrderSide.SELL else bar_open >= level
    return bar_open <= level if side is OrderSide.BUY else bar_open >= level


# -- quantities, fees, time ---------------------------------------------------------------------
def is_fractional(qty: Decimal) -> bool:
    return qty != qty.to_integral_value()


def first_bar_qty(qty: Decimal, partial_fill_pct: Decimal, *, fractional: bool) -> Decimal:
    """What a marketable order fills on its first bar; the rest waits for the next bar.

    Whole-share orders stay whole (floor); fractional ones keep 6 dp. When the split would leave
    nothing on either side the whole quantity fills (one share cannot be split).
    """
    if partial_fill_pct <= ZERO:
        return qty
    now = qty * (ONE - partial_fill_pct)
    now = (
        now.quantize(SIX_DP, rounding=ROUND_DOWN)
        if fractional
        else now.to_integral_value(rounding=ROUND_DOWN)
    )
    if now <= ZERO or now >= qty:
        return qty
    return now


def fill_fee(qty: Decimal, config: FillModelConfig, *, first_fill_of_order: bool) -> Decimal:
    """qty x per-share fee (+ the per-order fee on the order's first fill), half-even cents."""
    fee = qty * config.fee_per_share
    if first_fill_of_order:
        fee += config.fee_per_order
    return round_cents(fee)


def fill_timestamp(bar: Bar, config: FillModelConfig) -> datetime:
    return bar.ts_utc + config.latency


# -- one order against one bar ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """What the fill model needs to know about a live order between bars."""

    side: OrderSide
    order_type: OrderType
    remaining: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_fraction: Decimal | None = None
    trail_extreme: Decimal | None = None  # peak (sell) or trough (buy); None until known
    marketable: bool = False
    partial_done: bool = False  # the first-bar split has been applied

    @property
    def fractional(self) -> bool:
        return is_fractional(self.remaining)

    def after_fill(self, qty: Decimal, *, partial_done: bool) -> WorkingOrder:
        """This order with `qty` less to fill. Built directly: `dataclasses.replace` is the
        single largest cost of a SIM round trip."""
        return WorkingOrder(
            self.side,
            self.order_type,
            self.remaining - qty,
            self.limit_price,
            self.stop_price,
            self.trail_fraction,
            self.trail_extreme,
            self.marketable,
            partial_done,
        )


@dataclass(frozen=True, slots=True)
class BarMatch:
    """Outcome of one bar: `qty` at `price` (qty 0: nothing), the order as it is afterwards.

    `needs_complete_bar` means the answer depends on the bar's high/low: ask again at bar end.
    """

    qty: Decimal
    price: Decimal | None
    order: WorkingOrder
    needs_complete_bar: bool = False


def _no_fill(order: WorkingOrder) -> BarMatch:
    return BarMatch(ZERO, None, order)


def _wait(order: WorkingOrder) -> BarMatch:
    return BarMatch(ZERO, None, order, needs_complete_bar=True)


def _filled(order: WorkingOrder, qty: Decimal, price: Decimal) -> BarMatch:
    return BarMatch(qty, price, order.after_fill(qty, partial_done=order.partial_done))


def match_bar(
    order: WorkingOrder,
    bar: Bar,
    config: FillModelConfig,
    *,
    slippage: Decimal,
    bar_complete: bool,
) -> BarMatch:
    """Apply the §14 rules of `order` to one bar that starts at or after the order was sent."""
    if order.marketable:
        return _match_marketable(order, bar, config, slippage, bar_complete)
    if order.order_type is OrderType.LIMIT and order.limit_price is not None:
        return _match_resting_limit(order, order.limit_price, bar, bar_complete)
    if order.order_type is OrderType.STOP and order.stop_price is not None:
        return _match_stop(order, order.stop_price, bar, bar_complete)
    if order.order_type is OrderType.TRAILING_STOP and order.trail_fraction is not None:
        return _match_trailing(order, order.trail_fraction, bar, bar_complete)
    if order.order_type is OrderType.MARKET:
        return _match_marketable(replace(order, marketable=True), bar, config, slippage, True)
    raise ValueError(f"cannot match a {order.order_type} order without its price field")


def _match_marketable(
    order: WorkingOrder,
    bar: Bar,
    config: FillModelConfig,
    slippage: Decimal,
    bar_complete: bool,
) -> BarMatch:
    price = marketable_fill_price(order.side, bar.open, slippage, order.limit_price)
    if price is not None:
        qty = order.remaining
        if not order.partial_done:
            qty = first_bar_qty(qty, config.partial_fill_pct, fractional=order.fractional)
        return BarMatch(qty, price, order.after_fill(qty, partial_done=True))
    # The open gapped beyond the limit (only a limit can get here): from now on the order is an
    # ordinary resting limit, touched or not by this very bar.
    resting = replace(order, marketable=False, partial_done=True)
    if order.limit_price is None:  # pragma: no cover - a market order always has a price
        raise ValueError("marketable order without a limit found no price")
    return _match_resting_limit(resting, order.limit_price, bar, bar_complete)


def _match_resting_limit(
    order: WorkingOrder, limit: Decimal, bar: Bar, bar_complete: bool
) -> BarMatch:
    if open_is_through(order.side, limit, bar.open, stop=False):
        at_open = clamp_to_limit(order.side, adverse_round(order.side, bar.open), limit)
        return _filled(order, order.remaining, at_open)
    if not bar_complete:
        return _wait(order)
    touched = limit_touch_price(order.side, limit, bar)
    return _no_fill(order) if touched is None else _filled(order, order.remaining, touched)


def _match_stop(order: WorkingOrder, stop: Decimal, bar: Bar, bar_complete: bool) -> BarMatch:
    if open_is_through(order.side, stop, bar.open, stop=True):
        return _filled(order, order.remaining, adverse_round(order.side, bar.open))
    if not bar_complete:
        return _wait(order)
    price = stop_cross_price(order.side, stop, bar)
    return _no_fill(order) if price is None else _filled(order, order.remaining, price)


def _match_trailing(
    order: WorkingOrder, trail_fraction: Decimal, bar: Bar, bar_complete: bool
) -> BarMatch:
    extreme = order.trail_extreme if order.trail_extreme is not None else bar.open
    order = replace(order, trail_extreme=extreme)
    level = trailing_stop_level(order.side, extreme, trail_fraction)
    if open_is_through(order.side, level, bar.open, stop=True):
        return _filled(order, order.remaining, adverse_round(order.side, bar.open))
    if not bar_complete:
        return _wait(order)
    price = stop_cross_price(order.side, level, bar)
    if price is not None:
        return _filled(order, order.remaining, price)
    return _no_fill(replace(order, trail_extreme=next_trailing_extreme(order.side, extreme, bar)))
