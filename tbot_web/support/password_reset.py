"""Password-reset tokens (web_runtime §4.8).

A token is 32 random URL-safe bytes; only its SHA-256 hex digest is stored. Tokens are single use,
valid for 30 minutes, and a user has at most 3 live ones (creating a fourth invalidates the oldest).
Use is one conditional `UPDATE ... RETURNING`, so two concurrent requests can never both succeed.

`system_users.id` may be reused after a deletion, so a token is bound to the account it was made
for: deleting a user, changing their status or email invalidates their tokens, and a token older
than the account it points at (ids reused) is refused (`token_user`).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from datetime import datetime, timedelta

from tbot_bot.clock import iso_utc, parse_iso_utc
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


def token_user(
    tokens: sqlite3.Connection, users: sqlite3.Connection, token: str, now: datetime
) -> sqlite3.Row | None:
    """The account a live token was made for, without using the token; None otherwise.

    A token created before the account it names cannot be that account's: its owner was deleted
    and the id reused. Such a token is refused whatever the user id says. Read-only (GET uses it).
    """
    row = tokens.execute(
        query("reset_tokens.peek"), {"token_hash": token_hash(token), "now": iso_utc(now)}
    ).fetchone()
    if row is None:
        return None
    user: sqlite3.Row | None = users.execute(
        query("users.by_id"), {"id": int(row["user_id"])}
    ).fetchone()
    if user is None:
        return None
    try:
        bound = parse_iso_utc(str(row["created_at"])) >= parse_iso_utc(str(user["created_at"]))
    except ValueError:
        bound = False
    return user if bound else None


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
    """Invalidate every live token of a user (after a reset; on deletion, status/email change)."""
    rows = conn.execute(
        query("reset_tokens.invalidate_user_tokens"), {"user_id": user_id, "now": iso_utc(now)}
    ).fetchall()
    for row in rows:
        _audit(conn, int(row["id"]), "invalidated", now, ip)
    return len(rows)
