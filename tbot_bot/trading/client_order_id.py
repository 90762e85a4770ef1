"""Deterministic client order ids (trading spec §7.1).

`{BOT_ID}-{YYYYMMDD}-{S}{slot:02d}-{SYM}-{PP}{seq:02d}`, e.g. `B01-20250715-O01-MSFT-EN00`:
S is the strategy letter (O open, M mid, C close, H holdings), SYM the symbol ordered (the
underlying for options) reduced to `[A-Z0-9]` and at most 12 characters, PP the purpose (EN entry,
TS native trailing stop, EX exit) and seq the fallback level (EN) or the attempt (TS/EX). The same
intent always gives the same id, also after a restart, which is what lets a broker refuse a
duplicate and lets us look an ambiguous order up instead of sending it twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

MAX_LENGTH = 48
MAX_SYMBOL_CHARS = 12
STRATEGY_LETTERS = frozenset({"O", "M", "C", "H"})
PURPOSES = frozenset({"EN", "TS", "EX"})
_NOT_BOT_ID = re.compile(r"[^A-Za-z0-9-]")
_NOT_SYMBOL = re.compile(r"[^A-Z0-9]")
_DATE = re.compile(r"^\d{8}$")
_PATTERN = re.compile(
    r"^(?P<bot_id>[A-Za-z0-9-]+)-(?P<date>\d{8})-(?P<strategy>[OMCH])(?P<slot>\d{2})"
    r"-(?P<symbol>[A-Z0-9]{1,12})-(?P<purpose>EN|TS|EX)(?P<seq>\d{2})$"
)


@dataclass(frozen=True, slots=True)
class ClientOrderIdParts:
    """The fields an id was built from."""

    bot_id: str
    trading_date: str  # YYYYMMDD
    strategy: str
    slot: int
    symbol: str
    purpose: str
    seq: int


def reduce_symbol(symbol: str) -> str:
    """`brk.b` -> `BRKB`; at most 12 characters; an empty result is refused."""
    reduced = _NOT_SYMBOL.sub("", symbol.strip().upper())[:MAX_SYMBOL_CHARS]
    if not reduced:
        raise ValueError(f"symbol {symbol!r} has no [A-Z0-9] characters for a client order id")
    return reduced


def _date_text(trading_date: date | str) -> str:
    if isinstance(trading_date, date):
        return trading_date.strftime("%Y%m%d")
    text = trading_date.replace("-", "")
    if not _DATE.fullmatch(text):
        raise ValueError(f"trading_date {trading_date!r} must be a date, YYYYMMDD or YYYY-MM-DD")
    return text


def _two_digits(value: int, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 99:
        raise ValueError(f"{name} must be an int in 0..99, got {value!r}")
    return f"{value:02d}"


def make_client_order_id(
    bot_id: str,
    trading_date: date | str,
    strategy: str,
    slot: int,
    symbol: str,
    purpose: str,
    seq: int,
) -> str:
    """Build the id; every bad field raises ValueError naming it."""
    bot = _NOT_BOT_ID.sub("", bot_id.strip())
    if not bot:
        raise ValueError(f"bot_id {bot_id!r} has no [A-Za-z0-9-] characters")
    if strategy not in STRATEGY_LETTERS:
        raise ValueError(f"strategy must be one of {sorted(STRATEGY_LETTERS)}, got {strategy!r}")
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {sorted(PURPOSES)}, got {purpose!r}")
    text = (
        f"{bot}-{_date_text(trading_date)}-{strategy}{_two_digits(slot, 'slot')}"
        f"-{reduce_symbol(symbol)}-{purpose}{_two_digits(seq, 'seq')}"
    )
    if len(text) > MAX_LENGTH:
        raise ValueError(f"client order id {text!r} is {len(text)} chars, limit {MAX_LENGTH}")
    return text


def parse_client_order_id(client_order_id: str) -> ClientOrderIdParts:
    """Split an id made by `make_client_order_id`; anything else raises ValueError."""
    match = _PATTERN.fullmatch(client_order_id)
    if match is None or len(client_order_id) > MAX_LENGTH:
        raise ValueError(f"{client_order_id!r} is not a TradeBot client order id")
    return ClientOrderIdParts(
        bot_id=match["bot_id"],
        trading_date=match["date"],
        strategy=match["strategy"],
        slot=int(match["slot"]),
        symbol=match["symbol"],
        purpose=match["purpose"],
        seq=int(match["seq"]),
    )


def next_attempt_id(client_order_id: str) -> str:
    """The id of the next attempt of an exit or trailing stop (seq + 1).

    Entries never get a second attempt under the same slot: their seq is the fallback level.
    """
    parts = parse_client_order_id(client_order_id)
    if parts.purpose == "EN":
        raise ValueError(f"{client_order_id!r} is an entry; entries are never re-sent")
    return make_client_order_id(
        parts.bot_id,
        parts.trading_date,
        parts.strategy,
        parts.slot,
        parts.symbol,
        parts.purpose,
        parts.seq + 1,
    )
