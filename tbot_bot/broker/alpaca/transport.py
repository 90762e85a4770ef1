"""How the alpaca-py clients are built: a timeout, no hidden retries, exact decimals.

Also the adapter's configuration (`AlpacaConfig`: URLs, keys, timeout) read from the decrypted
broker credentials and the settings.

alpaca-py 0.44 (pinned in pyproject.toml) has three habits a trading bot cannot live with, and no
public switch for any of them, so this module adjusts the SDK's own `requests.Session` and retry
counter right after construction (the test suite checks each adjustment against a local server):

1. It sends requests without a timeout: a slow broker would hang the bot. Our session applies
   `API_TIMEOUT` to every request the SDK makes.
2. It retries HTTP 429 and 504 itself (3 tries, fixed 3 s, Retry-After ignored) and resends the
   same body, so one `submit_order` could send an order several times. We set its retry count to
   zero: the adapter sends once, and retry policy lives in one place above the adapters.
3. It decodes JSON numbers as floats. Market data carries prices as JSON numbers, so our session
   decodes them as Decimal instead (trading endpoints already send decimal strings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import requests
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from tbot_bot.errors import ConfigError

DEFAULT_DATA_URL = "https://data.alpaca.markets"
DEFAULT_TIMEOUT_S = 30.0  # API_TIMEOUT default (trading spec §12.2)
_REQUIRED_KEYS = ("BROKER_URL", "BROKER_API_KEY", "BROKER_SECRET_KEY")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class _DecimalJsonResponse(requests.Response):
    """A response whose `.json()` keeps JSON numbers exact (Decimal, never float)."""

    def json(self, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_float", Decimal)
        return super().json(**kwargs)


class BoundedSession(requests.Session):
    """A `requests.Session` that never waits forever and decodes numbers as Decimal."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.timeout_s = timeout_s

    def request(
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Pass everything through unchanged; only `timeout` gets a default."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout_s
        response = super().request(method, url, *args, **kwargs)
        # Re-class rather than copy: the object stays the one requests built, only `.json()`
        # changes, and _DecimalJsonResponse adds no state of its own.
        response.__class__ = _DecimalJsonResponse
        return response


def normalise_base_url(url: str, key: str, strip_suffix: str) -> str:
    """Check a broker URL (https, or http on loopback for local fakes) and drop a version suffix.

    Raises:
        ConfigError: naming `key` when the URL is empty, not http(s) or plain http off loopback.
    """
    text = (url or "").strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ConfigError(f"{key} must be an https URL, got {text!r}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ConfigError(f"{key} must use https (plain http is allowed only on loopback)")
    if text.endswith(strip_suffix):
        text = text[: -len(strip_suffix)]
    return text


def tame_client(client: TradingClient | StockHistoricalDataClient, timeout_s: float) -> None:
    """Give an SDK client our bounded session and switch off its internal retries."""
    old_session = client._session  # see the module docstring, item 1
    client._session = BoundedSession(timeout_s)
    old_session.close()
    # RESTClient retries while `retry > 0`; with 0 the first 429/504 is raised as APIError.
    client._retry = 0  # see the module docstring, item 2


def build_trading_client(
    api_key: str, secret_key: str, base_url: str, timeout_s: float
) -> TradingClient:
    """A TradingClient on `base_url` (paper or live is only the URL) with our transport rules."""
    client = TradingClient(api_key=api_key, secret_key=secret_key, url_override=base_url)
    tame_client(client, timeout_s)
    return client


def build_data_client(
    api_key: str, secret_key: str, base_url: str, timeout_s: float
) -> StockHistoricalDataClient:
    """A raw-data StockHistoricalDataClient: we parse its JSON ourselves, with exact decimals."""
    client = StockHistoricalDataClient(
        api_key=api_key, secret_key=secret_key, url_override=base_url, raw_data=True
    )
    tame_client(client, timeout_s)
    return client


def setting_value(settings: Any, key: str, default: float) -> float:
    """Read one numeric setting from a settings object or mapping, by key name."""
    for candidate in (key, key.lower()):
        if isinstance(settings, Mapping) and candidate in settings:
            return float(settings[candidate])
        value = getattr(settings, candidate, None)
        if value is not None:
            return float(value)
    return default


@dataclass(frozen=True)
class AlpacaConfig:
    """Where and how to reach Alpaca. Secrets are kept out of repr()."""

    trading_url: str
    data_url: str
    api_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any], timeout_s: float) -> AlpacaConfig:
        """Validate the decrypted credential record; every problem is reported at once."""
        missing = [key for key in _REQUIRED_KEYS if not str(credentials.get(key) or "").strip()]
        if missing:
            raise ConfigError(
                "ALPACA credentials incomplete: " + ", ".join(missing),
                [f"{key} is required for BROKER_NAME=ALPACA" for key in missing],
            )
        trading_url = normalise_base_url(str(credentials["BROKER_URL"]), "BROKER_URL", "/v2")
        data_text = str(credentials.get("BROKER_DATA_URL") or DEFAULT_DATA_URL)
        return cls(
            trading_url=trading_url,
            data_url=normalise_base_url(data_text, "BROKER_DATA_URL", "/v2"),
            api_key=str(credentials["BROKER_API_KEY"]).strip(),
            secret_key=str(credentials["BROKER_SECRET_KEY"]).strip(),
            timeout_s=timeout_s,
        )
