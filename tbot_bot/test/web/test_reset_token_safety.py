"""Reset tokens stay with the account state they were issued for (web_runtime §4.8, §4.4).

- Deleting a user, changing their status or email invalidates their tokens.
- `system_users.id` is reused after a deletion; a token older than the account it names is refused.
- A reset clears a lockout lock but never an admin lock.
- The reset request does its token and mail work off the request path, for every address.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask

from tbot_bot.clock import FakeClock, iso_utc
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.test.web.webkit import PASSWORD, TestClient, fresh_csrf, login, new_client
from tbot_web.py import login_web
from tbot_web.py.login_web import RESET_ANSWER
from tbot_web.support import password_reset

NEW_PASSWORD = "attacker chosen passphrase"
_LINK = re.compile(r"/password_reset/([A-Za-z0-9_-]+)")


def _user_id(home: RuntimePaths, username: str) -> int:
    with sqlite3.connect(home.core_db("SYSTEM_USERS.db")) as conn:
        row = conn.execute("SELECT id FROM system_users WHERE username = ?", (username,)).fetchone()
    return int(row[0])


def _status(home: RuntimePaths, username: str) -> tuple[str, str | None]:
    with sqlite3.connect(home.core_db("SYSTEM_USERS.db")) as conn:
        row = conn.execute(
            "SELECT account_status, locked_until FROM system_users WHERE username = ?", (username,)
        ).fetchone()
    return str(row[0]), row[1]


def _admin_link(admin: TestClient, user_id: int) -> str:
    response = admin.post(f"/users/{user_id}/reset_link", data={"csrf_token": admin.csrf})
    assert response.status_code == 200
    match = _LINK.search(response.get_data(as_text=True))
    assert match
    return match.group(1)


def _use(app: Flask, token: str, password: str = NEW_PASSWORD, ip: str = "10.7.0.1") -> int:
    client = app.test_client()
    csrf = fresh_csrf(client, f"/password_reset/{token}")
    response = client.post(
        f"/password_reset/{token}",
        data={"csrf_token": csrf, "password": password, "confirm": password},
        environ_base={"REMOTE_ADDR": ip},
    )
    return response.status_code


def _create(admin: TestClient, username: str) -> None:
    response = admin.post(
        "/users/create",
        data={
            "csrf_token": admin.csrf,
            "username": username,
            "email": f"{username}@example.com",
            "role": "admin",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert response.status_code == 303


def test_deleted_users_token_cannot_reset_the_next_account(
    app: Flask, home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    admin = client_as("admin")
    spare = _user_id(home, "spare")  # the highest id: the next account reuses it
    token = _admin_link(admin, spare)
    assert admin.post(f"/users/{spare}/delete", data={"csrf_token": admin.csrf}).status_code == 303
    _create(admin, "newboss")
    assert _user_id(home, "newboss") == spare  # the id really was reused
    assert app.test_client().get(f"/password_reset/{token}").status_code == 400
    assert _use(app, token) == 400
    assert login(app.test_client(), "newboss", NEW_PASSWORD).status_code == 401
    assert login(app.test_client(), "newboss").status_code == 302


def test_token_is_bound_to_the_account_not_the_id(
    app: Flask, home: RuntimePaths, clock: FakeClock, client_as: Callable[[str], TestClient]
) -> None:
    """Even a token that escaped invalidation (an older release) cannot reach a reused id."""
    admin = client_as("admin")
    spare = _user_id(home, "spare")
    token = _admin_link(admin, spare)
    clock.sleep_until(clock.now_utc() + timedelta(minutes=1))
    # What an older release left behind: the row deleted, its token alive, the id reused by an
    # account created later.
    with sqlite3.connect(home.core_db("SYSTEM_USERS.db")) as conn:
        conn.execute("DELETE FROM system_users WHERE id = ?", (spare,))
        conn.execute(
            "INSERT INTO system_users (id, username, email, password_hash, role, account_status,"
            " password_changed_at, created_at) SELECT ?, 'newboss', 'nb@example.com',"
            " password_hash, 'admin', 'active', ?, ? FROM system_users WHERE username = 'admin'",
            (spare, iso_utc(clock.now_utc()), iso_utc(clock.now_utc())),
        )
    assert app.test_client().get(f"/password_reset/{token}").status_code == 400
    assert _use(app, token) == 400
    assert login(app.test_client(), "newboss", NEW_PASSWORD).status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        {"email": "viewer-new@example.com", "role": "viewer", "account_status": "active"},
        {"email": "viewer@example.com", "role": "viewer", "account_status": "locked"},
        {"email": "viewer@example.com", "role": "viewer", "account_status": "inactive"},
    ],
    ids=["email", "lock", "deactivate"],
)
def test_admin_status_or_email_change_kills_tokens(
    app: Flask, home: RuntimePaths, client_as: Callable[[str], TestClient], change: dict[str, str]
) -> None:
    admin = client_as("admin")
    viewer = _user_id(home, "viewer")
    token = _admin_link(admin, viewer)
    response = admin.post(f"/users/{viewer}/edit", data={"csrf_token": admin.csrf, **change})
    assert response.status_code == 303
    assert _use(app, token) == 400


def test_own_email_change_kills_tokens_sent_to_the_old_address(
    app: Flask, home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    admin = client_as("admin")
    token = _admin_link(admin, _user_id(home, "viewer"))
    viewer = client_as("viewer")
    response = viewer.post(
        "/account/email",
        data={
            "csrf_token": viewer.csrf,
            "current_password": PASSWORD,
            "email": "viewer-new@example.com",
        },
    )
    assert response.status_code == 303
    assert _use(app, token) == 400


def test_reset_never_lifts_an_admin_lock(
    app: Flask, home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    admin = client_as("admin")
    viewer = _user_id(home, "viewer")
    edit = {"csrf_token": admin.csrf, "email": "viewer@example.com", "role": "viewer"}
    assert (
        admin.post(f"/users/{viewer}/edit", data={**edit, "account_status": "locked"}).status_code
        == 303
    )
    token = _admin_link(admin, viewer)  # made after the lock: survives it
    assert _use(app, token) == 302
    assert _status(home, "viewer") == ("locked", None)
    assert login(app.test_client(), "viewer", NEW_PASSWORD).status_code == 401


def test_reset_lifts_a_lockout_lock(
    app: Flask, home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    admin = client_as("admin")
    token = _admin_link(admin, _user_id(home, "viewer"))
    client = app.test_client()
    for attempt in range(10):
        client.post(
            "/login",
            data={
                "csrf_token": fresh_csrf(client),
                "username": "viewer",
                "password": "not the password",
            },
            environ_base={"REMOTE_ADDR": f"10.8.0.{attempt}"},
        )
    status, until = _status(home, "viewer")
    assert status == "locked" and until is not None
    assert _use(app, token) == 302
    assert _status(home, "viewer") == ("active", None)
    assert login(app.test_client(), "viewer", NEW_PASSWORD).status_code == 302


def test_reset_request_work_is_off_the_request_path(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Known and unknown addresses get the same answer after the same work: start one worker."""
    request_thread = threading.current_thread()
    callers: list[threading.Thread] = []
    real_create = password_reset.create_token

    def spy(*args: object, **kwargs: object) -> str:
        callers.append(threading.current_thread())
        return real_create(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(login_web, "create_token", spy)
    threads = app.extensions["tbot"].mail_threads
    pages = []
    for index, email in enumerate(("viewer@example.com", "nobody@example.com")):
        client = new_client(app)
        before = list(threads)
        response = client.post(
            "/password_reset",
            data={"csrf_token": fresh_csrf(client, "/password_reset"), "email": email},
            environ_base={"REMOTE_ADDR": f"10.6.0.{index}"},
        )
        assert response.status_code == 200
        started = [t for t in threads if t not in before]
        assert len(started) == 1, email  # the same work for every address
        started[0].join(5)
        pages.append(re.sub(r'(content|value)="[A-Za-z0-9_-]{40,}"', "", response.get_data(True)))
    assert RESET_ANSWER in pages[0] and pages[0] == pages[1]
    assert len(callers) == 1 and callers[0] is not request_thread
