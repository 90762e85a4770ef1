"""The universe filter (stage 3, trading spec §10): a pure function, no I/O, no unit changes.

Rules, in order (the first failing rule is the reason counted): exchange in
`SCREENER_UNIVERSE_EXCHANGES` after normalisation (`*` = any); no preferred, warrant, right or unit
symbol (suffix or kind); `type` in `SCREENER_UNIVERSE_TYPES`; `lastClose` within
`SCREENER_UNIVERSE_MIN_PRICE`..`_MAX_PRICE`; `marketCap` (USD) within `_MIN_MARKET_CAP`..
`_MAX_MARKET_CAP`; `avgVolume` >= `MIN_VOLUME_THRESHOLD`. Survivors are sorted largest cap first
(ties by symbol) and cut to `SCREENER_UNIVERSE_MAX_SIZE`.

A record without `avgVolume` passes the volume rule: FINNHUB's two calls per symbol carry no
volume, and the runtime gate checks the 20-day average volume again before any order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tbot_bot.screeners.records import (
    EXCLUDED_KINDS,
    RawSymbol,
    UniverseRecord,
    excluded_symbol,
    normalize_exchange,
    valid_symbol,
)

ANY_EXCHANGE = "*"
REASON_EXCHANGE = "exchange"
REASON_SYMBOL_KIND = "symbol_kind"
REASON_TYPE = "type"
REASON_PRICE = "price"
REASON_MARKET_CAP = "market_cap"
REASON_AVG_VOLUME = "avg_volume"
REASON_MAX_SIZE = "max_size"


@dataclass(frozen=True)
class UniverseCriteria:
    """The filter settings; build from `.env_bot` with `from_settings`."""

    exchanges: frozenset[str]
    types: frozenset[str]
    min_price: Decimal
    max_price: Decimal
    min_market_cap: Decimal
    max_market_cap: Decimal
    min_avg_volume: int
    max_size: int

    @classmethod
    def from_settings(cls, settings: Any) -> UniverseCriteria:
        """Read the §12.3 keys (and `MIN_VOLUME_THRESHOLD`) from a `Settings` object."""
        return cls(
            exchanges=frozenset(str(name) for name in settings.SCREENER_UNIVERSE_EXCHANGES),
            types=frozenset(str(name).lower() for name in settings.SCREENER_UNIVERSE_TYPES),
            min_price=settings.SCREENER_UNIVERSE_MIN_PRICE,
            max_price=settings.SCREENER_UNIVERSE_MAX_PRICE,
            min_market_cap=settings.SCREENER_UNIVERSE_MIN_MARKET_CAP,
            max_market_cap=settings.SCREENER_UNIVERSE_MAX_MARKET_CAP,
            min_avg_volume=int(settings.MIN_VOLUME_THRESHOLD),
            max_size=int(settings.SCREENER_UNIVERSE_MAX_SIZE),
        )

    def exchange_allowed(self, raw_exchange: str | None) -> bool:
        """True if the normalised exchange is allowed (`*` allows any, even unknown ones)."""
        if ANY_EXCHANGE in self.exchanges:
            return True
        name = normalize_exchange(raw_exchange)
        return name is not None and name in self.exchanges


@dataclass(frozen=True)
class FilterOutcome:
    """Kept records (largest caps first) and how many were dropped for each reason."""

    records: tuple[UniverseRecord, ...]
    rejected: Mapping[str, int]


def prefilter_reason(
    raw: RawSymbol, criteria: UniverseCriteria, blocked: Container[str] = ()
) -> str | None:
    """Stage-2 pre-filter of a provider's raw symbol (before any enrichment call): the first
    reason to skip it, or None. The nightly build passes its blocklist; a backtest has none."""
    if raw.symbol in blocked:
        return "blocklisted"
    if not valid_symbol(raw.symbol):
        return "invalid_symbol"
    if not criteria.exchange_allowed(raw.exchange):
        return REASON_EXCHANGE
    if excluded_symbol(raw.symbol):
        return REASON_SYMBOL_KIND
    if raw.tradable is False:
        return "not_tradable"
    return None


def rejection_reason(record: UniverseRecord, criteria: UniverseCriteria) -> str | None:
    """The first rule `record` fails, or None when it passes them all (max size aside)."""
    if not criteria.exchange_allowed(record.exchange):
        return REASON_EXCHANGE
    if excluded_symbol(record.symbol) or record.type in EXCLUDED_KINDS:
        return REASON_SYMBOL_KIND
    if record.type not in criteria.types:
        return REASON_TYPE
    if not criteria.min_price <= record.last_close <= criteria.max_price:
        return REASON_PRICE
    if not criteria.min_market_cap <= record.market_cap <= criteria.max_market_cap:
        return REASON_MARKET_CAP
    if record.avg_volume is not None and record.avg_volume < criteria.min_avg_volume:
        return REASON_AVG_VOLUME
    return None


def filter_universe(records: Iterable[UniverseRecord], criteria: UniverseCriteria) -> FilterOutcome:
    """Apply the rules, sort by market cap descending then symbol, cut to `max_size`."""
    rejected: Counter[str] = Counter()
    kept: list[UniverseRecord] = []
    for record in records:
        reason = rejection_reason(record, criteria)
        if reason is None:
            kept.append(record)
        else:
            rejected[reason] += 1
    kept.sort(key=lambda record: (-record.market_cap, record.symbol))
    if len(kept) > criteria.max_size:
        rejected[REASON_MAX_SIZE] += len(kept) - criteria.max_size
        kept = kept[: criteria.max_size]
    return FilterOutcome(tuple(kept), dict(rejected))
