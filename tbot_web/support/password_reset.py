"""Password-reset tokens (web_runtime §4.8).

A token is 32 random URL-safe bytes; only its SHA-256 hex digest is stored. Tokens are single use,
valid for 30 minutes, and a user has at most 3 live ones (creating a fourth invalidates the oldest).
Use is one conditional `UPDATE ... RETURNING`, so two concurrent requests can never both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from datetime import datetime, timedelta

from tbot_bot.clock import iso_utc
from tbot_web.support.sql import query

TOKEN_TTL = timedelta(minutes=30)
MAX_LIVE_TOKENS = 3
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _audit(
    conn: sqlite3.Connection, token_id: int | None, action: str, now: datetime, ip: str
) -> None:
    conn.execute(
        query("reset_tokens.insert_audit"),
        {"token_id": token_id, "action": action, "now": iso_utc(now), "ip": ip},
    )


def create_token(
    conn: sqlite3.Connection,
    user_id: int,
    *,
    token_type: str,
    now: datetime,
    ip: str,
    user_agent: str | None,
    created_by: str | None,
) -> str:
    """Store a new token's hash and return the token (its only copy)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    conn.execute("BEGIN IMMEDIATE")
    try:
        cursor = conn.execute(
            query("reset_tokens.insert_token"),
            {
                "user_id": user_id,
                "token_hash": token_hash(token),
                "token_type": token_type,
                "now": iso_utc(now),
                "expires_at": iso_utc(now + TOKEN_TTL),
                "ip": ip,
                "user_agent": user_agent,
                "created_by": created_by,
            },
        )
        _audit(conn, cursor.lastrowid, "generated", now, ip)
        live = conn.execute(
            query("reset_tokens.live_tokens"), {"user_id": user_id, "now": iso_utc(now)}
        ).fetchall()
        for row in live[MAX_LIVE_TOKENS:]:
            conn.execute(
                query("reset_tokens.invalidate_token"), {"id": row["id"], "now": iso_utc(now)}
            )
            _audit(conn, int(row["id"]), "invalidated", now, ip)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return token


def token_owner(conn: sqlite3.Connection, token: str, now: datetime) -> int | None:
    """The user id of a live token without using it (None if not live)."""
    row = conn.execute(
        query("reset_tokens.peek"), {"token_hash": token_hash(token), "now": iso_utc(now)}
    ).fetchone()
    return int(row["user_id"]) if row is not None else None


def is_live(conn: sqlite3.Connection, token: str, now: datetime) -> bool:
    return token_owner(conn, token, now) is not None


def consume_token(conn: sqlite3.Connection, token: str, *, now: datetime, ip: str) -> int | None:
    """Mark the token used if it is live; returns its user id, or None (generic failure)."""
    digest = token_hash(token)
    row = conn.execute(
        query("reset_tokens.consume"), {"token_hash": digest, "now": iso_utc(now)}
    ).fetchone()
    if row is None:
        known = conn.execute(query("reset_tokens.by_hash"), {"token_hash": digest}).fetchone()
        if known is not None:
            expired = known["used_at"] is None and known["invalidated_at"] is None
            _audit(conn, int(known["id"]), "expired" if expired else "rejected", now, ip)
        return None
    _audit(conn, int(row["id"]), "used", now, ip)
    return int(row["user_id"])


def invalidate_user_tokens(
    conn: sqlite3.Connection, user_id: int, *, now: datetime, ip: str
) -> int:
    """Invalidate every live token of a user (after a successful reset)."""
    rows = conn.execute(
        query("reset_tokens.invalidate_user_tokens"), {"user_id": user_id, "now": iso_utc(now)}
    ).fetchall()
    for row in rows:
        _audit(conn, int(row["id"]), "invalidated", now, ip)
    return len(rows)
