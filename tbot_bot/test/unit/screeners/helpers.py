"""Shared helpers of the screener tests: settings, instants, records, a scripted provider."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tbot_bot.clock import FakeClock
from tbot_bot.config.settings_schema import default_settings_record, validate_settings
from tbot_bot.errors import NetworkError
from tbot_bot.market.calendar import TradingCalendar
from tbot_bot.screeners.records import Enrichment, RawSymbol, UniverseRecord

# Tuesday 2025-07-15: XNYS session 13:30-20:00 UTC (EDT).
AFTER_CLOSE = datetime(2025, 7, 15, 22, 0, tzinfo=UTC)
DURING_SESSION = datetime(2025, 7, 15, 15, 0, tzinfo=UTC)
LOCAL_COLUMNS = (
    "symbol",
    "exchange",
    "type",
    "lastClose",
    "marketCap",
    "volume",
    "avgVolume",
    "companyName",
    "sector",
    "industry",
    "fractionable",
    "shortable",
)


def make_settings(**overrides: str) -> Any:
    """Validated default settings (SIM) with string overrides, as `.env_bot` would hold them."""
    record = default_settings_record("SIM")
    record.update(overrides)
    return validate_settings(record, strict=True).settings


def calendar() -> TradingCalendar:
    return TradingCalendar(date(2025, 6, 1), date(2025, 9, 30))


def clock_at(instant: datetime = AFTER_CLOSE) -> FakeClock:
    return FakeClock(instant)


def record(
    symbol: str,
    *,
    cap: str = "1000000000",
    price: str = "50",
    exchange: str = "NYSE",
    kind: str = "common",
    avg_volume: int | None = 1_000_000,
) -> UniverseRecord:
    return UniverseRecord(
        symbol=symbol,
        exchange=exchange,
        type=kind,
        last_close=Decimal(price),
        market_cap=Decimal(cap),
        avg_volume=avg_volume,
    )


def write_local_csv(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOCAL_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row.get(key, "") for key in LOCAL_COLUMNS})
    return path


def local_row(
    symbol: str, cap: str = "2000000000", price: str = "40", **extra: str
) -> dict[str, str]:
    row = {
        "symbol": symbol,
        "exchange": "NYSE",
        "type": "common",
        "lastClose": price,
        "marketCap": cap,
        "volume": "900000",
        "avgVolume": "1000000",
        "companyName": f"{symbol} Corp",
        "sector": "Industrials",
    }
    row.update(extra)
    return row


class SleepRecorder:
    """Injected sleep + monotonic pair: sleeping advances the fake monotonic time."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


class ScriptedProvider:
    """A universe provider from dicts; can fail with NetworkError on a given fetch_quotes call."""

    cap_source_unit = "USD"

    def __init__(
        self,
        name: str,
        symbols: Sequence[RawSymbol],
        data: dict[str, Enrichment],
        *,
        fail_on_call: int | None = None,
    ) -> None:
        self.name = name
        self.symbols = list(symbols)
        self.data = data
        self.fail_on_call = fail_on_call
        self.quote_calls: list[list[str]] = []
        self.symbol_calls = 0

    def fetch_symbols(self) -> list[RawSymbol]:
        self.symbol_calls += 1
        return list(self.symbols)

    def fetch_quotes(self, symbols: Sequence[str]) -> dict[str, Enrichment]:
        self.quote_calls.append(list(symbols))
        if self.fail_on_call is not None and len(self.quote_calls) == self.fail_on_call:
            raise NetworkError("scripted outage")
        return {symbol: self.data[symbol] for symbol in symbols if symbol in self.data}

    @property
    def asked(self) -> list[str]:
        return [symbol for call in self.quote_calls for symbol in call]


def scripted(
    name: str, specs: Mapping[str, tuple[str, str] | None], **kwargs: Any
) -> ScriptedProvider:
    """Provider listing each symbol on NYSE; `None` spec = no market cap (a data problem)."""
    raws = [RawSymbol(symbol, "XNYS", "common", name) for symbol in specs]
    data = {
        symbol: (
            Enrichment(symbol, Decimal(spec[0]), Decimal(spec[1]), avg_volume=2_000_000)
            if spec
            else Enrichment(symbol, Decimal("10"), None, problem="no_market_cap")
        )
        for symbol, spec in specs.items()
    }
    return ScriptedProvider(name, raws, data, **kwargs)
