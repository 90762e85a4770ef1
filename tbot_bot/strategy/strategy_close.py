"""CLOSE: end-of-day momentum / fade behind a VIX gate (trading spec §2.3).

hod/lod = highest high / lowest low of the session's completed 1-minute bars. Long (momentum) if
price > ratio x hod; bearish (fade) if price < lod + fade x (hod - lod); both at once means the
range is too narrow to tell, so no signal.
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


@dataclass(frozen=True)
class CloseParams:
    enabled: bool
    vix_threshold: Decimal
    momentum_ratio: Decimal
    fade_ratio: Decimal
    fail_open: bool

    @classmethod
    def from_settings(cls, settings: Any) -> CloseParams:
        return cls(
            bool(settings.STRAT_CLOSE_ENABLED),
            settings.STRAT_CLOSE_VIX_THRESHOLD,
            settings.STRAT_CLOSE_MOMENTUM_RATIO,
            settings.STRAT_CLOSE_FADE_RATIO,
            settings.RISK_FAIL_MODE == "open",
        )


class CloseStrategy:
    name = "close"

    def __init__(self, params: CloseParams) -> None:
        self.params = params

    def market_gate(self, vix: Decimal | None) -> str | None:
        """The VIX gate: None when open, else the block reason."""
        if vix is None:
            return None if self.params.fail_open else "vix_unavailable"
        if vix < self.params.vix_threshold:
            return "vix_gate"
        return None

    def signal(self, tape: SymbolTape, market: MarketInputs) -> Evaluation:
        gate = self.market_gate(market.vix)
        if gate is not None:
            return Evaluation.no(gate, vix=market.vix, threshold=self.params.vix_threshold)
        extremes = tape.high_low()
        if extremes is None:
            return Evaluation.no("no_range")
        hod, lod = extremes
        long_above = self.params.momentum_ratio * hod
        bearish_below = lod + self.params.fade_ratio * (hod - lod)
        metrics = {
            "price": market.price,
            "hod": hod,
            "lod": lod,
            "long_above": long_above,
            "bearish_below": bearish_below,
        }
        is_long = market.price > long_above
        is_bearish = market.price < bearish_below
        if is_long and is_bearish:
            return Evaluation.no("range_too_narrow", **metrics)
        if is_long:
            return Evaluation.yes(Direction.LONG, "momentum", **metrics)
        if is_bearish:
            return Evaluation.yes(Direction.BEARISH, "fade", **metrics)
        return Evaluation.no("no_signal", **metrics)

    def manage(
        self, direction: Direction, target_tape: SymbolTape, market: MarketInputs
    ) -> ExitReason | None:
        return None  # CLOSE exits by trailing stop (with tightening) and hard exit

    def self_check(self) -> dict[str, Any]:
        module = "strategy:close"
        if not self.params.enabled:
            return check_result(True, "disabled", module, "STRAT_CLOSE_ENABLED=false")
        if self.params.vix_threshold < ZERO:
            return check_result(
                False,
                "unhealthy",
                module,
                "STRAT_CLOSE_VIX_THRESHOLD must be >= 0",
                "set STRAT_CLOSE_VIX_THRESHOLD, e.g. 15",
            )
        if not (ZERO < self.params.momentum_ratio <= 1) or not (ZERO < self.params.fade_ratio <= 1):
            return check_result(
                False,
                "unhealthy",
                module,
                "CLOSE ratios must be in (0, 1]",
                "check STRAT_CLOSE_MOMENTUM_RATIO and STRAT_CLOSE_FADE_RATIO",
            )
        return check_result(True, "ok", module)
