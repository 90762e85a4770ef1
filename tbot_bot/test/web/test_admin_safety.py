"""Admin provisioning and sessions cannot be knocked over (web_runtime §1.6, §4.4, §4.5).

- Locking the only admin by brute force does not reopen first-run setup in state `error`.
- Two admins demoting each other at the same moment still leave one active admin.
- POST /login while signed in ends the current session.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.core.database import connect
from tbot_bot.test.web.webkit import PASSWORD, TestClient, force_state, fresh_csrf
from tbot_web.support import users
from tbot_web.support.users import Actor, UserError, get_user, update_user


def _bad_login(client: FlaskClient, username: str, ip: str) -> int:
    response = client.post(
        "/login",
        data={"csrf_token": fresh_csrf(client), "username": username, "password": "wrong wrong"},
        environ_base={"REMOTE_ADDR": ip},
    )
    return response.status_code


def test_locked_only_admin_keeps_setup_complete(app: Flask, home: RuntimePaths) -> None:
    force_state(home, "error")
    client = app.test_client()
    assert client.get("/").headers["Location"].endswith("/login")
    for attempt in range(10):
        assert _bad_login(client, "admin", f"10.5.0.{attempt}") == 401
    with sqlite3.connect(home.core_db("SYSTEM_USERS.db")) as conn:
        status = conn.execute("SELECT account_status FROM system_users WHERE username='admin'")
        assert status.fetchone()[0] == "locked"
    landing = client.get("/")
    assert landing.status_code == 302 and landing.headers["Location"].endswith("/login")
    assert client.get("/login").status_code == 200
    setup = client.get("/configuration")  # after setup: needs settings.edit, no first-run form
    assert setup.status_code == 302 and "/login?next=" in setup.headers["Location"]


def test_concurrent_demotions_leave_an_admin(
    app: Flask,
    home: RuntimePaths,
    client_as: Callable[[str], TestClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both admins count two admins, then both demote the other: one must be refused."""
    admin = client_as("admin")
    admin.post(
        "/users/create",
        data={
            "csrf_token": admin.csrf,
            "username": "admin2",
            "email": "admin2@example.com",
            "role": "admin",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    # Both threads count before either writes (the race); a serialised count times the barrier out.
    barrier = threading.Barrier(2)
    real_count = users.active_admins

    def racing_count(conn: sqlite3.Connection) -> int:
        count = real_count(conn)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=1.5)
        return count

    monkeypatch.setattr(users, "active_admins", racing_count)
    outcomes: list[str] = []

    def demote(actor_name: str, target_name: str) -> None:
        conn = connect(home, "SYSTEM_USERS.db")
        tokens = connect(home, "PASSWORD_RESET_TOKENS.db")
        try:
            with app.test_request_context("/users"):
                rows = {r["username"]: r for r in conn.execute("SELECT * FROM system_users")}
                target = get_user(conn, int(rows[target_name]["id"]))
                assert target is not None
                actor = Actor(actor_name, "10.4.0.1", app.extensions["tbot"].now())
                update_user(
                    conn,
                    target,
                    email=str(target["email"]),
                    role="viewer",
                    status="active",
                    actor=actor,
                    tokens=tokens,
                )
            outcomes.append("demoted")
        except (UserError, sqlite3.OperationalError) as exc:
            outcomes.append(type(exc).__name__)
        finally:
            conn.close()
            tokens.close()

    workers = [
        threading.Thread(target=demote, args=("admin", "admin2")),
        threading.Thread(target=demote, args=("admin2", "admin")),
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    assert len(outcomes) == 2 and outcomes.count("demoted") == 1, outcomes
    with sqlite3.connect(home.core_db("SYSTEM_USERS.db")) as conn:
        admins = conn.execute(
            "SELECT COUNT(*) FROM system_users WHERE role='admin' AND account_status='active'"
        ).fetchone()[0]
    assert admins == 1, outcomes


def test_login_while_signed_in_ends_the_old_session(
    app: Flask, client_as: Callable[[str], TestClient]
) -> None:
    first = client_as("viewer")
    old_cookie = first.get_cookie("tbot_session")
    assert old_cookie is not None
    copy = app.test_client()
    copy.set_cookie("tbot_session", old_cookie.value)
    assert copy.get("/dashboard").status_code == 200
    response = first.post(  # the same browser signs in again, as someone else
        "/login", data={"csrf_token": first.csrf, "username": "analyst", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert copy.get("/dashboard").status_code == 302  # the old session is gone
    assert first.get("/dashboard").status_code == 200  # the new one works


def test_failed_login_while_signed_in_ends_the_old_session(
    app: Flask, client_as: Callable[[str], TestClient]
) -> None:
    first = client_as("viewer")
    response = first.post(
        "/login",
        data={"csrf_token": first.csrf, "username": "viewer", "password": "wrong wrong"},
    )
    assert response.status_code == 401
    assert first.get("/dashboard").status_code == 302
