"""Value kinds of `.env_bot` keys: text in, typed value out, canonical text back (trading spec §12).

The loader hands every kind a value already stripped of whitespace and inline comments. A
kind's `parse` raises `ValueError` whose text is the expectation ("an integer in 12..15"), so the
schema can report key, value and expectation in one line. `render(parse(text))` is the canonical
spelling: enums and booleans in their documented case, times as HH:MM:SS, lists without blanks.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from typing import TypeVar

from tbot_bot.config.path_resolver import safe_component
from tbot_bot.errors import PathError
from tbot_bot.money import to_decimal

_T = TypeVar("_T")
_INT_TEXT = re.compile(r"[+-]?\d+")
# Plain decimal notation only: no exponents, NaN or infinities in a config file.
_DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_TIME_TEXT = re.compile(r"(\d{2}):(\d{2})(?::(\d{2}))?")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})

# Exchange names after normalisation (trading spec §10); `*` means any exchange.
EXCHANGES: tuple[str, ...] = (
    "NYSE",
    "NASDAQ",
    "NYSE_ARCA",
    "CBOE_BZX",
    "NYSE_AMERICAN",
    "OTC",
    "*",
)
EXCHANGE_ALIASES: Mapping[str, str] = {
    "XNYS": "NYSE",
    "XNAS": "NASDAQ",
    "XNGS": "NASDAQ",
    "XNCM": "NASDAQ",
    "ARCX": "NYSE_ARCA",
    "BATS": "CBOE_BZX",
    "XASE": "NYSE_AMERICAN",
    "AMEX": "NYSE_AMERICAN",
}


@dataclass(frozen=True)
class ValueKind:
    """How one key's text becomes a typed value (`python_type`) and back to canonical text."""

    type_label: str
    range: str
    python_type: object
    parse: Callable[[str], object]
    render: Callable[[object], str]
    choices: tuple[str, ...] = ()


def _typed(value: object, cls: type[_T]) -> _T:
    if not isinstance(value, cls):
        raise TypeError(f"expected {cls.__name__}, got {type(value).__name__}")
    return value


def _render_decimal(value: object) -> str:
    # "f" keeps the written precision ("2.00") and never switches to exponent notation.
    return format(_typed(value, Decimal), "f")


def _render_csv(value: object) -> str:
    return ",".join(_render_csv_item(item) for item in _typed(value, tuple))


def _render_csv_item(item: object) -> str:
    return _render_decimal(item) if isinstance(item, Decimal) else str(item)


def normalize_exchange(code: str) -> str | None:
    """Canonical exchange name for a listing code (XNYS -> NYSE, OTCQX -> OTC), None if unknown."""
    folded = code.strip().upper()
    if folded.startswith("OTC"):
        return "OTC"
    folded = EXCHANGE_ALIASES.get(folded, folded)
    return folded if folded in EXCHANGES else None


def boolean() -> ValueKind:
    """true/false, case-insensitive (yes/no, on/off, 1/0 accepted); canonical lower case."""

    def parse(text: str) -> bool:
        folded = text.casefold()
        if folded in _TRUE or folded in _FALSE:
            return folded in _TRUE
        raise ValueError("true or false (case-insensitive)")

    def render(value: object) -> str:
        return "true" if _typed(value, bool) else "false"

    return ValueKind("bool", "true|false", bool, parse, render, ("true", "false"))


def _int_range(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo}..{hi}"
    if lo is not None:
        return f">= {lo}"
    return f"<= {hi}" if hi is not None else "any"


def integer(lo: int | None = None, hi: int | None = None) -> ValueKind:
    """A whole number within [lo, hi] (either bound may be open-ended)."""
    span = _int_range(lo, hi)
    expectation = "an integer" + ("" if span == "any" else f" in {span}")

    def parse(text: str) -> int:
        if not _INT_TEXT.fullmatch(text):
            raise ValueError(expectation)
        value = int(text)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ValueError(expectation)
        return value

    return ValueKind("int", span, int, parse, lambda value: str(_typed(value, int)))


def _decimal_range(lo: str | None, hi: str | None, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo}"
    return f"{'<' if hi_open else '<='} {hi}" if hi is not None else "any"


def _decimal_parser(
    lo: str | None, hi: str | None, lo_open: bool, hi_open: bool, label: str
) -> tuple[str, Callable[[str], Decimal]]:
    span = _decimal_range(lo, hi, lo_open, hi_open)
    expectation = f"a plain decimal number ({label}) in {span}"
    low = None if lo is None else Decimal(lo)
    high = None if hi is None else Decimal(hi)

    def parse(text: str) -> Decimal:
        if not _DECIMAL_TEXT.fullmatch(text):
            raise ValueError(expectation)
        value = to_decimal(text)
        below = low is not None and (value <= low if lo_open else value < low)
        above = high is not None and (value >= high if hi_open else value > high)
        if below or above:
            raise ValueError(expectation)
        return value

    return span, parse


def decimal(
    lo: str | None = None,
    hi: str | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    label: str = "Decimal",
) -> ValueKind:
    """An exact Decimal (never float) within the given interval; `label` names it in messages."""
    span, parse = _decimal_parser(lo, hi, lo_open, hi_open, label)
    return ValueKind(label, span, Decimal, parse, _render_decimal)


def enum(*choices: str, aliases: Mapping[str, str] | None = None) -> ValueKind:
    """One of `choices`, matched case-insensitively, stored in the spelling given here."""
    lookup = {choice.casefold(): choice for choice in choices}
    lookup.update({alias.casefold(): target for alias, target in (aliases or {}).items()})
    shown = ", ".join(choice or '"" (empty)' for choice in choices)
    expectation = f"one of {shown} (case-insensitive)"

    def parse(text: str) -> str:
        try:
            return lookup[text.casefold()]
        except KeyError:
            raise ValueError(expectation) from None

    span = "|".join(choice or '""' for choice in choices)
    return ValueKind("enum", span, str, parse, lambda value: _typed(value, str), tuple(choices))


def time_of_day(*, utc: bool = False) -> ValueKind:
    """HH:MM or HH:MM:SS (24 h); canonical HH:MM:SS."""
    expectation = "a time HH:MM[:SS] (24 h)"

    def parse(text: str) -> time:
        match = _TIME_TEXT.fullmatch(text)
        if not match:
            raise ValueError(expectation)
        hour, minute, second = (int(part or 0) for part in match.groups())
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(expectation)
        return time(hour, minute, second)

    def render(value: object) -> str:
        return _typed(value, time).strftime("%H:%M:%S")

    return ValueKind("time (UTC)" if utc else "time", "HH:MM[:SS]", time, parse, render)


def _split_csv(text: str, what: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if not text or any(not item for item in items):
        raise ValueError(f"a comma-separated list of {what} without empty items")
    return items


def csv_choices(
    choices: tuple[str, ...], *, sort: bool = False, chronological: bool = False
) -> ValueKind:
    """A non-empty list of distinct `choices` (case-insensitive). `sort` stores them in the order
    of `choices`; `chronological` rejects a list that is not already in that order."""
    lookup = {choice.casefold(): choice for choice in choices}
    what = "|".join(choices)

    def parse(text: str) -> tuple[str, ...]:
        picked: list[str] = []
        for item in _split_csv(text, what):
            choice = lookup.get(item.casefold())
            if choice is None:
                raise ValueError(f"a comma-separated list of {what}; {item!r} is not one of them")
            if choice in picked:
                raise ValueError(f"a comma-separated list of {what} naming each at most once")
            picked.append(choice)
        ordered = sorted(picked, key=choices.index)
        if chronological and picked != ordered:
            raise ValueError(f"a list in chronological order ({','.join(choices)})")
        return tuple(ordered if sort else picked)

    return ValueKind("CSV", what, tuple[str, ...], parse, _render_csv, tuple(choices))


def csv_exchanges() -> ValueKind:
    """Exchange names, normalised (XNYS -> NYSE, ...), distinct; `*` allows any exchange."""
    what = "|".join(EXCHANGES)

    def parse(text: str) -> tuple[str, ...]:
        picked: list[str] = []
        for item in _split_csv(text, "exchanges"):
            name = normalize_exchange(item)
            if name is None:
                raise ValueError(f"exchanges from {what} (or XNYS, XNAS, ARCX, BATS, XASE, AMEX)")
            if name in picked:
                raise ValueError(f"exchanges naming each at most once ({item!r} repeats {name})")
            picked.append(name)
        return tuple(picked)

    return ValueKind("CSV", what, tuple[str, ...], parse, _render_csv, EXCHANGES)


def csv_decimals(
    lo: str | None = None, hi: str | None = None, *, lo_open: bool = False, hi_open: bool = False
) -> ValueKind:
    """A non-empty list of Decimals, each within the interval."""
    span, item = _decimal_parser(lo, hi, lo_open, hi_open, "fraction")

    def parse(text: str) -> tuple[Decimal, ...]:
        return tuple(item(part) for part in _split_csv(text, f"fractions in {span}"))

    return ValueKind("CSV fractions", f"each in {span}", tuple[Decimal, ...], parse, _render_csv)


@functools.cache
def _zone_names() -> Mapping[str, str]:
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def zone() -> ValueKind:
    """An IANA zone that exists in zoneinfo; matched case-insensitively, stored canonically."""

    def parse(text: str) -> str:
        name = _zone_names().get(text.casefold())
        if name is None:
            raise ValueError("an IANA time zone known to zoneinfo, e.g. America/New_York")
        return name

    return ValueKind("IANA zone", "zoneinfo names", str, parse, lambda value: _typed(value, str))


def text(pattern: str, expectation: str, *, lower: bool = False) -> ValueKind:
    """A string matching `pattern` (after lower-casing when `lower`)."""
    compiled = re.compile(pattern)

    def parse(raw: str) -> str:
        value = raw.lower() if lower else raw
        if not compiled.fullmatch(value):
            raise ValueError(expectation)
        return value

    return ValueKind("str", expectation, str, parse, lambda value: _typed(value, str))


def relative_path() -> ValueKind:
    """A relative path of plain components (no `..`, no absolute path); canonical with `/`."""
    expectation = "a relative path of letters, digits, '.', '_', '-' components (no '..')"

    def parse(raw: str) -> str:
        unified = raw.replace("\\", "/")
        parts = [part for part in unified.split("/") if part]
        if unified.startswith("/") or not parts:
            raise ValueError(expectation)
        try:
            return "/".join(safe_component(part) for part in parts)
        except PathError:
            raise ValueError(expectation) from None

    return ValueKind("path", "relative", str, parse, lambda value: _typed(value, str))
