"""Cash and positions of the SIM account, in Decimal.

A buy pays `round_cents(qty x price) + fee`, a sell receives `round_cents(qty x price) - fee` (the
gross rounds half-even per fill, as a broker's confirmation would). Positions carry a signed
quantity (negative = short) and an average entry price that changes only when the position grows
or flips side; reducing a position leaves it alone. Option holdings (keyed by OCC symbol) carry
their multiplier: qty is in contracts, prices per share, cash moves by qty x price x multiplier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from tbot_bot.broker.models import AssetClass, OrderSide, Position
from tbot_bot.money import ZERO, round_cents


@dataclass(slots=True)
class _Holding:
    qty: Decimal
    avg_price: Decimal
    multiplier: int = 1


class SimBook:
    """The account ledger of the SIM venue."""

    def __init__(self, starting_cash: Decimal) -> None:
        self.cash = starting_cash
        self.fees_paid = ZERO
        self._holdings: dict[str, _Holding] = {}

    def apply_fill(
        self,
        symbol: str,
        side: OrderSide,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        multiplier: int = 1,
    ) -> None:
        gross = round_cents(qty * price * multiplier)
        signed = qty if side is OrderSide.BUY else -qty
        self.cash += (-gross if side is OrderSide.BUY else gross) - fee
        self.fees_paid += fee
        holding = self._holdings.get(symbol)
        if holding is None:
            self._holdings[symbol] = _Holding(signed, price, multiplier)
            return
        new_qty = holding.qty + signed
        if new_qty == ZERO:
            del self._holdings[symbol]
        elif holding.qty == ZERO or (holding.qty > ZERO) == (signed > ZERO):
            # Growing on the same side: volume-weighted average entry.
            holding.avg_price = (holding.qty * holding.avg_price + signed * price) / new_qty
            holding.qty = new_qty
        elif (holding.qty > ZERO) != (new_qty > ZERO):
            # Flipped through zero: the remainder was opened at this fill's price.
            holding.qty = new_qty
            holding.avg_price = price
        else:
            holding.qty = new_qty

    def qty(self, symbol: str) -> Decimal:
        holding = self._holdings.get(symbol)
        return holding.qty if holding else ZERO

    def positions(self, mark: Callable[[str], Decimal | None]) -> list[Position]:
        return [
            Position(
                symbol=symbol,
                qty=holding.qty,
                avg_entry_price=holding.avg_price,
                market_price=mark(symbol),
                asset_class=AssetClass.OPTION if holding.multiplier != 1 else AssetClass.EQUITY,
            )
            for symbol, holding in sorted(self._holdings.items())
        ]

    def equity(self, mark: Callable[[str], Decimal | None]) -> Decimal:
        """Cash plus every position at its mark (entry price when no bar has completed yet)."""
        total = self.cash
        for symbol, holding in self._holdings.items():
            price = mark(symbol)
            unit = price if price is not None else holding.avg_price
            total += holding.qty * unit * holding.multiplier
        return round_cents(total)
