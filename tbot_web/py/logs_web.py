"""`/logs?file=&hours=&level=&lines=`: allowlisted logs, newest lines, redacted (web_runtime §3)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from tbot_web.support import events
from tbot_web.support.context import ctx
from tbot_web.support.guard import require
from tbot_web.support.log_reader import (
    DEFAULT_LINES,
    LEVELS,
    MAX_LINES,
    SECURITY_LOGS,
    WINDOWS_H,
    log_names,
    log_path,
    read_log,
)
from tbot_web.support.template_helpers import can

bp = Blueprint("logs", __name__)


def _int_arg(name: str, default: int | None) -> int | None:
    raw = request.args.get(name, "")
    if raw in ("", "all"):
        return default
    try:
        return int(raw)
    except ValueError:
        abort(400, description=f"{name} must be an integer")


@bp.get("/logs")
@require("view", halted_ok=True)
def logs() -> str:
    context = ctx()
    identity = context.identity_string()
    security = can("logs.security")
    names = log_names(security=security, identity=identity)
    name = request.args.get("file", "main_bot")
    if name in SECURITY_LOGS and not security:
        events.security_event("access_denied", f"log {name} needs logs.security", level="warning")
        events.activity("DENIED", 403, details={"permission": "logs.security"})
        abort(403)
    path = log_path(context.paths, name, identity)
    if name not in names or path is None:
        abort(404, description="Unknown log name")
    lines = min(max(_int_arg("lines", DEFAULT_LINES) or DEFAULT_LINES, 1), MAX_LINES)
    hours = _int_arg("hours", None)
    if hours is not None and hours not in WINDOWS_H:
        abort(400, description="hours must be one of 1, 6, 24, 72, 168 or all")
    level = request.args.get("level") or None
    if level is not None and level not in LEVELS:
        abort(400, description="unknown level")
    rows = read_log(path, lines=lines, hours=hours, min_level=level, now=context.now())
    return render_template(
        "logs.html",
        rows=rows,
        names=names,
        selected=name,
        lines=lines,
        hours=hours,
        level=level,
        windows=WINDOWS_H,
        levels=LEVELS,
    )
