"""The global request guard (web_runtime §4.1) and the endpoint access declarations.

Every view declares its access with exactly one decorator: `@public`, `@require("perm")` or
`@setup_route(...)`. `check_declared(app)` walks `app.url_map` at start-up and refuses to build
the app if any endpoint declares nothing (deny by default).

Order of checks on every request: host, state router (§1.6), session load, login required, CSRF,
permission; then the closing/halted restrictions of §1.6 for logged-in users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from flask import Flask, abort, current_app, g, jsonify, redirect, request, url_for
from werkzeug.wrappers import Response

from tbot_bot.errors import ConfigError
from tbot_web.support import events
from tbot_web.support.auth_web import PERMISSIONS, has_permission
from tbot_web.support.context import ctx
from tbot_web.support.routing import ALL_PHASES, LANDING, SETUP_PHASES, Phase, phase_for
from tbot_web.support.web_session import UNSAFE_METHODS, csrf_valid, load_session

F = TypeVar("F", bound=Callable[..., Any])
ACCESS_ATTR = "_tbot_access"
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class Access:
    """What an endpoint needs. `public`: no login after setup. `setup_phases`: reachable without
    login in those setup phases. `after_setup`: "permission" (normal rules) or "not_found"."""

    permission: str | None = None
    public: bool = False
    setup_phases: frozenset[Phase] = frozenset()
    after_setup: str = "permission"
    halted_ok: bool = False
    closing_mutation_ok: bool = False
    export: bool = False


# Flask's own static endpoint cannot carry an attribute; it is declared here instead.
BUILTIN_ACCESS: dict[str, Access] = {
    "static": Access(public=True, setup_phases=ALL_PHASES, halted_ok=True),
}


def _declare(access: Access) -> Callable[[F], F]:
    if access.permission is not None and access.permission not in PERMISSIONS:
        raise ConfigError(f"unknown permission {access.permission!r}")

    def decorator(view: F) -> F:
        if hasattr(view, ACCESS_ATTR):
            raise ConfigError(f"view {view.__name__} declares its access twice")
        setattr(view, ACCESS_ATTR, access)
        return view

    return decorator


def public(*, in_setup: bool = False) -> Callable[[F], F]:
    """No login needed after setup (`in_setup`: also in every setup phase)."""
    return _declare(
        Access(
            public=True,
            setup_phases=ALL_PHASES if in_setup else frozenset(),
            halted_ok=True,
            closing_mutation_ok=True,
        )
    )


def require(
    permission: str, *, halted_ok: bool = False, closing_mutation_ok: bool = False
) -> Callable[[F], F]:
    """Login plus `permission` (RBAC matrix, §4.2)."""
    return _declare(
        Access(
            permission=permission,
            halted_ok=halted_ok,
            closing_mutation_ok=closing_mutation_ok,
            export=permission == "export",
        )
    )


def setup_route(
    phases: frozenset[Phase], *, after_setup: str, permission: str | None = None
) -> Callable[[F], F]:
    """Public in `phases` (setup only); afterwards 404 or `permission` with login."""
    if after_setup not in {"permission", "not_found"}:
        raise ConfigError(f"after_setup must be 'permission' or 'not_found', not {after_setup!r}")
    if after_setup == "permission" and permission is None:
        raise ConfigError("a setup route kept after setup needs a permission")
    return _declare(Access(permission=permission, setup_phases=phases, after_setup=after_setup))


def access_of(app: Flask, endpoint: str) -> Access | None:
    if endpoint in BUILTIN_ACCESS:
        return BUILTIN_ACCESS[endpoint]
    view = app.view_functions.get(endpoint)
    access = getattr(view, ACCESS_ATTR, None)
    return access if isinstance(access, Access) else None


def check_declared(app: Flask) -> None:
    """Deny by default: refuse to start if an endpoint has neither PUBLIC nor a permission."""
    undeclared = sorted(
        {
            rule.endpoint
            for rule in app.url_map.iter_rules()
            if access_of(app, rule.endpoint) is None
        }
    )
    if undeclared:
        raise ConfigError(
            "endpoints without an access declaration (add @public, @require or @setup_route): "
            + ", ".join(undeclared),
            [f"undeclared endpoint {name}" for name in undeclared],
        )


# -- the guard -----------------------------------------------------------------------------------
def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best
    return best == "application/json"


def _host_allowed() -> bool:
    host = request.host.strip().lower()
    if host.startswith("["):
        name = host[1 : host.find("]")] if "]" in host else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    allowed = set(LOCAL_HOSTS)
    network = ctx().network()
    if network is not None:
        allowed.update({network.local_ip.lower(), network.remote_ip.lower()})
        if network.hostname:
            allowed.add(network.hostname.lower())
    return name in allowed


def _landing_redirect(phase: Phase) -> Response:
    if wants_json():
        response = jsonify({"error": "setup_incomplete"})
        response.status_code = 503
        return response
    return redirect(url_for(LANDING[phase]))


def _login_redirect() -> Response:
    if wants_json():
        response = jsonify({"error": "login_required"})
        response.status_code = 401
        return response
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("login.login") + "?next=" + quote(target, safe="/"))


def _deny(permission: str) -> None:
    events.security_event(
        "access_denied", f"{request.method} {request.path} needs {permission}", level="warning"
    )
    events.activity("DENIED", 403, details={"permission": permission})
    abort(403)


def run_guard() -> Response | None:
    """before_request: the six checks of §4.1 in order."""
    if not _host_allowed():
        abort(400, description="Host not allowed")
    endpoint = request.endpoint
    if endpoint is None:
        return None  # routing error (404/405): Flask answers it
    access = access_of(current_app, endpoint)
    if access is None:  # cannot happen after check_declared; deny anyway
        abort(403)
    phase = phase_for(ctx().bot_state(), context=ctx())
    g.phase = phase
    if phase in SETUP_PHASES:
        if phase not in access.setup_phases:
            return _landing_redirect(phase)
        if request.method in UNSAFE_METHODS and not csrf_valid():
            _csrf_failure()
        return None
    if access.after_setup == "not_found":
        abort(404)
    load_session()
    if g.get("session_expired_user_id") is not None:
        events.security_event(
            "session_expired", "session expired", user_id=g.session_expired_user_id
        )
    if not access.public and g.user is None:
        return _login_redirect()
    if request.method in UNSAFE_METHODS and not csrf_valid():
        _csrf_failure()
    if access.permission is not None and not has_permission(g.user["role"], access.permission):
        _deny(access.permission)
    _phase_restriction(phase, access)
    return None


def _csrf_failure() -> None:
    events.security_event("csrf_failure", f"{request.method} {request.path}", level="warning")
    abort(400, description="CSRF token missing or invalid")


def _phase_restriction(phase: Phase, access: Access) -> None:
    """§1.6: while closing only control/logout/account may mutate; while halted a short list."""
    if g.user is None or access.public:
        return
    closing = phase is Phase.CLOSING and request.method in UNSAFE_METHODS
    if closing and not access.closing_mutation_ok:
        abort(409, description="Not available while positions are being closed")
    if phase is Phase.HALTED and not access.halted_ok:
        abort(409, description="Not available while the bot is halted")


def record_activity(response: Response) -> Response:
    """after_request: MODIFY / EXPORT / VIEW rows for logged-in users (DENIED is written above)."""
    user = g.get("user")
    endpoint = request.endpoint
    if user is None or endpoint is None or response.status_code == 403:
        return response
    if endpoint in {"login.login", "login.logout"} or endpoint == "static":
        return response
    access = access_of(current_app, endpoint)
    if request.method in UNSAFE_METHODS:
        events.activity("MODIFY", response.status_code)
    elif access is not None and access.export:
        events.activity("EXPORT", response.status_code)
    elif ctx().settings().activity_log_views:
        events.activity("VIEW", response.status_code)
    return response
