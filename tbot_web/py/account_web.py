"""`/account...`: own profile, email and password changes, sessions (web_runtime §3, §4.3)."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tbot_web.support.auth_web import password_problems, verify_password
from tbot_web.support.context import ctx, db
from tbot_web.support.events import client_ip
from tbot_web.support.guard import require
from tbot_web.support.sessions import end_user_sessions
from tbot_web.support.sql import query
from tbot_web.support.users import Actor, UserError, change_email, set_password
from tbot_web.support.web_session import flash, reissue_token

bp = Blueprint("account", __name__)
WRONG_PASSWORD = "The current password is not correct."  # noqa: S105 - a message, not a secret


def _actor() -> Actor:
    return Actor(f"web:{g.user['username']}", client_ip(), ctx().now())


def _page(status: int = 200, problems: list[str] | None = None) -> tuple[str, int]:
    sessions = (
        db("SYSTEM_USERS.db")
        .execute(query("sessions.list_user_sessions"), {"user_id": g.user["id"]})
        .fetchall()
    )
    page = render_template(
        "account.html",
        sessions=sessions,
        current_session_id=g.web_session.row_id,
        problems=problems or [],
    )
    return page, status


@bp.get("/account")
@require("view", halted_ok=True, closing_mutation_ok=True)
def account() -> tuple[str, int]:
    return _page()


@bp.post("/account/email")
@require("view", halted_ok=True, closing_mutation_ok=True)
def email() -> Response | tuple[str, int]:
    ring = ctx().secrets.fernet("login")
    if not verify_password(g.user, request.form.get("current_password", ""), ring):
        return _page(422, [WRONG_PASSWORD])
    try:
        change_email(
            db("SYSTEM_USERS.db"),
            g.user,
            request.form.get("email", "").strip(),
            _actor(),
            tokens=db("PASSWORD_RESET_TOKENS.db"),
        )
    except UserError as exc:
        return _page(422, exc.problems)
    flash("Email address changed.", "success")
    return redirect(url_for("account.account"), code=303)


@bp.post("/account/password")
@require("view", halted_ok=True, closing_mutation_ok=True)
def password() -> Response | tuple[str, int]:
    context = ctx()
    ring = context.secrets.fernet("login")
    if not verify_password(g.user, request.form.get("current_password", ""), ring):
        return _page(422, [WRONG_PASSWORD])
    new = request.form.get("new_password", "")
    problems = password_problems(new, username=str(g.user["username"]), email=str(g.user["email"]))
    if new != request.form.get("confirm", ""):
        problems.append("Passwords do not match.")
    if problems:
        return _page(422, problems)
    set_password(
        db("SYSTEM_USERS.db"),
        g.user,
        new,
        ring=ring,
        rounds=context.bcrypt_rounds(),
        actor=_actor(),
        reset=False,
        keep_session_id=g.web_session.row_id,
    )
    reissue_token()
    flash("Password changed; your other sessions were signed out.", "success")
    return redirect(url_for("account.account"), code=303)


@bp.post("/account/sessions/revoke_others")
@require("view", halted_ok=True, closing_mutation_ok=True)
def revoke_others() -> Response:
    count = end_user_sessions(
        db("SYSTEM_USERS.db"), int(g.user["id"]), "revoked_by_user", keep_id=g.web_session.row_id
    )
    flash(f"Signed out {count} other session(s).", "success")
    return redirect(url_for("account.account"), code=303)
