"""BROKER universe provider: the broker's asset list, enriched by another provider (spec §10).

Symbols and their flags (tradable, fractionable, shortable) come from an `AssetListSource`, a small
protocol every `Broker` satisfies through its `list_assets` hook; adapters without an asset list
set `has_asset_list = False` and the factory lists such a BROKER entry as unavailable. A flag the
list leaves unknown is asked of the broker (`is_tradable`, `supports_fractional`, `is_shortable`).
Caps always come from the enrichment provider (FINNHUB in v1); prices come from the broker's
latest quote when it has one, else from the enrichment provider. Without an enrichment provider
enrichment fails: a broker does not publish caps.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from tbot_bot.broker.models import AssetInfo
from tbot_bot.errors import ConfigError
from tbot_bot.market.bars import Quote
from tbot_bot.screeners.providers.base import PROVIDER_BROKER, UniverseProvider
from tbot_bot.screeners.records import Enrichment, RawSymbol, normalize_type

# AssetInfo lives in the broker layer (which must not import screeners); re-exported here.
__all__ = ["AssetInfo", "AssetListSource", "BrokerFlags", "BrokerProvider"]

logger = logging.getLogger(__name__)


@runtime_checkable
class AssetListSource(Protocol):
    """What a broker adapter implements to serve as a universe source."""

    def list_assets(self) -> list[AssetInfo]:
        """US-equity assets the account can see; inactive ones (if listed) are skipped."""
        ...


class BrokerFlags(Protocol):
    """The slice of `tbot_bot.broker.base.Broker` this provider uses (every Broker has it)."""

    def is_tradable(self, symbol: str) -> bool: ...

    def supports_fractional(self, symbol: str) -> bool: ...

    def is_shortable(self, symbol: str) -> bool: ...

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]: ...


class BrokerProvider:
    """Asset list + broker flags + broker quotes, with caps from `enrichment`."""

    name = PROVIDER_BROKER

    def __init__(
        self,
        assets: AssetListSource,
        *,
        broker: BrokerFlags | None = None,
        enrichment: UniverseProvider | None = None,
    ) -> None:
        self.assets = assets
        self.broker = broker
        self.enrichment = enrichment

    @property
    def cap_source_unit(self) -> str:
        if self.enrichment is None:
            return "none (no enrichment provider)"
        return f"{self.enrichment.cap_source_unit} via {self.enrichment.name}"

    def fetch_symbols(self) -> list[RawSymbol]:
        listed = self.assets.list_assets()
        symbols = [self._raw(asset) for asset in listed if asset.active]
        logger.info("broker asset list: %d active of %d", len(symbols), len(listed))
        return symbols

    def fetch_quotes(self, symbols: Sequence[str]) -> dict[str, Enrichment]:
        if self.enrichment is None:
            raise ConfigError(
                "BROKER universe provider needs an enrichment provider for market caps: enable "
                "ENRICHMENT_ENABLED_NN on a FINNHUB entry of screener_api (tbot secrets set "
                "screener_api --provider FINNHUB)"
            )
        enriched = self.enrichment.fetch_quotes(symbols)
        quotes = self.broker.get_latest_quotes(symbols) if self.broker is not None else {}
        result: dict[str, Enrichment] = {}
        for symbol in symbols:
            base = enriched.get(symbol) or Enrichment(symbol, problem="not_found")
            quote = quotes.get(symbol)
            if quote is not None and quote.last > 0:
                # The broker is the venue we trade on: its last trade wins over a vendor price.
                base = replace(base, last_close=quote.last)
            result[symbol] = base
        return result

    def _raw(self, asset: AssetInfo) -> RawSymbol:
        symbol = asset.symbol.strip().upper()
        return RawSymbol(
            symbol=symbol,
            exchange=asset.exchange,
            type=normalize_type(asset.asset_type),
            provider=self.name,
            company_name=asset.name,
            tradable=self._flag(asset.tradable, symbol, "tradable"),
            fractionable=self._flag(asset.fractionable, symbol, "fractionable"),
            shortable=self._flag(asset.shortable, symbol, "shortable"),
        )

    def _flag(self, known: bool | None, symbol: str, flag: str) -> bool | None:
        """The asset list's flag, else the broker's answer, else unknown (None)."""
        if known is not None or self.broker is None:
            return known
        if flag == "tradable":
            return bool(self.broker.is_tradable(symbol))
        if flag == "fractionable":
            return bool(self.broker.supports_fractional(symbol))
        return bool(self.broker.is_shortable(symbol))
