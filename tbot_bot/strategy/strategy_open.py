"""OPEN: opening-range breakout (trading spec §2.1).

The range is the max high / min low of the 1-minute bars in the analysis window [s, s+A). During
entry, long above `range_high x (1 + buffer)`, bearish below `range_low x (1 - buffer)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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

ONE = Decimal(1)


@dataclass(frozen=True)
class OpenParams:
    enabled: bool
    buffer: Decimal
    analysis_start_utc: datetime
    analysis_end_utc: datetime

    @classmethod
    def from_settings(
        cls, settings: Any, analysis_start: datetime, analysis_end: datetime
    ) -> OpenParams:
        return cls(
            bool(settings.STRAT_OPEN_ENABLED),
            settings.STRAT_OPEN_BUFFER,
            analysis_start,
            analysis_end,
        )


class OpenStrategy:
    name = "open"

    def __init__(self, params: OpenParams) -> None:
        self.params = params

    def signal(self, tape: SymbolTape, market: MarketInputs) -> Evaluation:
        window = tape.range_between(self.params.analysis_start_utc, self.params.analysis_end_utc)
        if window is None:
            return Evaluation.no("no_range")
        range_high, range_low = window
        upper = range_high * (ONE + self.params.buffer)
        lower = range_low * (ONE - self.params.buffer)
        metrics = {
            "price": market.price,
            "range_high": range_high,
            "range_low": range_low,
            "long_above": upper,
            "bearish_below": lower,
        }
        if market.price > upper:
            return Evaluation.yes(Direction.LONG, "breakout_up", **metrics)
        if market.price < lower:
            return Evaluation.yes(Direction.BEARISH, "breakout_down", **metrics)
        return Evaluation.no("no_signal", **metrics)

    def manage(
        self, direction: Direction, target_tape: SymbolTape, market: MarketInputs
    ) -> ExitReason | None:
        return None  # OPEN exits only by trailing stop and hard exit

    def self_check(self) -> dict[str, Any]:
        module = "strategy:open"
        if not self.params.enabled:
            return check_result(True, "disabled", module, "STRAT_OPEN_ENABLED=false")
        if self.params.buffer <= ZERO:
            return check_result(
                False,
                "unhealthy",
                module,
                "STRAT_OPEN_BUFFER must be > 0",
                "set STRAT_OPEN_BUFFER to a positive fraction, e.g. 0.02",
            )
        if self.params.analysis_end_utc <= self.params.analysis_start_utc:
            return check_result(
                False, "unhealthy", module, "analysis window is empty", "set OPEN_ANALYSIS_TIME > 0"
            )
        return check_result(True, "ok", module)
