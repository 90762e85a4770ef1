"""LOCAL_FILE universe provider: offline use, tests and the demo (trading spec §10).

`UNIVERSE_LOCAL_FILE` (a path under the data root) names a CSV with a header, or JSON holding a
list of records or a published universe object (`{"symbols": [...]}`). Required columns: `symbol,
exchange, type, lastClose, marketCap` (USD); optional: `volume, avgVolume, companyName, sector,
industry, fractionable, shortable, pe_ratio, debt_equity, synthetic`. A missing column or a repeated
symbol makes the whole file invalid; an empty or bad value in one row is that symbol's problem
(the build blocklists it). JSON numbers are read as Decimal, never float.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from tbot_bot.errors import ConfigError, DataError
from tbot_bot.market.replay_data import REFERENCE_COLUMNS, read_reference_file
from tbot_bot.screeners.providers.base import (
    PROBLEM_INVALID_MARKET_CAP,
    PROBLEM_INVALID_PRICE,
    PROBLEM_NO_MARKET_CAP,
    PROBLEM_NO_QUOTE,
    PROBLEM_NOT_FOUND,
    PROVIDER_LOCAL_FILE,
)
from tbot_bot.screeners.records import (
    Enrichment,
    RawSymbol,
    normalize_type,
    wire_bool,
    wire_decimal,
    wire_int,
    wire_text,
)


class LocalFileProvider:
    """Symbols, prices and caps (USD) from one local file; no network."""

    name = PROVIDER_LOCAL_FILE
    cap_source_unit = "USD"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._rows: dict[str, Mapping[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"LocalFileProvider({str(self.path)!r})"

    def rows(self) -> dict[str, Mapping[str, Any]]:
        """Rows by symbol, read and checked once."""
        if self._rows is None:
            if not self.path.is_file():
                raise ConfigError(
                    f"UNIVERSE_LOCAL_FILE: {self.path} does not exist; build the data cache "
                    "(make data) or point the setting at a CSV/JSON universe file"
                )
            records = self._read_json() if _is_json(self.path) else self._read_csv()
            self._rows = {str(row["symbol"]).strip().upper(): row for row in records}
        return self._rows

    def fetch_symbols(self) -> list[RawSymbol]:
        return [
            RawSymbol(
                symbol=symbol,
                exchange=wire_text(row.get("exchange")),
                type=normalize_type(wire_text(row.get("type"))),
                provider=self.name,
                company_name=wire_text(row.get("companyName")),
                tradable=wire_bool(row.get("tradable")),
                fractionable=wire_bool(row.get("fractionable")),
                shortable=wire_bool(row.get("shortable")),
            )
            for symbol, row in self.rows().items()
        ]

    def fetch_quotes(self, symbols: Sequence[str]) -> dict[str, Enrichment]:
        rows = self.rows()
        return {symbol: _enrichment(symbol, rows.get(symbol)) for symbol in symbols}

    # -- reading -------------------------------------------------------------------------------
    def _read_csv(self) -> list[Mapping[str, Any]]:
        return list(read_reference_file(self.path))

    def _read_json(self) -> list[Mapping[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"), parse_float=Decimal)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{self.path}: cannot read JSON universe file: {exc}") from exc
        if isinstance(data, Mapping):
            data = data.get("symbols")
        if not isinstance(data, list):
            raise DataError(
                f"{self.path}: expected a JSON list of records or a published universe object "
                "with a 'symbols' list"
            )
        seen: set[str] = set()
        for index, record in enumerate(data, start=1):
            where = f"{self.path} record {index}"
            if not isinstance(record, Mapping):
                raise DataError(f"{where}: expected a JSON object")
            missing = [name for name in REFERENCE_COLUMNS if name not in record]
            if missing:
                raise DataError(f"{where}: missing field(s) {', '.join(missing)} (spec §10)")
            symbol = str(record["symbol"] or "").strip().upper()
            if not symbol:
                raise DataError(f"{where}: empty symbol")
            if symbol in seen:
                raise DataError(f"{where}: symbol {symbol} repeats")
            seen.add(symbol)
        return data


def _is_json(path: Path) -> bool:
    if path.suffix.lower() == ".json":
        return True
    if path.suffix.lower() == ".csv":
        return False
    with open(path, "rb") as handle:
        head = handle.read(64).lstrip()
    return head[:1] in {b"[", b"{"}


def _enrichment(symbol: str, row: Mapping[str, Any] | None) -> Enrichment:
    if row is None:
        return Enrichment(symbol, problem=PROBLEM_NOT_FOUND)
    price = wire_decimal(row.get("lastClose"))
    cap = wire_decimal(row.get("marketCap"))
    problem = _problem(row.get("lastClose"), price, PROBLEM_NO_QUOTE, PROBLEM_INVALID_PRICE)
    if problem is None:
        problem = _problem(
            row.get("marketCap"), cap, PROBLEM_NO_MARKET_CAP, PROBLEM_INVALID_MARKET_CAP
        )
    return Enrichment(
        symbol=symbol,
        last_close=price,
        market_cap_usd=cap,
        volume=wire_int(row.get("volume")),
        avg_volume=wire_int(row.get("avgVolume")),
        company_name=wire_text(row.get("companyName")),
        sector=wire_text(row.get("sector")),
        industry=wire_text(row.get("industry")),
        exchange=wire_text(row.get("exchange")),
        fractionable=wire_bool(row.get("fractionable")),
        shortable=wire_bool(row.get("shortable")),
        pe_ratio=wire_decimal(row.get("pe_ratio")),
        debt_equity=wire_decimal(row.get("debt_equity")),
        synthetic=wire_bool(row.get("synthetic")),
        problem=problem,
    )


def _problem(raw: object, value: Decimal | None, missing: str, invalid: str) -> str | None:
    """`missing` for an empty cell, `invalid` for unreadable or non-positive numbers."""
    if value is None:
        return missing if wire_text(raw) is None else invalid
    return invalid if value <= 0 else None
