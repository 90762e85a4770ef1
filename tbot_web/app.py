"""The Flask app factory (web_runtime §1.1, STYLE §2.13): a short list of register steps.

`create_app(home=None, *, testing=False, clock=None)` builds one app for one runtime home. It
refuses to start when `flask_secret.key` is missing, malformed or readable by others, and when any
endpoint lacks an access declaration (deny by default, §4.1).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.middleware.proxy_fix import ProxyFix

from tbot_bot.clock import Clock, SystemClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError
from tbot_web.py import (
    account_web,
    books_web,
    coa_web,
    configuration_web,
    control_web,
    login_web,
    logs_web,
    main_web,
    register_web,
    settings_web,
    users_web,
)
from tbot_web.support import template_helpers
from tbot_web.support.context import EXTENSION_KEY, Mailer, WebContext, close_dbs
from tbot_web.support.guard import check_declared, record_activity, run_guard
from tbot_web.support.headers import add_security_headers, register_error_handlers
from tbot_web.support.mailer import smtp_mailer
from tbot_web.support.rate_limit import RateLimiter
from tbot_web.support.secret_registry import SecretRegistrar
from tbot_web.support.web_session import finish_session

BLUEPRINTS = (
    main_web.bp,
    configuration_web.bp,
    register_web.bp,
    login_web.bp,
    control_web.bp,
    logs_web.bp,
    users_web.bp,
    account_web.bp,
    settings_web.bp,
    books_web.bp,
    coa_web.bp,
)
MAX_REQUEST_BYTES = 1024 * 1024


class _NoCookieSessions(SessionInterface):
    """Flask's cookie session is switched off: sessions are server-side rows (§4.5).

    Any accidental use of `flask.session` for writing fails loudly instead of leaking into a cookie.
    """

    def open_session(self, app: Flask, request: Any) -> SessionMixin | None:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: SessionMixin, response: Any) -> None:
        return None


def create_app(
    home: str | os.PathLike[str] | RuntimePaths | None = None,
    *,
    testing: bool = False,
    clock: Clock | None = None,
    mailer: Mailer | None = None,
    test_bcrypt_rounds: int | None = None,
) -> Flask:
    """Build the web app for `home` (default: `TBOT_HOME`, else the checkout).

    `test_bcrypt_rounds` is for the test suite only and is refused unless `testing=True`; production
    always uses `BCRYPT_ROUNDS` (minimum 12).
    """
    if test_bcrypt_rounds is not None and not testing:
        raise ConfigError("test_bcrypt_rounds is a test-only argument (requires testing=True)")
    paths = home if isinstance(home, RuntimePaths) else RuntimePaths.for_home(home)
    context = WebContext(
        paths=paths,
        clock=clock or SystemClock(),
        secrets=SecretsManager(paths),
        limiter=RateLimiter(),
        testing=testing,
        bcrypt_rounds_override=test_bcrypt_rounds,
        mailer=mailer or smtp_mailer,
    )
    app = Flask(__name__)
    _configure(app, context, testing)
    _register_blueprints(app)
    _register_secret_refresh(app, context)
    _register_request_hooks(app)
    register_error_handlers(app)
    template_helpers.register(app)
    check_declared(app)
    return app


def _configure(app: Flask, context: WebContext, testing: bool) -> None:
    # read_keys checks presence, format and mode 0600; there is deliberately no fallback secret.
    app.secret_key = context.secrets.read_keys("flask_secret")[0]
    app.config.update(
        TESTING=testing,
        PROPAGATE_EXCEPTIONS=False,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_NAME="tbot_flask_unused",
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.session_interface = _NoCookieSessions()
    app.extensions[EXTENSION_KEY] = context
    if os.environ.get("TBOT_TRUST_PROXY") == "1":
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]


def _register_blueprints(app: Flask) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)


def _register_secret_refresh(app: Flask, context: WebContext) -> None:
    """Teach the redactor every stored secret now, and again whenever a secret file changes.

    Registered before the guard so that anything a request shows (status, logs, error pages) is
    redacted against the current secrets, not only those this process happened to load.
    """
    registrar = SecretRegistrar(context.secrets)
    registrar.refresh()
    app.before_request(registrar.refresh)


def _register_request_hooks(app: Flask) -> None:
    app.before_request(run_guard)
    # after_request hooks run in reverse registration order: headers are added last, always.
    app.after_request(add_security_headers)
    app.after_request(finish_session)
    app.after_request(record_activity)
    app.teardown_request(close_dbs)
