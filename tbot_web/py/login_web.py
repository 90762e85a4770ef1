"""Login, logout and password reset (web_runtime §4.4, §4.8).

Every login failure answers 401 with the same page and the single message of `GENERIC_LOGIN_ERROR`;
a reset request answers the same text for every address, and does the lookup, token and mail in a
background worker so the answer takes the same time too.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import datetime

from flask import (
    Blueprint,
    copy_current_request_context,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from tbot_bot.errors import ConfigError
from tbot_web.support import events
from tbot_web.support.auth_web import GENERIC_LOGIN_ERROR, authenticate, password_problems
from tbot_web.support.context import ctx, db
from tbot_web.support.events import client_ip
from tbot_web.support.guard import public, require
from tbot_web.support.password_reset import (
    consume_token,
    create_token,
    invalidate_user_tokens,
    token_user,
)
from tbot_web.support.sessions import end_user_sessions
from tbot_web.support.sql import query
from tbot_web.support.users import Actor, set_password
from tbot_web.support.web_session import end_current_session, start_session

logger = logging.getLogger(__name__)
bp = Blueprint("login", __name__)

RESET_ANSWER = "If the address is registered, a message was sent."
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_next(target: str | None) -> str | None:
    """Honour `next` only for relative paths starting with exactly one '/' (§4.4)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if _CONTROL_CHARS.search(target) or "://" in target:
        return None
    return target


def rate_limit(bucket: str) -> None:
    """Count this request against the client's window; 429 with Retry-After when exceeded."""
    context = ctx()
    verdict = context.limiter.hit(bucket, client_ip(), context.now())
    if not verdict.allowed:
        events.security_event("rate_limited", f"{bucket} limit for {request.path}", level="warning")
        raise TooManyRequests(retry_after=verdict.retry_after_s)


def _login_failed(username: str, reason: str) -> tuple[str, int]:
    events.security_event(
        "login_failure",
        "login failed",
        level="warning",
        username=username[:64] or None,
        reason=reason,
    )
    page = render_template("login.html", error=GENERIC_LOGIN_ERROR, next=request.form.get("next"))
    return page, 401


@bp.route("/login", methods=["GET", "POST"])
@public()
def login() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        if g.get("user") is not None:
            return redirect(url_for("main.dashboard"))
        notice = "Your password was changed. Please sign in." if request.args.get("reset") else None
        return render_template("login.html", next=request.args.get("next"), notice=notice)
    rate_limit("login")
    if g.get("user") is not None:
        # A new login never leaves the old session alive, whatever the outcome.
        end_current_session("relogin")
    context = ctx()
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    try:
        ring = context.secrets.fernet("login")
    except ConfigError:
        return _login_failed(username, "login_key_unavailable")
    conn = db("SYSTEM_USERS.db")
    result = authenticate(
        conn,
        ring,
        username,
        password,
        now=context.now(),
        settings=context.settings(),
        rounds=context.bcrypt_rounds(),
        ip=client_ip(),
    )
    if result.auto_unlocked:
        events.security_event("account_unlocked", "lock expired", username=username[:64])
    if result.locked_now:
        locked = conn.execute(query("users.by_username"), {"username": username}).fetchone()
        if locked is not None:
            end_user_sessions(conn, int(locked["id"]), "locked")
        events.security_event(
            "account_locked", "too many failures", level="warning", username=username[:64]
        )
    if result.user is None:
        return _login_failed(username, result.reason)
    start_session(result.user)
    events.security_event(
        "login_success",
        "login succeeded",
        username=str(result.user["username"]),
        user_id=int(result.user["id"]),
    )
    events.activity("LOGIN", 302)
    return redirect(safe_next(request.form.get("next")) or url_for("main.dashboard"))


@bp.post("/logout")
@require("view", halted_ok=True, closing_mutation_ok=True)
def logout() -> Response:
    events.security_event("logout", "logout")
    events.activity("LOGOUT", 302)
    end_current_session("logout")
    return redirect(url_for("login.login"))


# -- password reset ------------------------------------------------------------------------------
@bp.route("/password_reset", methods=["GET", "POST"])
@public()
def password_reset_request() -> str:
    """Answer at once, identically for every address; the lookup and mail run in the background.

    Known and unknown addresses do exactly the same work on the request path (start one worker),
    so neither the answer nor its timing tells whether an address is registered (§4.8).
    """
    if request.method == "GET":
        return render_template("password_reset_request.html")
    rate_limit("reset_request")
    email = request.form.get("email", "").strip()
    context = ctx()
    now = context.now()
    # The worker needs this request's context (client IP, user agent) after the response is sent.
    job = copy_current_request_context(lambda: _reset_job(email, now))
    context.mail_threads[:] = [t for t in context.mail_threads if t.is_alive()]
    worker = threading.Thread(target=job, name="tbot-reset-request", daemon=True)
    context.mail_threads.append(worker)
    worker.start()
    return render_template("password_reset_request.html", notice=RESET_ANSWER)


def _reset_job(email: str, now: datetime) -> None:
    """Background part of a reset request: token and mail for an active account, else nothing."""
    try:
        user = db("SYSTEM_USERS.db").execute(query("users.by_email"), {"email": email}).fetchone()
        if user is None or user["account_status"] != "active":
            return
        token = create_token(
            db("PASSWORD_RESET_TOKENS.db"),
            int(user["id"]),
            token_type="email",  # noqa: S106 - a token kind, not a secret
            now=now,
            ip=client_ip(),
            user_agent=request.user_agent.string[:300],
            created_by=None,
        )
        _send_reset_mail(str(user["email"]), token)
        events.security_event(
            "password_reset_requested",
            "reset requested",
            log_name="password_reset_tokens.log",
            username=str(user["username"]),
            user_id=int(user["id"]),
        )
    except Exception:
        # Nobody waits for this answer; record the failure (redacted by the logging filter).
        logger.exception("password reset request failed in the background")


def reset_link(token: str) -> str:
    """`{REMOTE_SCHEME}://{REMOTE_IP}:{REMOTE_PORT}/password_reset/<token>` (§4.8)."""
    network = ctx().network()
    if network is None:
        return url_for("login.password_reset_token", token=token, _external=True)
    host = f"[{network.remote_ip}]" if ":" in network.remote_ip else network.remote_ip
    return f"{network.remote_scheme}://{host}:{network.remote_port}/password_reset/{token}"


def _send_reset_mail(address: str, token: str) -> None:
    """Send the reset mail (already off the request path: called by the background job)."""
    context = ctx()
    if context.mailer is None or not context.secrets.has_secret("smtp"):
        return
    try:
        smtp = context.secrets.load("smtp")
    except ConfigError:
        return
    if not smtp.get("SMTP_HOST"):
        return
    body = (
        "A password reset was requested for your TradeBot account.\n\n"
        f"Open this link within 30 minutes to choose a new password:\n{reset_link(token)}\n\n"
        "If you did not ask for this, ignore this message."
    )
    context.mailer(smtp, address, "TradeBot password reset", body)


@bp.route("/password_reset/<token>", methods=["GET", "POST"])
@public()
def password_reset_token(token: str) -> Response | str | tuple[str, int]:
    # GET counts too: its 200/400 answer tells whether a token is live, so unlimited GETs
    # would be a free token-guessing oracle next to the limited POST.
    rate_limit("reset_token")
    context = ctx()
    tokens_db = db("PASSWORD_RESET_TOKENS.db")
    users_db = db("SYSTEM_USERS.db")
    if request.method == "GET":
        valid = token_user(tokens_db, users_db, token, context.now()) is not None
        return render_template("password_reset_form.html", valid=valid, token=token), (
            200 if valid else 400
        )
    # The token must belong to this very account, not merely to its (reusable) id.
    user = token_user(tokens_db, users_db, token, context.now())
    if user is None:
        return _reset_refused(token)
    password = request.form.get("password", "")
    problems = password_problems(password, username=str(user["username"]), email=str(user["email"]))
    if password != request.form.get("confirm", ""):
        problems.append("Passwords do not match.")
    if problems:
        page = render_template(
            "password_reset_form.html", valid=True, token=token, problems=problems
        )
        return page, 422
    # The conditional UPDATE decides: of two concurrent submits only one gets the row.
    if consume_token(tokens_db, token, now=context.now(), ip=client_ip()) != int(user["id"]):
        return _reset_refused(token)
    actor = Actor(f"reset:{user['username']}", client_ip(), context.now())
    set_password(
        users_db,
        user,
        password,
        ring=context.secrets.fernet("login"),
        rounds=context.bcrypt_rounds(),
        actor=actor,
        reset=True,
    )
    invalidate_user_tokens(tokens_db, int(user["id"]), now=context.now(), ip=client_ip())
    return redirect(url_for("login.login", reset="done"))


def _reset_refused(token: str) -> tuple[str, int]:
    events.security_event(
        "password_reset_rejected",
        "reset token refused",
        level="warning",
        log_name="password_reset_tokens.log",
    )
    return render_template("password_reset_form.html", valid=False, token=token), 400
