"""The few `.env_bot` keys the web itself obeys (trading spec §12.5), read from `.env_bot.enc`.

Before setup there is no `.env_bot.enc`; the spec defaults apply (they are also the secure
minimums). Values are clamped into their documented ranges, so a hand-edited file can never weaken
bcrypt below cost 12.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError

logger = logging.getLogger(__name__)

MIN_BCRYPT_ROUNDS = 12
ROLE_NAMES = ("viewer", "analyst", "operator", "admin")


@dataclass(frozen=True)
class WebSettings:
    """Security and display settings of the web (defaults = spec defaults)."""

    bcrypt_rounds: int = 12
    login_attempt_limit: int = 10
    login_lockout_minutes: int = 15
    session_timeout_minutes: int = 120
    session_max_hours: int = 12
    activity_log_views: bool = False
    default_user_role: str = "viewer"
    timezone: str = "America/New_York"
    key_rotation_scope: str = "category"
    language_code: str = "en"


def _int(raw: Mapping[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    try:
        value = int(str(raw.get(key, default)).strip())
    except ValueError:
        logger.warning("setting %s is not an integer; using %d", key, default)
        return default
    return min(max(value, lo), hi)


def _bool(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    text = str(raw.get(key, default)).strip().lower()
    return text in {"true", "yes", "on", "1"}


def _choice(raw: Mapping[str, Any], key: str, default: str, choices: tuple[str, ...]) -> str:
    value = str(raw.get(key, default)).strip()
    return value if value in choices else default


def parse_web_settings(raw: Mapping[str, Any]) -> WebSettings:
    """Read the web's keys from a decrypted `.env_bot` mapping (schema-validated on save)."""
    return WebSettings(
        bcrypt_rounds=_int(raw, "BCRYPT_ROUNDS", 12, MIN_BCRYPT_ROUNDS, 15),
        login_attempt_limit=_int(raw, "LOGIN_ATTEMPT_LIMIT", 10, 3, 50),
        login_lockout_minutes=_int(raw, "LOGIN_LOCKOUT_MINUTES", 15, 1, 1440),
        session_timeout_minutes=_int(raw, "SESSION_TIMEOUT_MINUTES", 120, 5, 1440),
        session_max_hours=_int(raw, "SESSION_MAX_HOURS", 12, 1, 168),
        activity_log_views=_bool(raw, "ACTIVITY_LOG_VIEWS", False),
        default_user_role=_choice(raw, "DEFAULT_USER_ROLE", "viewer", ROLE_NAMES),
        timezone=str(raw.get("TIMEZONE", "America/New_York")).strip() or "America/New_York",
        key_rotation_scope=_choice(raw, "KEY_ROTATION_SCOPE", "category", ("category", "all")),
        language_code=str(raw.get("LANGUAGE_CODE", "en")).strip() or "en",
    )


def load_web_settings(secrets: SecretsManager) -> WebSettings:
    """Settings from `.env_bot.enc` (decryption cached by mtime), or the defaults before setup."""
    if not (secrets.key_exists("env") and secrets.has_secret("env")):
        return WebSettings()
    try:
        return parse_web_settings(secrets.load("env"))
    except ConfigError as exc:
        # The launch is blocked elsewhere (state `error`); the web keeps its secure defaults.
        logger.warning("cannot read .env_bot for web settings: %s", exc)
        return WebSettings()
