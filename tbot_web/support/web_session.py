"""Request-level session and CSRF handling (web_runtime §4.5, §4.6).

- `tbot_session`: signed cookie carrying the session token (the row holds only its HMAC digest).
- `tbot_pre`: signed cookie (1 h) for pre-login forms, holding only a CSRF token.
- CSRF: 32-byte token per session, renewed at login; required on every unsafe method as the form
  field `csrf_token` or the header `X-CSRF-Token`; compared with `hmac.compare_digest`.
"""

from __future__ import annotations

import hmac
import os
import sqlite3
from typing import Any

from flask import Response, current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from tbot_bot.errors import ConfigError
from tbot_web.support.context import ctx, db
from tbot_web.support.sessions import SessionStore, WebSession, new_token
from tbot_web.support.sql import query

SESSION_COOKIE = "tbot_session"
PRE_COOKIE = "tbot_pre"
PRE_MAX_AGE_S = 3600
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _session_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="tbot-session")  # type: ignore[arg-type]


def _pre_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="tbot-pre")  # type: ignore[arg-type]


def store() -> SessionStore | None:
    """The session store of this request, or None before login.key exists."""
    context = ctx()
    if not context.secrets.key_exists("login"):
        return None
    try:
        # Re-read only when login.key changes (a rotation replaces the file).
        key = context.cached(
            "login_hmac", context.paths.key_file("login"), lambda: context.secrets.hmac_key("login")
        )
    except ConfigError:
        return None
    return SessionStore(db("SYSTEM_USERS.db"), key, context.now(), context.settings())


def load_session() -> sqlite3.Row | None:
    """Resolve the cookie to `g.web_session` and a fresh `g.user` row (role read every time)."""
    g.web_session = None
    g.user = None
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw or not ctx().paths.core_db("SYSTEM_USERS.db").exists():
        return None
    try:
        token = str(_session_signer().loads(raw))
    except BadSignature:
        g.clear_session_cookie = True
        return None
    sessions = store()
    if sessions is None:
        return None
    result = sessions.load(token)
    if result.expired_row is not None:
        g.clear_session_cookie = True
        g.session_expired_user_id = int(result.expired_row["user_id"])
    if result.session is None:
        if result.expired_row is None:
            g.clear_session_cookie = True
        return None
    cursor = db("SYSTEM_USERS.db").execute(query("users.by_id"), {"id": result.session.user_id})
    row: sqlite3.Row | None = cursor.fetchone()
    if row is None or row["account_status"] != "active":
        sessions.end(result.session.row_id, "terminated", "account_not_active")
        g.clear_session_cookie = True
        return None
    g.web_session = result.session
    g.user = row
    return row


def start_session(user: sqlite3.Row) -> WebSession:
    """Create a session for `user` (login): new token, new CSRF token, pre cookie dropped."""
    sessions = store()
    if sessions is None:
        raise ConfigError("login.key is missing: sessions cannot be created")
    agent = (request.user_agent.string or "")[:300] or None
    session, token = sessions.create(int(user["id"]), request.remote_addr or "unknown", agent)
    g.web_session = session
    g.user = user
    g.new_session_token = token
    g.clear_pre_cookie = True
    return session


def end_current_session(reason: str) -> None:
    session: WebSession | None = g.get("web_session")
    sessions = store()
    if session is not None and sessions is not None:
        sessions.end(session.row_id, "terminated", reason)
    g.web_session = None
    g.user = None
    g.clear_session_cookie = True


def reissue_token() -> None:
    """New token (and CSRF token) for the current session, e.g. after a password change."""
    session: WebSession | None = g.get("web_session")
    sessions = store()
    if session is not None and sessions is not None:
        g.new_session_token = sessions.rotate(session)


def flash(message: str, category: str = "info") -> None:
    session: WebSession | None = g.get("web_session")
    if session is not None:
        session.flash(message, category)


def pop_flashes() -> list[tuple[str, str]]:
    session: WebSession | None = g.get("web_session")
    return session.pop_flashes() if session is not None else []


# -- CSRF ----------------------------------------------------------------------------------------
def _pre_token() -> str | None:
    if "pre_token" not in g:
        raw = request.cookies.get(PRE_COOKIE)
        token = None
        if raw:
            try:
                body: Any = _pre_signer().loads(raw, max_age=PRE_MAX_AGE_S)
                token = body.get("csrf") if isinstance(body, dict) else None
            except BadSignature:
                token = None
        g.pre_token = token if isinstance(token, str) else None
    value: str | None = g.pre_token
    return value


def csrf_token() -> str:
    """The token forms must echo: the session's, or a pre-login token (created on demand)."""
    session: WebSession | None = g.get("web_session")
    if session is not None:
        return session.csrf_token
    token = _pre_token()
    if token is None:
        token = new_token()
        g.pre_token = token
        g.pre_token_new = True
    return token


def csrf_valid() -> bool:
    """True if the request carries the token of its own session (or pre-login cookie)."""
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    session: WebSession | None = g.get("web_session")
    expected = session.csrf_token if session is not None else _pre_token()
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))


# -- response ------------------------------------------------------------------------------------
def _secure_cookies() -> bool:
    return os.environ.get("TBOT_COOKIE_SECURE") == "1" or request.is_secure


def finish_session(response: Response) -> Response:
    """after_request: persist session data and set or clear the two cookies."""
    session: WebSession | None = g.get("web_session")
    if session is not None and session.modified:
        sessions = store()
        if sessions is not None:
            sessions.save_data(session)
    secure = _secure_cookies()
    token = g.get("new_session_token")
    if token:
        response.set_cookie(
            SESSION_COOKIE,
            _session_signer().dumps(token),
            httponly=True,
            samesite="Lax",
            path="/",
            secure=secure,
        )
    elif g.get("clear_session_cookie"):
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax")
    if g.get("clear_pre_cookie"):
        response.delete_cookie(PRE_COOKIE, path="/", httponly=True, samesite="Lax")
    elif g.get("pre_token_new"):
        response.set_cookie(
            PRE_COOKIE,
            _pre_signer().dumps({"csrf": g.pre_token}),
            max_age=PRE_MAX_AGE_S,
            httponly=True,
            samesite="Lax",
            path="/",
            secure=secure,
        )
    return response
