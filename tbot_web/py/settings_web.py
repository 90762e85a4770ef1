"""`/settings`: the `.env_bot` editor generated from the settings catalogue (web_runtime §3, §6).

- GET (analyst+): every key by section with its type, range, unit and help; no key of `.env_bot`
  is a credential; a key the catalogue marks secret would be shown only as set / not set.
- POST /settings/preview (admin): unknown or removed keys -> 422; full strict validation -> 422;
  otherwise a diff of the changed keys and a confirm form carrying a digest of the file previewed.
- POST /settings/save (admin): 409 if the file changed since the preview; atomic write through the
  secrets manager, `env.key` rotation per `KEY_ROTATION_SCOPE`, audit with key names only. The
  runner applies the new settings at its next phase start.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from tbot_bot.config.key_rotation import expand_scope, rotate
from tbot_bot.config.redact import redact_text
from tbot_bot.config.secrets_manager import canonical_json
from tbot_bot.config.settings_catalogue import CATALOGUE, DEPRECATED_KEYS, KEYS, SECTIONS
from tbot_bot.config.settings_schema import validate_settings
from tbot_bot.errors import ConfigError
from tbot_bot.runtime.requests import submit_request
from tbot_web.support import events
from tbot_web.support.context import WebContext, ctx, db
from tbot_web.support.guard import require
from tbot_web.support.sessions import end_all_sessions
from tbot_web.support.web_session import flash

bp = Blueprint("settings", __name__)
FORM_META_FIELDS = frozenset({"csrf_token", "base_digest"})
ROTATABLE = ("env", "broker", "smtp", "screener_api", "acct_api", "bot_identity", "network_config")


def _current(context: WebContext) -> dict[str, str]:
    return {str(k): str(v) for k, v in context.secrets.load("env").items()}


def _digest(record: dict[str, str]) -> str:
    return hashlib.sha256(canonical_json(record)).hexdigest()


def _sections(values: dict[str, str]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    grouped: list[tuple[str, str, list[dict[str, Any]]]] = []
    for section, title in SECTIONS.items():
        rows = []
        for spec in CATALOGUE:
            if spec.section != section:
                continue
            choices: tuple[str, ...] = ()
            if spec.choices and spec.type_label != "CSV":  # CSV lists stay free text
                choices = spec.choices
                if spec.optional and "" not in choices:
                    choices = ("", *choices)
            rows.append(
                {
                    "spec": spec,
                    "secret": spec.secret,
                    "choices": choices,
                    "value": "" if spec.secret else values.get(spec.name, ""),
                    "is_set": bool(values.get(spec.name)),
                }
            )
        grouped.append((section, title, rows))
    return grouped


@bp.get("/settings")
@require("settings.view")
def settings() -> str:
    values = _current(ctx())
    return render_template(
        "settings.html", sections=_sections(values), digest=_digest(values), problems=[]
    )


def _submitted(current: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The posted record merged over the current one, and the key problems (unknown/removed)."""
    problems: list[str] = []
    record = dict(current)
    for key in request.form:
        if key in FORM_META_FIELDS:
            continue
        if key in DEPRECATED_KEYS:
            problems.append(f"'{key}' is not supported: {DEPRECATED_KEYS[key]}.")
        elif key not in KEYS:
            problems.append(f"Unknown setting '{key}'.")
        elif not KEYS[key].secret or request.form[key]:
            record[key] = request.form[key].strip()
    return record, problems


def _validated(current: dict[str, str]) -> tuple[dict[str, str] | None, list[str]]:
    record, problems = _submitted(current)
    if problems:
        return None, problems
    try:
        return dict(validate_settings(record, strict=True).normalized), []
    except ConfigError as exc:
        return None, [redact_text(p) for p in exc.problems]


def _rejected(current: dict[str, str], problems: list[str]) -> tuple[str, int]:
    merged = {**current, **{k: v for k, v in request.form.items() if k in KEYS}}
    page = render_template(
        "settings.html", sections=_sections(merged), digest=_digest(current), problems=problems
    )
    return page, 422


@bp.post("/settings/preview")
@require("settings.edit")
def preview() -> str | tuple[str, int]:
    current = _current(ctx())
    normalized, problems = _validated(current)
    if normalized is None:
        return _rejected(current, problems)
    changes = [
        (key, current.get(key, ""), normalized.get(key, ""))
        for key in sorted(set(current) | set(normalized))
        if current.get(key, "") != normalized.get(key, "")
    ]
    return render_template(
        "settings_preview.html", changes=changes, record=normalized, digest=_digest(current)
    )


@bp.post("/settings/save")
@require("settings.edit")
def save() -> Response | tuple[str, int]:
    context = ctx()
    current = _current(context)
    if request.form.get("base_digest") != _digest(current):
        abort(409, description="Settings changed since the preview; review them again")
    normalized, problems = _validated(current)
    if normalized is None:
        return _rejected(current, problems)
    changed = sorted(
        k for k in set(current) | set(normalized) if current.get(k) != normalized.get(k)
    )
    if not changed:
        flash("Nothing to save.", "info")
        return redirect(url_for("settings.settings"), code=303)
    context.secrets.save("env", normalized)
    events.security_event(
        "settings_changed",
        f"{len(changed)} setting(s) saved",
        log_name="security_users.log",
        log_type="audit",
        keys=changed,
    )
    actor = f"web:{g.user['username']}"
    scope = context.settings().key_rotation_scope
    categories = expand_scope("all") if scope == "all" else ["env"]
    try:
        rotate(
            context.paths,
            [c for c in categories if context.secrets.key_exists(c)],
            actor=actor,
            reason="settings save",
        )
    except ConfigError as exc:
        flash(
            f"Saved, but key rotation failed and was rolled back: {redact_text(str(exc))}", "error"
        )
    flash(f"Saved {len(changed)} setting(s); the runner applies them at its next phase.", "success")
    return redirect(url_for("settings.settings"), code=303)


@bp.post("/settings/rotate_keys")
@require("settings.edit")
def rotate_keys() -> Response:
    """Rotate one key or all Fernet keys; session keys only with the explicit checkbox."""
    context = ctx()
    scope = request.form.get("scope", "all")
    include_session = request.form.get("include_session_keys") == "1"
    if scope not in ("all", *ROTATABLE, "login", "flask_secret"):
        abort(400, description="unknown key scope")
    try:
        categories = expand_scope(scope, include_session_keys=include_session)
        present = [c for c in categories if context.secrets.key_exists(c)]
        rotate(context.paths, present, actor=f"web:{g.user['username']}", reason="manual rotation")
    except ConfigError as exc:
        flash(f"Key rotation failed and was rolled back: {redact_text(str(exc))}", "error")
        return redirect(url_for("settings.settings"), code=303)
    if "flask_secret" in present:
        # New cookie-signing key from now on; main also restarts the web to be sure.
        current_app.secret_key = context.secrets.read_keys("flask_secret")[0]
        submit_request(
            context.paths, "restart_web", None, f"web:{g.user['username']}", clock=context.clock
        )
    if {"login", "flask_secret"} & set(present):
        end_all_sessions(db("SYSTEM_USERS.db"), "session_key_rotation")
        return redirect(url_for("login.login"), code=303)
    flash(f"Rotated: {', '.join(present)}.", "success")
    return redirect(url_for("settings.settings"), code=303)
