"""Money and quantities as Decimal, never float (STYLE §2.10).

All amounts are built through `to_decimal`, which refuses floats: a float has already lost the
exact value the broker sent, and accounting cannot get it back.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation

ZERO = Decimal(0)
CENT = Decimal("0.01")
SIX_DP = Decimal("0.000001")


def to_decimal(value: str | int | Decimal) -> Decimal:
    """Convert a broker or config value to Decimal; floats are refused on purpose."""
    if isinstance(value, bool | float):
        raise TypeError(f"money must not be built from {type(value).__name__}: {value!r}")
    if isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal number: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def round_down_cents(amount: Decimal) -> Decimal:
    """Allocations round down to the cent (trading spec §0)."""
    return amount.quantize(CENT, rounding=ROUND_DOWN)


def round_cents(amount: Decimal) -> Decimal:
    """Fees and cash from quantity x price round half-even to the cent."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def floor_qty_6dp(qty: Decimal) -> Decimal:
    """Fractional quantities round down to 6 decimal places."""
    return qty.quantize(SIX_DP, rounding=ROUND_DOWN)


def to_minor(amount: Decimal, minor_unit: int = 2) -> int:
    """Decimal currency amount -> integer minor units, half-even (accounting spec §1.3)."""
    scaled = (amount * (Decimal(10) ** minor_unit)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(scaled)


def from_minor(minor: int, minor_unit: int = 2) -> Decimal:
    """Integer minor units -> exact Decimal amount."""
    return Decimal(minor).scaleb(-minor_unit)
