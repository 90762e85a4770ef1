"""Passwords, login failures, lockout, rate limits, sessions (web_runtime §4.3-§4.5)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError
from tbot_bot.test.web.webkit import PASSWORD, Outbox, TestClient, fresh_csrf, login, new_client
from tbot_web.app import create_app
from tbot_web.support import auth_web
from tbot_web.support.auth_web import GENERIC_LOGIN_ERROR


def _user(paths: RuntimePaths, username: str) -> sqlite3.Row:
    conn = sqlite3.connect(paths.core_db("SYSTEM_USERS.db"))
    conn.row_factory = sqlite3.Row
    with conn:
        row: sqlite3.Row = conn.execute(
            "SELECT * FROM system_users WHERE username = ?", (username,)
        ).fetchone()
    conn.close()
    return row


def _events(paths: RuntimePaths, log: str = "auth_web.log") -> list[str]:
    path = paths.global_log(log)
    return [json.loads(x)["event"] for x in path.read_text().splitlines()] if path.exists() else []


def _post_login(
    client: FlaskClient, username: str, password: str, ip: str = "10.0.0.1"
) -> TestResponse:
    token = fresh_csrf(client)
    return client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password},
        environ_base={"REMOTE_ADDR": ip},
    )


def test_stored_hash_is_fernet_of_bcrypt_cost_12(home: RuntimePaths, clock: FakeClock) -> None:
    app = create_app(home, testing=True, clock=clock, mailer=Outbox())  # production bcrypt cost
    app.test_client_class = TestClient
    admin = new_client(app)
    assert login(admin, "admin").status_code == 302
    response = admin.post(
        "/users/create",
        data={
            "csrf_token": admin.csrf,
            "username": "costly",
            "email": "costly@example.com",
            "role": "viewer",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert response.status_code == 303
    stored = _user(home, "costly")["password_hash"]
    assert stored.startswith("gAAAAA")  # a Fernet token, not a bare hash
    assert "$2b$" not in stored
    plain = SecretsManager(home).fernet("login").decrypt(stored.encode()).decode()
    assert plain.startswith("$2b$")
    assert auth_web.hash_cost(plain.encode()) >= 12


def test_test_only_rounds_refused_outside_testing(home: RuntimePaths) -> None:
    with pytest.raises(ConfigError):
        create_app(home, test_bcrypt_rounds=4)


def test_password_policy() -> None:
    assert auth_web.password_problems("short")
    assert auth_web.password_problems("x" * 73)  # over 72 bytes is refused, not truncated
    assert auth_web.password_problems("é" * 37)  # 74 bytes of UTF-8
    assert auth_web.password_problems("Admin-User-Name", username="admin-user-name")
    assert not auth_web.password_problems("x" * 72)


def test_identical_failures_and_dummy_check(app: Flask, home: RuntimePaths) -> None:
    admin = new_client(app)
    login(admin, "admin")
    # make one account inactive and one locked (by an admin edit)
    for name, status in (("analyst", "inactive"), ("spare", "locked")):
        user = _user(home, name)
        admin.post(
            f"/users/{user['id']}/edit",
            data={
                "csrf_token": admin.csrf,
                "email": user["email"],
                "role": user["role"],
                "account_status": status,
            },
        )
    client = app.test_client()
    fresh_csrf(client)
    dummy_before = auth_web._dummy_hash.cache_info()
    bodies = []
    for ip, (username, password) in enumerate(
        [
            ("nobody", PASSWORD),
            ("viewer", "wrong password!!"),
            ("analyst", PASSWORD),
            ("spare", PASSWORD),
        ]
    ):
        response = _post_login(client, username, password, ip=f"10.0.1.{ip}")
        assert response.status_code == 401
        bodies.append(response.get_data(as_text=True))
    assert GENERIC_LOGIN_ERROR in bodies[0]
    assert all(body == bodies[0] for body in bodies)
    dummy_after = auth_web._dummy_hash.cache_info()
    # unknown, inactive and locked accounts all ran checkpw against the dummy hash
    assert dummy_after.hits + dummy_after.misses - dummy_before.hits - dummy_before.misses == 3
    assert _events(home).count("login_failure") == 4


def test_lockout_and_expiry(app: Flask, home: RuntimePaths, clock: FakeClock) -> None:
    client = app.test_client()
    for attempt in range(10):
        assert (
            _post_login(client, "viewer", "not the password", ip=f"10.1.0.{attempt}").status_code
            == 401
        )
    assert _user(home, "viewer")["account_status"] == "locked"
    refused = _post_login(client, "viewer", PASSWORD, ip="10.1.1.1")
    assert refused.status_code == 401
    assert GENERIC_LOGIN_ERROR in refused.get_data(as_text=True)
    assert "account_locked" in _events(home)
    clock.sleep_until(clock.now_utc() + timedelta(minutes=15, seconds=1))
    assert _post_login(client, "viewer", PASSWORD, ip="10.1.1.2").status_code == 302
    row = _user(home, "viewer")
    assert row["account_status"] == "active" and row["failed_login_attempts"] == 0


def test_per_ip_rate_limit(app: Flask, home: RuntimePaths) -> None:
    client = app.test_client()
    codes = [
        _post_login(client, "viewer", "bad password xx", ip="10.2.0.1").status_code
        for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]
    response = _post_login(client, "viewer", PASSWORD, ip="10.2.0.1")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert _post_login(client, "viewer", PASSWORD, ip="10.2.0.2").status_code == 302
    assert "rate_limited" in _events(home)


def test_idle_and_absolute_expiry(
    client_as: Callable[[str], TestClient], clock: FakeClock, home: RuntimePaths
) -> None:
    client = client_as("viewer")
    clock.sleep_until(clock.now_utc() + timedelta(minutes=119))
    assert client.get("/dashboard").status_code == 200
    clock.sleep_until(clock.now_utc() + timedelta(minutes=121))
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "session_expired" in _events(home)
    client = client_as("viewer")
    for _ in range(7):  # keep it busy: 7 x 100 min = 11 h 40 min
        clock.sleep_until(clock.now_utc() + timedelta(minutes=100))
        assert client.get("/dashboard").status_code == 200
    clock.sleep_until(clock.now_utc() + timedelta(minutes=21))
    assert client.get("/dashboard").status_code == 302  # absolute 12 h limit


def _steal(app: Flask, client: FlaskClient) -> FlaskClient:
    """A second client carrying the same session cookie."""
    cookie = client.get_cookie("tbot_session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("tbot_session", cookie.value)
    return thief


def test_logout_revokes(app: Flask, client_as: Callable[[str], TestClient]) -> None:
    client = client_as("viewer")
    copy = _steal(app, client)
    assert copy.get("/dashboard").status_code == 200
    assert client.post("/logout", data={"csrf_token": client.csrf}).status_code == 302
    assert copy.get("/dashboard").status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_password_change_revokes_others(app: Flask, client_as: Callable[[str], TestClient]) -> None:
    first = client_as("operator")
    second = client_as("operator")
    old_copy = _steal(app, first)
    new_password = "another fine passphrase"
    response = first.post(
        "/account/password",
        data={
            "csrf_token": first.csrf,
            "current_password": PASSWORD,
            "new_password": new_password,
            "confirm": new_password,
        },
    )
    assert response.status_code == 303
    assert first.get("/dashboard").status_code == 200  # re-issued token
    assert second.get("/dashboard").status_code == 302
    assert old_copy.get("/dashboard").status_code == 302  # the old token was replaced
    assert login(app.test_client(), "operator", new_password).status_code == 302


def test_role_change_revokes(
    app: Flask, home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    viewer = client_as("viewer")
    admin = client_as("admin")
    user = _user(home, "viewer")
    response = admin.post(
        f"/users/{user['id']}/edit",
        data={
            "csrf_token": admin.csrf,
            "email": user["email"],
            "role": "operator",
            "account_status": "active",
        },
    )
    assert response.status_code == 303
    assert viewer.get("/dashboard").status_code == 302
    assert "role_changed" in _events(home, "system_users.log")


def test_role_is_read_fresh_each_request(
    app: Flask, home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    operator = client_as("operator")
    with sqlite3.connect(home.core_db("SYSTEM_USERS.db")) as conn:
        conn.execute("UPDATE system_users SET role='viewer' WHERE username='operator'")
    conn.close()
    response = operator.post("/control/stop", data={"csrf_token": operator.csrf})
    assert response.status_code == 403


def test_open_redirect_refused(app: Flask) -> None:
    for target, expected in (
        ("//evil.example/x", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
        ("/logs?file=runner", "/logs?file=runner"),
    ):
        client = app.test_client()
        token = fresh_csrf(client)
        response = client.post(
            "/login",
            data={"csrf_token": token, "username": "viewer", "password": PASSWORD, "next": target},
            environ_base={"REMOTE_ADDR": f"10.3.{len(target)}.1"},
        )
        assert response.status_code == 302
        assert response.headers["Location"] == expected, target


def test_login_events_in_system_logs(app: Flask, home: RuntimePaths) -> None:
    client = app.test_client()
    _post_login(client, "viewer", "wrong password!!")
    _post_login(client, "viewer", PASSWORD)
    with sqlite3.connect(home.core_db("SYSTEM_LOGS.db")) as conn:
        events = [r[0] for r in conn.execute("SELECT event FROM system_logs ORDER BY id")]
    conn.close()
    assert events[-2:] == ["login_failure", "login_success"]
    with sqlite3.connect(home.core_db("USER_ACTIVITY_MONITORING.db")) as conn:
        kinds = [r[0] for r in conn.execute("SELECT action_type FROM user_activity_log")]
    conn.close()
    assert "LOGIN" in kinds
