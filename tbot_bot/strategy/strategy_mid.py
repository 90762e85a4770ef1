"""MID: VWAP reversion confirmed by ADX and Bollinger bands (trading spec §2.2).

d = (price - vwap) / vwap. Long when d <= -threshold and price <= the lower band; bearish when
d >= +threshold and price >= the upper band; a trending market (ADX > ADX_MAX) blocks both.
Exit first on a VWAP touch of the *target* symbol, also when an inverse ETF or a put is held.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tbot_bot.money import ZERO
from tbot_bot.strategy.base import (
    Direction,
    Evaluation,
    ExitReason,
    MarketInputs,
    SymbolTape,
    check_result,
)
from tbot_bot.strategy.indicators import adx, bollinger


@dataclass(frozen=True)
class MidParams:
    enabled: bool
    vwap_threshold: Decimal
    adx_max: Decimal
    fail_open: bool  # RISK_FAIL_MODE=open: a missing indicator allows with a warning

    @classmethod
    def from_settings(cls, settings: Any) -> MidParams:
        return cls(
            bool(settings.STRAT_MID_ENABLED),
            settings.STRAT_MID_VWAP_THRESHOLD,
            settings.ADX_MAX,
            settings.RISK_FAIL_MODE == "open",
        )


class MidStrategy:
    name = "mid"

    def __init__(self, params: MidParams) -> None:
        self.params = params

    def signal(self, tape: SymbolTape, market: MarketInputs) -> Evaluation:
        vwap = tape.vwap()
        if vwap is None or vwap <= ZERO:
            return Evaluation.no("no_vwap")
        deviation = (market.price - vwap) / vwap
        metrics: dict[str, Any] = {
            "price": market.price,
            "vwap": vwap,
            "deviation": deviation,
            "threshold": self.params.vwap_threshold,
        }
        if deviation <= -self.params.vwap_threshold:
            direction = Direction.LONG
        elif deviation >= self.params.vwap_threshold:
            direction = Direction.BEARISH
        else:
            return Evaluation.no("no_signal", **metrics)
        bars_5m = tape.bars_5min(market.now_utc)
        trend = adx(bars_5m)
        if trend is None and not self.params.fail_open:
            return Evaluation.no("adx_unavailable", **metrics)
        if trend is not None:
            metrics["adx"] = trend
            if trend > self.params.adx_max:
                return Evaluation.no("adx_trend", adx_max=self.params.adx_max, **metrics)
        bands = bollinger([bar.close for bar in bars_5m])
        if bands is None:
            if not self.params.fail_open:
                return Evaluation.no("bollinger_unavailable", **metrics)
            return Evaluation.yes(direction, "vwap_reversion_unconfirmed", **metrics)
        metrics.update(lower_band=bands.lower, upper_band=bands.upper)
        if direction is Direction.LONG and market.price <= bands.lower:
            return Evaluation.yes(direction, "vwap_reversion", **metrics)
        if direction is Direction.BEARISH and market.price >= bands.upper:
            return Evaluation.yes(direction, "vwap_reversion", **metrics)
        return Evaluation.no("bollinger_unconfirmed", **metrics)

    def manage(
        self, direction: Direction, target_tape: SymbolTape, market: MarketInputs
    ) -> ExitReason | None:
        """VWAP touch on the target symbol (`market.price` is the target's price)."""
        vwap = target_tape.vwap()
        if vwap is None:
            return None
        if direction is Direction.LONG and market.price >= vwap:
            return ExitReason.VWAP_TOUCH
        if direction is Direction.BEARISH and market.price <= vwap:
            return ExitReason.VWAP_TOUCH
        return None

    def self_check(self) -> dict[str, Any]:
        module = "strategy:mid"
        if not self.params.enabled:
            return check_result(True, "disabled", module, "STRAT_MID_ENABLED=false")
        if self.params.vwap_threshold <= ZERO:
            return check_result(
                False,
                "unhealthy",
                module,
                "STRAT_MID_VWAP_THRESHOLD must be > 0",
                "set STRAT_MID_VWAP_THRESHOLD to a positive fraction, e.g. 0.02",
            )
        return check_result(True, "ok", module)
