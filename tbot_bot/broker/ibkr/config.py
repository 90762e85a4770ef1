"""Typed IBKR connection settings built from the encrypted broker credentials and `.env_bot`.

Credentials (web_runtime §2.2): `IBKR_HOST` (IP or host name of TWS / IB Gateway), `IBKR_PORT`
(1-65535), `IBKR_CLIENT_ID` (int >= 0) and `BROKER_ACCOUNT_NUMBER`. The login itself happens in
the gateway, so no password ever reaches this process. Settings: `API_TIMEOUT` (int s, default 30)
bounds every blocking request and the wait for an order acknowledgement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from tbot_bot.clock import require_utc
from tbot_bot.errors import ConfigError

EXCHANGE_TZ = ZoneInfo("America/New_York")
DEFAULT_API_TIMEOUT_S = 30
REQUIRED_KEYS = ("IBKR_HOST", "IBKR_PORT", "IBKR_CLIENT_ID", "BROKER_ACCOUNT_NUMBER")


@dataclass(frozen=True, slots=True)
class ResetWindow:
    """The nightly window in which IB Gateway restarts and IB's servers reset (exchange time).

    IB resets its North American servers around 23:45-00:45 ET and IB Gateway's auto-restart is
    usually set inside that hour. A disconnect inside the window is expected: logged at INFO,
    reconnected with backoff, never escalated as fatal. The window may wrap past midnight.
    """

    start_local: time = time(23, 30)
    end_local: time = time(1, 0)

    def contains(self, instant_utc: datetime) -> bool:
        local = require_utc(instant_utc, "reset window instant").astimezone(EXCHANGE_TZ).time()
        if self.start_local <= self.end_local:
            return self.start_local <= local < self.end_local
        return local >= self.start_local or local < self.end_local


@dataclass(frozen=True, slots=True)
class IbkrConfig:
    """Everything the adapter needs to reach one account through one gateway.

    Attributes:
        host: TWS / IB Gateway host name or IP.
        port: API socket port (4001/4002 gateway live/paper, 7496/7497 TWS live/paper).
        client_id: API client id; unique per connection to the gateway.
        account: the account this bot trades (`BROKER_ACCOUNT_NUMBER`); masked in `repr`.
        connect_timeout_s: handshake and initial sync limit, seconds (default 10).
        request_timeout_s: limit of every blocking request and of the wait for an order
            acknowledgement, seconds (`API_TIMEOUT`, default 30).
        backoff_base_s / backoff_cap_s: reconnect delay 1 s x 2^n, capped (default 60 s).
        commission_grace_s: how long a fill waits for its commission report before it is
            reported with a zero fee and a warning, seconds (default 30).
        market_data_wait_s: wait for streamed generic ticks (imbalance, shortability), seconds.
        reset_window: the nightly reset window (exchange time).
    """

    host: str
    port: int
    client_id: int
    account: str = field(repr=False)
    connect_timeout_s: float = 10.0
    request_timeout_s: float = float(DEFAULT_API_TIMEOUT_S)
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    commission_grace_s: float = 30.0
    market_data_wait_s: float = 3.0
    reset_window: ResetWindow = field(default_factory=ResetWindow)

    def __repr__(self) -> str:
        return (
            f"IbkrConfig(host={self.host!r}, port={self.port}, client_id={self.client_id}, "
            "account='***')"
        )


def _setting(settings: Any, key: str, default: Any) -> Any:
    """Read one setting from a mapping or an attribute-style settings model."""
    if settings is None:
        return default
    if isinstance(settings, Mapping):
        return settings.get(key, default)
    return getattr(settings, key, default)


def _int_value(raw: Any, key: str, low: int, high: int, problems: list[str]) -> int:
    """Parse an integer credential; credentials may arrive as text from the encrypted store."""
    try:
        value = int(str(raw).strip())
    except ValueError:
        problems.append(f"{key} must be an integer in {low}..{high}, got {raw!r}")
        return low
    if not low <= value <= high:
        problems.append(f"{key} must be in {low}..{high}, got {value}")
    return value


def config_from(
    credentials: Mapping[str, Any], settings: Any = None, **overrides: Any
) -> IbkrConfig:
    """Validate credentials and settings; every problem is reported together (ConfigError).

    The account number is never echoed in a message: only the key is named.
    """
    problems = [
        f"broker credentials lack {key} (needed by BROKER_NAME=IBKR)"
        for key in REQUIRED_KEYS
        if str(credentials.get(key, "") or "").strip() == ""
    ]
    if problems:
        raise ConfigError("IBKR credentials are incomplete", problems)
    host = str(credentials["IBKR_HOST"]).strip()
    if "://" in host or "/" in host:
        problems.append(f"IBKR_HOST must be a host name or IP without scheme or path, got {host!r}")
    port = _int_value(credentials["IBKR_PORT"], "IBKR_PORT", 1, 65535, problems)
    client_id = _int_value(credentials["IBKR_CLIENT_ID"], "IBKR_CLIENT_ID", 0, 2**31 - 1, problems)
    timeout_raw = _setting(settings, "API_TIMEOUT", DEFAULT_API_TIMEOUT_S)
    timeout_s = _int_value(timeout_raw, "API_TIMEOUT", 1, 600, problems)
    if problems:
        raise ConfigError("IBKR settings are invalid", problems)
    values: dict[str, Any] = {"request_timeout_s": float(timeout_s)}
    values.update(overrides)
    return IbkrConfig(
        host=host,
        port=port,
        client_id=client_id,
        account=str(credentials["BROKER_ACCOUNT_NUMBER"]).strip(),
        **values,
    )
