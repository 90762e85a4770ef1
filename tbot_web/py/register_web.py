"""`/register`: the first admin (web_runtime §2.4).

In one `BEGIN IMMEDIATE` transaction the user is inserted as `admin` only if `system_users` is empty
(else 404). Then the setup token is deleted, the state goes to `started` (main launches the runner)
and a `restart_web` request lets the web rebind to the configured address.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tbot_bot.runtime.requests import submit_request
from tbot_web.py.login_web import rate_limit
from tbot_web.support import events
from tbot_web.support.context import ctx, db
from tbot_web.support.events import client_ip
from tbot_web.support.guard import setup_route
from tbot_web.support.launcher import delete_setup_token, setup_token_matches
from tbot_web.support.routing import Phase
from tbot_web.support.users import Actor, UserError, create_first_admin

bp = Blueprint("register", __name__)
ACTOR = "web:setup"


@bp.route("/register", methods=["GET", "POST"])
@setup_route(frozenset({Phase.SETUP_REGISTER}), after_setup="not_found")
def register() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return render_template("register.html", values={})
    rate_limit("setup")
    context = ctx()
    if not setup_token_matches(context.paths, request.form.get("setup_token")):
        events.security_event(
            "setup_token_failure", "register submit with a bad token", level="warning"
        )
        abort(403)
    username = request.form.get("username", "").strip()
    email = request.form.get("email", "").strip()
    try:
        user_id = create_first_admin(
            db("SYSTEM_USERS.db"),
            username=username,
            email=email,
            password=request.form.get("password", ""),
            confirm=request.form.get("confirm", ""),
            ring=context.secrets.fernet("login"),
            rounds=context.bcrypt_rounds(),
            actor=Actor(ACTOR, client_ip(), context.now()),
        )
    except UserError as exc:
        page = render_template(
            "register.html", values={"username": username, "email": email}, problems=exc.problems
        )
        return page, 422
    if user_id is None:
        abort(404)
    delete_setup_token(context.paths)
    manager = context.state_manager()
    if manager.get_state() == "registration":
        manager.set_state("started", "first admin registered", ACTOR)
    submit_request(context.paths, "restart_web", None, ACTOR, clock=context.clock)
    return redirect(url_for("login.login"), code=303)
