"""Landing, wait page, health, dashboard and the read-only JSON APIs (web_runtime §3)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from tbot_bot.runtime.control_flags import flags_summary
from tbot_web.support.context import ctx
from tbot_web.support.guard import public, require, setup_route
from tbot_web.support.routing import LANDING, SETUP_PHASES, Phase
from tbot_web.support.runtime_files import (
    EQUITY_RANGES,
    load_status,
    read_equity_curve,
    read_positions,
    read_schedule,
    read_status,
    with_staleness,
)

bp = Blueprint("main", __name__)

HALTED_STATES = frozenset({"shutdown_triggered", "error", "shutdown"})
CLOSING_STATES = frozenset({"graceful_closing_positions", "emergency_closing_positions"})
RISK_KEYS = ("DAILY_LOSS_LIMIT", "MAX_RISK_PER_TRADE", "TOTAL_ALLOCATION", "MAX_OPEN_POSITIONS")


@bp.get("/")
@public()
def index() -> Response:
    """`/` lands on /login (anonymous) or /dashboard; setup phases are redirected by the guard."""
    phase = g.get("phase")
    if phase in SETUP_PHASES:
        return redirect(url_for(LANDING[phase]))
    if g.get("user") is None:
        return redirect(url_for("login.login"))
    return redirect(url_for("main.dashboard"))


@bp.get("/wait")
@setup_route(
    frozenset({Phase.SETUP_WAIT, Phase.SETUP_REGISTER}), after_setup="permission", permission="view"
)
def wait() -> Response | str:
    """Spinner while provisioning; the page polls /api/bot_state every 2 s."""
    if g.get("phase") not in SETUP_PHASES:
        return redirect(url_for("main.dashboard"))
    return render_template("wait.html", bot_state=ctx().bot_state())


@bp.get("/healthz")
@public(in_setup=True)
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/api/bot_state")
@public(in_setup=True)
def api_bot_state() -> Response:
    return jsonify({"bot_state": ctx().bot_state()})


def _dashboard_model() -> dict[str, Any]:
    context = ctx()
    now = context.now()
    status = read_status(context.paths, now)
    state = context.bot_state()
    raw_settings: dict[str, Any] = {}
    if context.secrets.has_secret("env"):
        try:
            raw_settings = context.secrets.load("env")
        except Exception:  # noqa: BLE001 - the dashboard shows "unknown" rather than failing
            raw_settings = {}
    return {
        "status": status,
        "bot_state": state,
        "positions": read_positions(context.paths),
        "schedule": status.get("schedule") or read_schedule(context.paths) or {},
        "flags": flags_summary(context.paths),
        "halted": state in HALTED_STATES,
        "closing": state in CLOSING_STATES,
        "risk": {key: raw_settings.get(key) for key in RISK_KEYS},
        "ranges": list(EQUITY_RANGES),
        "identity": context.identity_string(),
        "display_zone": context.settings().timezone,
    }


@bp.get("/dashboard")
@require("view", halted_ok=True)
def dashboard() -> str:
    return render_template("dashboard.html", **_dashboard_model())


@bp.get("/api/status")
@require("view", halted_ok=True)
def api_status() -> Response:
    context = ctx()
    paths = context.paths
    cached = context.cached("status", paths.status_file("status.json"), lambda: load_status(paths))
    status = with_staleness(cached, context.now())
    # status.json is rewritten every 5 s by main; the state file itself is fresher.
    status["bot_state_live"] = context.bot_state()
    status["flags_live"] = flags_summary(context.paths)
    return jsonify(status)


@bp.get("/api/positions")
@require("view", halted_ok=True)
def api_positions() -> Response:
    return jsonify(read_positions(ctx().paths))


@bp.get("/api/equity_curve")
@require("view", halted_ok=True)
def api_equity_curve() -> Response:
    range_name = request.args.get("range", "1m")
    if range_name not in EQUITY_RANGES:
        abort(400, description=f"range must be one of {', '.join(EQUITY_RANGES)}")
    context = ctx()
    points = read_equity_curve(context.paths, range_name, context.now())
    return jsonify({"range": range_name, "points": points})
