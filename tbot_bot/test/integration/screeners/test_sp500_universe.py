"""Filters and a full LOCAL_FILE build on the real 524-symbol S&P file of the data cache."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tbot_bot.config.path_resolver import RuntimePaths, data_root
from tbot_bot.screeners.build import UniverseBuilder
from tbot_bot.screeners.factory import build_providers
from tbot_bot.screeners.filters import UniverseCriteria, filter_universe, rejection_reason
from tbot_bot.screeners.providers.local_file import LocalFileProvider
from tbot_bot.screeners.records import UniverseRecord
from tbot_bot.screeners.store import load_universe
from tbot_bot.test.unit.screeners.helpers import AFTER_CLOSE, calendar, clock_at, make_settings

SP500 = data_root() / "universe" / "sp500_universe.csv"
pytestmark = [
    pytest.mark.data,
    pytest.mark.skipif(
        not SP500.is_file(), reason=f"data cache absent ({SP500}); run `make data` first"
    ),
]


def _rows() -> list[dict[str, str]]:
    with open(SP500, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _records() -> list[UniverseRecord]:
    return [UniverseRecord.from_json(row, f"{SP500} row {n}") for n, row in enumerate(_rows(), 1)]


def test_file_has_the_524_symbols_with_usd_caps() -> None:
    records = _records()
    assert len(records) == 524
    assert len({record.symbol for record in records}) == 524
    assert all(record.market_cap > 10**8 for record in records)  # USD, not millions


@pytest.mark.parametrize(
    ("overrides", "label"),
    [
        ({}, "defaults"),
        ({"SCREENER_UNIVERSE_MAX_MARKET_CAP": "400000000000"}, "wide cap band"),
        ({"SCREENER_UNIVERSE_EXCHANGES": "NASDAQ", "MIN_VOLUME_THRESHOLD": "5000000"}, "nasdaq"),
        (
            {
                "SCREENER_UNIVERSE_MAX_MARKET_CAP": "400000000000",
                "SCREENER_UNIVERSE_MAX_SIZE": "50",
            },
            "top 50",
        ),
    ],
)
def test_filter_matches_a_plain_reading_of_the_rules(overrides: dict[str, str], label: str) -> None:
    settings = make_settings(**overrides)
    criteria = UniverseCriteria.from_settings(settings)
    outcome = filter_universe(_records(), criteria)

    # Oracle: the rules of spec §10 applied to the raw CSV text with Decimal, no shared code.
    def passes(row: dict[str, str]) -> bool:
        price, cap = Decimal(row["lastClose"]), Decimal(row["marketCap"])
        s = settings
        return (
            row["exchange"] in s.SCREENER_UNIVERSE_EXCHANGES
            and row["type"] in s.SCREENER_UNIVERSE_TYPES
            and s.SCREENER_UNIVERSE_MIN_PRICE <= price <= s.SCREENER_UNIVERSE_MAX_PRICE
            and s.SCREENER_UNIVERSE_MIN_MARKET_CAP <= cap <= s.SCREENER_UNIVERSE_MAX_MARKET_CAP
            and int(row["avgVolume"]) >= s.MIN_VOLUME_THRESHOLD
        )

    expected = sorted(
        (row for row in _rows() if passes(row)),
        key=lambda row: (-Decimal(row["marketCap"]), row["symbol"]),
    )[: settings.SCREENER_UNIVERSE_MAX_SIZE]
    kept = [record.symbol for record in outcome.records]
    assert kept == [row["symbol"] for row in expected], label
    assert sum(outcome.rejected.values()) + len(outcome.records) == 524
    caps = [record.market_cap for record in outcome.records]
    assert caps == sorted(caps, reverse=True)
    originals = {record.symbol: record.market_cap for record in _records()}
    assert all(originals[r.symbol] == r.market_cap for r in outcome.records)  # never rescaled
    assert all(rejection_reason(record, criteria) is None for record in outcome.records)


def test_full_local_file_build_on_sp500(tbot_home: Path) -> None:
    paths = RuntimePaths.for_home()
    settings = make_settings(UNIVERSE_LOCAL_FILE="universe/sp500_universe.csv")
    setup = build_providers(paths, settings, entries=[])
    result = UniverseBuilder(paths, settings, calendar(), clock_at(), setup.universe).build()
    assert result.status == "published", result.reason
    assert result.counts["raw"] == 524
    assert result.counts["unfiltered"] == 524
    direct = filter_universe(_records(), UniverseCriteria.from_settings(settings))
    loaded = load_universe(paths, calendar(), AFTER_CLOSE, 3)
    assert loaded.status == "ok"
    assert loaded.tickers == tuple(record.symbol for record in direct.records)
    assert result.counts["final"] == len(direct.records) > 0


def test_json_list_and_published_shapes_give_the_same_records(tmp_path: Path) -> None:
    rows = _rows()
    as_list = tmp_path / "universe.json"
    as_list.write_text(json.dumps(rows))
    as_published = tmp_path / "published.json"
    as_published.write_text(json.dumps({"status": "ok", "symbols": rows}))
    csv_data = LocalFileProvider(SP500)
    symbols = [raw.symbol for raw in csv_data.fetch_symbols()]
    reference = csv_data.fetch_quotes(symbols)
    for path in (as_list, as_published):
        provider = LocalFileProvider(path)
        assert [raw.symbol for raw in provider.fetch_symbols()] == symbols
        assert provider.fetch_quotes(symbols) == reference
