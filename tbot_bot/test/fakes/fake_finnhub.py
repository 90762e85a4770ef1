"""A local Finnhub stand-in on pytest-httpserver (127.0.0.1) speaking Finnhub's documented JSON.

Routes under `/api/v1`: `/stock/symbol?exchange=US` -> list of `{currency, description,
displaySymbol, figi, isin, mic, shareClassFIGI, symbol, symbol2, type}`; `/quote?symbol=` ->
`{c, d, dp, h, l, o, pc, t}` (all zeros for an unknown symbol, as Finnhub does);
`/stock/profile2?symbol=` -> `{country, currency, exchange, finnhubIndustry, ipo, logo,
marketCapitalization (millions), name, phone, shareOutstanding, ticker, weburl}` or `{}`.
The API key must arrive as the `token` query parameter (else 401 `{"error": ...}`). Failure
scripts: `rate_limit_next(n, retry_after)` (429 with `Retry-After`), `fail_next(n, status)`.
Every request is recorded as `(path, symbol)`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

FAKE_FINNHUB_KEY = "fake-finnhub-key-for-tests"
_JSON = "application/json; charset=utf-8"


@dataclass
class _Scripted:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)


class FakeFinnhub:
    """Serve symbols, quotes and profiles; script 429s and 5xx; record requests."""

    def __init__(self, server: HTTPServer, api_key: str = FAKE_FINNHUB_KEY) -> None:
        self.server = server
        self.api_key = api_key
        self.symbols: list[dict[str, Any]] = []
        self.quotes: dict[str, dict[str, Any]] = {}
        self.profiles: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str | None]] = []
        self._script: list[_Scripted] = []
        server.expect_request(re.compile(r"^/api/v1/.*")).respond_with_handler(self._handle)

    @property
    def base_url(self) -> str:
        return self.server.url_for("/api/v1")

    # -- data ----------------------------------------------------------------------------------
    def add_stock(
        self,
        symbol: str,
        *,
        price: str,
        cap_millions: str | None,
        mic: str = "XNYS",
        kind: str = "Common Stock",
        name: str | None = None,
        industry: str = "Technology",
        currency: str = "USD",
        exchange_name: str = "NEW YORK STOCK EXCHANGE, INC.",
        prev_close: str | None = None,
    ) -> None:
        """List `symbol` and serve its quote and profile (numbers written as JSON numbers)."""
        self.symbols.append(
            {
                "currency": "USD",
                "description": (name or f"{symbol} INC").upper(),
                "displaySymbol": symbol,
                "figi": f"BBG00{symbol:0<7}"[:12],
                "isin": None,
                "mic": mic,
                "shareClassFIGI": "",
                "symbol": symbol,
                "symbol2": "",
                "type": kind,
            }
        )
        close = float(price)
        previous = float(prev_close) if prev_close is not None else close
        self.quotes[symbol] = {
            "c": close,
            "d": round(close - previous, 4),
            "dp": round((close - previous) / previous * 100, 4) if previous else 0,
            "h": close,
            "l": close,
            "o": previous,
            "pc": previous,
            "t": 1752609600,
        }
        if cap_millions is None:
            self.profiles[symbol] = {}
            return
        self.profiles[symbol] = {
            "country": "US",
            "currency": currency,
            "exchange": exchange_name,
            "finnhubIndustry": industry,
            "ipo": "1999-01-01",
            "logo": "",
            "marketCapitalization": float(cap_millions),
            "name": name or f"{symbol} Inc",
            "phone": "15555550100",
            "shareOutstanding": 100.0,
            "ticker": symbol,
            "weburl": "https://example.invalid/",
        }

    def list_only(self, symbol: str, *, mic: str = "XNYS", kind: str = "Common Stock") -> None:
        """A listed symbol with no quote data (quote answers zeros)."""
        self.symbols.append(
            {
                "currency": "USD",
                "description": symbol,
                "displaySymbol": symbol,
                "mic": mic,
                "symbol": symbol,
                "type": kind,
                "figi": "",
                "isin": None,
                "shareClassFIGI": "",
                "symbol2": "",
            }
        )

    # -- failure scripts -----------------------------------------------------------------------
    def rate_limit_next(self, count: int, retry_after: str | None = "1") -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body = {"error": "API limit reached. Please try again later. Remaining Limit: 0"}
        self._script.extend(_Scripted(429, headers, body) for _ in range(count))

    def fail_next(self, count: int, status: int = 500) -> None:
        self._script.extend(_Scripted(status, {}, {"error": "internal"}) for _ in range(count))

    # -- counting ------------------------------------------------------------------------------
    def calls(self, path: str, symbol: str | None = None) -> int:
        return sum(
            1 for seen, sym in self.requests if seen == path and (symbol is None or sym == symbol)
        )

    # -- the handler ---------------------------------------------------------------------------
    def _handle(self, request: Request) -> Response:
        # The official client joins `API_URL + "/" + "/quote"`, so paths arrive with `//`.
        path = re.sub(r"/+", "/", request.path).removeprefix("/api/v1")
        symbol = request.args.get("symbol")
        self.requests.append((path, symbol))
        if request.args.get("token") != self.api_key:
            return _json(401, {"error": "Invalid API key"})
        if self._script:
            scripted = self._script.pop(0)
            return _json(scripted.status, scripted.body, scripted.headers)
        if path == "/stock/symbol":
            return _json(200, self.symbols if request.args.get("exchange") == "US" else [])
        if path == "/quote":
            zeros = {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}
            return _json(200, self.quotes.get(symbol or "", zeros))
        if path == "/stock/profile2":
            return _json(200, self.profiles.get(symbol or "", {}))
        return _json(404, {"error": "no such endpoint"})


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type=_JSON)
