"""Every url_map rule x method x role against one expectation table (web_runtime §4.2, §9).

The table is written here by hand from the spec (not derived from the app), and a route that is
missing from it fails the test, so a new endpoint cannot ship without a declared expectation.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.test.web.webkit import TestClient, fresh_csrf

PUBLIC = "public"
GONE = "not_found"  # setup-only route: 404 after setup
# endpoint -> minimum permission (web_runtime §3 and §4.2)
EXPECTATIONS: dict[str, str] = {
    "static": PUBLIC,
    "main.index": PUBLIC,
    "main.healthz": PUBLIC,
    "main.api_bot_state": PUBLIC,
    "main.wait": "view",
    "main.dashboard": "view",
    "main.api_status": "view",
    "main.api_positions": "view",
    "main.api_equity_curve": "view",
    "configuration.configuration": "settings.edit",
    "register.register": GONE,
    "login.login": PUBLIC,
    "login.logout": "view",
    "login.password_reset_request": PUBLIC,
    "login.password_reset_token": PUBLIC,
    "control.start": "bot.control",
    "control.stop": "bot.control",
    "control.kill": "bot.control",
    "logs.logs": "view",
    "users.users": "users.admin",
    "users.create": "users.admin",
    "users.edit": "users.admin",
    "users.unlock": "users.admin",
    "users.reset_link": "users.admin",
    "users.delete": "users.admin",
    "account.account": "view",
    "account.email": "view",
    "account.password": "view",
    "account.revoke_others": "view",
    "settings.settings": "settings.view",
    "settings.preview": "settings.edit",
    "settings.save": "settings.edit",
    "settings.rotate_keys": "settings.edit",
    "books.trades": "view",
    "books.trades_export": "export",
    "books.ledger": "view",
    "books.ledger_export": "export",
    "books.coa": "view",
    "books.coa_versions": "view",
    "books.coa_version": "view",
    "coa.edit": "coa.edit",
    "coa.rollback": "coa.edit",
    "coa.request_status": "coa.edit",
    "coa.export_csv": "export",
    "coa.export_md": "export",
}
ROLE_GRANTS: dict[str, set[str]] = {
    "viewer": {"view"},
    "analyst": {"view", "export", "settings.view"},
    "operator": {"view", "export", "settings.view", "bot.control"},
    "admin": {
        "view",
        "export",
        "settings.view",
        "bot.control",
        "bot.resume",
        "coa.edit",
        "settings.edit",
        "users.admin",
        "logs.security",
    },
}


def _probes(app: Flask, spare_id: int) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every rule; logout last so the session survives the sweep."""
    values = {
        "user_id": spare_id,
        "token": "not-a-real-token",
        "filename": "css/base.css",
        "number": 1,
        "request_id": "00000000-0000-4000-8000-000000000000",
    }
    probes = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            url = rule.build({arg: values[arg] for arg in rule.arguments})[1]  # type: ignore[index]
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                probes.append((rule.endpoint, method, url))
    return sorted(probes, key=_session_ending_last)


def _session_ending_last(probe: tuple[str, str, str]) -> tuple[int, str, str]:
    """Logout, then POST /login (a new login ends the current session) run after all others."""
    endpoint, method, _url = probe
    rank = 2 if (endpoint, method) == ("login.login", "POST") else int(endpoint == "login.logout")
    return rank, endpoint, method


def _spare_id(home: RuntimePaths) -> int:
    with sqlite3.connect(home.core_db("SYSTEM_USERS.db")) as conn:
        return int(conn.execute("SELECT id FROM system_users WHERE username='spare'").fetchone()[0])


def _request(client: FlaskClient, method: str, url: str, csrf: str) -> tuple[int, str]:
    data = {"csrf_token": csrf} if method != "GET" else None
    response = client.open(url, method=method, data=data)
    return response.status_code, response.headers.get("Location", "")


def test_every_route_is_in_the_table(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(EXPECTATIONS))
    assert not missing, f"routes without an RBAC expectation: {missing}"
    assert not sorted(set(EXPECTATIONS) - endpoints), "table lists routes the app does not have"


def test_anonymous(app: Flask, home: RuntimePaths) -> None:
    client = app.test_client()
    csrf = fresh_csrf(client)
    for endpoint, method, url in _probes(app, _spare_id(home)):
        need = EXPECTATIONS[endpoint]
        status, location = _request(client, method, url, csrf)
        where = f"{method} {url}"
        if need == PUBLIC:
            assert status != 403 and "/login?next" not in location, where
        elif need == GONE:
            assert status == 404, where
        elif url.startswith("/api/"):
            assert status == 401, where
        else:
            assert status == 302 and "/login?next=" in location, (where, status, location)


@pytest.mark.parametrize("role", ["viewer", "analyst", "operator", "admin"])
def test_role(
    role: str, app: Flask, home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    client = client_as(role)
    for endpoint, method, url in _probes(app, _spare_id(home)):
        need = EXPECTATIONS[endpoint]
        status, location = _request(client, method, url, client.csrf)
        where = (role, method, url, status)
        if need == GONE:
            assert status == 404, where
        elif need == PUBLIC:
            # /login POST with no credentials is a legitimate 401; RBAC never answers 403 here.
            assert status != 403 and "/login?next" not in location, where
        elif need in ROLE_GRANTS[role]:
            assert status not in (401, 403) and "/login?next" not in location, where
        else:
            assert status == 403, where
