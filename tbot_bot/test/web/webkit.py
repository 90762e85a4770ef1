"""Helpers shared by the Flask-client and browser suites: setup form, login, CSRF scraping."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_web.app import create_app
from tbot_web.support import launcher

START = datetime(2025, 3, 4, 14, 30, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "analyst", "operator", "admin")
TEST_ROUNDS = 4  # test-only bcrypt cost (create_app refuses it outside testing=True)
SETUP_FORM: dict[str, str] = {
    "ENTITY_CODE": "ACME",
    "JURISDICTION_CODE": "USA",
    "BROKER_CODE": "SIMBRK",
    "BOT_ID": "01",
    "LANGUAGE_CODE": "en",
    "TIMEZONE": "America/New_York",
    "START_TIME_OPEN_LOCAL": "09:30",
    "START_TIME_MID_LOCAL": "12:00",
    "START_TIME_CLOSE_LOCAL": "15:34:30",
    "BROKER_NAME": "SIM",
    "SMTP_PORT": "465",
    "SMTP_SECURITY": "ssl",
    "LOCAL_IP": "127.0.0.1",
    "LOCAL_PORT": "6900",
    "REMOTE_IP": "127.0.0.1",
    "REMOTE_PORT": "6900",
    "DEBUG_LOG_LEVEL": "info",
}
IDENTITY = "ACME_USA_SIMBRK_01"
_CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


class TestClient(FlaskClient):
    """The Flask test client plus the CSRF token of its logged-in session."""

    __test__ = False  # not a pytest test class
    csrf: str = ""


class Outbox:
    """Injected mailer: records `(to, subject, body)` instead of talking SMTP."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def __call__(self, smtp: dict[str, Any], to: str, subject: str, body: str) -> None:
        self.sent.append((to, subject, body))


def csrf_of(html: str) -> str:
    match = _CSRF_META.search(html)
    assert match, "page has no csrf-token meta tag"
    return match.group(1)


def make_app(
    home: Path | RuntimePaths, clock: FakeClock | None = None, outbox: Outbox | None = None
) -> Flask:
    paths = home if isinstance(home, RuntimePaths) else RuntimePaths.for_home(home)
    app = create_app(
        paths,
        testing=True,
        clock=clock or FakeClock(START),
        mailer=outbox or Outbox(),
        test_bcrypt_rounds=TEST_ROUNDS,
    )
    app.test_client_class = TestClient
    return app


def new_client(app: Flask) -> TestClient:
    """`app.test_client()` typed as the `TestClient` that `make_app` installs."""
    client = app.test_client()
    assert isinstance(client, TestClient)
    return client


def fresh_csrf(client: FlaskClient, url: str = "/login") -> str:
    return csrf_of(client.get(url).get_data(as_text=True))


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    token = fresh_csrf(client)
    response = client.post(
        "/login", data={"csrf_token": token, "username": username, "password": password}
    )
    if response.status_code == 302 and isinstance(client, TestClient):
        client.csrf = fresh_csrf(client, "/account")
    return response


def setup_form(setup_token: str, csrf: str, **overrides: str) -> dict[str, str]:
    return {**SETUP_FORM, "setup_token": setup_token, "csrf_token": csrf, **overrides}


@dataclass
class Provisioned:
    """A home that went through configuration and registration, with one user per role."""

    home: Path
    users: dict[str, int] = field(default_factory=dict)
    setup_token: str = ""


def provision(home: Path, form_overrides: dict[str, str] | None = None) -> Provisioned:
    """Run the real first-run path (configuration -> register -> users) on `home`."""
    paths = RuntimePaths.for_home(home)
    info = launcher.prepare(paths)
    assert info.new_setup_token
    app = make_app(paths)
    client = app.test_client()
    csrf = fresh_csrf(client, "/configuration")
    response = client.post(
        "/configuration", data=setup_form(info.new_setup_token, csrf, **(form_overrides or {}))
    )
    assert response.status_code == 303, response.get_data(as_text=True)[-3000:]
    csrf = fresh_csrf(client, "/register")
    response = client.post(
        "/register",
        data={
            "csrf_token": csrf,
            "setup_token": info.new_setup_token,
            "username": "admin",
            "email": "admin@example.com",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)[-2000:]
    app = make_app(paths)
    admin = new_client(app)
    assert login(admin, "admin").status_code == 302
    for role in ("viewer", "analyst", "operator"):
        response = admin.post(
            "/users/create",
            data={
                "csrf_token": admin.csrf,
                "username": role,
                "email": f"{role}@example.com",
                "role": role,
                "password": PASSWORD,
                "confirm": PASSWORD,
            },
        )
        assert response.status_code == 303, response.get_data(as_text=True)[-2000:]
    # A spare account that destructive probes (delete, edit) may act on.
    admin.post(
        "/users/create",
        data={
            "csrf_token": admin.csrf,
            "username": "spare",
            "email": "spare@example.com",
            "role": "viewer",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    return Provisioned(home, setup_token=info.new_setup_token)


def copy_home(template: Path, target: Path) -> RuntimePaths:
    """Copy a provisioned template into a test's own home (modes preserved)."""
    shutil.copytree(template, target, dirs_exist_ok=True)
    return RuntimePaths.for_home(target)


def force_state(paths: RuntimePaths, state: str) -> None:
    """Test setup only: put a home into any state without walking the transition table."""
    paths.control_dir.mkdir(parents=True, exist_ok=True)
    paths.bot_state_file.write_text(state + "\n")


POSITIONS = [
    {
        "symbol": "MSFT",
        "side": "long",
        "qty": "10",
        "avg_entry_price": "250.10",
        "market_price": "252.00",
        "market_value": "2520.00",
        "unrealized_pnl": "19.00",
        "strategy": "open",
        "opened_at_utc": "2025-03-04T14:35:00.000Z",
    },
    {
        "symbol": "SH",
        "side": "long",
        "qty": "25.5",
        "avg_entry_price": "14.20",
        "market_price": "14.10",
        "market_value": "359.55",
        "unrealized_pnl": "-2.55",
        "strategy": "mid",
        "opened_at_utc": "2025-03-04T17:05:00.000Z",
    },
]
EQUITY = [
    ("2025-02-26T21:00:00.000Z", "100000.00"),
    ("2025-02-27T21:00:00.000Z", "100420.50"),
    ("2025-02-28T21:00:00.000Z", "99870.25"),
    ("2025-03-03T21:00:00.000Z", "100950.00"),
    ("2025-03-04T14:30:00.000Z", "101012.75"),
]


def seed_runtime_files(paths: RuntimePaths, now: datetime | None = None) -> None:
    """What main and the runner would have written: status, positions, equity history.

    With `now` (browser tests on the wall clock) every timestamp is shifted so that the status is
    fresh and the last equity sample is `now`; without it the fixed test clock `START` applies.
    """
    import json

    from tbot_bot.clock import iso_utc, parse_iso_utc

    shift = (now - START) if now is not None else timedelta(0)

    def at(text: str) -> str:
        return iso_utc(parse_iso_utc(text) + shift)

    updated_utc = at("2025-03-04T14:29:55.000Z")

    paths.status_dir.mkdir(parents=True, exist_ok=True)
    status = {
        "schema_version": 1,
        "updated_utc": updated_utc,
        "version": "1.0.0",
        "bot_state": "running",
        "state_since_utc": "2025-03-04T14:00:00.000Z",
        "state_reason": "day plan ready",
        "bot_identity": IDENTITY,
        "active_strategy": "open",
        "phase": "open",
        "phase_started_utc": "2025-03-04T14:30:00.000Z",
        "next_phase": "mid",
        "next_phase_utc": "2025-03-04T17:00:00.000Z",
        "halted": False,
        "broker_suspended": False,
        "data_suspended": False,
        "flags": {"stop": None, "kill": None, "start": None},
        "broker": {
            "code": "SIMBRK",
            "api_status": "healthy",
            "latency_ms": 12,
            "last_ok_utc": updated_utc,
            "consecutive_failures": 0,
            "api_key": "planted-status-api-key",
        },
        "account": {
            "as_of_utc": updated_utc,
            "equity": "101012.75",
            "cash": "98133.20",
            "buying_power": "196266.40",
        },
        "pnl": {
            "day_pnl": "62.75",
            "realized_today": "46.30",
            "unrealized": "16.45",
            "kill_threshold": "-5050.64",
        },
        "positions_count": 2,
        "trades_today": {"count": 3, "wins": 2, "losses": 1, "win_rate_pct": "66.7"},
        "reconciliation": {
            "last_run_utc": updated_utc,
            "status": "partial",
            "open_mismatches": 2,
        },
        "errors": {"count_today": 0, "last_error": None},
        "overall": {"level": "OK", "reasons": []},
        "schedule": {
            "trading_date": "2025-03-04",
            "open_utc": "2025-03-04T14:30:00.000Z",
            "mid_utc": "2025-03-04T17:00:00.000Z",
            "close_utc": "2025-03-04T20:34:30.000Z",
            "market_close_utc": "2025-03-04T21:00:00.000Z",
            "phases": {
                "open": {
                    "status": "running",
                    "reason": None,
                    "started_utc": "2025-03-04T14:30:00.000Z",
                    "ended_utc": None,
                },
                "mid": {
                    "status": "pending",
                    "reason": None,
                    "started_utc": None,
                    "ended_utc": None,
                },
            },
        },
    }
    paths.status_file("status.json").write_text(json.dumps(status))
    paths.status_file("positions.json").write_text(
        json.dumps({"as_of_utc": "2025-03-04T14:29:00.000Z", "positions": POSITIONS})
    )
    lines = [
        json.dumps({"ts_utc": at(ts), "equity": eq, "cash": eq, "session": "close"})
        for ts, eq in EQUITY
    ]
    paths.status_file("equity_history.jsonl").write_text("\n".join(lines) + "\n")
