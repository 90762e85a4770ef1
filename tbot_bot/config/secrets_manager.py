"""The only code that reads or writes keys and encrypted secrets (web_runtime §6).

One Fernet key per purpose under `storage/keys/` (0600), one encrypted JSON file per purpose under
`storage/secrets/` (0600). Keys are created only by provisioning (`ensure_key`), never on read: a
missing or malformed key is a `ConfigError` naming the file. Plaintext never touches the disk.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tbot_bot.config.fileio import (
    PRIVATE_DIR_MODE,
    atomic_write_bytes,
    ensure_dir,
    read_private_bytes,
)
from tbot_bot.config.path_resolver import KEY_CATEGORIES, SECRET_FILES, RuntimePaths
from tbot_bot.config.redact import register_secret, register_secrets_in
from tbot_bot.errors import ConfigError

# login.key is a keyring: current key first, optionally the previous one (web_runtime §4.3).
KEYRING_CATEGORIES = frozenset({"login"})
# Rotated by `rotate all` only with --include-session-keys (they end every session).
SESSION_KEY_CATEGORIES = frozenset({"login", "flask_secret"})
# Values that do not match the redactor's key pattern but must never appear in a log either.
SENSITIVE_NON_PATTERN_KEYS = frozenset({"BROKER_ACCOUNT_NUMBER", "SMTP_USER", "ACCT_API_URL"})
DECRYPT_RETRIES = 3
DECRYPT_RETRY_DELAY_S = 0.2


def canonical_json(data: Any) -> bytes:
    """The one JSON encoding of secrets: sorted keys, compact, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def new_key_material() -> bytes:
    """32 random bytes as 44-char URL-safe base64 (Fernet format)."""
    return Fernet.generate_key()


def parse_key_file(raw: bytes, path: Path, *, keyring: bool) -> list[bytes]:
    """Validate key-file content; a keyring may hold two keys (current first)."""
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    limit = 2 if keyring else 1
    if not lines or len(lines) > limit:
        raise ConfigError(
            f"key file {path} is malformed: expected {'1-2 lines' if keyring else 'one line'} "
            f"of 44-character URL-safe base64, found {len(lines)} line(s)"
        )
    for line in lines:
        try:
            decoded = base64.urlsafe_b64decode(line)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(line) != 44 or len(decoded) != 32:
            raise ConfigError(
                f"key file {path} is malformed: expected 44-character URL-safe base64 of 32 bytes"
            )
    return lines


@dataclass
class _CacheEntry:
    stamp: tuple[int, int]
    data: dict[str, Any] = field(default_factory=dict)


class SecretsManager:
    """Keys and encrypted secrets of one runtime home."""

    def __init__(self, paths: RuntimePaths) -> None:
        self.paths = paths
        self._cache: dict[str, _CacheEntry] = {}

    # -- keys ----------------------------------------------------------------------------------
    def key_exists(self, category: str) -> bool:
        return self.paths.key_file(category).exists()

    def ensure_key(self, category: str) -> bool:
        """Provisioning only: create the key if missing. Returns True if a key was created.

        An existing key is validated and reused, never replaced (web_runtime §2.3 step 4).
        """
        path = self.paths.key_file(category)
        ensure_dir(self.paths.keys_dir, PRIVATE_DIR_MODE)
        if path.exists():
            self.read_keys(category)
            return False
        atomic_write_bytes(path, new_key_material() + b"\n")
        return True

    def read_keys(self, category: str) -> list[bytes]:
        """The key material of a category (a keyring has up to two keys, current first)."""
        path = self.paths.key_file(category)
        raw = read_private_bytes(path, f"key file for {category!r}")
        return parse_key_file(raw, path, keyring=category in KEYRING_CATEGORIES)

    def fernet(self, category: str) -> MultiFernet:
        """Encrypt with the current key; decrypt with any key of the ring."""
        return MultiFernet([Fernet(key) for key in self.read_keys(category)])

    def hmac_key(self, category: str) -> bytes:
        """Raw bytes of the current key, for HMAC digests (session tokens use login.key)."""
        return base64.urlsafe_b64decode(self.read_keys(category)[0])

    # -- secrets -------------------------------------------------------------------------------
    def has_secret(self, category: str) -> bool:
        return self.paths.secret_file(category).exists()

    def save(self, category: str, data: dict[str, Any]) -> None:
        """Encrypt `data` with the category's key and replace the secret file atomically."""
        if not isinstance(data, dict):
            raise ConfigError(f"secret {category!r} must be a JSON object")
        token = self.fernet(category).encrypt(canonical_json(data))
        ensure_dir(self.paths.secrets_dir, PRIVATE_DIR_MODE)
        atomic_write_bytes(self.paths.secret_file(category), token)
        self._cache.pop(category, None)
        register_secrets_in(data)

    def load(self, category: str) -> dict[str, Any]:
        """Check modes, decrypt, parse; cached by mtime; values registered with the redactor.

        `InvalidToken` is retried a few times: a concurrent rotation may be committing.
        """
        path = self.paths.secret_file(category)
        if not path.exists():
            raise ConfigError(
                f"secret file for {category!r} is missing: {path} (run the configuration "
                "page or `tbot demo` to provision this home)"
            )
        for attempt in range(DECRYPT_RETRIES + 1):
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = self._cache.get(category)
            if cached and cached.stamp == stamp:
                return dict(cached.data)
            try:
                data = self.decrypt_file(category, path)
            except ConfigError:
                if attempt == DECRYPT_RETRIES:
                    raise
                time.sleep(DECRYPT_RETRY_DELAY_S)
                continue
            self._cache[category] = _CacheEntry(stamp, data)
            register_secrets_in(data)
            for key in SENSITIVE_NON_PATTERN_KEYS & set(data):
                register_secret(data[key])
            return dict(data)
        raise AssertionError("unreachable")  # pragma: no cover

    def decrypt_file(
        self, category: str, path: Path, keys: list[bytes] | None = None
    ) -> dict[str, Any]:
        """Decrypt one secret file (with explicit keys during rotation); no caching."""
        ring = MultiFernet([Fernet(key) for key in (keys or self.read_keys(category))])
        token = read_private_bytes(path, f"secret file for {category!r}")
        key_name = self.paths.key_file(category).name
        try:
            plaintext = ring.decrypt(token)
        except InvalidToken as exc:
            raise ConfigError(
                f"secret file {path} cannot be decrypted with {key_name}: wrong key, "
                "tampered or truncated file"
            ) from exc
        try:
            data = json.loads(plaintext)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"secret file {path} decrypted but is not valid JSON") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"secret file {path} must hold a JSON object")
        return data

    def verify_all(self) -> list[str]:
        """Every present secret decrypts with its key; returns the problems found."""
        problems: list[str] = []
        for category in KEY_CATEGORIES:
            if self.key_exists(category):
                try:
                    self.read_keys(category)
                except ConfigError as exc:
                    problems.append(str(exc))
        for category in SECRET_FILES:
            if self.has_secret(category):
                try:
                    self.decrypt_file(category, self.paths.secret_file(category))
                except ConfigError as exc:
                    problems.append(str(exc))
        return problems
