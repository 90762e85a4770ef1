"""Roles, permissions, passwords and login checks of the web UI (web_runtime §4.2-§4.4).

- The role/permission matrix is the one constant `ROLE_PERMISSIONS`.
- Passwords: bcrypt only (cost `BCRYPT_ROUNDS`, minimum 12), 12-72 bytes of UTF-8 (never truncated).
  `system_users.password_hash` stores the `$2b$` string Fernet-encrypted with `login.key`; checks
  decrypt with the keyring (current key, then the previous one) and run `bcrypt.checkpw`.
- Every login failure looks the same to the client; unknown, locked and inactive accounts still run
  `checkpw` against a dummy hash so timing does not tell them apart.
"""

from __future__ import annotations

import functools
import hmac
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

import bcrypt
from cryptography.fernet import InvalidToken, MultiFernet

from tbot_bot.clock import iso_utc, parse_iso_utc
from tbot_web.support.sql import query
from tbot_web.support.web_settings import WebSettings

ROLES: tuple[str, ...] = ("viewer", "analyst", "operator", "admin")
PERMISSIONS: tuple[str, ...] = (
    "view",
    "export",
    "settings.view",
    "bot.control",
    "bot.resume",
    "coa.edit",
    "settings.edit",
    "users.admin",
    "logs.security",
)
_VIEWER = frozenset({"view"})
_ANALYST = _VIEWER | {"export", "settings.view"}
_OPERATOR = _ANALYST | {"bot.control"}
# web_runtime §4.2: the whole matrix, in one place.
ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "viewer": _VIEWER,
        "analyst": _ANALYST,
        "operator": _OPERATOR,
        "admin": frozenset(PERMISSIONS),
    }
)

GENERIC_LOGIN_ERROR = "Invalid username or password."
MIN_PASSWORD_BYTES = 12
MAX_PASSWORD_BYTES = 72  # bcrypt's limit: longer input is refused, never silently truncated
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
EMAIL_PATTERN = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


def has_permission(role: str | None, permission: str) -> bool:
    """True if `role` grants `permission` (unknown roles grant nothing)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return role is not None and permission in ROLE_PERMISSIONS.get(role, frozenset())


def role_rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


# -- passwords ------------------------------------------------------------------------------------
def password_problems(password: str, *, username: str = "", email: str = "") -> list[str]:
    """Policy of §4.3; returns human-readable problems (never echoing the password)."""
    size = len(password.encode("utf-8"))
    problems: list[str] = []
    if size < MIN_PASSWORD_BYTES:
        problems.append(f"Password must be at least {MIN_PASSWORD_BYTES} bytes long.")
    if size > MAX_PASSWORD_BYTES:
        problems.append(f"Password must be at most {MAX_PASSWORD_BYTES} bytes (UTF-8).")
    lowered = password.casefold()
    if username and lowered == username.casefold():
        problems.append("Password must not equal the username.")
    if email and lowered == email.casefold():
        problems.append("Password must not equal the email address.")
    return problems


def hash_password(password: str, rounds: int) -> str:
    """A bcrypt `$2b$` hash; refuses over-long input instead of truncating it."""
    raw = password.encode("utf-8")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password longer than {MAX_PASSWORD_BYTES} bytes")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds=rounds, prefix=b"2b")).decode("ascii")


def seal_hash(bcrypt_hash: str, ring: MultiFernet) -> str:
    """Encrypt a bcrypt hash with login.key (the value stored in `password_hash`)."""
    return ring.encrypt(bcrypt_hash.encode("ascii")).decode("ascii")


def open_hash(stored: str, ring: MultiFernet) -> bytes | None:
    """Decrypt a stored `password_hash` with the keyring; None if no key of the ring opens it."""
    try:
        return ring.decrypt(stored.encode("ascii"))
    except (InvalidToken, ValueError):
        return None


def hash_cost(bcrypt_hash: bytes) -> int:
    """The cost factor of a `$2b$NN$...` hash (0 if it cannot be read)."""
    match = re.match(rb"^\$2[aby]\$(\d{2})\$", bcrypt_hash)
    return int(match.group(1)) if match else 0


def new_password_record(password: str, ring: MultiFernet, rounds: int) -> str:
    """Hash and seal a new password in one step."""
    return seal_hash(hash_password(password, rounds), ring)


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"tbot-dummy-password-for-timing", bcrypt.gensalt(rounds=rounds))


def _checkpw(password: str, hashed: bytes) -> bool:
    raw = password.encode("utf-8")
    too_long = len(raw) > MAX_PASSWORD_BYTES
    # Over-long input can never match (it could not have been stored); still spend the same time.
    matched = bcrypt.checkpw(raw[:MAX_PASSWORD_BYTES], hashed)
    return matched and not too_long


def dummy_check(password: str, rounds: int) -> None:
    """Spend one `checkpw` so unknown/locked/inactive accounts take as long as real ones."""
    _checkpw(password, _dummy_hash(max(rounds, 4)))


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


# -- login ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoginResult:
    """Outcome of one login attempt; only `user` (on success) may reach the client."""

    user: sqlite3.Row | None
    reason: str  # ok | unknown_user | bad_password | locked | inactive | undecryptable
    locked_now: bool = False
    auto_unlocked: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None


def _lock_expired(user: sqlite3.Row, now: datetime) -> bool:
    until = user["locked_until"]
    if not until:
        return False
    try:
        return parse_iso_utc(until) <= now
    except ValueError:
        return False


def authenticate(
    conn: sqlite3.Connection,
    ring: MultiFernet,
    username: str,
    password: str,
    *,
    now: datetime,
    settings: WebSettings,
    rounds: int,
    ip: str,
) -> LoginResult:
    """Check a login; updates counters, lock and last-login fields. Never raises on bad input."""
    user = conn.execute(query("users.by_username"), {"username": username.strip()}).fetchone()
    if user is None:
        dummy_check(password, rounds)
        return LoginResult(None, "unknown_user")
    auto_unlocked = False
    if user["account_status"] == "locked" and _lock_expired(user, now):
        conn.execute(
            query("users.unlock_user"), {"id": user["id"], "now": iso_utc(now), "actor": "lockout"}
        )
        user = conn.execute(query("users.by_id"), {"id": user["id"]}).fetchone()
        auto_unlocked = True
    if user["account_status"] != "active":
        dummy_check(password, rounds)
        return LoginResult(None, str(user["account_status"]), auto_unlocked=auto_unlocked)
    hashed = open_hash(user["password_hash"], ring)
    if hashed is None:
        dummy_check(password, rounds)
        return LoginResult(None, "undecryptable", auto_unlocked=auto_unlocked)
    if not _checkpw(password, hashed):
        return _record_failure(conn, user, now, settings, auto_unlocked)
    conn.execute(query("users.login_success"), {"id": user["id"], "now": iso_utc(now), "ip": ip})
    if hash_cost(hashed) < rounds:
        # Re-hash at login when the stored cost is below the configured one (§4.3).
        record = new_password_record(password, ring, rounds)
        conn.execute(query("users.rehash_password"), {"id": user["id"], "password_hash": record})
    fresh = conn.execute(query("users.by_id"), {"id": user["id"]}).fetchone()
    return LoginResult(fresh, "ok", auto_unlocked=auto_unlocked)


def _record_failure(
    conn: sqlite3.Connection,
    user: sqlite3.Row,
    now: datetime,
    settings: WebSettings,
    auto_unlocked: bool,
) -> LoginResult:
    row = conn.execute(query("users.record_failure"), {"id": user["id"]}).fetchone()
    failures = int(row[0]) if row else 0
    if failures >= settings.login_attempt_limit:
        until = now + timedelta(minutes=settings.login_lockout_minutes)
        conn.execute(
            query("users.lock_user"),
            {"id": user["id"], "until": iso_utc(until), "now": iso_utc(now), "actor": "lockout"},
        )
        return LoginResult(None, "bad_password", locked_now=True, auto_unlocked=auto_unlocked)
    return LoginResult(None, "bad_password", auto_unlocked=auto_unlocked)


def verify_password(user: sqlite3.Row, password: str, ring: MultiFernet) -> bool:
    """Check a user's current password (password and email changes require it)."""
    hashed = open_hash(user["password_hash"], ring)
    if hashed is None:
        return False
    return _checkpw(password, hashed)
