"""UI routing by bot_state (web_runtime §1.6): reachable endpoints and landing page per state."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.core.scripts import init_system_users
from tbot_bot.test.web.webkit import TestClient, force_state, make_app
from tbot_web.support import launcher

ALWAYS = ("/healthz", "/api/bot_state", "/static/css/base.css")
OPEN_STATES = (
    "started",
    "running",
    "idle",
    "analyzing",
    "trading",
    "monitoring",
    "updating",
    "stopped",
)


def _setup_app(paths: RuntimePaths, state: str) -> Flask:
    launcher.prepare(paths)
    force_state(paths, state)
    return make_app(paths)


@pytest.mark.parametrize(
    ("state", "landing", "reachable"),
    [
        ("initialize", "/configuration", ("/configuration",)),
        ("error", "/configuration", ("/configuration",)),
        ("initializing", "/wait", ("/wait",)),
        ("provisioning", "/wait", ("/wait",)),
        ("bootstrapping", "/wait", ("/wait",)),
        ("registration", "/register", ("/register", "/wait")),
    ],
)
def test_setup_states(
    fresh_paths: RuntimePaths, state: str, landing: str, reachable: tuple[str, ...]
) -> None:
    if state == "registration":
        init_system_users.init(fresh_paths)
    client = _setup_app(fresh_paths, state).test_client()
    assert client.get("/").headers["Location"] == landing
    for url in reachable + ALWAYS:
        assert client.get(url).status_code == 200, (state, url)
    for url in (
        "/dashboard",
        "/login",
        "/logs",
        "/users",
        "/settings",
        "/configuration",
        "/register",
        "/wait",
    ):
        if url in reachable:
            continue
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"] == landing, url
    assert client.get("/api/positions").status_code == 503


def test_zero_users_means_register(fresh_paths: RuntimePaths) -> None:
    init_system_users.init(fresh_paths)
    client = _setup_app(fresh_paths, "started").test_client()
    assert client.get("/").headers["Location"] == "/register"


@pytest.mark.parametrize("state", OPEN_STATES)
def test_open_states(
    state: str, home: RuntimePaths, app: Flask, client_as: Callable[[str], TestClient]
) -> None:
    force_state(home, state)
    anonymous = app.test_client()
    assert anonymous.get("/").headers["Location"] == "/login"
    for url in ("/login", "/password_reset", *ALWAYS):
        assert anonymous.get(url).status_code == 200
    assert anonymous.get("/register").status_code == 404
    admin = client_as("admin")
    assert admin.get("/").headers["Location"] == "/dashboard"
    for url in ("/dashboard", "/users", "/settings", "/configuration", "/logs", "/account"):
        assert admin.get(url).status_code == 200, (state, url)


@pytest.mark.parametrize("state", ["graceful_closing_positions", "emergency_closing_positions"])
def test_closing_states(
    state: str, home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    force_state(home, state)
    admin = client_as("admin")
    page = admin.get("/dashboard").get_data(as_text=True)
    assert 'id="closing-banner"' in page
    for url in ("/users", "/settings", "/logs", "/api/status"):
        assert admin.get(url).status_code == 200
    csrf = {"csrf_token": admin.csrf}
    assert admin.post("/users/create", data=csrf).status_code == 409
    assert admin.post("/settings/preview", data=csrf).status_code == 409
    assert admin.post("/control/stop", data=csrf).status_code == 303
    assert admin.post("/account/password", data=csrf).status_code == 422  # reached the view


@pytest.mark.parametrize("state", ["error", "shutdown", "shutdown_triggered"])
def test_halted_states(
    state: str, home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    force_state(home, state)
    admin = client_as("admin")
    assert admin.get("/").headers["Location"] == "/dashboard"
    assert 'id="halted-banner"' in admin.get("/dashboard").get_data(as_text=True)
    for url in ("/logs", "/account"):
        assert admin.get(url).status_code == 200
    for url in ("/users", "/settings"):
        assert admin.get(url).status_code == 409
    csrf = {"csrf_token": admin.csrf}
    assert admin.post("/control/stop", data=csrf).status_code == 409
    start = admin.post("/control/start", data={**csrf, "confirm_reset": "RESET"})
    assert start.status_code == 303
