"""Screener provider credentials: `storage/secrets/screener_api.json.enc` (trading spec §10).

The secret is one flat JSON object; provider NN (two digits) owns exactly the keys `PROVIDER_NN,
SCREENER_NAME_NN, SCREENER_API_KEY_NN, SCREENER_URL_NN, SCREENER_USERNAME_NN,
SCREENER_PASSWORD_NN, SCREENER_TOKEN_NN, UNIVERSE_ENABLED_NN, ENRICHMENT_ENABLED_NN,
TRADING_ENABLED_NN, PRIORITY_NN` (all strings). v1 writes it with `tbot secrets set screener_api
--provider FINNHUB` (`set_provider_credentials`), audited. Secret values never reach a log, a
repr or an exception message. Key-rotation backups (web_runtime §6.2) are not taken by this write:
the secrets manager replaces the file atomically and the key is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tbot_bot.config.audit import audit_event
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError
from tbot_bot.screeners.providers.base import (
    LATER_PROVIDERS,
    PROVIDER_BROKER,
    PROVIDER_FINNHUB,
    PROVIDER_LOCAL_FILE,
    RESERVED_PROVIDERS,
)

CATEGORY = "screener_api"
FIELDS: tuple[str, ...] = (
    "PROVIDER",
    "SCREENER_NAME",
    "SCREENER_API_KEY",
    "SCREENER_URL",
    "SCREENER_USERNAME",
    "SCREENER_PASSWORD",
    "SCREENER_TOKEN",
    "UNIVERSE_ENABLED",
    "ENRICHMENT_ENABLED",
    "TRADING_ENABLED",
    "PRIORITY",
)
# Providers that live in this secret; LOCAL_FILE is configured by UNIVERSE_LOCAL_FILE instead.
CREDENTIAL_PROVIDERS: tuple[str, ...] = (PROVIDER_FINNHUB, PROVIDER_BROKER)
_KEY = re.compile(r"^(?P<field>[A-Z_]+?)_(?P<slot>\d{2})$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


@dataclass(frozen=True)
class ProviderEntry:
    """One provider slot of the secret; credential fields are hidden from `repr`."""

    slot: str
    provider: str
    name: str
    url: str | None
    universe_enabled: bool
    enrichment_enabled: bool
    trading_enabled: bool
    priority: int
    api_key: str = field(default="", repr=False)
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)


def check_provider_name(raw: str, where: str = "provider") -> str:
    """Upper-cased v1 credential provider name; ConfigError for later, reserved or unknown ones."""
    name = raw.strip().upper()
    if name in CREDENTIAL_PROVIDERS:
        return name
    if name == PROVIDER_LOCAL_FILE:
        raise ConfigError(f"{where}: LOCAL_FILE is configured with UNIVERSE_LOCAL_FILE, not here")
    if name in LATER_PROVIDERS:
        raise ConfigError(f"{where}: provider {name} is not available in v1 (later phase)")
    if name in RESERVED_PROVIDERS:
        raise ConfigError(f"{where}: provider name {name} is reserved and cannot be used")
    raise ConfigError(
        f"{where}: unknown provider {raw!r}; expected one of {', '.join(CREDENTIAL_PROVIDERS)}"
    )


def parse_provider_entries(data: Mapping[str, Any]) -> list[ProviderEntry]:
    """All slots of the secret, sorted by PRIORITY then slot; every problem reported together."""
    problems: list[str] = []
    slots: dict[str, dict[str, str]] = {}
    for key, value in data.items():
        match = _KEY.fullmatch(str(key))
        if match is None or match["field"] not in FIELDS:
            problems.append(
                f"screener_api: unknown key {key!r}; expected <FIELD>_NN with FIELD one of "
                f"{', '.join(FIELDS)}"
            )
            continue
        slots.setdefault(match["slot"], {})[match["field"]] = "" if value is None else str(value)
    entries = []
    for slot in sorted(slots):
        entry = _entry(slot, slots[slot], problems)
        if entry is not None:
            entries.append(entry)
    if problems:
        raise ConfigError(f"screener_api has {len(problems)} problem(s)", problems)
    return sorted(entries, key=lambda entry: (entry.priority, entry.slot))


def _entry(slot: str, fields: Mapping[str, str], problems: list[str]) -> ProviderEntry | None:
    where = f"screener_api PROVIDER_{slot}"
    try:
        provider = check_provider_name(fields.get("PROVIDER", ""), where)
    except ConfigError as exc:
        problems.append(str(exc))
        return None
    flags = {
        name: _bool(fields.get(name, "true"), f"{name}_{slot}", problems)
        for name in ("UNIVERSE_ENABLED", "ENRICHMENT_ENABLED", "TRADING_ENABLED")
    }
    priority_text = fields.get("PRIORITY", "").strip() or slot
    if not priority_text.isdigit():
        problems.append(f"screener_api PRIORITY_{slot}: {priority_text!r} is not a whole number")
        priority_text = slot
    api_key = fields.get("SCREENER_API_KEY", "").strip()
    if provider == PROVIDER_FINNHUB and not api_key:
        problems.append(f"screener_api SCREENER_API_KEY_{slot}: FINNHUB needs an API key")
    return ProviderEntry(
        slot=slot,
        provider=provider,
        name=fields.get("SCREENER_NAME", "").strip() or provider,
        url=fields.get("SCREENER_URL", "").strip() or None,
        universe_enabled=flags["UNIVERSE_ENABLED"],
        enrichment_enabled=flags["ENRICHMENT_ENABLED"],
        trading_enabled=flags["TRADING_ENABLED"],
        priority=int(priority_text),
        api_key=api_key,
        username=fields.get("SCREENER_USERNAME", ""),
        password=fields.get("SCREENER_PASSWORD", ""),
        token=fields.get("SCREENER_TOKEN", ""),
    )


def _bool(text: str, key: str, problems: list[str]) -> bool:
    folded = text.strip().lower()
    if folded in _TRUE:
        return True
    if folded not in _FALSE:
        problems.append(f"screener_api {key}: {text!r} is not true or false")
    return False


def load_provider_entries(paths: RuntimePaths) -> list[ProviderEntry]:
    """The configured providers; none when the home has no screener key or secret yet."""
    manager = SecretsManager(paths)
    if not (manager.key_exists(CATEGORY) and manager.has_secret(CATEGORY)):
        return []
    return parse_provider_entries(manager.load(CATEGORY))


def set_provider_credentials(
    paths: RuntimePaths,
    provider: str,
    api_key: str,
    *,
    actor: str,
    url: str | None = None,
    universe_enabled: bool = True,
    enrichment_enabled: bool = True,
    trading_enabled: bool = True,
) -> str:
    """Store (or update) one provider's entry and audit it; returns its slot `NN`.

    An existing entry of the same provider keeps its slot, name and priority; a new one takes the
    next free slot with priority = slot. Needs `storage/keys/screener_api.key` (created by
    provisioning); the API key is never logged.
    """
    name = check_provider_name(provider)
    key = api_key.strip()
    if name == PROVIDER_FINNHUB and not key:
        raise ConfigError("FINNHUB needs a non-empty API key")
    manager = SecretsManager(paths)
    current = manager.load(CATEGORY) if manager.has_secret(CATEGORY) else {}
    existing = parse_provider_entries(current)
    match = next((entry for entry in existing if entry.provider == name), None)
    slot = match.slot if match else _next_slot(existing)
    record = dict(current)
    record.update(
        {
            f"PROVIDER_{slot}": name,
            f"SCREENER_NAME_{slot}": match.name if match else name,
            f"SCREENER_API_KEY_{slot}": key,
            f"SCREENER_URL_{slot}": url or "",
            f"SCREENER_USERNAME_{slot}": current.get(f"SCREENER_USERNAME_{slot}", ""),
            f"SCREENER_PASSWORD_{slot}": current.get(f"SCREENER_PASSWORD_{slot}", ""),
            f"SCREENER_TOKEN_{slot}": current.get(f"SCREENER_TOKEN_{slot}", ""),
            f"UNIVERSE_ENABLED_{slot}": _text(universe_enabled),
            f"ENRICHMENT_ENABLED_{slot}": _text(enrichment_enabled),
            f"TRADING_ENABLED_{slot}": _text(trading_enabled),
            f"PRIORITY_{slot}": str(match.priority if match else int(slot)),
        }
    )
    parse_provider_entries(record)  # never store what the reader would refuse
    manager.save(CATEGORY, record)
    audit_event(
        paths,
        "screener_credentials_set",
        f"screener provider {name} credentials saved in slot {slot}",
        actor=actor,
        category=CATEGORY,
        provider=name,
        slot=slot,
        created=match is None,
    )
    return slot


def _next_slot(entries: list[ProviderEntry]) -> str:
    used = {int(entry.slot) for entry in entries}
    number = next(n for n in range(1, 100) if n not in used) if len(used) < 99 else None
    if number is None:
        raise ConfigError("screener_api already holds 99 providers")
    return f"{number:02d}"


def _text(flag: bool) -> str:
    return "true" if flag else "false"
