"""Normalisation, record round trip and the pure universe filter (spec §10)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tbot_bot.errors import DataError
from tbot_bot.screeners.filters import UniverseCriteria, filter_universe
from tbot_bot.screeners.records import (
    UniverseRecord,
    excluded_symbol,
    normalize_exchange,
    normalize_type,
    wire_decimal,
)
from tbot_bot.test.unit.screeners.helpers import make_settings, record


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("XNYS", "NYSE"),
        ("xnas", "NASDAQ"),
        ("XNGS", "NASDAQ"),
        ("XNCM", "NASDAQ"),
        ("ARCX", "NYSE_ARCA"),
        ("BATS", "CBOE_BZX"),
        ("XASE", "NYSE_AMERICAN"),
        ("AMEX", "NYSE_AMERICAN"),
        ("OTCQX", "OTC"),
        ("NASDAQ NMS - GLOBAL MARKET", "NASDAQ"),
        ("NEW YORK STOCK EXCHANGE, INC.", "NYSE"),
        ("NYSE MKT LLC", "NYSE_AMERICAN"),
        ("NYSE ARCA", "NYSE_ARCA"),
        ("XLON", None),
        ("", None),
        (None, None),
    ],
)
def test_exchange_normalisation(raw: str | None, expected: str | None) -> None:
    assert normalize_exchange(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Common Stock", "common"),
        ("ETP", "etf"),
        ("Preference", "preferred"),
        ("Equity WRT", "warrant"),
        ("ADR", "adr"),
        (None, "unknown"),
        ("Closed-End Fund", "closed-end_fund"),
    ],
)
def test_type_normalisation(raw: str | None, expected: str) -> None:
    assert normalize_type(raw) == expected


@pytest.mark.parametrize(
    ("symbol", "excluded"),
    [
        ("ABC.RT", True),
        ("ABC.WS", True),
        ("ABC.W", True),
        ("ABC.U", True),
        ("ABC.PR", True),
        ("ABC.F", True),
        ("BAC-PRL", True),
        ("BAC^L", True),
        ("ABC/WS", True),
        ("BRK.B", False),
        ("AAPL", False),
        ("WSO", False),
    ],
)
def test_suffix_rule(symbol: str, excluded: bool) -> None:
    assert excluded_symbol(symbol) is excluded


def test_wire_numbers_never_keep_binary_noise() -> None:
    assert wire_decimal(2869704.5) == Decimal("2869704.5")
    assert wire_decimal(0.1) == Decimal("0.1")
    assert wire_decimal("") is None
    assert wire_decimal("nan") is None
    assert wire_decimal(True) is None


def test_record_json_round_trip_keeps_exact_values() -> None:
    original = UniverseRecord(
        "BRK.B",
        "NYSE",
        "common",
        Decimal("412.37"),
        Decimal("9.5E+9"),
        volume=10,
        avg_volume=20,
        sector="Financials",
        shortable=False,
    )
    data = original.to_json()
    assert data["marketCap"] == "9500000000"
    assert data["lastClose"] == "412.37"
    assert UniverseRecord.from_json(data, "test") == original


@pytest.mark.parametrize("field", ["lastClose", "marketCap"])
def test_record_without_required_number_is_refused(field: str) -> None:
    data = record("AAA").to_json()
    data[field] = None
    with pytest.raises(DataError, match=field):
        UniverseRecord.from_json(data, "file.json symbol 1")


# -- filter ---------------------------------------------------------------------------------------
def criteria(**overrides: str) -> UniverseCriteria:
    return UniverseCriteria.from_settings(make_settings(**overrides))


def test_each_rule_rejects_with_its_reason() -> None:
    records = [
        record("OK1"),
        record("ARC", exchange="NYSE_ARCA"),
        record("ETF1", kind="etf"),
        record("WAR.WS"),
        record("PRF", kind="preferred"),
        record("CHEAP", price="1.99"),
        record("DEAR", price="300.01"),
        record("TINY", cap="299999999"),
        record("BIG", cap="10000000001"),
        record("THIN", avg_volume=499_999),
    ]
    outcome = filter_universe(records, criteria())
    assert [r.symbol for r in outcome.records] == ["OK1"]
    assert outcome.rejected == {
        "exchange": 1,
        "type": 1,
        "symbol_kind": 2,
        "price": 2,
        "market_cap": 2,
        "avg_volume": 1,
    }


def test_bounds_are_inclusive_and_caps_are_not_rescaled() -> None:
    edge = [record("LOW", price="2.00", cap="300000000"), record("HIGH", price="300", cap="1E10")]
    outcome = filter_universe(edge, criteria())
    assert {r.symbol: r.market_cap for r in outcome.records} == {
        "HIGH": Decimal("1E10"),
        "LOW": Decimal("300000000"),
    }


def test_missing_average_volume_passes_the_volume_rule() -> None:
    assert [r.symbol for r in filter_universe([record("NOV", avg_volume=None)], criteria()).records]


def test_largest_caps_first_ties_by_symbol_then_max_size() -> None:
    records = [
        record("B", cap="2E9"),
        record("A", cap="2E9"),
        record("C", cap="3E9"),
        record("D", cap="1E9"),
    ]
    outcome = filter_universe(records, criteria(SCREENER_UNIVERSE_MAX_SIZE="3"))
    assert [r.symbol for r in outcome.records] == ["C", "A", "B"]
    assert outcome.rejected == {"max_size": 1}


def test_star_allows_any_exchange_and_types_can_include_etfs() -> None:
    records = [record("OTCX", exchange="OTC"), record("ETF1", kind="etf")]
    wide = criteria(SCREENER_UNIVERSE_EXCHANGES="*", SCREENER_UNIVERSE_TYPES="common,etf")
    assert {r.symbol for r in filter_universe(records, wide).records} == {"OTCX", "ETF1"}
    assert criteria().exchange_allowed("XNAS")
    assert not criteria().exchange_allowed(None)
    assert wide.exchange_allowed(None)
