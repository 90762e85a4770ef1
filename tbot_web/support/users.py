"""User lifecycle on `SYSTEM_USERS.db` (web_runtime §2.4, §3 users/account pages, §4.3-§4.5).

Every change writes a `user_audit_trails` row (no secrets), a `system_users.log` line and a
`system_logs` row. Role changes, deactivation, locking, deletion and password changes end the
affected sessions, as §4.5 requires. Deletion and status or email changes also invalidate the
user's password-reset tokens (`tokens` = `PASSWORD_RESET_TOKENS.db`): a token must never outlive the
account state it was issued for, nor reach an account that later gets the same id.

The last-active-admin rule is checked inside the same `BEGIN IMMEDIATE` transaction as the change,
with a fresh count, so two admins demoting each other at once cannot leave zero admins.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.fernet import MultiFernet

from tbot_bot.clock import iso_utc
from tbot_web.support import events
from tbot_web.support.auth_web import (
    EMAIL_PATTERN,
    ROLES,
    USERNAME_PATTERN,
    new_password_record,
    password_problems,
)
from tbot_web.support.context import transaction
from tbot_web.support.password_reset import invalidate_user_tokens
from tbot_web.support.sessions import end_user_sessions
from tbot_web.support.sql import query

STATUSES = ("active", "inactive", "locked")


class UserError(Exception):
    """A user change was refused; `problems` are safe to show (no secrets)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Actor:
    """Who performs a change, from where, when."""

    name: str
    ip: str
    now: datetime


def _audit(
    conn: sqlite3.Connection, user_id: int | None, action: str, actor: Actor, **details: Any
) -> None:
    conn.execute(
        query("users.insert_audit"),
        {
            "user_id": user_id,
            "action": action,
            "details": json.dumps(details, default=str),
            "performed_by": actor.name,
            "now": iso_utc(actor.now),
            "ip": actor.ip,
        },
    )


def _event(event: str, message: str, **extra: Any) -> None:
    events.security_event(
        event,
        message,
        log_name="system_users.log",
        log_type="audit",
        module="tbot_web.users",
        **extra,
    )


def validate_identity(username: str, email: str) -> list[str]:
    problems = []
    if not USERNAME_PATTERN.fullmatch(username):
        problems.append("Username must be 3-32 characters: letters, digits, '_', '.', '-'.")
    if not EMAIL_PATTERN.fullmatch(email) or len(email) > 254:
        problems.append("Email address is not valid.")
    return problems


def _new_user_problems(
    conn: sqlite3.Connection, username: str, email: str, password: str, confirm: str
) -> list[str]:
    problems = validate_identity(username, email)
    problems += password_problems(password, username=username, email=email)
    if password != confirm:
        problems.append("Passwords do not match.")
    if conn.execute(query("users.by_username"), {"username": username}).fetchone():
        problems.append("That username is taken.")
    if conn.execute(query("users.by_email"), {"email": email}).fetchone():
        problems.append("That email address is already in use.")
    return problems


def create_first_admin(
    conn: sqlite3.Connection,
    *,
    username: str,
    email: str,
    password: str,
    confirm: str,
    ring: MultiFernet,
    rounds: int,
    actor: Actor,
) -> int | None:
    """Insert the first user as admin in one `BEGIN IMMEDIATE`; None if any user exists."""
    problems = validate_identity(username, email) + password_problems(
        password, username=username, email=email
    )
    if password != confirm:
        problems.append("Passwords do not match.")
    if problems:
        raise UserError(problems)
    record = new_password_record(password, ring, rounds)  # slow: done before taking the lock
    conn.execute("BEGIN IMMEDIATE")
    try:
        cursor = conn.execute(
            query("users.insert_first_admin"),
            {
                "username": username,
                "email": email,
                "password_hash": record,
                "now": iso_utc(actor.now),
            },
        )
        if cursor.rowcount != 1:
            conn.execute("ROLLBACK")
            return None
        user_id = int(cursor.lastrowid or 0)
        _audit(conn, user_id, "create", actor, role="admin", first_admin=True)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    _event("user_created", f"first admin {username} created", username=actor.name, role="admin")
    return user_id


def create_user(
    conn: sqlite3.Connection,
    *,
    username: str,
    email: str,
    password: str,
    confirm: str,
    role: str,
    ring: MultiFernet,
    rounds: int,
    actor: Actor,
    tokens: sqlite3.Connection,
) -> int:
    """Admin creates an account (any role).

    Ids are reused after a deletion, so any token still pointing at the new id (left by an older
    release that did not invalidate on delete) is invalidated before anyone could use it.
    """
    problems = _new_user_problems(conn, username, email, password, confirm)
    if role not in ROLES:
        problems.append(f"Role must be one of: {', '.join(ROLES)}.")
    if problems:
        raise UserError(problems)
    record = new_password_record(password, ring, rounds)
    cursor = conn.execute(
        query("users.insert_user"),
        {
            "username": username,
            "email": email,
            "password_hash": record,
            "role": role,
            "now": iso_utc(actor.now),
            "actor": actor.name,
        },
    )
    user_id = int(cursor.lastrowid or 0)
    invalidate_user_tokens(tokens, user_id, now=actor.now, ip=actor.ip)
    _audit(conn, user_id, "create", actor, role=role)
    _event("user_created", f"user {username} created with role {role}", target=username, role=role)
    return user_id


def get_user(conn: sqlite3.Connection, user_id: int) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(query("users.by_id"), {"id": user_id}).fetchone()
    return row


def active_admins(conn: sqlite3.Connection) -> int:
    return int(conn.execute(query("users.count_active_admins")).fetchone()[0])


def update_user(
    conn: sqlite3.Connection,
    user: sqlite3.Row,
    *,
    email: str,
    role: str,
    status: str,
    actor: Actor,
    tokens: sqlite3.Connection,
) -> list[str]:
    """Admin edit of email / role / status; returns what changed. Ends sessions when required."""
    problems = validate_identity(str(user["username"]), email)
    if role not in ROLES:
        problems.append(f"Role must be one of: {', '.join(ROLES)}.")
    if status not in STATUSES:
        problems.append(f"Status must be one of: {', '.join(STATUSES)}.")
    if problems:
        raise UserError(problems)
    with transaction(conn):
        current = _fresh(conn, user)
        other = conn.execute(query("users.by_email"), {"email": email}).fetchone()
        if other is not None and int(other["id"]) != int(current["id"]):
            problems.append("That email address is already in use.")
        losing_admin = (
            current["role"] == "admin"
            and current["account_status"] == "active"
            and (role != "admin" or status != "active")
        )
        if losing_admin and active_admins(conn) <= 1:  # counted inside the write lock
            problems.append("The last active admin cannot be demoted or deactivated.")
        if problems:
            raise UserError(problems)
        if (
            status != current["account_status"]
            or email.casefold() != str(current["email"]).casefold()
        ):
            invalidate_user_tokens(tokens, int(current["id"]), now=actor.now, ip=actor.ip)
        conn.execute(
            query("users.update_profile"),
            {
                "id": current["id"],
                "email": email,
                "role": role,
                "account_status": status,
                "now": iso_utc(actor.now),
                "actor": actor.name,
            },
        )
        changed = _record_changes(conn, current, email=email, role=role, status=status, actor=actor)
        if {"role", "status"} & set(changed):
            end_user_sessions(conn, int(current["id"]), "role_or_status_change")
    return changed


def _fresh(conn: sqlite3.Connection, user: sqlite3.Row) -> sqlite3.Row:
    """The user's row as it is now, inside the caller's transaction (it may have changed)."""
    current = get_user(conn, int(user["id"]))
    if current is None:
        raise UserError([f"User {user['username']} no longer exists."])
    return current


def _record_changes(
    conn: sqlite3.Connection, user: sqlite3.Row, *, email: str, role: str, status: str, actor: Actor
) -> list[str]:
    changed: list[str] = []
    target = str(user["username"])
    if email.casefold() != str(user["email"]).casefold():
        changed.append("email")
        _audit(conn, int(user["id"]), "update", actor, field="email")
        _event("user_updated", f"user {target} email changed", target=target)
    if role != user["role"]:
        changed.append("role")
        _audit(conn, int(user["id"]), "role_change", actor, old=user["role"], new=role)
        _event("role_changed", f"user {target} role {user['role']} -> {role}", target=target)
    if status != user["account_status"]:
        changed.append("status")
        _audit(
            conn, int(user["id"]), "status_change", actor, old=user["account_status"], new=status
        )
        _event("user_updated", f"user {target} status -> {status}", target=target)
    return changed


def unlock_user(
    conn: sqlite3.Connection, user: sqlite3.Row, actor: Actor, *, tokens: sqlite3.Connection
) -> bool:
    cursor = conn.execute(
        query("users.unlock_user"),
        {"id": user["id"], "now": iso_utc(actor.now), "actor": actor.name},
    )
    if cursor.rowcount != 1:
        return False
    # A status change: tokens issued while the account was locked are not carried over.
    invalidate_user_tokens(tokens, int(user["id"]), now=actor.now, ip=actor.ip)
    _audit(conn, int(user["id"]), "unlock", actor)
    events.security_event(
        "account_unlocked",
        f"user {user['username']} unlocked by {actor.name}",
        target=str(user["username"]),
    )
    return True


def delete_user(
    conn: sqlite3.Connection,
    user: sqlite3.Row,
    actor: Actor,
    *,
    self_id: int,
    tokens: sqlite3.Connection,
) -> None:
    """Delete an account: never yourself, never the last active admin; its tokens die first."""
    if int(user["id"]) == self_id:
        raise UserError(["You cannot delete your own account."])
    with transaction(conn):
        current = _fresh(conn, user)
        if (
            current["role"] == "admin"
            and current["account_status"] == "active"
            and active_admins(conn) <= 1
        ):
            raise UserError(["The last active admin cannot be deleted."])
        # Tokens first: ids are reused, so a surviving token would reset the next account.
        invalidate_user_tokens(tokens, int(current["id"]), now=actor.now, ip=actor.ip)
        end_user_sessions(conn, int(current["id"]), "deleted")
        conn.execute(query("users.delete_user"), {"id": current["id"]})
        _audit(conn, int(current["id"]), "delete", actor, username=str(current["username"]))
    _event("user_deleted", f"user {user['username']} deleted", target=str(user["username"]))


def set_password(
    conn: sqlite3.Connection,
    user: sqlite3.Row,
    password: str,
    *,
    ring: MultiFernet,
    rounds: int,
    actor: Actor,
    reset: bool,
    keep_session_id: int | None = None,
) -> None:
    """Store a new password; ends the user's other sessions (all of them after a reset)."""
    record = new_password_record(password, ring, rounds)
    statement = "users.reset_password" if reset else "users.change_password"
    conn.execute(
        query(statement),
        {"id": user["id"], "password_hash": record, "now": iso_utc(actor.now), "actor": actor.name},
    )
    end_user_sessions(
        conn,
        int(user["id"]),
        "password_reset" if reset else "password_change",
        keep_id=keep_session_id,
    )
    _audit(conn, int(user["id"]), "password_reset" if reset else "password_change", actor)
    event = "password_reset_completed" if reset else "password_changed"
    events.security_event(
        event,
        f"password of {user['username']} changed",
        log_name="system_users.log",
        log_type="audit",
        module="tbot_web.users",
        target=str(user["username"]),
    )


def change_email(
    conn: sqlite3.Connection,
    user: sqlite3.Row,
    email: str,
    actor: Actor,
    *,
    tokens: sqlite3.Connection,
) -> None:
    """The user's own email change; reset links mailed to the old address stop working."""
    problems = validate_identity(str(user["username"]), email)
    other = conn.execute(query("users.by_email"), {"email": email}).fetchone()
    if other is not None and int(other["id"]) != int(user["id"]):
        problems.append("That email address is already in use.")
    if problems:
        raise UserError(problems)
    if email.casefold() != str(user["email"]).casefold():
        invalidate_user_tokens(tokens, int(user["id"]), now=actor.now, ip=actor.ip)
    conn.execute(
        query("users.update_email"),
        {"id": user["id"], "email": email, "now": iso_utc(actor.now), "actor": actor.name},
    )
    _audit(conn, int(user["id"]), "update", actor, field="email")
    _event(
        "user_updated", f"user {user['username']} changed their email", target=str(user["username"])
    )
