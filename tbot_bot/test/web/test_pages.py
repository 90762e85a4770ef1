"""Admin and account pages: users, settings editor, configuration editor, logs viewer."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.test.web.webkit import PASSWORD, TestClient, login


def _user_id(home: RuntimePaths, username: str) -> int | None:
    conn = sqlite3.connect(home.core_db("SYSTEM_USERS.db"))
    row = conn.execute("SELECT id FROM system_users WHERE username = ?", (username,)).fetchone()
    conn.close()
    return int(row[0]) if row else None


def _digest(page: str) -> str:
    match = re.search(r'name="base_digest" value="([0-9a-f]+)"', page)
    assert match
    return match.group(1)


def test_users_lifecycle(home: RuntimePaths, client_as: Callable[[str], TestClient]) -> None:
    admin = client_as("admin")
    csrf = admin.csrf
    bad = admin.post(
        "/users/create",
        data={
            "csrf_token": csrf,
            "username": "x",
            "email": "bad",
            "password": "short",
            "confirm": "other",
        },
    )
    assert bad.status_code == 422
    created = admin.post(
        "/users/create",
        data={
            "csrf_token": csrf,
            "username": "newbie",
            "email": "newbie@example.com",
            "role": "",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert created.status_code == 303
    page = admin.get("/users").get_data(as_text=True)
    assert 'data-username="newbie"' in page
    newbie = _user_id(home, "newbie")
    conn = sqlite3.connect(home.core_db("SYSTEM_USERS.db"))
    assert (
        conn.execute("SELECT role FROM system_users WHERE id=?", (newbie,)).fetchone()[0]
        == "viewer"
    )
    conn.close()
    edit = admin.post(
        f"/users/{newbie}/edit",
        data={
            "csrf_token": csrf,
            "email": "n@example.com",
            "role": "analyst",
            "account_status": "active",
        },
    )
    assert edit.status_code == 303
    me = _user_id(home, "admin")
    assert admin.post(f"/users/{me}/delete", data={"csrf_token": csrf}).status_code == 303
    assert _user_id(home, "admin") == me  # never self
    demote = admin.post(
        f"/users/{me}/edit",
        data={
            "csrf_token": csrf,
            "email": "admin@example.com",
            "role": "viewer",
            "account_status": "active",
        },
    )
    assert demote.status_code == 422  # never the last active admin
    assert admin.post(f"/users/{newbie}/delete", data={"csrf_token": csrf}).status_code == 303
    assert _user_id(home, "newbie") is None
    trail = home.global_log("system_users.log").read_text()
    for event in ("user_created", "role_changed", "user_deleted"):
        assert event in trail


def test_unlock(home: RuntimePaths, client_as: Callable[[str], TestClient]) -> None:
    conn = sqlite3.connect(home.core_db("SYSTEM_USERS.db"))
    conn.execute(
        "UPDATE system_users SET account_status='locked', failed_login_attempts=10 "
        "WHERE username='viewer'"
    )
    conn.commit()
    conn.close()
    admin = client_as("admin")
    viewer_id = _user_id(home, "viewer")
    assert (
        admin.post(f"/users/{viewer_id}/unlock", data={"csrf_token": admin.csrf}).status_code == 303
    )
    assert login(admin.application.test_client(), "viewer").status_code == 302


def test_settings_preview_and_save(
    home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    admin = client_as("admin")
    page = admin.get("/settings").get_data(as_text=True)
    assert "MAX_TRADES" in page
    digest = _digest(page)
    csrf = admin.csrf
    unknown = admin.post(
        "/settings/preview", data={"csrf_token": csrf, "base_digest": digest, "NO_SUCH_KEY": "1"}
    )
    assert unknown.status_code == 422
    forbidden = admin.post(
        "/settings/preview", data={"csrf_token": csrf, "base_digest": digest, "PAPER_MODE": "true"}
    )
    assert forbidden.status_code == 422
    invalid = admin.post(
        "/settings/preview", data={"csrf_token": csrf, "base_digest": digest, "MAX_TRADES": "zero"}
    )
    assert invalid.status_code == 422
    preview = admin.post(
        "/settings/preview",
        data={"csrf_token": csrf, "base_digest": digest, "MAX_OPEN_POSITIONS": "7"},
    )
    assert preview.status_code == 200 and "MAX_OPEN_POSITIONS" in preview.get_data(as_text=True)
    key_before = home.key_file("env").read_bytes()
    saved = admin.post(
        "/settings/save",
        data={"csrf_token": csrf, "base_digest": digest, "MAX_OPEN_POSITIONS": "7"},
    )
    assert saved.status_code == 303
    assert SecretsManager(home).load("env")["MAX_OPEN_POSITIONS"] == "7"
    assert home.key_file("env").read_bytes() != key_before  # env.key rotated on save
    stale = admin.post(
        "/settings/save",
        data={"csrf_token": csrf, "base_digest": digest, "MAX_OPEN_POSITIONS": "6"},
    )
    assert stale.status_code == 409
    events = [json.loads(x) for x in home.global_log("security_users.log").read_text().splitlines()]
    changed = [e for e in events if e["event"] == "settings_changed"]
    assert changed[-1]["extra"]["keys"] == ["MAX_OPEN_POSITIONS"]
    analyst = client_as("analyst")
    assert analyst.get("/settings").status_code == 200
    assert 'id="settings-preview"' not in analyst.get("/settings").get_data(as_text=True)


def test_configuration_edit_after_setup(
    home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    admin = client_as("admin")
    page = admin.get("/configuration").get_data(as_text=True)
    assert 'name="setup_token"' not in page and "readonly" in page
    response = admin.post(
        "/configuration",
        data={
            "csrf_token": admin.csrf,
            "LOCAL_PORT": "7100",
            "REMOTE_PORT": "7100",
            "ENTITY_CODE": "EVIL",
        },
    )
    assert response.status_code == 303
    secrets = SecretsManager(home)
    assert secrets.load("network_config")["LOCAL_PORT"] == 7100
    assert secrets.load("bot_identity")["ENTITY_CODE"] == "ACME"  # identity is read-only
    requests = [json.loads(p.read_text()) for p in home.requests_dir.glob("*.json")]
    assert any(r["type"] == "restart_web" and r["requested_by"] == "web:admin" for r in requests)


def test_logs_viewer(home: RuntimePaths, client_as: Callable[[str], TestClient]) -> None:
    viewer = client_as("viewer")
    assert viewer.get("/logs?file=provisioning").status_code == 200
    assert viewer.get("/logs?file=auth_web").status_code == 403  # security log: admin only
    assert viewer.get("/logs?file=../../etc/passwd").status_code == 404
    assert viewer.get("/logs?file=runner&lines=abc").status_code == 400
    assert viewer.get("/logs?file=runner&hours=5").status_code == 400
    admin = client_as("admin")
    page = admin.get("/logs?file=auth_web&level=info&lines=50").get_data(as_text=True)
    assert "login_success" in page


def test_account_email_change(client_as: Callable[[str], TestClient], home: RuntimePaths) -> None:
    viewer = client_as("viewer")
    csrf = viewer.csrf
    wrong = viewer.post(
        "/account/email",
        data={"csrf_token": csrf, "email": "v2@example.com", "current_password": "nope nope nope"},
    )
    assert wrong.status_code == 422
    ok = viewer.post(
        "/account/email",
        data={"csrf_token": csrf, "email": "v2@example.com", "current_password": PASSWORD},
    )
    assert ok.status_code == 303
    conn = sqlite3.connect(home.core_db("SYSTEM_USERS.db"))
    assert (
        conn.execute("SELECT email FROM system_users WHERE username='viewer'").fetchone()[0]
        == "v2@example.com"
    )
    conn.close()


def test_rotate_session_keys_ends_sessions_logins_survive(
    home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    admin = client_as("admin")
    viewer = client_as("viewer")
    login_key = home.key_file("login").read_bytes()
    response = admin.post(
        "/settings/rotate_keys",
        data={"csrf_token": admin.csrf, "scope": "login", "include_session_keys": "1"},
    )
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert home.key_file("login").read_bytes() != login_key
    assert viewer.get("/dashboard").status_code == 302  # every session ended
    assert login(admin.application.test_client(), "viewer").status_code == 302


def test_rotate_all_fernet_keys(home: RuntimePaths, client_as: Callable[[str], TestClient]) -> None:
    admin = client_as("admin")
    before = {c: home.key_file(c).read_bytes() for c in ("env", "broker", "login")}
    response = admin.post("/settings/rotate_keys", data={"csrf_token": admin.csrf, "scope": "all"})
    assert response.status_code == 303
    assert home.key_file("env").read_bytes() != before["env"]
    assert home.key_file("broker").read_bytes() != before["broker"]
    assert home.key_file("login").read_bytes() == before["login"]  # session keys need the box
    assert admin.get("/settings").status_code == 200  # the admin stays logged in
