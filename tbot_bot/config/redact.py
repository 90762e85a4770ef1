"""Redaction of secrets in mappings and free text (web_runtime §4.10), used by both packages.

Secret values loaded by the secrets manager are registered here so that they are replaced wherever
they might appear: log lines, status files, error pages, exception text shown to users.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

MASK = "***"
SECRET_KEY_PATTERN = re.compile(
    r"(?i)pass|secret|token|api_?key|private|credential|cookie|session|authorization"
)
_TEXT_PATTERNS = (
    re.compile(r"gAAAAA[A-Za-z0-9_=-]{20,}"),  # Fernet tokens
    re.compile(r"\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}"),  # bcrypt hashes
    re.compile(r"(?i)(Bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(/password_reset/)[A-Za-z0-9_-]+"),
)
_MIN_REGISTERED_LENGTH = 6
_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: object) -> None:
    """Remember a secret value (length >= 6) so free text containing it gets masked."""
    if isinstance(value, str) and len(value) >= _MIN_REGISTERED_LENGTH:
        with _lock:
            _registered.add(value)


def clear_registered() -> None:
    """Forget every registered value (tests: prove a process registers what it must by itself)."""
    with _lock:
        _registered.clear()


def register_secrets_in(mapping: Mapping[str, Any]) -> None:
    """Register every value of a mapping whose key names a secret."""
    for key, value in mapping.items():
        if SECRET_KEY_PATTERN.search(str(key)):
            register_secret(value)


# Field names the pattern would catch but that never hold a secret: a trading session id such as
# `20250715-OPEN`, the phase name of a log line, session counts and bounds.
NON_SECRET_KEYS = frozenset(
    {
        "session_id",
        "session",
        "sessions",
        "session_open_utc",
        "session_close_utc",
        "sessions_since_build",
        "early_close_session",
    }
)


def is_secret_key(key: str) -> bool:
    return key not in NON_SECRET_KEYS and bool(SECRET_KEY_PATTERN.search(key))


def redact_text(text: str) -> str:
    """Mask registered secrets, Fernet tokens, bcrypt hashes, bearer tokens and reset links."""
    with _lock:
        values = sorted(_registered, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    for pattern in _TEXT_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        else:
            text = pattern.sub(MASK, text)
    return text


def redact(value: Any) -> Any:
    """Return a redacted copy of a JSON-like structure; the input is never modified."""
    if isinstance(value, Mapping):
        return {
            key: (MASK if is_secret_key(str(key)) and item not in (None, "") else redact(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the final message and any `extra` mapping fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact_text(message)
        record.args = None
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            record.fields = redact(fields)
        return True
