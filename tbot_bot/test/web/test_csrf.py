"""CSRF (web_runtime §4.6): every unsafe endpoint of url_map answers 400 without a valid token.

Tried for each: no token, a wrong token, and another session's (valid) token. Public forms and the
setup forms are included; the setup forms are probed in their own setup states.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.core.scripts import init_system_users
from tbot_bot.test.web.webkit import TestClient, force_state, fresh_csrf, make_app
from tbot_web.support import launcher

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SETUP_ONLY = {"configuration.configuration", "register.register"}


def _unsafe_urls(app: Flask) -> list[tuple[str, str, str]]:
    values = {"user_id": 1, "token": "not-a-token", "filename": "css/base.css", "number": 1}
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            for method in sorted((rule.methods or set()) & UNSAFE):
                url = rule.build({a: values[a] for a in rule.arguments})[1]  # type: ignore[index]
                found.append((rule.endpoint, method, url))
    return found


def _bad_tokens(other: str) -> list[dict[str, str]]:
    return [{}, {"csrf_token": "wrong-token"}, {"csrf_token": other}]


def _csrf_events(paths: RuntimePaths) -> int:
    log = paths.global_log("auth_web.log")
    if not log.exists():
        return 0
    return sum(json.loads(x)["event"] == "csrf_failure" for x in log.read_text().splitlines())


def test_logged_in_endpoints(
    app: Flask, home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    admin = client_as("admin")
    other = client_as("operator")
    urls = [u for u in _unsafe_urls(app) if u[0] not in SETUP_ONLY]
    assert len(urls) >= 15
    before = _csrf_events(home)
    for endpoint, method, url in urls:
        for data in _bad_tokens(other.csrf):
            response = admin.open(url, method=method, data=data)
            assert response.status_code == 400, (endpoint, data, response.status_code)
        # the header form of the token is accepted the same way as the form field
        response = admin.open(url, method=method, headers={"X-CSRF-Token": "nope"})
        assert response.status_code == 400, endpoint
    assert _csrf_events(home) - before == 4 * len(urls)
    # the admin's session still works: the failures changed nothing
    assert admin.get("/dashboard").status_code == 200


@pytest.mark.parametrize("url", ["/login", "/password_reset", "/password_reset/abc"])
def test_public_forms(app: Flask, url: str) -> None:
    client = app.test_client()
    stranger = app.test_client()
    other_token = fresh_csrf(stranger)
    fresh_csrf(client)  # the client has its own pre-login token cookie
    for data in _bad_tokens(other_token):
        response = client.post(url, data={**data, "username": "admin", "email": "x@example.com"})
        assert response.status_code == 400, (url, data)


def test_setup_forms(fresh_paths: RuntimePaths) -> None:
    launcher.prepare(fresh_paths)
    app = make_app(fresh_paths)
    client, stranger = app.test_client(), app.test_client()
    fresh_csrf(client, "/configuration")
    other = fresh_csrf(stranger, "/configuration")
    for data in _bad_tokens(other):
        assert client.post("/configuration", data=data).status_code == 400
    init_system_users.init(fresh_paths)
    force_state(fresh_paths, "registration")
    fresh_csrf(client, "/register")
    for data in _bad_tokens(other):
        assert client.post("/register", data=data).status_code == 400
    assert fresh_paths.bot_state_file.read_text().strip() == "registration"
