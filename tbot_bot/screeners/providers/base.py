"""The one interface of universe providers (trading spec §10).

| Member | Contract |
|---|---|
| `name` | `FINNHUB`, `BROKER` or `LOCAL_FILE` (the `PROVIDER_NN` value) |
| `cap_source_unit` | the unit the source reports caps in (`USD`, `USD millions`); records are USD |
| `fetch_symbols()` | every listed symbol, as `RawSymbol`s (stage 1) |
| `fetch_quotes(symbols)` | `{symbol: Enrichment}`: price, cap in USD, passthrough fields |

Missing or invalid data of one symbol is an `Enrichment.problem` (the build blocklists it).

Transient failures raise `NetworkError`/`RateLimitError` after the provider's own retries; refused
credentials raise `AuthenticationError`. No vendor exception or payload leaves an adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from tbot_bot.screeners.records import Enrichment, RawSymbol

PROVIDER_FINNHUB = "FINNHUB"
PROVIDER_BROKER = "BROKER"
PROVIDER_LOCAL_FILE = "LOCAL_FILE"
V1_PROVIDERS: tuple[str, ...] = (PROVIDER_FINNHUB, PROVIDER_BROKER, PROVIDER_LOCAL_FILE)
LATER_PROVIDERS: tuple[str, ...] = ("YAHOO", "IBKR")
RESERVED_PROVIDERS: tuple[str, ...] = ("NASDAQ", "NYSE")

# Problem codes of `Enrichment.problem` (also the blocklist reasons the build writes).
PROBLEM_NO_QUOTE = "no_quote"
PROBLEM_NO_MARKET_CAP = "no_market_cap"
PROBLEM_INVALID_PRICE = "invalid_price"
PROBLEM_INVALID_MARKET_CAP = "invalid_market_cap"
PROBLEM_NOT_FOUND = "not_found"


@runtime_checkable
class UniverseProvider(Protocol):
    """See the module docstring for the contract of each member."""

    @property
    def name(self) -> str:
        """`FINNHUB`, `BROKER` or `LOCAL_FILE`."""
        ...

    @property
    def cap_source_unit(self) -> str:
        """The unit of the source's caps (the provider converts them to USD)."""
        ...

    def fetch_symbols(self) -> list[RawSymbol]:
        """Stage 1: the provider's listed symbols."""
        ...

    def fetch_quotes(self, symbols: Sequence[str]) -> dict[str, Enrichment]:
        """Stage 2: price and USD cap (plus passthrough fields) of each symbol."""
        ...
