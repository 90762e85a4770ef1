"""Crafted bars for strategy tests: readable series instead of fixture files."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tbot_bot.market.bars import Bar
from tbot_bot.strategy.base import SymbolTape

SESSION_OPEN = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)  # 09:30 ET in summer


def bar(
    minute: int, o: str, h: str, low: str, c: str, v: int = 10_000, symbol: str = "TEST"
) -> Bar:
    return Bar(
        symbol,
        SESSION_OPEN + timedelta(minutes=minute),
        Decimal(o),
        Decimal(h),
        Decimal(low),
        Decimal(c),
        v,
    )


def flat_bars(
    start_minute: int,
    count: int,
    price: str,
    spread: str = "0.10",
    volume: int = 10_000,
    symbol: str = "TEST",
) -> list[Bar]:
    """`count` bars around `price` with a fixed high-low spread."""
    p, s = Decimal(price), Decimal(spread)
    return [
        Bar(
            symbol,
            SESSION_OPEN + timedelta(minutes=start_minute + i),
            p,
            p + s / 2,
            p - s / 2,
            p,
            volume,
        )
        for i in range(count)
    ]


def tape_of(bars: Sequence[Bar], symbol: str = "TEST") -> SymbolTape:
    tape = SymbolTape(symbol, SESSION_OPEN)
    for item in bars:
        tape.add(item)
    return tape


def at_minute(minute: float) -> datetime:
    return SESSION_OPEN + timedelta(minutes=minute)
