"""End to end: `set_provider_credentials` -> providers from the secret -> build on a fake."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.screeners.blocklist import read_blocklist
from tbot_bot.screeners.build import BuildResult, UniverseBuilder
from tbot_bot.screeners.credentials import set_provider_credentials
from tbot_bot.screeners.factory import build_providers
from tbot_bot.screeners.store import UniverseFiles, load_universe
from tbot_bot.test.fakes.fake_finnhub import FAKE_FINNHUB_KEY, FakeFinnhub
from tbot_bot.test.unit.screeners.helpers import (
    AFTER_CLOSE,
    SleepRecorder,
    calendar,
    clock_at,
    make_settings,
)


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeFinnhub:
    fake = FakeFinnhub(httpserver)
    fake.add_stock("MIDC", price="42.10", cap_millions="4200.5", mic="XNAS")
    fake.add_stock("SMLC", price="12.00", cap_millions="350")
    fake.add_stock("HUGE", price="200", cap_millions="2000000")  # above the 10B band
    fake.add_stock("NOCAP", price="9.5", cap_millions=None)
    fake.add_stock("ARCA", price="30", cap_millions="900", mic="ARCX")  # exchange not allowed
    fake.add_stock("BRKP.PR", price="25", cap_millions="900")  # preferred suffix
    fake.list_only("DEAD")
    return fake


def _build(paths: RuntimePaths, sleeper: SleepRecorder) -> BuildResult:
    settings = make_settings(UNIVERSE_SLEEP_TIME="0.25")
    setup = build_providers(paths, settings, sleep=sleeper.sleep, now_utc=lambda: AFTER_CLOSE)
    try:
        return UniverseBuilder(paths, settings, calendar(), clock_at(), setup.universe).build()
    finally:
        setup.close()


def test_build_from_stored_credentials(fake: FakeFinnhub, tbot_home: Path) -> None:
    paths = RuntimePaths.for_home()
    SecretsManager(paths).ensure_key("screener_api")
    set_provider_credentials(
        paths, "finnhub", FAKE_FINNHUB_KEY, actor="cli:test", url=fake.base_url
    )

    result = _build(paths, SleepRecorder())

    assert result.status == "published", result.reason
    assert result.counts == {"raw": 7, "unfiltered": 3, "partial": 2, "final": 2}
    assert result.skipped == {"exchange": 1, "symbol_kind": 1}
    assert result.blocklisted == 2
    loaded = load_universe(paths, calendar(), AFTER_CLOSE, 3)
    assert loaded.tickers == ("MIDC", "SMLC")  # largest cap first
    assert loaded.symbols[0].market_cap == Decimal("4200500000")
    assert loaded.symbols[0].exchange == "NASDAQ"
    blocked = read_blocklist(paths.under_bot_root("output/screeners/screener_blocklist.txt"))
    assert {s: (e.reason, e.provider, e.source) for s, e in blocked.items()} == {
        "NOCAP": ("no_market_cap", "FINNHUB", "automated"),
        "DEAD": ("no_quote", "FINNHUB", "automated"),
    }
    ops = UniverseFiles(paths).blocklist_ops_log.read_text().splitlines()
    assert [json.loads(line)["extra"]["symbol"] for line in ops] == ["DEAD", "NOCAP"]


def test_second_build_skips_blocklisted_symbols(fake: FakeFinnhub, tbot_home: Path) -> None:
    paths = RuntimePaths.for_home()
    SecretsManager(paths).ensure_key("screener_api")
    set_provider_credentials(paths, "FINNHUB", FAKE_FINNHUB_KEY, actor="t", url=fake.base_url)
    _build(paths, SleepRecorder())
    before = fake.calls("/quote", "NOCAP")
    result = _build(paths, SleepRecorder())
    assert result.status == "published"
    assert result.skipped["blocklisted"] == 2
    assert fake.calls("/quote", "NOCAP") == before
