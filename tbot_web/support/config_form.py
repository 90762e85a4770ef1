"""The configuration form of web_runtime §2.2: field catalogue and server-side validation.

Server-side validation is authoritative (the page's JavaScript only gives hints). Every problem is
reported per field; secrets are never echoed back into the page. After setup an empty secret field
means "keep the current value".
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any
from urllib.parse import urlparse
from zoneinfo import available_timezones

from tbot_bot.config.identity import BotIdentity, NetworkConfig
from tbot_bot.errors import ConfigError

BROKER_NAMES = ("ALPACA", "IBKR", "TRADIER", "SIM")
LOG_LEVELS = ("quiet", "info", "verbose")
SMTP_SECURITY = ("ssl", "starttls", "none")
IDENTITY_FIELDS = ("ENTITY_CODE", "JURISDICTION_CODE", "BROKER_CODE", "BOT_ID")
SCHEDULE_FIELDS = ("START_TIME_OPEN_LOCAL", "START_TIME_MID_LOCAL", "START_TIME_CLOSE_LOCAL")
BROKER_FIELDS = (
    "BROKER_URL",
    "BROKER_API_KEY",
    "BROKER_SECRET_KEY",
    "BROKER_ACCOUNT_NUMBER",
    "BROKER_TOKEN",
    "IBKR_HOST",
    "IBKR_PORT",
    "IBKR_CLIENT_ID",
)
SMTP_FIELDS = (
    "ALERT_EMAIL",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_SECURITY",
    "SMTP_USER",
    "SMTP_PASS",
    "SMTP_FROM",
)
NETWORK_FIELDS = ("LOCAL_IP", "LOCAL_PORT", "REMOTE_IP", "REMOTE_PORT")
SECRET_FIELDS = frozenset({"BROKER_API_KEY", "BROKER_SECRET_KEY", "BROKER_TOKEN", "SMTP_PASS"})
REQUIRED_BROKER_FIELDS: Mapping[str, tuple[str, ...]] = {
    "ALPACA": ("BROKER_URL", "BROKER_API_KEY", "BROKER_SECRET_KEY"),
    "TRADIER": ("BROKER_URL", "BROKER_TOKEN", "BROKER_ACCOUNT_NUMBER"),
    "IBKR": ("IBKR_HOST", "IBKR_PORT", "IBKR_CLIENT_ID", "BROKER_ACCOUNT_NUMBER"),
    "SIM": (),
}
DEFAULTS: Mapping[str, str] = {
    "LANGUAGE_CODE": "en",
    "TIMEZONE": "America/New_York",
    "START_TIME_OPEN_LOCAL": "09:30:00",
    "START_TIME_MID_LOCAL": "12:00:00",
    "START_TIME_CLOSE_LOCAL": "15:34:30",
    "BROKER_NAME": "ALPACA",
    "SMTP_PORT": "465",
    "SMTP_SECURITY": "ssl",
    "LOCAL_IP": "127.0.0.1",
    "LOCAL_PORT": "6900",
    "REMOTE_IP": "127.0.0.1",
    "REMOTE_PORT": "6900",
    "DEBUG_LOG_LEVEL": "info",
}
SETTINGS_FIELDS = ("LANGUAGE_CODE", "TIMEZONE", *SCHEDULE_FIELDS, "BROKER_NAME", "DEBUG_LOG_LEVEL")
_TIME = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2}))?$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


@dataclass
class ConfigurationInput:
    """A parsed form: cleaned values (secrets included, never rendered) and per-field errors."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    identity: BotIdentity | None = None
    network: NetworkConfig | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general

    def broker_record(self) -> dict[str, Any]:
        """The `broker_credentials` secret: BROKER_NAME plus the adapter's non-empty fields."""
        record: dict[str, Any] = {"BROKER_NAME": self.values["BROKER_NAME"]}
        for name in BROKER_FIELDS:
            if self.values.get(name):
                record[name] = self.values[name]
        return record

    def smtp_record(self) -> dict[str, Any]:
        """`{}` for an empty SMTP group, else all SMTP fields."""
        if not self.values.get("SMTP_HOST"):
            return {}
        return {name: self.values.get(name, "") for name in SMTP_FIELDS}

    def settings_overrides(self) -> dict[str, str]:
        return {name: self.values[name] for name in SETTINGS_FIELDS}

    def public_values(self) -> dict[str, str]:
        """Values safe to render back into the form (secrets blank)."""
        return {k: ("" if k in SECRET_FIELDS else v) for k, v in self.values.items()}


def parse_time(text: str) -> time | None:
    match = _TIME.fullmatch(text)
    if not match:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return time(hour, minute, second)


def _clean(form: Mapping[str, str], keep: Mapping[str, str]) -> dict[str, str]:
    """Trimmed values; a blank secret keeps its current value, an absent field its current one
    (or the default on first run)."""
    names = (*IDENTITY_FIELDS, *SETTINGS_FIELDS, *BROKER_FIELDS, *SMTP_FIELDS, *NETWORK_FIELDS)
    values: dict[str, str] = {}
    for name in names:
        raw = str(form.get(name) or "").strip()
        if not raw and name in SECRET_FIELDS:
            raw = str(keep.get(name) or "")
        elif not raw and name not in form:
            raw = str(keep.get(name) or DEFAULTS.get(name, ""))
        values[name] = raw
    for name in IDENTITY_FIELDS:
        values[name] = values[name].upper()
    values["BROKER_NAME"] = values["BROKER_NAME"].upper()
    values["SMTP_SECURITY"] = values["SMTP_SECURITY"].lower()
    return values


def parse_configuration(
    form: Mapping[str, str], *, keep: Mapping[str, str] | None = None, identity_locked: bool = False
) -> ConfigurationInput:
    """Validate a submit. `keep` holds current values (after setup: blank secret = keep)."""
    keep = keep or {}
    values = _clean(form, keep)
    if identity_locked:  # the identity names the output tree: never changed after setup
        values.update({name: str(keep.get(name, "")) for name in IDENTITY_FIELDS})
    result = ConfigurationInput(values)
    _check_identity(result)
    _check_locale_schedule(result)
    _check_broker(result)
    _check_smtp(result)
    _check_network(result)
    if values["DEBUG_LOG_LEVEL"] not in LOG_LEVELS:
        result.errors["DEBUG_LOG_LEVEL"] = f"Choose one of: {', '.join(LOG_LEVELS)}."
    return result


def _check_identity(result: ConfigurationInput) -> None:
    v = result.values
    try:
        result.identity = BotIdentity.from_codes(
            v["ENTITY_CODE"], v["JURISDICTION_CODE"], v["BROKER_CODE"], v["BOT_ID"]
        )
    except ConfigError as exc:
        for problem in exc.problems:
            name = problem.split("=", 1)[0]
            if name in IDENTITY_FIELDS:
                result.errors[name] = problem
        if not result.errors:
            result.general.extend(exc.problems)


def _check_locale_schedule(result: ConfigurationInput) -> None:
    v = result.values
    if not _LANGUAGE.fullmatch(v["LANGUAGE_CODE"]):
        result.errors["LANGUAGE_CODE"] = "Use a two-letter ISO 639-1 code such as 'en'."
    if v["TIMEZONE"] not in available_timezones() and v["TIMEZONE"] != "UTC":
        result.errors["TIMEZONE"] = "Choose an IANA time zone such as America/New_York or UTC."
    times: list[time] = []
    for name in SCHEDULE_FIELDS:
        parsed = parse_time(v[name])
        if parsed is None:
            result.errors[name] = "Use HH:MM or HH:MM:SS (exchange time, America/New_York)."
        else:
            v[name] = parsed.strftime("%H:%M:%S")
            times.append(parsed)
    if len(times) == len(SCHEDULE_FIELDS) and not (times[0] < times[1] < times[2]):
        result.errors["START_TIME_MID_LOCAL"] = "Open, mid and close start times must increase."


def _check_broker(result: ConfigurationInput) -> None:
    v = result.values
    name = v["BROKER_NAME"]
    if name not in BROKER_NAMES:
        result.errors["BROKER_NAME"] = f"Choose one of: {', '.join(BROKER_NAMES)}."
        return
    for required in REQUIRED_BROKER_FIELDS[name]:
        if not v.get(required):
            result.errors[required] = f"Required for {name}."
    if v.get("BROKER_URL") and name in {"ALPACA", "TRADIER"}:
        parsed = urlparse(v["BROKER_URL"])
        if parsed.scheme != "https" or not parsed.netloc:
            result.errors["BROKER_URL"] = "Must be an https:// URL."
    if name == "IBKR":
        _check_ibkr(result)


def _check_ibkr(result: ConfigurationInput) -> None:
    v = result.values
    host = v.get("IBKR_HOST", "")
    if host and not (_is_ip(host) or _HOSTNAME.fullmatch(host)):
        result.errors["IBKR_HOST"] = "Use an IP address or host name of TWS / IB Gateway."
    if v.get("IBKR_PORT") and not _int_in(v["IBKR_PORT"], 1, 65535):
        result.errors["IBKR_PORT"] = "Port must be 1-65535."
    if v.get("IBKR_CLIENT_ID") and not _int_in(v["IBKR_CLIENT_ID"], 0, 2**31 - 1):
        result.errors["IBKR_CLIENT_ID"] = "Client id must be an integer >= 0."


def _check_smtp(result: ConfigurationInput) -> None:
    v = result.values
    group = ("ALERT_EMAIL", "SMTP_HOST", "SMTP_USER", "SMTP_PASS")
    if not any(v.get(name) for name in group):
        return
    for name in group:
        if not v.get(name):
            result.errors[name] = (
                "SMTP settings are all or nothing: fill this in or clear the group."
            )
    for name in ("ALERT_EMAIL", "SMTP_FROM"):
        if v.get(name) and not _EMAIL.fullmatch(v[name]):
            result.errors[name] = "Not a valid email address."
    if not _int_in(v.get("SMTP_PORT") or "465", 1, 65535):
        result.errors["SMTP_PORT"] = "Port must be 1-65535."
    if v.get("SMTP_SECURITY") not in SMTP_SECURITY:
        result.errors["SMTP_SECURITY"] = f"Choose one of: {', '.join(SMTP_SECURITY)}."


def _check_network(result: ConfigurationInput) -> None:
    v = result.values
    record = {name: v[name] for name in NETWORK_FIELDS if v.get(name)}
    try:
        result.network = NetworkConfig.from_record(record)
    except ConfigError as exc:
        for problem in exc.problems:
            name = problem.split("=", 1)[0]
            result.errors[name if name in NETWORK_FIELDS else "LOCAL_IP"] = problem


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _int_in(text: str, lo: int, hi: int) -> bool:
    try:
        return lo <= int(text) <= hi
    except ValueError:
        return False


def schedule_previews(values: Mapping[str, str], today: date) -> dict[str, str]:
    """UTC instants of the three start times on the next XNYS session (read-only preview)."""
    from tbot_bot.market.calendar import TradingCalendar, exchange_time_to_utc

    try:
        calendar = TradingCalendar(today, today)
        day = calendar.next_trading_day(today, ("mon", "tue", "wed", "thu", "fri"))
    except (ConfigError, ValueError):
        return {}
    previews: dict[str, str] = {}
    for name in SCHEDULE_FIELDS:
        parsed = parse_time(values.get(name, ""))
        if parsed is not None:
            instant = exchange_time_to_utc(day, parsed)
            previews[name] = f"{day.isoformat()} {instant.strftime('%H:%M:%S')} UTC"
    return previews
