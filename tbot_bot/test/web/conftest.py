"""Fixtures of the Flask-client suite (web_runtime §9).

`provisioned_template` runs the real configuration -> register -> user-creation path once per
session; each test gets its own copy in its fresh `tbot_home`, so bcrypt and provisioning costs are
paid once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.test.web.webkit import (
    START,
    Outbox,
    TestClient,
    copy_home,
    login,
    make_app,
    provision,
)


@pytest.fixture(scope="session")
def provisioned_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("template") / "home"
    home.mkdir()
    provision(home)
    return home


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def home(tbot_home: Path, provisioned_template: Path) -> RuntimePaths:
    return copy_home(provisioned_template, tbot_home)


@pytest.fixture
def fresh_paths(tbot_home: Path) -> RuntimePaths:
    """An empty home (first start)."""
    return RuntimePaths.for_home(tbot_home)


@pytest.fixture
def app(home: RuntimePaths, clock: FakeClock, outbox: Outbox) -> Flask:
    return make_app(home, clock, outbox)


@pytest.fixture
def client_as(app: Flask) -> Callable[[str], TestClient]:
    """`client_as("operator")`: a client logged in through /login, with `.csrf` set."""

    def make(role: str) -> TestClient:
        client = app.test_client()
        assert isinstance(client, TestClient)
        response = login(client, role)
        assert response.status_code == 302, response.get_data(as_text=True)[-500:]
        return client

    return make
