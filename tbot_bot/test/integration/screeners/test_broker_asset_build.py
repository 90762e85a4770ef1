"""Universe builds from a BROKER entry over real adapters' `list_assets` (SIM and the fake Alpaca),
with caps from a FINNHUB enrichment entry on a local fake; adapters without a list are reported."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tbot_bot.broker.alpaca.adapter import AlpacaBroker
from tbot_bot.broker.base import AssetListUnsupportedError, Broker
from tbot_bot.broker.sim.broker import SimBroker
from tbot_bot.broker.sim.replay import ListReplay
from tbot_bot.broker.tradier.adapter import create as create_tradier
from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.market.bars import Bar
from tbot_bot.screeners.build import UniverseBuilder
from tbot_bot.screeners.credentials import load_provider_entries, set_provider_credentials
from tbot_bot.screeners.factory import ProviderSetup, build_providers
from tbot_bot.screeners.records import UniverseRecord
from tbot_bot.screeners.store import load_universe
from tbot_bot.test.fakes.fake_alpaca import AlpacaHarness, FakeAlpaca
from tbot_bot.test.fakes.fake_finnhub import FAKE_FINNHUB_KEY, FakeFinnhub
from tbot_bot.test.unit.screeners.helpers import (
    AFTER_CLOSE,
    SleepRecorder,
    calendar,
    clock_at,
    make_settings,
)

SESSION_OPEN = AFTER_CLOSE - timedelta(hours=8, minutes=30)  # 13:30 UTC, the same day


@pytest.fixture
def finnhub(httpserver: HTTPServer) -> FakeFinnhub:
    fake = FakeFinnhub(httpserver)
    fake.add_stock("AAPL", price="212.48", cap_millions="2869.7045", mic="XNAS")
    fake.add_stock("KO", price="70.10", cap_millions="3018.1804")
    fake.add_stock("HALT", price="5.00", cap_millions="400")
    return fake


def setup_for(broker: Broker, finnhub: FakeFinnhub) -> tuple[RuntimePaths, Any, ProviderSetup]:
    """FINNHUB for enrichment only, BROKER as the universe source, as an operator would set."""
    paths = RuntimePaths.for_home()
    SecretsManager(paths).ensure_key("screener_api")
    set_provider_credentials(
        paths,
        "FINNHUB",
        FAKE_FINNHUB_KEY,
        actor="test",
        url=finnhub.base_url,
        universe_enabled=False,
    )
    set_provider_credentials(paths, "BROKER", "", actor="test")
    settings = make_settings(UNIVERSE_SLEEP_TIME="0")
    setup = build_providers(
        paths,
        settings,
        asset_source=broker,
        broker=broker,
        entries=load_provider_entries(paths),
        sleep=SleepRecorder().sleep,
    )
    return paths, settings, setup


def build_and_load(paths: RuntimePaths, settings: Any, setup: ProviderSetup) -> dict[str, Any]:
    builder = UniverseBuilder(
        paths, settings, calendar(), clock_at(), setup.universe, unavailable=setup.unavailable
    )
    result = builder.build()
    assert result.status == "published", result.reason
    loaded = load_universe(paths, calendar(), AFTER_CLOSE, 3)
    records: dict[str, UniverseRecord] = {r.symbol: r for r in loaded.symbols}
    return {"result": result, "records": records}


def test_sim_asset_list_feeds_a_published_universe(finnhub: FakeFinnhub, tbot_home: Path) -> None:
    price = Decimal("64.25")
    bars = [
        Bar(symbol, SESSION_OPEN + timedelta(minutes=i), price, price, price, price, 500)
        for symbol in ("AAPL", "KO")
        for i in range(5)
    ]
    reference = [
        {"symbol": "AAPL", "exchange": "NASDAQ", "type": "common", "companyName": "Apple"},
        {"symbol": "KO", "exchange": "NYSE", "type": "common", "companyName": "Coca-Cola"},
    ]
    sim = SimBroker(
        ListReplay(bars),
        FakeClock(AFTER_CLOSE),
        shortable={"KO"},
        fractionable={"AAPL"},
        reference=reference,
    )
    paths, settings, setup = setup_for(sim, finnhub)
    assert ([p.name for p in setup.universe], setup.unavailable) == (["BROKER"], ())
    records = build_and_load(paths, settings, setup)["records"]
    assert set(records) == {"AAPL", "KO"}
    aapl, ko = records["AAPL"], records["KO"]
    assert (aapl.fractionable, aapl.shortable, ko.fractionable, ko.shortable) == (
        True,
        False,
        False,
        True,
    )
    assert aapl.market_cap == Decimal("2869704500")  # caps from the enrichment provider
    assert aapl.last_close == price  # the venue's last trade wins over the vendor price
    assert (aapl.exchange, aapl.provider) == ("NASDAQ", "BROKER")


@pytest.fixture
def alpaca() -> Iterator[tuple[FakeAlpaca, AlpacaBroker]]:
    venue = FakeAlpaca()
    venue.start()
    broker = AlpacaHarness(venue, timeout_s=0.4).make_broker()
    assert isinstance(broker, AlpacaBroker)
    yield venue, broker
    broker.close()
    venue.stop()


def test_alpaca_asset_list_feeds_a_published_universe(
    finnhub: FakeFinnhub, alpaca: tuple[FakeAlpaca, AlpacaBroker], tbot_home: Path
) -> None:
    venue, broker = alpaca
    venue.add_asset("AAPL", fractionable=True, shortable=True, name="Apple Inc. Common Stock")
    venue.add_asset("KO", fractionable=False, shortable=True, easy_to_borrow=False, exchange="NYSE")
    venue.add_asset("HALT", fractionable=False, shortable=False, tradable=False, exchange="NYSE")
    venue.add_asset("GONE", fractionable=True, shortable=True, status="inactive")
    paths, settings, setup = setup_for(broker, finnhub)
    built = build_and_load(paths, settings, setup)
    assert built["result"].skipped == {"not_tradable": 1}
    records = built["records"]
    assert set(records) == {"AAPL", "KO"}
    assert (records["AAPL"].fractionable, records["AAPL"].shortable) == (True, True)
    assert (records["KO"].fractionable, records["KO"].shortable) == (False, False)  # hard to borrow
    assert records["KO"].last_close == Decimal("70.1")  # no Alpaca quote: Finnhub's price
    assert finnhub.calls("/stock/profile2", "HALT") == 0
    assert venue.count("GET", "/v2/assets/.*") == 0  # every flag came from the one list call


def test_adapter_without_asset_list_is_unavailable(tbot_home: Path) -> None:
    tradier = create_tradier(
        {"BROKER_URL": "http://127.0.0.1:9", "BROKER_TOKEN": "t", "BROKER_ACCOUNT_NUMBER": "A1"},
        settings={},
        clock=FakeClock(AFTER_CLOSE),
    )
    assert tradier.has_asset_list is False
    with pytest.raises(AssetListUnsupportedError, match="TRADIER has no asset list"):
        tradier.list_assets()
    paths = RuntimePaths.for_home()
    SecretsManager(paths).ensure_key("screener_api")
    set_provider_credentials(paths, "BROKER", "", actor="test")
    setup = build_providers(
        paths, make_settings(), asset_source=tradier, entries=load_provider_entries(paths)
    )
    assert setup.universe == ()
    assert "TRADIER broker adapter has no asset list" in setup.unavailable[0]
    result = UniverseBuilder(
        paths, make_settings(), calendar(), clock_at(), (), unavailable=setup.unavailable
    ).build()
    assert result.status == "failed"
    assert "TRADIER" in result.reason
