"""`/configuration`: the first-run form (setup token) and, after setup, the admin editor.

First run (web_runtime §2.3): 409 unless the state is `initialize` or setup-incomplete `error`;
per-IP limit, CSRF (guard), constant-time setup-token check (generic 403 + `setup_token_failure`);
validation (422, nothing written); then the bootstrap steps of `support/bootstrap.py`; 303 to
`/register`.

After setup (`settings.edit`): edit network, broker, SMTP, schedule, locale and log level; the
identity is read-only. Blank secret fields keep the stored value. Saves rotate keys per
`KEY_ROTATION_SCOPE` (§6.2) and a network change asks main to restart the web.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tbot_bot.config.key_rotation import expand_scope, rotate
from tbot_bot.config.redact import redact_text
from tbot_bot.errors import ConfigError
from tbot_bot.runtime.requests import submit_request
from tbot_web.py.login_web import rate_limit
from tbot_web.support import events
from tbot_web.support.bootstrap import BootstrapError, build_settings_record, run_bootstrap
from tbot_web.support.config_form import (
    BROKER_FIELDS,
    BROKER_NAMES,
    DEFAULTS,
    LOG_LEVELS,
    NETWORK_FIELDS,
    SECRET_FIELDS,
    SETTINGS_FIELDS,
    SMTP_FIELDS,
    SMTP_SECURITY,
    ConfigurationInput,
    parse_configuration,
    schedule_previews,
)
from tbot_web.support.context import WebContext, ctx
from tbot_web.support.guard import setup_route
from tbot_web.support.launcher import setup_token_matches
from tbot_web.support.routing import Phase
from tbot_web.support.runtime_files import read_json_object
from tbot_web.support.web_session import flash

bp = Blueprint("configuration", __name__)

FIRST_RUN_STATES = frozenset({"initialize", "error"})
COMMON_ZONES = (
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
)


def _render(
    values: dict[str, str],
    *,
    first_run: bool,
    status: int = 200,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    secrets_set: dict[str, bool] | None = None,
) -> tuple[str, int]:
    context = ctx()
    provisioning = read_json_object(context.paths.status_file("provisioning_status.json"))
    page = render_template(
        "configuration.html",
        values={k: ("" if k in SECRET_FIELDS else v) for k, v in values.items()},
        first_run=first_run,
        errors=errors or {},
        general=general or [],
        secrets_set=secrets_set or {},
        previews=schedule_previews(values, context.now().date()),
        provisioning=provisioning if first_run else None,
        broker_names=BROKER_NAMES,
        log_levels=LOG_LEVELS,
        smtp_security=SMTP_SECURITY,
        zones=COMMON_ZONES,
    )
    return page, status


@bp.route("/configuration", methods=["GET", "POST"])
@setup_route(frozenset({Phase.SETUP_FORM}), after_setup="permission", permission="settings.edit")
def configuration() -> Response | tuple[str, int]:
    first_run = g.get("phase") is Phase.SETUP_FORM
    if request.method == "GET":
        if first_run:
            return _render(dict(DEFAULTS), first_run=True)
        current, secrets_set = _current_values(ctx())
        return _render(current, first_run=False, secrets_set=secrets_set)
    return _first_run_submit() if first_run else _admin_submit()


# -- first run -----------------------------------------------------------------------------------
def _first_run_submit() -> Response | tuple[str, int]:
    context = ctx()
    rate_limit("setup")
    if context.bot_state() not in FIRST_RUN_STATES:
        abort(409, description="Setup is already running")
    if not setup_token_matches(context.paths, request.form.get("setup_token")):
        events.security_event(
            "setup_token_failure", "configuration submit with a bad token", level="warning"
        )
        abort(403)
    parsed = parse_configuration(request.form)
    if parsed.ok:
        try:
            settings = build_settings_record(parsed)
        except ConfigError as exc:
            parsed.general.extend(redact_text(p) for p in exc.problems)
    if not parsed.ok:
        return _render(
            parsed.values, first_run=True, status=422, errors=parsed.errors, general=parsed.general
        )
    try:
        run_bootstrap(context, parsed, settings)
    except BootstrapError as exc:
        return _render(
            parsed.values,
            first_run=True,
            status=500,
            general=[f"Setup failed at step {exc.step}: {exc.detail}"],
        )
    return redirect(url_for("register.register"), code=303)


# -- after setup ---------------------------------------------------------------------------------
def _current_values(context: WebContext) -> tuple[dict[str, str], dict[str, bool]]:
    """Stored values (secrets included, for "keep") and which secrets are set."""
    secrets = context.secrets
    values: dict[str, str] = dict(DEFAULTS)
    identity = secrets.load("bot_identity")
    values.update({k: str(v) for k, v in identity.items() if k != "BOT_IDENTITY_STRING"})
    env = secrets.load("env")
    values.update({k: str(env[k]) for k in SETTINGS_FIELDS if k in env})
    broker = secrets.load("broker")
    values.update({k: str(broker[k]) for k in BROKER_FIELDS if k in broker})
    smtp = secrets.load("smtp") if secrets.has_secret("smtp") else {}
    values.update({k: str(smtp[k]) for k in SMTP_FIELDS if smtp.get(k) not in (None, "")})
    network = secrets.load("network_config")
    values.update({k: str(network[k]) for k in NETWORK_FIELDS if k in network})
    secrets_set = {name: bool(values.get(name)) for name in SECRET_FIELDS}
    return values, secrets_set


def _admin_submit() -> Response | tuple[str, int]:
    context = ctx()
    current, secrets_set = _current_values(context)
    parsed = parse_configuration(request.form, keep=current, identity_locked=True)
    env: dict[str, Any] = {}
    if parsed.ok:
        env = dict(context.secrets.load("env"))
        env.update(parsed.settings_overrides())
        try:
            from tbot_bot.config.settings_schema import validate_settings

            env = dict(validate_settings(env, strict=True).normalized)
        except ConfigError as exc:
            parsed.general.extend(redact_text(p) for p in exc.problems)
    if not parsed.ok:
        return _render(
            parsed.values,
            first_run=False,
            status=422,
            errors=parsed.errors,
            general=parsed.general,
            secrets_set=secrets_set,
        )
    changed = _save_changes(context, parsed, env)
    if changed:
        flash("Configuration saved: " + ", ".join(changed) + ".", "success")
    else:
        flash("Nothing changed.", "info")
    return redirect(url_for("configuration.configuration"), code=303)


def _save_changes(
    context: WebContext, parsed: ConfigurationInput, env: dict[str, Any]
) -> list[str]:
    """Write the secrets that changed; rotate their keys per policy; audit key names only."""
    secrets = context.secrets
    actor = f"web:{g.user['username']}"
    changed: list[str] = []
    broker = parsed.broker_record()
    if broker != secrets.load("broker"):
        secrets.save("broker", broker)
        changed.append("broker")
    smtp = parsed.smtp_record()
    if smtp != (secrets.load("smtp") if secrets.has_secret("smtp") else {}):
        secrets.save("smtp", smtp)
        changed.append("smtp")
    assert parsed.network is not None  # noqa: S101 - parsed.ok guarantees it
    if parsed.network.to_record() != secrets.load("network_config"):
        secrets.save("network_config", parsed.network.to_record())
        changed.append("network_config")
    if env != secrets.load("env"):
        secrets.save("env", env)
        changed.append("env")
    if not changed:
        return changed
    events.security_event(
        "configuration_changed",
        "configuration saved",
        log_name="security_users.log",
        log_type="audit",
        categories=changed,
    )
    _rotate_after_save(context, changed, actor)
    if "network_config" in changed:
        submit_request(context.paths, "restart_web", None, actor, clock=context.clock)
    return changed


def _rotate_after_save(context: WebContext, changed: list[str], actor: str) -> None:
    scope = context.settings().key_rotation_scope
    categories = expand_scope("all") if scope == "all" else changed
    present = [c for c in categories if context.secrets.key_exists(c)]
    try:
        rotate(context.paths, present, actor=actor, reason="configuration save")
    except ConfigError as exc:
        # The save itself succeeded; the rotation was rolled back and is logged critical.
        flash(
            f"Saved, but key rotation failed and was rolled back: {redact_text(str(exc))}", "error"
        )
