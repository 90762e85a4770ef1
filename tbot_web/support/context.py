"""Per-app context (runtime home, clock, secrets, limiter) and per-request database connections."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from flask import current_app, g

from tbot_bot.clock import Clock
from tbot_bot.config.identity import BotIdentity, NetworkConfig
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.core.database import connect
from tbot_bot.errors import ConfigError, StateError
from tbot_bot.runtime.bot_state_manager import BotStateManager
from tbot_web.support.rate_limit import RateLimiter
from tbot_web.support.web_settings import WebSettings, load_web_settings

logger = logging.getLogger(__name__)

EXTENSION_KEY = "tbot"
T = TypeVar("T")
Mailer = Callable[[dict[str, Any], str, str, str], None]


@dataclass
class WebContext:
    """Everything a request needs about its runtime home, built once by `create_app`."""

    paths: RuntimePaths
    clock: Clock
    secrets: SecretsManager
    limiter: RateLimiter
    testing: bool = False
    # Test-only bcrypt cost (create_app refuses it unless testing=True); production reads
    # BCRYPT_ROUNDS (minimum 12) from .env_bot.
    bcrypt_rounds_override: int | None = None
    mailer: Mailer | None = None
    # Background reset-mail senders (kept so tests and shutdown can wait for them).
    mail_threads: list[threading.Thread] = field(default_factory=list)
    _identity: str | None = field(default=None, repr=False)
    _identity_failed_stamp: tuple[int, int] | None = field(default=None, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _cache: dict[str, tuple[tuple[int, int, int] | None, Any]] = field(
        default_factory=dict, repr=False
    )

    def now(self) -> datetime:
        return self.clock.now_utc()

    def cached(self, name: str, path: Path, loader: Callable[[], T]) -> T:
        """`loader()`'s value, recomputed only when `path` changes (mtime, size, inode).

        Status and secret files are rewritten atomically (a new inode each time), so a changed
        file is always noticed; this keeps decrypting and parsing off the per-request path.
        """
        try:
            st = path.stat()
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        hit = self._cache.get(name)
        if hit is not None and hit[0] == stamp:
            value: T = hit[1]
            return value
        fresh = loader()
        self._cache[name] = (stamp, fresh)
        return fresh

    def settings(self) -> WebSettings:
        return self.cached(
            "settings", self.paths.secret_file("env"), lambda: load_web_settings(self.secrets)
        )

    def bcrypt_rounds(self) -> int:
        if self.bcrypt_rounds_override is not None:
            return self.bcrypt_rounds_override
        return self.settings().bcrypt_rounds

    def state_manager(self) -> BotStateManager:
        return BotStateManager(self.paths, clock=self.clock, identity=self.identity_string())

    def bot_state(self) -> str:
        """The current `bot_state`; an unreadable token reads as `error` (shown, never guessed)."""
        try:
            return self.state_manager().get_state()
        except StateError as exc:
            logger.error("bot_state unreadable: %s", exc)
            return "error"

    def identity_string(self) -> str | None:
        """`{ID}` once `bot_identity.json.enc` exists and decrypts; None before setup.

        A failed read is remembered until the file changes, so log lines never pay the secrets
        manager's retry delay again and again.
        """
        if self._identity is not None:
            return self._identity
        path = self.paths.secret_file("bot_identity")
        try:
            stat = path.stat()
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        if not path.is_file() or stamp == self._identity_failed_stamp:
            return None
        try:
            self._identity = BotIdentity.from_record(self.secrets.load("bot_identity")).string
        except ConfigError:
            self._identity_failed_stamp = stamp
        return self._identity

    def connection(self, name: str) -> sqlite3.Connection:
        """This thread's connection to core database `name` (waitress threads are long-lived).

        Reused across requests; reopened if the file was replaced (a restored backup).
        """
        cache: dict[str, tuple[sqlite3.Connection, int]] = self._local.__dict__.setdefault(
            "connections", {}
        )
        path = self.paths.core_db(name)
        try:
            inode = path.stat().st_ino
        except FileNotFoundError:
            inode = -1
        entry = cache.get(name)
        if entry is not None and entry[1] == inode:
            return entry[0]
        if entry is not None:
            with contextlib.suppress(sqlite3.Error):
                entry[0].close()
        conn = connect(self.paths, name)
        cache[name] = (conn, inode)
        return conn

    def network(self) -> NetworkConfig | None:
        """The network config once provisioned and valid; None otherwise."""
        return self.cached("network", self.paths.secret_file("network_config"), self._load_network)

    def _load_network(self) -> NetworkConfig | None:
        if not self.secrets.has_secret("network_config"):
            return None
        try:
            return NetworkConfig.from_record(self.secrets.load("network_config"))
        except ConfigError as exc:
            logger.warning("network_config unreadable: %s", exc)
            return None


def ctx() -> WebContext:
    """The context of the current app."""
    context: WebContext = current_app.extensions[EXTENSION_KEY]
    return context


def db(name: str) -> sqlite3.Connection:
    """This thread's connection to core database `name` (see `WebContext.connection`)."""
    conn = ctx().connection(name)
    g.setdefault("_tbot_dbs", set()).add(name)
    return conn


def close_dbs(_exc: BaseException | None = None) -> None:
    """Teardown: never leave a transaction open on a reused connection."""
    for name in g.pop("_tbot_dbs", set()):
        conn = ctx().connection(name)
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.rollback()


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Any:
    """`BEGIN IMMEDIATE` ... `COMMIT` (rollback on any error); the connection is in autocommit."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
