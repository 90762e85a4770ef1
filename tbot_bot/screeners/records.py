"""Universe records and the small vocabulary every stage shares (trading spec §10).

A `RawSymbol` is what a provider lists (stage 1), an `Enrichment` is its quote and cap (stage 2),
and a `UniverseRecord` is one row of the unfiltered, partial and published files. Prices and caps
are Decimal; caps are always USD by the time they reach a record (each adapter converts its own
unit, so no later stage ever rescales). JSON keys are the spec's camelCase names.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tbot_bot.config.settings_kinds import normalize_exchange as normalize_listed_exchange
from tbot_bot.errors import DataError

# Suffixes of preferred shares, warrants, rights, units and foreign ordinaries (spec §10).
EXCLUDED_SUFFIXES: frozenset[str] = frozenset({"RT", "WS", "W", "U", "PR", "F"})
# Instrument kinds that never enter the universe, whatever SCREENER_UNIVERSE_TYPES says.
EXCLUDED_KINDS: frozenset[str] = frozenset({"preferred", "warrant", "right", "unit"})
_SUFFIX_SPLIT = re.compile(r"[./\-]")
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-/]{0,14}$")

# Long exchange names seen in provider profiles (Finnhub profile2, broker asset lists).
_EXCHANGE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("NASDAQ", "NASDAQ"),
    ("ARCA", "NYSE_ARCA"),
    ("NYSE AMERICAN", "NYSE_AMERICAN"),
    ("NYSE MKT", "NYSE_AMERICAN"),
    ("BZX", "CBOE_BZX"),
    ("BATS", "CBOE_BZX"),
    ("NEW YORK STOCK EXCHANGE", "NYSE"),
    ("NYSE", "NYSE"),
    ("OTC", "OTC"),
)
_TYPE_ALIASES: Mapping[str, str] = {
    "common stock": "common",
    "common": "common",
    "cs": "common",
    "etp": "etf",
    "etf": "etf",
    "exchange traded fund": "etf",
    "preference": "preferred",
    "preferred stock": "preferred",
    "preferred": "preferred",
    "pfd": "preferred",
    "equity wrt": "warrant",
    "warrant": "warrant",
    "right": "right",
    "unit": "unit",
}


@functools.lru_cache(maxsize=4096)
def normalize_exchange(raw: str | None) -> str | None:
    """Canonical exchange (NYSE, NASDAQ, NYSE_ARCA, CBOE_BZX, NYSE_AMERICAN, OTC) or None.

    Listing codes go through the settings' own table (XNYS -> NYSE, XNAS/XNGS/XNCM -> NASDAQ, ARCX
    -> NYSE_ARCA, BATS -> CBOE_BZX, XASE/AMEX -> NYSE_AMERICAN, OTC* -> OTC); long names such as
    Finnhub's "NASDAQ NMS - GLOBAL MARKET" are matched by the patterns above.
    """
    if not raw or not raw.strip():
        return None
    listed = normalize_listed_exchange(raw)
    if listed is not None and listed != "*":
        return listed
    folded = raw.strip().upper()
    for needle, name in _EXCHANGE_PATTERNS:
        if needle in folded:
            return name
    return None


def normalize_type(raw: str | None) -> str:
    """`common`, `etf`, `preferred`, `warrant`, ... ; unknown kinds keep a lower-case name."""
    if not raw or not raw.strip():
        return "unknown"
    folded = " ".join(raw.strip().lower().replace("_", " ").split())
    return _TYPE_ALIASES.get(folded, folded.replace(" ", "_"))


def excluded_symbol(symbol: str) -> bool:
    """True for preferred/warrant/right/unit style tickers: `.RT .WS .W .U .PR .F` (also `-`/`/`
    separators, `PRA`-style preferred series and `^` notation)."""
    text = symbol.strip().upper()
    if "^" in text:
        return True
    parts = _SUFFIX_SPLIT.split(text, maxsplit=1)
    if len(parts) < 2:
        return False
    suffix = parts[1]
    return suffix in EXCLUDED_SUFFIXES or bool(re.fullmatch(r"PR[A-Z]?", suffix))


def valid_symbol(symbol: str) -> bool:
    """A plausible US ticker: upper-case letters/digits with `.`, `-` or `/` class separators."""
    return bool(_SYMBOL.fullmatch(symbol))


def wire_decimal(value: object) -> Decimal | None:
    """A provider number as Decimal; None for missing, empty or non-finite values.

    JSON numbers arrive as floats from HTTP clients we do not control. `str(float)` is the shortest
    text that round-trips, so it reproduces the provider's decimal text exactly for the 15
    significant digits quotes and caps use; the float never travels past this function.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            return None
    return result if result.is_finite() else None


def wire_int(value: object) -> int | None:
    """A volume as int; None when missing or not a whole non-negative number."""
    number = wire_decimal(value)
    if number is None or number < 0 or number != number.to_integral_value():
        return None
    return int(number)


def wire_bool(value: object) -> bool | None:
    """true/false in any case (also 1/0, yes/no); None when missing or unreadable."""
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    folded = str(value).strip().lower()
    if folded in {"true", "1", "yes", "y"}:
        return True
    if folded in {"false", "0", "no", "n"}:
        return False
    return None


def wire_text(value: object) -> str | None:
    """Trimmed text, None when empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def decimal_text(value: Decimal) -> str:
    """Plain decimal text, never exponent notation ("2869704500000", "123.45")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


@dataclass(frozen=True, slots=True)
class RawSymbol:
    """One listed symbol from a provider (stage 1). Flags are None when the source says nothing."""

    symbol: str
    exchange: str | None
    type: str
    provider: str
    company_name: str | None = None
    tradable: bool | None = None
    fractionable: bool | None = None
    shortable: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "exchange": self.exchange,
            "type": self.type,
            "provider": self.provider,
            "companyName": self.company_name,
            "tradable": self.tradable,
            "fractionable": self.fractionable,
            "shortable": self.shortable,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RawSymbol:
        return cls(
            symbol=str(data["symbol"]),
            exchange=wire_text(data.get("exchange")),
            type=str(data.get("type") or "unknown"),
            provider=str(data.get("provider") or ""),
            company_name=wire_text(data.get("companyName")),
            tradable=wire_bool(data.get("tradable")),
            fractionable=wire_bool(data.get("fractionable")),
            shortable=wire_bool(data.get("shortable")),
        )


@dataclass(frozen=True, slots=True)
class Enrichment:
    """Quote and cap of one symbol (stage 2). `problem` names missing or invalid data, which puts
    the symbol on the blocklist; a transient failure raises instead (NetworkError)."""

    symbol: str
    last_close: Decimal | None = None
    market_cap_usd: Decimal | None = None
    volume: int | None = None
    avg_volume: int | None = None
    company_name: str | None = None
    sector: str | None = None
    industry: str | None = None
    exchange: str | None = None
    fractionable: bool | None = None
    shortable: bool | None = None
    pe_ratio: Decimal | None = None
    debt_equity: Decimal | None = None
    synthetic: bool | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class UniverseRecord:
    """One universe row; `market_cap` is USD, `last_close` USD per share."""

    symbol: str
    exchange: str
    type: str
    last_close: Decimal
    market_cap: Decimal
    volume: int | None = None
    avg_volume: int | None = None
    company_name: str | None = None
    sector: str | None = None
    industry: str | None = None
    fractionable: bool | None = None
    shortable: bool | None = None
    pe_ratio: Decimal | None = None
    debt_equity: Decimal | None = None
    synthetic: bool | None = None
    provider: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Spec field names; Decimals as plain strings; optional extras only when known."""
        data: dict[str, Any] = {
            "symbol": self.symbol,
            "exchange": self.exchange,
            "type": self.type,
            "lastClose": decimal_text(self.last_close),
            "marketCap": decimal_text(self.market_cap),
            "volume": self.volume,
            "avgVolume": self.avg_volume,
            "companyName": self.company_name,
            "sector": self.sector,
            "industry": self.industry,
        }
        extras: dict[str, Any] = {
            "fractionable": self.fractionable,
            "shortable": self.shortable,
            "pe_ratio": None if self.pe_ratio is None else decimal_text(self.pe_ratio),
            "debt_equity": None if self.debt_equity is None else decimal_text(self.debt_equity),
            "synthetic": self.synthetic,
            "provider": self.provider,
        }
        data.update({key: value for key, value in extras.items() if value is not None})
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> UniverseRecord:
        """Parse one record; DataError naming `where`, the field and the value when invalid."""
        if not isinstance(data, Mapping):
            raise DataError(f"{where}: expected a JSON object, got {type(data).__name__}")
        symbol = wire_text(data.get("symbol"))
        if symbol is None:
            raise DataError(f"{where}: field 'symbol' is missing or empty")
        exchange = wire_text(data.get("exchange"))
        if exchange is None:
            raise DataError(f"{where} ({symbol}): field 'exchange' is missing or empty")
        last_close = _positive(data, "lastClose", where, symbol)
        market_cap = _positive(data, "marketCap", where, symbol)
        return cls(
            symbol=symbol,
            exchange=exchange,
            type=normalize_type(wire_text(data.get("type"))),
            last_close=last_close,
            market_cap=market_cap,
            volume=wire_int(data.get("volume")),
            avg_volume=wire_int(data.get("avgVolume")),
            company_name=wire_text(data.get("companyName")),
            sector=wire_text(data.get("sector")),
            industry=wire_text(data.get("industry")),
            fractionable=wire_bool(data.get("fractionable")),
            shortable=wire_bool(data.get("shortable")),
            pe_ratio=wire_decimal(data.get("pe_ratio")),
            debt_equity=wire_decimal(data.get("debt_equity")),
            synthetic=wire_bool(data.get("synthetic")),
            provider=wire_text(data.get("provider")),
        )


def _positive(data: Mapping[str, Any], key: str, where: str, symbol: str) -> Decimal:
    value = wire_decimal(data.get(key))
    if value is None or value <= 0:
        raise DataError(
            f"{where} ({symbol}): field {key!r} = {data.get(key)!r}; expected a positive number"
        )
    return value


def merge_record(raw: RawSymbol, data: Enrichment) -> tuple[UniverseRecord | None, str | None]:
    """Combine a listed symbol and its enrichment; (None, problem) when the data cannot be used."""
    if data.problem:
        return None, data.problem
    if data.last_close is None or data.last_close <= 0:
        return None, "invalid_price"
    if data.market_cap_usd is None or data.market_cap_usd <= 0:
        return None, "invalid_market_cap"
    exchange = (
        normalize_exchange(raw.exchange)
        or normalize_exchange(data.exchange)
        or raw.exchange
        or data.exchange
    )
    if not exchange:
        return None, "no_exchange"
    record = UniverseRecord(
        symbol=raw.symbol,
        exchange=exchange,
        type=raw.type,
        last_close=data.last_close,
        market_cap=data.market_cap_usd,
        volume=data.volume,
        avg_volume=data.avg_volume,
        company_name=raw.company_name or data.company_name,
        sector=data.sector,
        industry=data.industry,
        fractionable=raw.fractionable if raw.fractionable is not None else data.fractionable,
        shortable=raw.shortable if raw.shortable is not None else data.shortable,
        pe_ratio=data.pe_ratio,
        debt_equity=data.debt_equity,
        synthetic=data.synthetic,
        provider=raw.provider,
    )
    return record, None
