"""FINNHUB universe provider over the official `finnhub-python` client (trading spec §10).

Endpoints (Finnhub API reference): `GET /stock/symbol?exchange=US` lists symbols
(`[{symbol, displaySymbol, description, type, mic, currency, figi, ...}]`), `GET /quote?symbol=`
gives `{c, d, dp, h, l, o, pc, t}` (current, change, change %, high, low, open, previous close, unix
time) and `GET /stock/profile2?symbol=` gives `{country, currency, exchange, name, ticker, ipo,
marketCapitalization, shareOutstanding, logo, phone, weburl, finnhubIndustry}` or `{}` when unknown.
`marketCapitalization` is in **millions** of the profile's currency: this adapter multiplies it
by 1,000,000, so every cap it returns is USD. Two calls per symbol (quote, then profile; the
profile is skipped when there is no quote). An unknown symbol's quote is all zeros.

The SDK is imported only here. Its errors are translated at this edge: 401/403 ->
`AuthenticationError`, 429 -> `RateLimitError` (with `Retry-After`), 5xx, timeouts and unreadable
bodies -> `NetworkError`. The API key travels as the `token` query parameter, so no message built
here ever includes a URL or a vendor exception text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import finnhub
import requests

from tbot_bot.errors import AuthenticationError, DataError, NetworkError, RateLimitError
from tbot_bot.screeners.providers.base import (
    PROBLEM_INVALID_MARKET_CAP,
    PROBLEM_NO_MARKET_CAP,
    PROBLEM_NO_QUOTE,
    PROBLEM_NOT_FOUND,
    PROVIDER_FINNHUB,
)
from tbot_bot.screeners.records import (
    Enrichment,
    RawSymbol,
    normalize_type,
    wire_decimal,
    wire_text,
)
from tbot_bot.screeners.throttle import Throttle, call_with_retries, parse_retry_after

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
CAP_MULTIPLIER = Decimal(1_000_000)  # profile2 marketCapitalization is in millions


class FinnhubProvider:
    """Symbols, quotes and caps from Finnhub (`cap_source_unit` = USD millions)."""

    name = PROVIDER_FINNHUB
    cap_source_unit = "USD millions (profile2.marketCapitalization)"

    def __init__(
        self,
        api_key: str,
        *,
        throttle: Throttle,
        base_url: str | None = None,
        retries: int = 3,
        timeout_s: float = 30.0,
        exchange_code: str = "US",
        now_utc: Callable[[], datetime] | None = None,
    ) -> None:
        if not api_key:
            raise AuthenticationError("FINNHUB provider has no API key (tbot secrets set ...)")
        self._client: Any = finnhub.Client(api_key=api_key)
        if base_url:
            # The official client reads its base URL from this attribute; an instance value
            # points one client at another host (a local fake in tests) without touching others.
            self._client.API_URL = base_url.rstrip("/")
        self._client.DEFAULT_TIMEOUT = timeout_s
        self.throttle = throttle
        self.retries = retries
        self.exchange_code = exchange_code
        self._now_utc = now_utc

    def __repr__(self) -> str:  # never show the key
        return f"FinnhubProvider(base_url={self._client.API_URL!r})"

    def close(self) -> None:
        self._client.close()

    # -- the provider contract -------------------------------------------------------------------
    def fetch_symbols(self) -> list[RawSymbol]:
        payload = self._call("stock/symbol", lambda: self._client.stock_symbols(self.exchange_code))
        if not isinstance(payload, list):
            raise DataError("Finnhub /stock/symbol: expected a JSON list of symbols")
        symbols: list[RawSymbol] = []
        for entry in payload:
            raw = self._raw_symbol(entry)
            if raw is not None:
                symbols.append(raw)
        logger.info("Finnhub listed %d symbols (%d entries)", len(symbols), len(payload))
        return symbols

    def fetch_quotes(self, symbols: Sequence[str]) -> dict[str, Enrichment]:
        return {symbol: self._enrich(symbol) for symbol in symbols}

    # -- parsing -------------------------------------------------------------------------------
    def _raw_symbol(self, entry: object) -> RawSymbol | None:
        if not isinstance(entry, Mapping):
            return None
        symbol = wire_text(entry.get("symbol"))
        currency = wire_text(entry.get("currency"))
        if symbol is None or (currency is not None and currency.upper() != "USD"):
            return None
        return RawSymbol(
            symbol=symbol.upper(),
            exchange=wire_text(entry.get("mic")),
            type=normalize_type(wire_text(entry.get("type"))),
            provider=self.name,
            company_name=wire_text(entry.get("description")),
        )

    def _enrich(self, symbol: str) -> Enrichment:
        try:
            quote = self._call(f"quote {symbol}", lambda: self._client.quote(symbol))
            if not isinstance(quote, Mapping):
                return Enrichment(symbol, problem=PROBLEM_NOT_FOUND)
            price = _first_positive(quote.get("c"), quote.get("pc"))
            if price is None:
                return Enrichment(symbol, problem=PROBLEM_NO_QUOTE)
            profile = self._call(
                f"profile2 {symbol}", lambda: self._client.company_profile2(symbol=symbol)
            )
        except DataError:
            # A 4xx other than 401/403/429 is Finnhub saying "no such symbol": data, not a fault.
            return Enrichment(symbol, problem=PROBLEM_NOT_FOUND)
        if not isinstance(profile, Mapping) or not profile:
            return Enrichment(symbol, last_close=price, problem=PROBLEM_NO_MARKET_CAP)
        return _from_profile(symbol, price, profile)

    # -- transport -----------------------------------------------------------------------------
    def _call(self, what: str, request: Callable[[], _T]) -> _T:
        def attempt() -> _T:
            try:
                return request()
            except finnhub.FinnhubAPIException as exc:
                raise self._translate(exc, what) from None
            except finnhub.FinnhubRequestException:
                raise NetworkError(f"Finnhub {what}: unreadable response body") from None
            except requests.Timeout:
                raise NetworkError(f"Finnhub {what}: timed out") from None
            except requests.RequestException as exc:
                raise NetworkError(f"Finnhub {what}: {type(exc).__name__}") from None

        return call_with_retries(
            attempt, throttle=self.throttle, retries=self.retries, what=f"Finnhub {what}"
        )

    def _translate(self, exc: Any, what: str) -> Exception:
        status = int(getattr(exc, "status_code", 0) or 0)
        if status in {401, 403}:
            return AuthenticationError(f"Finnhub {what}: HTTP {status}, the API key was refused")
        if status == 429:
            headers = getattr(getattr(exc, "response", None), "headers", None) or {}
            now = self._now_utc() if self._now_utc else None
            retry_after = parse_retry_after(headers.get("Retry-After"), now)
            return RateLimitError(f"Finnhub {what}: HTTP 429 too many requests", retry_after)
        if status >= 500:
            return NetworkError(f"Finnhub {what}: HTTP {status}")
        return DataError(f"Finnhub {what}: HTTP {status}")


def _first_positive(*values: object) -> Decimal | None:
    for value in values:
        number = wire_decimal(value)
        if number is not None and number > 0:
            return number
    return None


def _from_profile(symbol: str, price: Decimal, profile: Mapping[str, Any]) -> Enrichment:
    """Build the enrichment of one profile2 answer; caps converted from millions to USD."""
    common: dict[str, Any] = {
        "last_close": price,
        "company_name": wire_text(profile.get("name")),
        "sector": wire_text(profile.get("finnhubIndustry")),
        "exchange": wire_text(profile.get("exchange")),
    }
    millions = wire_decimal(profile.get("marketCapitalization"))
    currency = (wire_text(profile.get("currency")) or "USD").upper()
    if millions is None:
        return Enrichment(symbol, problem=PROBLEM_NO_MARKET_CAP, **common)
    if millions <= 0:
        return Enrichment(symbol, problem=PROBLEM_INVALID_MARKET_CAP, **common)
    if currency != "USD":
        # No FX source in v1: a cap we cannot state in USD is invalid data for the universe.
        return Enrichment(symbol, problem=f"cap_currency_{currency.lower()}", **common)
    return Enrichment(symbol, market_cap_usd=millions * CAP_MULTIPLIER, **common)
