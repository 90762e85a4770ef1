"""ALPACA `list_assets` (GET /v2/assets) against the local fake Alpaca over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from alpaca.trading.models import Asset
from pydantic import TypeAdapter

from tbot_bot.broker.alpaca.adapter import AlpacaBroker
from tbot_bot.broker.alpaca.parsing import asset_type
from tbot_bot.broker.models import AssetInfo
from tbot_bot.errors import BrokerError
from tbot_bot.screeners.providers.broker import AssetInfo as ReexportedAssetInfo
from tbot_bot.screeners.providers.broker import AssetListSource
from tbot_bot.test.fakes.fake_alpaca import API_KEY, SECRET_KEY, AlpacaHarness, FakeAlpaca


@pytest.fixture
def venue() -> Iterator[FakeAlpaca]:
    fake = FakeAlpaca()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def broker(venue: FakeAlpaca) -> Iterator[AlpacaBroker]:
    made = AlpacaHarness(venue, timeout_s=0.4).make_broker()
    assert isinstance(made, AlpacaBroker)
    yield made
    made.close()


def stock_venue(venue: FakeAlpaca) -> None:
    venue.add_asset("AAPL", fractionable=True, shortable=True, name="Apple Inc. Common Stock")
    venue.add_asset(
        "SPY",
        fractionable=True,
        shortable=True,
        exchange="ARCA",
        name="SPDR S&P 500 ETF Trust",
    )
    venue.add_asset("HTB", fractionable=False, shortable=True, easy_to_borrow=False)
    venue.add_asset("HALT", fractionable=False, shortable=False, tradable=False)
    venue.add_asset("GONE", fractionable=True, shortable=True, status="inactive")
    venue.add_asset("BTC/USD", fractionable=True, shortable=False, asset_class="crypto")


def raw_assets(venue: FakeAlpaca, query: str) -> Any:
    headers = {"APCA-API-KEY-ID": API_KEY, "APCA-API-SECRET-KEY": SECRET_KEY}
    response = requests.get(f"{venue.base_url}/v2/assets?{query}", headers=headers, timeout=5)
    response.raise_for_status()
    return json.loads(response.text)


def test_fake_serves_alpacas_asset_shape(venue: FakeAlpaca) -> None:
    stock_venue(venue)
    rows = raw_assets(venue, "status=active&asset_class=us_equity")
    parsed = TypeAdapter(list[Asset]).validate_python(rows)  # alpaca-py's own model accepts it
    assert sorted(asset.symbol for asset in parsed) == ["AAPL", "HALT", "HTB", "SPY"]
    assert {row["class"] for row in rows} == {"us_equity"}
    assert len(raw_assets(venue, "")) == 6  # no filter: everything


def test_list_assets_maps_flags_exchange_and_type(venue: FakeAlpaca, broker: AlpacaBroker) -> None:
    stock_venue(venue)
    assets = {asset.symbol: asset for asset in broker.list_assets()}
    assert venue.asset_queries[-1] == {"status": "active", "asset_class": "us_equity"}
    assert set(assets) == {"AAPL", "SPY", "HTB", "HALT"}  # inactive and crypto filtered out
    assert assets["AAPL"] == AssetInfo(
        symbol="AAPL",
        exchange="NASDAQ",
        asset_type="common",
        name="Apple Inc. Common Stock",
        active=True,
        tradable=True,
        fractionable=True,
        shortable=True,
        easy_to_borrow=True,
    )
    assert (assets["SPY"].asset_type, assets["SPY"].exchange) == ("etf", "ARCA")
    # Hard to borrow: listed as shortable by Alpaca, but the adapter refuses such shorts.
    assert (assets["HTB"].shortable, assets["HTB"].easy_to_borrow) == (False, False)
    assert broker.is_shortable("HTB") is assets["HTB"].shortable
    assert (assets["HALT"].tradable, assets["HALT"].fractionable) == (False, False)


def test_unusable_rows_are_skipped(venue: FakeAlpaca, broker: AlpacaBroker) -> None:
    venue.add_asset("MSFT", fractionable=True, shortable=True)
    venue.assets["BROKEN"] = {"class": "us_equity", "status": "active", "symbol": ""}
    venue.assets["ODD"] = {"class": "us_equity", "status": "active", "symbol": "ODD"}
    assets = {asset.symbol: asset for asset in broker.list_assets()}
    assert set(assets) == {"MSFT", "ODD"}
    # A row without flags keeps them unknown: the BROKER provider then asks the adapter.
    assert (assets["ODD"].tradable, assets["ODD"].shortable, assets["ODD"].exchange) == (
        None,
        None,
        None,
    )


def test_list_assets_needs_a_connection(venue: FakeAlpaca) -> None:
    unconnected = AlpacaHarness(venue).make_broker()
    unconnected.close()
    with pytest.raises(BrokerError, match="not connected"):
        unconnected.list_assets()


def test_adapter_is_an_asset_source_and_asset_info_is_reexported(broker: AlpacaBroker) -> None:
    assert broker.has_asset_list is True
    assert isinstance(broker, AssetListSource)
    assert ReexportedAssetInfo is AssetInfo


@pytest.mark.parametrize(
    ("name", "attributes", "expected"),
    [
        ("Vanguard Total Stock Market ETF", [], "etf"),
        ("iShares Core S&P 500 ETF", None, "etf"),
        ("Invesco QQQ Trust, Series 1", ["etf"], "etf"),
        ("Netflix, Inc. Common Stock", ["has_options"], "common"),
        ("BETFAIR Holdings", [], "common"),  # the word, not the letters
        (None, [], "common"),
    ],
)
def test_etf_rule(name: str | None, attributes: list[str] | None, expected: str) -> None:
    assert asset_type(name, attributes) == expected
