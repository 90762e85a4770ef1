"""`/users...`: account administration (admin only, web_runtime §3, §4.2)."""

from __future__ import annotations

import sqlite3

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tbot_web.support import events
from tbot_web.support.auth_web import ROLES
from tbot_web.support.context import ctx, db
from tbot_web.support.events import client_ip
from tbot_web.support.guard import require
from tbot_web.support.password_reset import create_token
from tbot_web.support.sql import query
from tbot_web.support.users import (
    STATUSES,
    Actor,
    UserError,
    create_user,
    delete_user,
    get_user,
    unlock_user,
    update_user,
)
from tbot_web.support.web_session import flash

bp = Blueprint("users", __name__)


def _actor() -> Actor:
    return Actor(f"web:{g.user['username']}", client_ip(), ctx().now())


def _target(user_id: int) -> sqlite3.Row:
    user = get_user(db("SYSTEM_USERS.db"), user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/users")
@require("users.admin")
def users() -> str:
    rows = db("SYSTEM_USERS.db").execute(query("users.list_users")).fetchall()
    return render_template("users.html", users=rows)


@bp.route("/users/create", methods=["GET", "POST"])
@require("users.admin")
def create() -> Response | str | tuple[str, int]:
    context = ctx()
    default_role = context.settings().default_user_role
    if request.method == "GET":
        return render_template(
            "user_form.html",
            user=None,
            roles=ROLES,
            statuses=STATUSES,
            values={"role": default_role},
        )
    values = {k: request.form.get(k, "").strip() for k in ("username", "email", "role")}
    values["role"] = values["role"] or default_role
    try:
        create_user(
            db("SYSTEM_USERS.db"),
            username=values["username"],
            email=values["email"],
            password=request.form.get("password", ""),
            confirm=request.form.get("confirm", ""),
            role=values["role"],
            ring=context.secrets.fernet("login"),
            rounds=context.bcrypt_rounds(),
            actor=_actor(),
            tokens=db("PASSWORD_RESET_TOKENS.db"),
        )
    except UserError as exc:
        page = render_template(
            "user_form.html",
            user=None,
            roles=ROLES,
            statuses=STATUSES,
            values=values,
            problems=exc.problems,
        )
        return page, 422
    flash(f"User {values['username']} created.", "success")
    return redirect(url_for("users.users"), code=303)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@require("users.admin")
def edit(user_id: int) -> Response | str | tuple[str, int]:
    user = _target(user_id)
    if request.method == "GET":
        return render_template(
            "user_form.html", user=user, roles=ROLES, statuses=STATUSES, values=dict(user)
        )
    values = {
        "email": request.form.get("email", "").strip(),
        "role": request.form.get("role", "").strip(),
        "account_status": request.form.get("account_status", "").strip(),
    }
    try:
        changed = update_user(
            db("SYSTEM_USERS.db"),
            user,
            email=values["email"],
            role=values["role"],
            status=values["account_status"],
            actor=_actor(),
            tokens=db("PASSWORD_RESET_TOKENS.db"),
        )
    except UserError as exc:
        page = render_template(
            "user_form.html",
            user=user,
            roles=ROLES,
            statuses=STATUSES,
            values={**dict(user), **values},
            problems=exc.problems,
        )
        return page, 422
    flash(f"User {user['username']}: " + (", ".join(changed) or "nothing") + " changed.", "success")
    return redirect(url_for("users.users"), code=303)


@bp.post("/users/<int:user_id>/unlock")
@require("users.admin")
def unlock(user_id: int) -> Response:
    user = _target(user_id)
    done = unlock_user(db("SYSTEM_USERS.db"), user, _actor(), tokens=db("PASSWORD_RESET_TOKENS.db"))
    flash(f"User {user['username']} " + ("unlocked." if done else "was not locked."), "info")
    return redirect(url_for("users.users"), code=303)


@bp.post("/users/<int:user_id>/reset_link")
@require("users.admin")
def reset_link(user_id: int) -> str:
    """A one-time `admin_link` reset token, shown once on this page (never stored in clear)."""
    from tbot_web.py.login_web import reset_link as build_link

    user = _target(user_id)
    context = ctx()
    token = create_token(
        db("PASSWORD_RESET_TOKENS.db"),
        int(user["id"]),
        token_type="admin_link",  # noqa: S106 - a token kind, not a secret
        now=context.now(),
        ip=client_ip(),
        user_agent=request.user_agent.string[:300],
        created_by=f"web:{g.user['username']}",
    )
    events.security_event(
        "password_reset_requested",
        f"admin reset link for {user['username']}",
        log_name="password_reset_tokens.log",
        target=str(user["username"]),
    )
    return render_template("reset_link.html", user=user, link=build_link(token))


@bp.post("/users/<int:user_id>/delete")
@require("users.admin")
def delete(user_id: int) -> Response:
    user = _target(user_id)
    try:
        delete_user(
            db("SYSTEM_USERS.db"),
            user,
            _actor(),
            self_id=int(g.user["id"]),
            tokens=db("PASSWORD_RESET_TOKENS.db"),
        )
    except UserError as exc:
        flash(" ".join(exc.problems), "error")
        return redirect(url_for("users.users"), code=303)
    flash(f"User {user['username']} deleted.", "success")
    return redirect(url_for("users.users"), code=303)
