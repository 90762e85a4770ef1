"""SIM `list_assets`: the replay's symbols with the venue's own flags and the reference rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tbot_bot.broker.models import AssetInfo
from tbot_bot.broker.sim.adapter import create
from tbot_bot.broker.sim.broker import SimBroker
from tbot_bot.broker.sim.replay import ListReplay
from tbot_bot.clock import FakeClock
from tbot_bot.errors import NetworkError
from tbot_bot.market.bars import Bar

OPEN = datetime(2025, 7, 15, 13, 30, tzinfo=UTC)


def replay(*symbols: str) -> ListReplay:
    price = Decimal("50")
    return ListReplay(
        Bar(symbol, OPEN + timedelta(minutes=i), price, price, price, price, 100)
        for symbol in symbols
        for i in range(3)
    )


REFERENCE = [
    {"symbol": "SPY", "exchange": "NYSE_ARCA", "type": "etf", "companyName": "Synthetic SPY ETF"},
    {"symbol": "MSFT", "exchange": "NASDAQ", "type": "common", "companyName": ""},
    {"symbol": "NOTREPLAYED", "exchange": "NYSE", "type": "common"},
]


def test_assets_follow_the_venue_flags_and_the_reference() -> None:
    sim = SimBroker(
        replay("SPY", "MSFT", "XYZ"),
        FakeClock(OPEN),
        shortable={"SPY"},
        fractionable={"SPY", "MSFT"},
        reference=REFERENCE,
    )
    assert sim.has_asset_list is True
    assets = {asset.symbol: asset for asset in sim.list_assets()}
    assert list(assets) == ["MSFT", "SPY", "XYZ"]  # only replayed symbols, sorted
    assert assets["SPY"] == AssetInfo(
        symbol="SPY",
        exchange="NYSE_ARCA",
        asset_type="etf",
        name="Synthetic SPY ETF",
        active=True,
        tradable=True,
        fractionable=True,
        shortable=True,
    )
    assert (assets["MSFT"].shortable, assets["MSFT"].fractionable, assets["MSFT"].name) == (
        False,
        True,
        None,  # an empty reference cell is unknown, not ""
    )
    # No reference row: type defaults to common, exchange and name unknown.
    assert (assets["XYZ"].asset_type, assets["XYZ"].exchange, assets["XYZ"].name) == (
        "common",
        None,
        None,
    )
    for symbol, asset in assets.items():
        assert asset.shortable is sim.is_shortable(symbol)
        assert asset.fractionable is sim.supports_fractional(symbol)


def test_without_flag_sets_every_symbol_is_shortable_and_fractionable() -> None:
    sim = create({}, settings=None, clock=FakeClock(OPEN), replay=replay("AAA", "BBB"))
    assets = sim.list_assets()
    assert [(a.symbol, a.shortable, a.fractionable, a.asset_type) for a in assets] == [
        ("AAA", True, True, "common"),
        ("BBB", True, True, "common"),
    ]


def test_factory_passes_reference_rows() -> None:
    sim = create(
        {},
        settings=None,
        clock=FakeClock(OPEN),
        replay=replay("SPY"),
        reference=REFERENCE,
        shortable=(),
    )
    (spy,) = sim.list_assets()
    assert (spy.asset_type, spy.exchange, spy.shortable) == ("etf", "NYSE_ARCA", False)


def test_a_lost_connection_fails_the_asset_list() -> None:
    sim = SimBroker(replay("AAA"), FakeClock(OPEN))
    sim.faults.disconnect()
    with pytest.raises(NetworkError, match="list_assets"):
        sim.list_assets()
