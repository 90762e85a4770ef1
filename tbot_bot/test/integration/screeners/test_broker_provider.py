"""BROKER provider: asset list + broker flags + quotes, caps from FINNHUB on a local fake."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError
from tbot_bot.market.bars import Quote
from tbot_bot.screeners.build import UniverseBuilder
from tbot_bot.screeners.credentials import load_provider_entries, set_provider_credentials
from tbot_bot.screeners.factory import build_providers
from tbot_bot.screeners.providers.broker import AssetInfo, AssetListSource, BrokerProvider
from tbot_bot.screeners.providers.finnhub import FinnhubProvider
from tbot_bot.screeners.store import load_universe
from tbot_bot.screeners.throttle import Throttle
from tbot_bot.test.fakes.fake_finnhub import FAKE_FINNHUB_KEY, FakeFinnhub
from tbot_bot.test.unit.screeners.helpers import (
    AFTER_CLOSE,
    SleepRecorder,
    calendar,
    clock_at,
    make_settings,
)


class FakeAssets:
    """An asset list as a broker adapter would expose it."""

    def __init__(self, assets: list[AssetInfo]) -> None:
        self.assets = assets
        self.calls = 0

    def list_assets(self) -> list[AssetInfo]:
        self.calls += 1
        return list(self.assets)


class FakeBrokerFlags:
    """The Broker hooks the provider uses; records which symbols it was asked about."""

    def __init__(self, quotes: dict[str, str], shortable: set[str]) -> None:
        self.quotes = quotes
        self.shortable = shortable
        self.asked: list[tuple[str, str]] = []

    def is_tradable(self, symbol: str) -> bool:
        self.asked.append(("tradable", symbol))
        return True

    def supports_fractional(self, symbol: str) -> bool:
        self.asked.append(("fractional", symbol))
        return False

    def is_shortable(self, symbol: str) -> bool:
        self.asked.append(("shortable", symbol))
        return symbol in self.shortable

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        return {
            symbol: Quote(symbol, Decimal(p), Decimal(p), Decimal(p), AFTER_CLOSE)
            for symbol, p in self.quotes.items()
            if symbol in symbols
        }


ASSETS = [
    AssetInfo("AAPL", "NASDAQ", "common", "Apple Inc", True, True, True, True),
    AssetInfo("KO", "NYSE", "common", "Coca-Cola", True, None, None, None),
    AssetInfo("HALT", "NYSE", "common", "Halted Co", True, False, False, False),
    AssetInfo("GONE", "NYSE", "common", "Delisted", False, True, True, True),
]


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeFinnhub:
    fake = FakeFinnhub(httpserver)
    fake.add_stock("AAPL", price="212.48", cap_millions="2869.7045", mic="XNAS")
    fake.add_stock("KO", price="70.10", cap_millions="3018.1804")
    fake.add_stock("HALT", price="5.00", cap_millions="400")
    return fake


def finnhub(fake: FakeFinnhub) -> FinnhubProvider:
    throttle = Throttle(Decimal(0), sleep=SleepRecorder().sleep)
    return FinnhubProvider(FAKE_FINNHUB_KEY, throttle=throttle, base_url=fake.base_url)


def test_asset_protocol_is_structural() -> None:
    assert isinstance(FakeAssets(ASSETS), AssetListSource)


def test_flags_come_from_the_asset_list_else_from_the_broker(fake: FakeFinnhub) -> None:
    broker = FakeBrokerFlags({}, shortable={"KO"})
    provider = BrokerProvider(FakeAssets(ASSETS), broker=broker, enrichment=finnhub(fake))
    symbols = {raw.symbol: raw for raw in provider.fetch_symbols()}
    assert set(symbols) == {"AAPL", "KO", "HALT"}  # inactive GONE is not listed
    assert (symbols["AAPL"].fractionable, symbols["AAPL"].shortable) == (True, True)
    assert (symbols["KO"].tradable, symbols["KO"].fractionable, symbols["KO"].shortable) == (
        True,
        False,
        True,
    )
    assert symbols["HALT"].tradable is False
    assert {symbol for _, symbol in broker.asked} == {"KO"}  # only unknown flags are asked


def test_caps_from_enrichment_prices_from_the_broker(fake: FakeFinnhub) -> None:
    broker = FakeBrokerFlags({"AAPL": "213.00"}, shortable=set())
    provider = BrokerProvider(FakeAssets(ASSETS), broker=broker, enrichment=finnhub(fake))
    result = provider.fetch_quotes(["AAPL", "KO"])
    assert result["AAPL"].last_close == Decimal("213.00")
    assert result["AAPL"].market_cap_usd == Decimal("2869704500")
    assert result["KO"].last_close == Decimal("70.1")  # no broker quote: Finnhub's price
    assert "FINNHUB" in provider.cap_source_unit


def test_without_enrichment_provider_enrichment_fails() -> None:
    provider = BrokerProvider(FakeAssets(ASSETS))
    with pytest.raises(ConfigError, match="enrichment provider"):
        provider.fetch_quotes(["AAPL"])


def test_build_from_broker_entry_publishes_flags(fake: FakeFinnhub, tbot_home: Path) -> None:
    paths = RuntimePaths.for_home()
    SecretsManager(paths).ensure_key("screener_api")
    set_provider_credentials(
        paths,
        "FINNHUB",
        FAKE_FINNHUB_KEY,
        actor="test",
        url=fake.base_url,
        universe_enabled=False,
    )
    set_provider_credentials(paths, "BROKER", "", actor="test")
    settings = make_settings(UNIVERSE_SLEEP_TIME="0")
    broker = FakeBrokerFlags({}, shortable=set())
    setup = build_providers(
        paths,
        settings,
        asset_source=FakeAssets(ASSETS),
        broker=broker,
        entries=load_provider_entries(paths),
        sleep=SleepRecorder().sleep,
    )
    assert [p.name for p in setup.universe] == ["BROKER"]
    result = UniverseBuilder(paths, settings, calendar(), clock_at(), setup.universe).build()
    assert result.status == "published", result.reason
    assert result.skipped == {"not_tradable": 1}
    loaded = load_universe(paths, calendar(), AFTER_CLOSE, 3)
    by_symbol = {record.symbol: record for record in loaded.symbols}
    assert set(by_symbol) == {"AAPL", "KO"}
    assert by_symbol["AAPL"].fractionable is True
    assert by_symbol["KO"].fractionable is False
    assert by_symbol["AAPL"].exchange == "NASDAQ"
    assert by_symbol["AAPL"].market_cap == Decimal("2869704500")
    assert fake.calls("/stock/profile2", "HALT") == 0  # skipped before any API call


def test_broker_entry_without_asset_source_is_reported(tbot_home: Path) -> None:
    paths = RuntimePaths.for_home()
    SecretsManager(paths).ensure_key("screener_api")
    set_provider_credentials(paths, "BROKER", "", actor="test")
    setup = build_providers(paths, make_settings(), entries=load_provider_entries(paths))
    assert setup.universe == ()
    assert "BROKER" in setup.unavailable[0]
    result = UniverseBuilder(
        paths,
        make_settings(),
        calendar(),
        clock_at(),
        setup.universe,
        unavailable=setup.unavailable,
    ).build()
    assert result.status == "failed"
    assert "asset list" in result.reason
