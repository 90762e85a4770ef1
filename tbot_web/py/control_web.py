"""Start / Stop / Kill (web_runtime §3, §8.3): the web only writes flags; the runner acts.

Start from `error` or `shutdown_triggered` (HALTED) needs `bot.resume` (admin); from HALTED also the
field `confirm_reset=RESET`. Kill needs `confirm=KILL`. Every action is audited (`bot_control`).
"""

from __future__ import annotations

from flask import Blueprint, abort, g, jsonify, redirect, request, url_for
from werkzeug.wrappers import Response

from tbot_bot.runtime.control_flags import FlagRecord, request_kill, request_start, request_stop
from tbot_web.support import events
from tbot_web.support.auth_web import has_permission
from tbot_web.support.context import ctx
from tbot_web.support.guard import require, wants_json
from tbot_web.support.web_session import flash

bp = Blueprint("control", __name__)
RESUME_STATES = frozenset({"error", "shutdown_triggered"})
MAX_REASON = 200


def _actor() -> str:
    return f"web:{g.user['username']}"


def _reason() -> str | None:
    text = request.form.get("reason", "").strip()
    return text[:MAX_REASON] or None


def _done(record: FlagRecord, message: str) -> Response:
    if wants_json():
        return jsonify({"flag": record.kind, "requested_at_utc": record.requested_at_utc})
    flash(message, "success")
    return redirect(url_for("main.dashboard"), code=303)


@bp.post("/control/start")
@require("bot.control", halted_ok=True, closing_mutation_ok=True)
def start() -> Response:
    context = ctx()
    state = context.bot_state()
    if state in RESUME_STATES:
        if not has_permission(g.user["role"], "bot.resume"):
            events.security_event(
                "access_denied", f"start from {state} needs bot.resume", level="warning"
            )
            events.activity("DENIED", 403, details={"permission": "bot.resume"})
            abort(403)
        if state == "shutdown_triggered" and request.form.get("confirm_reset") != "RESET":
            abort(400, description="Starting from HALTED needs confirm_reset=RESET")
    record = request_start(context.paths, _actor(), _reason(), clock=context.clock)
    return _done(record, "Start requested; the runner picks it up within seconds.")


@bp.post("/control/stop")
@require("bot.control", closing_mutation_ok=True)
def stop() -> Response:
    context = ctx()
    record = request_stop(context.paths, _actor(), _reason(), clock=context.clock)
    return _done(record, "Stop requested: entries are blocked and positions closed per policy.")


@bp.post("/control/kill")
@require("bot.control", closing_mutation_ok=True)
def kill() -> Response:
    if request.form.get("confirm") != "KILL":
        abort(400, description="Kill needs confirm=KILL")
    context = ctx()
    record = request_kill(context.paths, _actor(), _reason(), clock=context.clock)
    return _done(record, "Kill requested: the bot halts and flattens its positions.")
