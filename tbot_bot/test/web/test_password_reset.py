"""Password reset (web_runtime §4.8): hashed single-use tokens, 30 minutes, at most 3 live."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask

from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.test.web.webkit import Outbox, TestClient, fresh_csrf, login
from tbot_web.py.login_web import RESET_ANSWER

NEW_PASSWORD = "a brand new passphrase"
_LINK = re.compile(r"/password_reset/([A-Za-z0-9_-]+)")


@pytest.fixture
def smtp_home(home: RuntimePaths) -> RuntimePaths:
    """The provisioned home with an SMTP server configured (the outbox stands in for it)."""
    SecretsManager(home).save(
        "smtp",
        {
            "ALERT_EMAIL": "ops@example.com",
            "SMTP_HOST": "mail.example.com",
            "SMTP_PORT": "465",
            "SMTP_SECURITY": "ssl",
            "SMTP_USER": "bot",
            "SMTP_PASS": "smtp-secret-xyz",
            "SMTP_FROM": "",
        },
    )
    return home


def _request_reset(app: Flask, email: str, ip: str = "10.9.0.1") -> str:
    client = app.test_client()
    response = client.post(
        "/password_reset",
        data={"csrf_token": fresh_csrf(client, "/password_reset"), "email": email},
        environ_base={"REMOTE_ADDR": ip},
    )
    assert response.status_code == 200
    for thread in app.extensions["tbot"].mail_threads:
        thread.join(5)
    return response.get_data(as_text=True)


def _token(outbox: Outbox, index: int = -1) -> str:
    match = _LINK.search(outbox.sent[index][2])
    assert match
    return match.group(1)


def _use(app: Flask, token: str, password: str = NEW_PASSWORD, ip: str = "10.9.1.1") -> int:
    client = app.test_client()
    csrf = fresh_csrf(client)
    response = client.post(
        f"/password_reset/{token}",
        data={"csrf_token": csrf, "password": password, "confirm": password},
        environ_base={"REMOTE_ADDR": ip},
    )
    return response.status_code


def _rows(paths: RuntimePaths, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(paths.core_db("PASSWORD_RESET_TOKENS.db"))
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


def test_same_answer_and_only_hash_stored(
    app: Flask, smtp_home: RuntimePaths, outbox: Outbox
) -> None:
    known = _request_reset(app, "viewer@example.com", ip="10.9.0.1")
    unknown = _request_reset(app, "nobody@example.com", ip="10.9.0.2")
    assert RESET_ANSWER in known

    def strip_tokens(page: str) -> str:
        return re.sub(r'(content|value)="[A-Za-z0-9_-]{40,}"', "", page)

    assert strip_tokens(known) == strip_tokens(unknown)
    assert len(outbox.sent) == 1 and outbox.sent[0][0] == "viewer@example.com"
    token = _token(outbox)
    stored = [r[0] for r in _rows(smtp_home, "SELECT token_hash FROM password_reset_tokens")]
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    assert "http" in outbox.sent[0][2] and "127.0.0.1:6900" in outbox.sent[0][2]


def test_use_ends_sessions_and_is_single_use(
    app: Flask, smtp_home: RuntimePaths, outbox: Outbox, client_as: Callable[[str], TestClient]
) -> None:
    session = client_as("viewer")
    _request_reset(app, "viewer@example.com")
    token = _token(outbox)
    assert _use(app, token) == 302
    assert session.get("/dashboard").status_code == 302  # sessions ended
    assert _use(app, token, ip="10.9.1.2") == 400  # single use
    assert login(app.test_client(), "viewer", NEW_PASSWORD).status_code == 302
    actions = [r[0] for r in _rows(smtp_home, "SELECT action FROM password_reset_token_audit")]
    assert actions[:2] == ["generated", "used"]


def test_expires_after_30_minutes(
    app: Flask, smtp_home: RuntimePaths, outbox: Outbox, clock: FakeClock
) -> None:
    _request_reset(app, "viewer@example.com")
    clock.sleep_until(clock.now_utc() + timedelta(minutes=30, seconds=1))
    assert _use(app, _token(outbox)) == 400
    assert login(app.test_client(), "viewer", NEW_PASSWORD).status_code == 401


def test_at_most_three_live(app: Flask, smtp_home: RuntimePaths, outbox: Outbox) -> None:
    for index in range(4):
        _request_reset(app, "viewer@example.com", ip=f"10.9.2.{index}")
    live = _rows(
        smtp_home,
        "SELECT COUNT(*) FROM password_reset_tokens WHERE used_at IS NULL "
        "AND invalidated_at IS NULL",
    )
    assert live == [(3,)]
    assert _use(app, _token(outbox, 0)) == 400  # the oldest was invalidated
    assert _use(app, _token(outbox, 3), ip="10.9.3.1") == 302


def test_concurrent_use_succeeds_once(app: Flask, smtp_home: RuntimePaths, outbox: Outbox) -> None:
    _request_reset(app, "viewer@example.com")
    token = _token(outbox)
    results: list[int] = []
    barrier = threading.Barrier(4)

    def attempt(index: int) -> None:
        barrier.wait()
        results.append(_use(app, token, ip=f"10.9.4.{index}"))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == [302, 400, 400, 400]


def test_policy_failure_keeps_token(app: Flask, smtp_home: RuntimePaths, outbox: Outbox) -> None:
    _request_reset(app, "viewer@example.com")
    token = _token(outbox)
    assert _use(app, token, password="viewer") == 422
    assert _use(app, token, ip="10.9.5.1") == 302


def test_admin_link(app: Flask, home: RuntimePaths, client_as: Callable[[str], TestClient]) -> None:
    admin = client_as("admin")
    conn = sqlite3.connect(home.core_db("SYSTEM_USERS.db"))
    viewer_id = conn.execute("SELECT id FROM system_users WHERE username='viewer'").fetchone()[0]
    conn.close()
    response = admin.post(f"/users/{viewer_id}/reset_link", data={"csrf_token": admin.csrf})
    assert response.status_code == 200
    token = _LINK.search(response.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    kinds = _rows(home, "SELECT token_type FROM password_reset_tokens")
    assert kinds == [("admin_link",)]
    assert _use(app, token) == 302
    log = home.global_log("password_reset_tokens.log").read_text()
    assert token not in log
