"""The runner's own record of strategy positions and day P&L, built from its fills only.

The kill switch and the dashboard P&L read this, never the ledger (trading spec §7.3): day P&L =
realized P&L of strategy trades closed this trading date + unrealized P&L of open strategy
positions at the last price, net of fees. Each position belongs to one entry order (its
client_order_id), so strategy exits only ever close quantity the strategy opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tbot_bot.money import ZERO, round_cents


@dataclass
class StrategyPosition:
    """One entry and its exits. `side` is 'long' or 'short' (of the instrument held)."""

    entry_client_order_id: str
    strategy: str
    symbol: str  # the instrument held
    target_symbol: str
    side: str
    multiplier: int = 1
    qty: Decimal = ZERO  # open quantity (positive)
    entry_qty: Decimal = ZERO
    entry_cost: Decimal = ZERO  # sum of qty x price of entry fills
    exit_qty: Decimal = ZERO
    exit_value: Decimal = ZERO
    # Cash amounts of the fills: each fill's qty x price rounded to the cent, as the broker and
    # the ledger book them (accounting spec §2: G = to_minor(q x p x m), half-even).
    entry_gross: Decimal = ZERO
    exit_gross: Decimal = ZERO
    fees: Decimal = ZERO
    realized: Decimal = ZERO
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    last_price: Decimal | None = None
    exit_reason: str | None = None
    fill_ids: set[str] = field(default_factory=set)
    exit_order_ids: list[str] = field(default_factory=list)  # exit attempts, oldest first
    stop_order_ids: list[str] = field(default_factory=list)  # native trailing stop attempts

    @property
    def avg_entry(self) -> Decimal | None:
        return self.entry_cost / self.entry_qty if self.entry_qty > ZERO else None

    @property
    def avg_exit(self) -> Decimal | None:
        return self.exit_value / self.exit_qty if self.exit_qty > ZERO else None

    @property
    def is_open(self) -> bool:
        return self.qty > ZERO

    @property
    def net_pnl(self) -> Decimal | None:
        """Realized P&L net of fees, in cents; None before the first exit fill.

        A closed position reports the cash its fills moved (gross per fill rounded to the cent),
        so the trade history, the daily summary, the broker's cash and the ledger agree to the
        cent; rounding the exact P&L instead can be a cent off. A partly closed position reports
        its exact realized P&L rounded to the cent.
        """
        if self.exit_qty <= ZERO:
            return None
        if self.is_open:
            return round_cents(self.realized - self.fees)
        sign = 1 if self.side == "long" else -1
        return (self.exit_gross - self.entry_gross) * sign - self.fees

    def unrealized(self) -> Decimal:
        avg = self.avg_entry
        if not self.is_open or avg is None or self.last_price is None:
            return ZERO
        sign = 1 if self.side == "long" else -1
        return (self.last_price - avg) * self.qty * self.multiplier * sign


class PositionsBook:
    """All strategy positions of the runner, keyed by entry client_order_id."""

    def __init__(self) -> None:
        self.positions: dict[str, StrategyPosition] = {}

    def open_position(self, position: StrategyPosition) -> StrategyPosition:
        self.positions.setdefault(position.entry_client_order_id, position)
        return self.positions[position.entry_client_order_id]

    def apply_entry_fill(
        self, entry_id: str, fill_id: str, qty: Decimal, price: Decimal, fee: Decimal, ts: datetime
    ) -> bool:
        """Record an entry execution once (idempotent by fill id)."""
        pos = self.positions[entry_id]
        if fill_id in pos.fill_ids:
            return False
        pos.fill_ids.add(fill_id)
        pos.qty += qty
        pos.entry_qty += qty
        pos.entry_cost += qty * price
        pos.entry_gross += round_cents(qty * price * pos.multiplier)
        pos.fees += fee
        pos.opened_at = pos.opened_at or ts
        pos.last_price = price
        return True

    def apply_exit_fill(
        self,
        entry_id: str,
        fill_id: str,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        ts: datetime,
        reason: str | None,
    ) -> bool:
        """Record an exit execution once; realized P&L on the closed quantity (average cost)."""
        pos = self.positions[entry_id]
        if fill_id in pos.fill_ids:
            return False
        pos.fill_ids.add(fill_id)
        qty = min(qty, pos.qty)
        avg = pos.avg_entry or price
        sign = 1 if pos.side == "long" else -1
        pos.realized += (price - avg) * qty * pos.multiplier * sign
        pos.qty -= qty
        pos.exit_qty += qty
        pos.exit_value += qty * price
        pos.exit_gross += round_cents(qty * price * pos.multiplier)
        pos.fees += fee
        pos.last_price = price
        pos.exit_reason = reason or pos.exit_reason
        if pos.qty == ZERO:
            pos.closed_at = ts
        return True

    def mark(self, symbol: str, price: Decimal) -> None:
        for pos in self.positions.values():
            if pos.symbol == symbol and pos.is_open:
                pos.last_price = price

    def open_positions(self, strategy: str | None = None) -> list[StrategyPosition]:
        return [
            p
            for p in self.positions.values()
            if p.is_open and (strategy is None or p.strategy == strategy)
        ]

    def day_pnl(self) -> Decimal:
        """Realized + unrealized - fees over every strategy position of the day."""
        return sum((p.realized + p.unrealized() - p.fees for p in self.positions.values()), ZERO)

    def realized_net(self, strategy: str | None = None) -> Decimal:
        """Sum of `net_pnl` over positions with exits (what the trade history reports)."""
        return sum(
            (
                p.net_pnl
                for p in self.positions.values()
                if p.net_pnl is not None and strategy in (None, p.strategy)
            ),
            ZERO,
        )
