"""Which providers a universe build uses (trading spec §10).

Credential entries of `screener_api` (sorted by `PRIORITY_NN`) give FINNHUB and BROKER providers:
`UNIVERSE_ENABLED_NN` puts one in the build's source list, `ENRICHMENT_ENABLED_NN` lets it supply
caps for BROKER symbols. `UNIVERSE_LOCAL_FILE` (a path under the data root) adds LOCAL_FILE last.
A BROKER entry needs the runner's broker adapter with an asset list; without one (the CLI, or an
adapter whose `has_asset_list` is False) it is listed in `unavailable` with the reason, never
silently dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tbot_bot.config.path_resolver import RuntimePaths, data_set_dir
from tbot_bot.screeners.credentials import ProviderEntry, load_provider_entries
from tbot_bot.screeners.providers.base import PROVIDER_BROKER, PROVIDER_FINNHUB, UniverseProvider
from tbot_bot.screeners.providers.broker import AssetListSource, BrokerFlags, BrokerProvider
from tbot_bot.screeners.providers.finnhub import FinnhubProvider
from tbot_bot.screeners.providers.local_file import LocalFileProvider
from tbot_bot.screeners.throttle import SleepFn, Throttle


@dataclass(frozen=True)
class ProviderSetup:
    """Providers for the universe build (priority order), for enrichment, and the ones skipped."""

    universe: tuple[UniverseProvider, ...]
    enrichment: tuple[UniverseProvider, ...]
    unavailable: tuple[str, ...]

    def close(self) -> None:
        """Release HTTP sessions (providers that have none are skipped)."""
        for provider in {id(p): p for p in (*self.universe, *self.enrichment)}.values():
            closer = getattr(provider, "close", None)
            if callable(closer):
                closer()


def build_providers(
    paths: RuntimePaths,
    settings: Any,
    *,
    sleep: SleepFn = time.sleep,
    now_utc: Callable[[], datetime] | None = None,
    asset_source: AssetListSource | None = None,
    broker: BrokerFlags | None = None,
    entries: Sequence[ProviderEntry] | None = None,
) -> ProviderSetup:
    """Instantiate the enabled providers from the screener credentials and `.env_bot`."""
    listed = list(entries) if entries is not None else load_provider_entries(paths)
    universe: list[tuple[int, UniverseProvider]] = []
    enrichment: list[UniverseProvider] = []
    unavailable: list[str] = []
    for entry in listed:
        if entry.provider != PROVIDER_FINNHUB:
            continue
        finnhub = FinnhubProvider(
            entry.api_key,
            throttle=Throttle(settings.UNIVERSE_SLEEP_TIME, sleep=sleep),
            base_url=entry.url,
            retries=int(settings.API_RETRY_LIMIT),
            timeout_s=float(settings.API_TIMEOUT),
            now_utc=now_utc,
        )
        if entry.universe_enabled:
            universe.append((entry.priority, finnhub))
        if entry.enrichment_enabled:
            enrichment.append(finnhub)
    for entry in listed:
        if entry.provider != PROVIDER_BROKER or not entry.universe_enabled:
            continue
        if asset_source is None:
            unavailable.append(
                f"BROKER (slot {entry.slot}) needs the broker adapter's asset list, which is "
                "only available inside the runner"
            )
            continue
        # Broker adapters say whether they implement list_assets; other sources (fakes) do.
        if not getattr(asset_source, "has_asset_list", True):
            adapter = getattr(asset_source, "name", type(asset_source).__name__)
            unavailable.append(
                f"BROKER (slot {entry.slot}): the {adapter} broker adapter has no asset list; "
                "use FINNHUB or LOCAL_FILE as the universe source"
            )
            continue
        provider = BrokerProvider(
            asset_source, broker=broker, enrichment=enrichment[0] if enrichment else None
        )
        universe.append((entry.priority, provider))
    universe.sort(key=lambda pair: pair[0])  # stable: equal priorities keep slot order
    ordered = [provider for _, provider in universe]
    local = settings.UNIVERSE_LOCAL_FILE
    if local:
        ordered.append(LocalFileProvider(data_set_dir(str(local))))
    return ProviderSetup(tuple(ordered), tuple(enrichment), tuple(unavailable))
