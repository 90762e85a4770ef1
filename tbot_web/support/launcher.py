"""First-start preparation of a runtime home for the web (web_runtime §2.1, §4.7).

- `flask_secret.key` (cookie signing) is created here if missing; `create_app` refuses to start
  without it.
- While setup is incomplete (no user yet) a setup token of 32 random URL-safe bytes is written to
  `control/setup_token.txt` (0600) and shown once on the console; it is never logged. Only a request
  carrying it can run the first-run configuration or create the first admin.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import sqlite3
import sys
from dataclasses import dataclass
from typing import TextIO

from tbot_bot.config.fileio import (
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    atomic_write_text,
    ensure_dir,
)
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.core.database import connect
from tbot_bot.errors import ConfigError

SETUP_TOKEN_BYTES = 32


@dataclass(frozen=True)
class LaunchInfo:
    """What the launcher did: `new_setup_token` is set only when a token was just created."""

    flask_secret_created: bool
    setup_pending: bool
    new_setup_token: str | None


def has_users(paths: RuntimePaths) -> bool:
    """True once `SYSTEM_USERS.db` holds at least one account."""
    if not paths.core_db("SYSTEM_USERS.db").exists():
        return False
    try:
        with contextlib.closing(connect(paths, "SYSTEM_USERS.db", readonly=True)) as conn:
            return bool(conn.execute("SELECT EXISTS (SELECT 1 FROM system_users)").fetchone()[0])
    except (sqlite3.Error, ConfigError):
        return False


def ensure_flask_secret(paths: RuntimePaths) -> bool:
    """Create `flask_secret.key` if missing (validated if present); True if created."""
    return SecretsManager(paths).ensure_key("flask_secret")


def ensure_setup_token(paths: RuntimePaths) -> str | None:
    """Create the setup token while setup is incomplete; returns it only when newly created."""
    if has_users(paths) or paths.setup_token_file.exists():
        return None
    ensure_dir(paths.control_dir, PRIVATE_DIR_MODE)
    token = secrets.token_urlsafe(SETUP_TOKEN_BYTES)
    atomic_write_text(paths.setup_token_file, token + "\n", PRIVATE_FILE_MODE)
    return token


def read_setup_token(paths: RuntimePaths) -> str | None:
    try:
        value = paths.setup_token_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return value or None


def setup_token_matches(paths: RuntimePaths, supplied: str | None) -> bool:
    """Constant-time comparison with the stored token; False when there is none."""
    expected = read_setup_token(paths)
    if not expected or not supplied:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), supplied.strip().encode("utf-8"))


def delete_setup_token(paths: RuntimePaths) -> None:
    with contextlib.suppress(FileNotFoundError):
        paths.setup_token_file.unlink()


def prepare(paths: RuntimePaths) -> LaunchInfo:
    """Everything the web needs before `create_app`: secret key and, during setup, the token."""
    ensure_dir(paths.control_dir, PRIVATE_DIR_MODE)
    created = ensure_flask_secret(paths)
    token = ensure_setup_token(paths)
    return LaunchInfo(created, not has_users(paths), token)


def announce(info: LaunchInfo, paths: RuntimePaths, stream: TextIO | None = None) -> None:
    """Show a new setup token once on the console (it never goes to a log file)."""
    out = stream or sys.stdout
    if info.new_setup_token:
        out.write(
            "TradeBot first-run setup token (shown once; also in "
            f"{paths.setup_token_file}):\n\n    {info.new_setup_token}\n\n"
        )
    elif info.setup_pending:
        out.write(f"TradeBot setup is pending; the setup token is in {paths.setup_token_file}\n")
    out.flush()
