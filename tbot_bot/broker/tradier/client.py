"""A thin httpx client for Tradier's brokerage API v1 (https://api.tradier.com/v1).

Tradier's JSON has habits this client smooths over once, for every caller:

- it answers XML unless asked otherwise, so every request sends `Accept: application/json`;
- an empty collection is the string `"null"` (`{"orders": "null"}`), and a collection of one item
  is the bare object instead of a one-element list: `as_list()` gives a list in every case, and
  every `"null"` string is turned into None on decode;
- numbers are JSON numbers: they are decoded as Decimal, never float;
- some refusals arrive as HTTP 200 with an `errors` object, others as 400 with the same object.

Error policy (STYLE §2.8): 401/403 -> AuthenticationError; 429 -> GETs wait and retry (Retry-After
or the X-Ratelimit-Expiry header, capped), then RateLimitError; writes are never retried; 5xx,
timeouts, resets and unreadable bodies -> NetworkError; 404 -> TradierNotFoundError; other 4xx and
200-with-errors -> OrderRejectedError for writes (InsufficientFundsError when buying power is the
reason), BrokerError for reads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx

from tbot_bot.broker.retry import backoff_delay
from tbot_bot.errors import (
    AuthenticationError,
    BrokerError,
    InsufficientFundsError,
    NetworkError,
    OrderRejectedError,
    RateLimitError,
)

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 10.0  # never sleep longer than this on one 429, whatever the header says
_MAX_DETAIL_CHARS = 160
_FUNDS_WORDS = ("buying power", "insufficient", "initialmargin", "not enough")


class TradierNotFoundError(BrokerError):
    """HTTP 404: Tradier does not know the order or resource."""


def as_list(value: Any) -> list[Any]:
    """Tradier's collection shapes as a list: None/"null" -> [], one object -> [object]."""
    if value is None or value == "null" or value == "":
        return []
    if isinstance(value, list):
        return value
    return [value]


def _denull(value: Any) -> Any:
    """Replace every "null" string in a decoded document by None."""
    if isinstance(value, dict):
        return {k: _denull(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_denull(v) for v in value]
    return None if value == "null" else value


def error_messages(body: Any) -> list[str]:
    """The messages of a Tradier `{"errors": {"error": ...}}` object (one string or a list)."""
    if not isinstance(body, Mapping):
        return []
    errors = body.get("errors")
    if isinstance(errors, Mapping):
        return [str(m)[:_MAX_DETAIL_CHARS] for m in as_list(errors.get("error"))]
    return []


def _rejection(messages: list[str], where: str, *, write: bool) -> BrokerError:
    """A refusal: of an order (write) -> OrderRejectedError / InsufficientFundsError, of a read
    (bad parameter, unknown symbol) -> BrokerError."""
    text = "; ".join(messages) or "refused without a reason"
    if not write:
        return BrokerError(f"{where}: {text}")
    lowered = text.lower()
    if any(word in lowered for word in _FUNDS_WORDS):
        return InsufficientFundsError(f"{where}: {text}")
    return OrderRejectedError(f"{where}: {text}")


def _body_hint(response: httpx.Response) -> str:
    text = response.text.strip()
    if not text:
        return "empty body"
    if text.startswith("<"):
        return "HTML body"
    return text[:_MAX_DETAIL_CHARS]


class TradierClient:
    """HTTP access to one Tradier account. Every failure leaves as a tbot_bot error."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float,
        rate_limit_retries: int = 3,
        sleep: Callable[[float], None],
        wall_clock_ms: Callable[[], float] | None = None,
    ) -> None:
        """`sleep` and `wall_clock_ms` come from the injected clock (no module reads the wall
        clock itself); without `wall_clock_ms` the X-Ratelimit-Expiry header is not used."""
        self._http = httpx.Client(
            base_url=f"{base_url}/v1",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
        )
        self._rate_limit_retries = max(0, rate_limit_retries)
        self._sleep = sleep
        self._wall_clock_ms = wall_clock_ms

    def close(self) -> None:
        self._http.close()

    # -- verbs ---------------------------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """GET with bounded 429 backoff (reads are idempotent)."""
        attempt = 0
        while True:
            try:
                return self._send("GET", path, params=params)
            except RateLimitError as exc:
                if attempt >= self._rate_limit_retries:
                    raise
                hinted = exc.retry_after_s
                wait_s = min(
                    hinted if hinted is not None else backoff_delay(attempt), MAX_BACKOFF_S
                )
                log.warning("TRADIER GET %s rate limited; waiting %.1f s", path, wait_s)
                self._sleep(wait_s)
                attempt += 1

    def post(self, path: str, form: Mapping[str, str]) -> dict[str, Any]:
        """POST a form once; never retried (an order must not be sent twice)."""
        return self._send("POST", path, data=form)

    def delete(self, path: str) -> dict[str, Any]:
        return self._send("DELETE", path)

    # -- one exchange ----------------------------------------------------------------------------
    def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        where = f"TRADIER {method} {path}"
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise NetworkError(f"{where}: timed out") from exc
        except httpx.HTTPError as exc:
            # Connect errors, resets, protocol errors: a write may or may not have landed.
            raise NetworkError(f"{where}: connection failed ({type(exc).__name__})") from exc
        write = method != "GET"
        self._raise_for_status(response, where, write=write)
        body = self._decode(response, where)
        if response.status_code == 200 and error_messages(body):
            # Tradier reports downstream refusals (risk checks, market centres) as 200 + errors.
            raise _rejection(error_messages(body), where, write=write)
        return body

    def _decode(self, response: httpx.Response, where: str) -> dict[str, Any]:
        try:
            body = json.loads(response.text, parse_float=Decimal) if response.text.strip() else {}
        except ValueError as exc:
            # An HTML page or XML on a 2xx: the outcome of a write is unknown, as after a timeout.
            raise NetworkError(f"{where}: unreadable response ({_body_hint(response)})") from exc
        if not isinstance(body, dict):
            raise NetworkError(f"{where}: unexpected JSON {type(body).__name__}")
        return dict(_denull(body))

    def _raise_for_status(self, response: httpx.Response, where: str, *, write: bool) -> None:
        status = response.status_code
        if status < 400:
            return
        where = f"{where}: HTTP {status}"
        if status in {401, 403}:
            raise AuthenticationError(
                f"{where}: token refused or not entitled ({_body_hint(response)})"
            )
        if status == 404:
            raise TradierNotFoundError(f"{where}: not found")
        if status == 429:
            raise RateLimitError(
                f"{where}: rate limited", retry_after_s=self._retry_after_s(response)
            )
        if status >= 500:
            raise NetworkError(f"{where}: server error ({_body_hint(response)})")
        try:
            body = json.loads(response.text)
        except ValueError:
            body = None
        raise _rejection(error_messages(body) or [_body_hint(response)], where, write=write)

    def _retry_after_s(self, response: httpx.Response) -> float | None:
        """Seconds to wait: Retry-After, else Tradier's X-Ratelimit-Expiry (epoch ms)."""
        header = response.headers.get("Retry-After")
        try:
            if header is not None:
                return max(0.0, float(header))
            expiry = response.headers.get("X-Ratelimit-Expiry")
            if expiry is not None and self._wall_clock_ms is not None:
                return max(0.0, (float(expiry) - self._wall_clock_ms()) / 1000)
        except ValueError:
            return None
        return None
