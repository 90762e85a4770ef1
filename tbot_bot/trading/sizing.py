"""Position sizing (trading spec §4): session budget, fixed slot allocations, quantities.

Slot k's allocation is fixed when the slot is taken, from weights normalised over the N effective
slots, so an entry never waits to learn how many others will follow. Budget of slots that stay empty
is not used: conservative by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from tbot_bot.money import ZERO, floor_qty_6dp, round_down_cents

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class SessionBudget:
    """Budget B, effective slot count N and the normalised weights of one session."""

    float_amount: Decimal
    equity: Decimal
    budget: Decimal
    slots: int
    weights: tuple[Decimal, ...]
    per_trade_cap: Decimal

    def allocation(self, slot: int) -> Decimal:
        """a_k = min(round_down(B x w_k / sum w), round_down(E x MAX_RISK_PER_TRADE)); 1-based."""
        if not 1 <= slot <= self.slots:
            raise ValueError(f"slot {slot} outside 1..{self.slots}")
        total = sum(self.weights, ZERO)
        share = round_down_cents(self.budget * self.weights[slot - 1] / total)
        return min(share, self.per_trade_cap)


def session_budget(
    float_amount: Decimal,
    equity: Decimal,
    *,
    total_allocation: Decimal,
    max_trades: int,
    weights: tuple[Decimal, ...],
    max_risk_per_trade: Decimal,
    defense_mode: bool = False,
    defense_trade_limit_pct: Decimal = Decimal(66),
    defense_total_allocation: Decimal = Decimal("0.01"),
) -> SessionBudget:
    """B = F x TOTAL_ALLOCATION, N = MAX_TRADES; defense mode compresses both (§4)."""
    if defense_mode:
        budget = float_amount * defense_total_allocation
        slots = int(
            (Decimal(max_trades) * defense_trade_limit_pct / HUNDRED).to_integral_value(
                rounding=ROUND_DOWN
            )
        )
    else:
        budget = float_amount * total_allocation
        slots = max_trades
    slots = max(0, min(slots, len(weights)))
    return SessionBudget(
        float_amount=float_amount,
        equity=equity,
        budget=round_down_cents(budget),
        slots=slots,
        weights=tuple(weights[:slots]),
        per_trade_cap=round_down_cents(equity * max_risk_per_trade),
    )


def budget_from_settings(float_amount: Decimal, equity: Decimal, settings: Any) -> SessionBudget:
    return session_budget(
        float_amount,
        equity,
        total_allocation=settings.TOTAL_ALLOCATION,
        max_trades=settings.MAX_TRADES,
        weights=tuple(settings.WEIGHTS),
        max_risk_per_trade=settings.MAX_RISK_PER_TRADE,
        defense_mode=settings.DEFENSE_MODE_ACTIVE,
        defense_trade_limit_pct=Decimal(settings.DEFENSE_MODE_TRADE_LIMIT_PCT),
        defense_total_allocation=settings.DEFENSE_MODE_TOTAL_ALLOCATION,
    )


def share_quantity(allocation: Decimal, price: Decimal, *, fractional: bool) -> Decimal:
    """Fractional: allocation / price down to 6 dp; otherwise whole shares, floored."""
    if price <= ZERO:
        raise ValueError(f"price must be positive, got {price}")
    raw = allocation / price
    if fractional:
        return floor_qty_6dp(raw)
    return raw.to_integral_value(rounding=ROUND_DOWN)


def put_contracts(allocation: Decimal, ask: Decimal, multiplier: int = 100) -> int:
    """LongPut contracts = floor(a_k / (ask x 100))."""
    if ask <= ZERO:
        raise ValueError(f"option ask must be positive, got {ask}")
    return int((allocation / (ask * multiplier)).to_integral_value(rounding=ROUND_DOWN))
