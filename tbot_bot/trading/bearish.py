"""Bearish instruments (trading spec §5): what a bearish signal buys or sells.

`disabled` ignores the signal, `InverseETF` buys the mapped inverse ETF, `LongPut` buys a put on the
target, `ShortSell` sells the target short. The InverseETF mapping is shipped read-only and
versioned: exact symbol (symbol and index rows), then the universe record's sector, then the `*`
catch-all (a broad-market hedge: any other stock maps to SH).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from tbot_bot.broker.models import OptionContract

MAPPING_VERSION = 1


@dataclass(frozen=True)
class InverseMapping:
    key: str
    key_type: str  # symbol | sector | index
    inverse_symbol: str
    leverage: int


SHIPPED_MAPPINGS: tuple[InverseMapping, ...] = (
    InverseMapping("SPY", "index", "SH", 1),
    InverseMapping("QQQ", "index", "PSQ", 1),
    InverseMapping("IWM", "index", "RWM", 1),
    InverseMapping("DIA", "index", "DOG", 1),
    InverseMapping("*", "index", "SH", 1),
)
SHIPPED_ALLOWLIST: frozenset[str] = frozenset({"SH", "PSQ", "RWM", "DOG"})


@dataclass(frozen=True)
class BearishPlan:
    """The instrument actually traded for a bearish signal, or why there is none."""

    mode: str
    instrument_symbol: str | None
    target_symbol: str
    reason: str  # "ok" or a §3.3 reason code
    leverage: int = 1
    option: OptionContract | None = None
    mapping_version: int = MAPPING_VERSION

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


def map_inverse(
    target: str,
    sector: str | None,
    mappings: tuple[InverseMapping, ...] = SHIPPED_MAPPINGS,
    allowlist: frozenset[str] = SHIPPED_ALLOWLIST,
) -> BearishPlan:
    by_key = {m.key: m for m in mappings}
    found = by_key.get(target)
    if found is None and sector:
        found = next((m for m in mappings if m.key_type == "sector" and m.key == sector), None)
    if found is None:
        found = by_key.get("*")
    if found is None:
        return BearishPlan("InverseETF", None, target, "no_inverse_mapping")
    if found.inverse_symbol not in allowlist:
        return BearishPlan(
            "InverseETF", found.inverse_symbol, target, "inverse_not_allowlisted", found.leverage
        )
    return BearishPlan("InverseETF", found.inverse_symbol, target, "ok", found.leverage)


def nearest_put(
    target: str, price: Decimal, today: date, expiries: list[date], strikes: list[Decimal]
) -> OptionContract | None:
    """Nearest expiry after today; strike nearest the target price (a tie goes to the higher)."""
    later = sorted(e for e in expiries if e > today)
    if not later or not strikes:
        return None
    strike = min(strikes, key=lambda s: (abs(s - price), -s))
    return OptionContract(target, later[0], strike, "P", 100)


def synthetic_weekly_expiries(today: date, weeks: int = 4) -> list[date]:
    """Fridays after today: the SIM's synthetic chain (labelled synthetic where shown)."""
    days_to_friday = (4 - today.weekday()) % 7 or 7
    first = today + timedelta(days=days_to_friday)
    return [first + timedelta(weeks=i) for i in range(weeks)]


def plan_bearish(
    mode: str,
    target: str,
    *,
    sector: str | None,
    shortable: bool,
) -> BearishPlan:
    """Resolve the instrument for a bearish signal; LongPut contracts are chosen by the runner."""
    if mode == "disabled":
        return BearishPlan(mode, None, target, "bearish_disabled")
    if mode == "InverseETF":
        return map_inverse(target, sector)
    if mode == "ShortSell":
        if not shortable:
            return BearishPlan(mode, None, target, "not_shortable")
        return BearishPlan(mode, target, target, "ok")
    if mode == "LongPut":
        return BearishPlan(mode, target, target, "ok")
    raise ValueError(f"unknown SHORT_TYPE value {mode!r}")
