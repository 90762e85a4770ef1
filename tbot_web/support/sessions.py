"""Server-side sessions in `SYSTEM_USERS.db:user_sessions` (web_runtime §4.5).

Login creates `secrets.token_urlsafe(32)`; the database stores only `HMAC-SHA256(login.key, token)`,
so a copy of the database does not hand out live sessions, and rotating `login.key` ends every
session. The cookie `tbot_session` carries the token signed with `flask_secret.key`. Session data
(CSRF token, flash messages) lives in the row, never in the cookie.

Idle timeout `SESSION_TIMEOUT_MINUTES`, absolute limit `SESSION_MAX_HOURS`; `last_seen_at` is
written at most once a minute.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tbot_bot.clock import iso_utc, parse_iso_utc
from tbot_web.support.sql import query
from tbot_web.support.web_settings import WebSettings

TOUCH_INTERVAL = timedelta(minutes=1)
TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str, key: bytes) -> str:
    """HMAC-SHA256 of a session token under the current login.key (hex)."""
    return hmac.new(key, token.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass
class WebSession:
    """One active session row as the request sees it."""

    row_id: int
    user_id: int
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    modified: bool = False

    def flash(self, message: str, category: str = "info") -> None:
        self.data.setdefault("flashes", []).append([category, message])
        self.modified = True

    def pop_flashes(self) -> list[tuple[str, str]]:
        flashes = self.data.pop("flashes", [])
        if flashes:
            self.modified = True
        return [(str(cat), str(msg)) for cat, msg in flashes]


@dataclass(frozen=True)
class LoadResult:
    """`session` when the token maps to a live session; `expired_row` when it just lapsed."""

    session: WebSession | None
    expired_row: sqlite3.Row | None = None


class SessionStore:
    """Session rows of one request (connection, HMAC key, clock reading, settings)."""

    def __init__(
        self, conn: sqlite3.Connection, hmac_key: bytes, now: datetime, settings: WebSettings
    ) -> None:
        self.conn = conn
        self.key = hmac_key
        self.now = now
        self.settings = settings

    def create(self, user_id: int, ip: str, user_agent: str | None) -> tuple[WebSession, str]:
        """A fresh session with a new CSRF token; returns it with the (only) copy of its token."""
        token = new_token()
        csrf = new_token()
        expires = self.now + timedelta(hours=self.settings.session_max_hours)
        cursor = self.conn.execute(
            query("sessions.insert_session"),
            {
                "user_id": user_id,
                "token_hash": token_digest(token, self.key),
                "csrf_token": csrf,
                "now": iso_utc(self.now),
                "expires_at": iso_utc(expires),
                "ip": ip,
                "user_agent": user_agent,
            },
        )
        row_id = int(cursor.lastrowid or 0)
        return WebSession(row_id, user_id, csrf, self.now, self.now), token

    def load(self, token: str) -> LoadResult:
        """Find the live session of `token`; lapsed sessions are marked `expired` here."""
        row = self.conn.execute(
            query("sessions.by_token_hash"), {"token_hash": token_digest(token, self.key)}
        ).fetchone()
        if row is None:
            return LoadResult(None)
        created = parse_iso_utc(row["created_at"])
        last_seen = parse_iso_utc(row["last_seen_at"])
        idle_limit = last_seen + timedelta(minutes=self.settings.session_timeout_minutes)
        absolute_limit = min(
            parse_iso_utc(row["expires_at"]),
            created + timedelta(hours=self.settings.session_max_hours),
        )
        if self.now >= idle_limit or self.now >= absolute_limit:
            self.end(int(row["id"]), "expired", "idle" if self.now >= idle_limit else "absolute")
            return LoadResult(None, expired_row=row)
        try:
            data = json.loads(row["data"] or "{}")
        except json.JSONDecodeError:
            data = {}
        session = WebSession(
            int(row["id"]), int(row["user_id"]), str(row["csrf_token"]), created, last_seen, data
        )
        if self.now - last_seen >= TOUCH_INTERVAL:
            self.conn.execute(
                query("sessions.touch"), {"id": session.row_id, "now": iso_utc(self.now)}
            )
            session.last_seen_at = self.now
        return LoadResult(session)

    def save_data(self, session: WebSession) -> None:
        self.conn.execute(
            query("sessions.save_data"), {"id": session.row_id, "data": json.dumps(session.data)}
        )
        session.modified = False

    def rotate(self, session: WebSession) -> str:
        """New token and CSRF token for the same row (after a password change); returns token."""
        token = new_token()
        session.csrf_token = new_token()
        self.conn.execute(
            query("sessions.rotate_token"),
            {
                "id": session.row_id,
                "token_hash": token_digest(token, self.key),
                "csrf_token": session.csrf_token,
            },
        )
        return token

    def end(self, row_id: int, status: str, reason: str) -> None:
        self.conn.execute(
            query("sessions.end_session"), {"id": row_id, "status": status, "reason": reason}
        )


def end_user_sessions(
    conn: sqlite3.Connection, user_id: int, reason: str, *, keep_id: int | None = None
) -> int:
    """Terminate every active session of a user (except `keep_id`); returns how many ended."""
    cursor = conn.execute(
        query("sessions.end_user_sessions"),
        {"user_id": user_id, "reason": reason, "keep_id": keep_id if keep_id is not None else -1},
    )
    return int(cursor.rowcount)


def end_all_sessions(conn: sqlite3.Connection, reason: str) -> int:
    """Terminate every active session (login.key or flask_secret.key rotation)."""
    return int(conn.execute(query("sessions.end_all_sessions"), {"reason": reason}).rowcount)
