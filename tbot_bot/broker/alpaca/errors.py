"""Translate alpaca-py and HTTP failures into the tbot_bot.errors tree (STYLE §2.8).

| Alpaca answer | Our error | What the caller does |
|---|---|---|
| 401; 403 without an order code | `AuthenticationError` | watchdog, critical alert |
| 403 code 40310000 "insufficient buying power" | `InsufficientFundsError` | fallback |
| 403 code 40310000 (other); 400, 422 on a submit | `OrderRejectedError` | fallback |
| other 4xx (a bad read parameter, ...) | `BrokerError` | no retry |
| 422 "client_order_id must be unique" | `DuplicateClientOrderIdError` (base.py) | look it up |
| 404 | `OrderNotFoundError` | lookups answer None |
| 429 | `RateLimitError` (Retry-After honoured) | retried after a wait |
| 5xx, timeouts, resets, HTML/unreadable bodies | `NetworkError` | reads retried; orders looked up |

Alpaca error bodies are JSON (`{"code": 40010001, "message": "..."}`), but gateways in front of it
answer 502/503/504 with HTML, so every body is parsed defensively and never echoed at length.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from pydantic import ValidationError

from tbot_bot.broker.base import DuplicateClientOrderIdError
from tbot_bot.errors import (
    AuthenticationError,
    BrokerError,
    InsufficientFundsError,
    NetworkError,
    OrderRejectedError,
    RateLimitError,
    TbotError,
)

log = logging.getLogger(__name__)

ORDER_REFUSED_CODE = 40310000  # Alpaca's code for "the account may not place this order"
_MAX_DETAIL_CHARS = 160


class OrderNotFoundError(BrokerError):
    """HTTP 404: the order (or resource) does not exist at Alpaca."""


def parse_error_body(text: str) -> tuple[int | None, str]:
    """Return (code, message) from an Alpaca error body; HTML or junk gives (None, a short hint)."""
    stripped = text.strip()
    if not stripped:
        return None, "empty body"
    try:
        body = json.loads(stripped)
    except ValueError:
        # Gateway pages are HTML; say so instead of dumping markup into logs and alerts.
        kind = "HTML body" if stripped.startswith("<") else "non-JSON body"
        return None, kind
    if not isinstance(body, dict):
        return None, "non-object JSON body"
    code = body.get("code")
    message = body.get("message")
    return (
        code if isinstance(code, int) else None,
        str(message)[:_MAX_DETAIL_CHARS] if message is not None else "no message",
    )


def http_status(exc: BaseException) -> int | None:
    """The HTTP status carried by an alpaca-py APIError, if any."""
    if isinstance(exc, APIError):
        try:
            status = exc.status_code
        except AttributeError:  # pragma: no cover - APIError without a response object
            return None
        return status if isinstance(status, int) else None
    return None


def _retry_after_s(exc: APIError) -> float | None:
    response: Any = exc.response
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def translate_api_error(exc: APIError, context: str) -> TbotError:
    """Map one APIError (the SDK raises it for every non-2xx answer) to our tree."""
    status = http_status(exc)
    code, message = parse_error_body(str(exc))
    where = f"ALPACA {context}: HTTP {status}"
    if status == 401:
        return AuthenticationError(f"{where}: credentials refused ({message})")
    if status == 403 and code != ORDER_REFUSED_CODE:
        return AuthenticationError(f"{where}: access forbidden ({message})")
    if status == 403:
        if "insufficient" in message.lower() and "buying power" in message.lower():
            return InsufficientFundsError(f"{where}: {message}")
        return OrderRejectedError(f"{where}: {message}")
    if status == 404:
        return OrderNotFoundError(f"{where}: not found ({message})")
    if status == 422 and "client_order_id" in message and "unique" in message:
        # The order exists already (an earlier send landed): look it up, never resend.
        return DuplicateClientOrderIdError(f"{where}: {message}")
    if status == 429:
        return RateLimitError(f"{where}: rate limited", retry_after_s=_retry_after_s(exc))
    if status is None or status >= 500:
        return NetworkError(f"{where}: server error ({message})")
    if status in {400, 422} and context.startswith("submit"):
        return OrderRejectedError(f"{where}: {message}")
    return BrokerError(f"{where}: {message}")


def translate(exc: BaseException, context: str) -> TbotError:
    """Map any exception raised while talking to Alpaca to our tree (TbotErrors pass through)."""
    if isinstance(exc, TbotError):
        return exc
    if isinstance(exc, APIError):
        return translate_api_error(exc, context)
    if isinstance(exc, requests.Timeout):
        return NetworkError(f"ALPACA {context}: timed out")
    if isinstance(exc, ValidationError | ValueError | KeyError | TypeError):
        # A 2xx answer we cannot read (HTML from a proxy, a changed shape; requests' JSON decode
        # error is a ValueError too): the outcome is unknown, as after a timeout.
        return NetworkError(f"ALPACA {context}: unreadable response ({type(exc).__name__})")
    if isinstance(exc, requests.RequestException):
        # ConnectionError, ChunkedEncodingError, ... : the request may or may not have landed.
        return NetworkError(f"ALPACA {context}: connection failed ({type(exc).__name__})")
    log.error("ALPACA %s: unexpected %s", context, type(exc).__name__)
    return NetworkError(f"ALPACA {context}: unexpected failure ({type(exc).__name__})")
