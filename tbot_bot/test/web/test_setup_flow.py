"""First run: setup token, configuration, bootstrap files, registration (web_runtime §2, §4.7)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from flask import Flask

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.core.scripts.verify_all_core_databases import verify
from tbot_bot.runtime.bot_state_manager import read_history
from tbot_bot.test.web.webkit import IDENTITY, PASSWORD, fresh_csrf, make_app, setup_form
from tbot_web.server import resolve_bind
from tbot_web.support import launcher

KEYS = (
    "env",
    "broker",
    "smtp",
    "login",
    "screener_api",
    "acct_api",
    "bot_identity",
    "network_config",
)
SECRETS = (
    "bot_identity.json.enc",
    "network_config.json.enc",
    "broker_credentials.json.enc",
    "smtp_credentials.json.enc",
    "screener_api.json.enc",
    "acct_api_credentials.json.enc",
    ".env_bot.enc",
)
CORE_DBS = (
    "SYSTEM_USERS.db",
    "SYSTEM_LOGS.db",
    "USER_ACTIVITY_MONITORING.db",
    "PASSWORD_RESET_TOKENS.db",
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def first_run(fresh_paths: RuntimePaths) -> tuple[Flask, str]:
    info = launcher.prepare(fresh_paths)
    assert info.new_setup_token and info.flask_secret_created
    return make_app(fresh_paths), info.new_setup_token


def test_fresh_home_binds_localhost(
    fresh_paths: RuntimePaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TBOT_WEB_HOST", raising=False)
    monkeypatch.delenv("TBOT_WEB_PORT", raising=False)
    launcher.prepare(fresh_paths)
    assert resolve_bind(fresh_paths) == ("127.0.0.1", 6900)
    monkeypatch.setenv("TBOT_WEB_PORT", "7001")
    assert resolve_bind(fresh_paths) == ("127.0.0.1", 7001)


def test_launcher_files_and_token(fresh_paths: RuntimePaths) -> None:
    info = launcher.prepare(fresh_paths)
    assert _mode(fresh_paths.key_file("flask_secret")) == 0o600
    assert _mode(fresh_paths.keys_dir) == 0o700
    assert _mode(fresh_paths.setup_token_file) == 0o600
    assert _mode(fresh_paths.control_dir) == 0o700
    assert fresh_paths.setup_token_file.read_text().strip() == info.new_setup_token
    assert len(info.new_setup_token or "") >= 43  # 32 random bytes, URL-safe base64
    again = launcher.prepare(fresh_paths)  # a restart never prints or replaces the token
    assert again.new_setup_token is None and again.setup_pending


def test_missing_or_loose_flask_secret_refused(fresh_paths: RuntimePaths) -> None:
    from tbot_bot.errors import ConfigError

    with pytest.raises(ConfigError):
        make_app(fresh_paths)
    launcher.prepare(fresh_paths)
    fresh_paths.key_file("flask_secret").chmod(0o644)
    with pytest.raises(ConfigError):
        make_app(fresh_paths)


def test_every_url_lands_on_configuration(first_run: tuple[Flask, str]) -> None:
    client = first_run[0].test_client()
    for url in ("/", "/dashboard", "/login", "/users", "/register", "/wait"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"] == "/configuration"
    assert client.get("/api/status").status_code == 503
    assert client.get("/api/status").get_json() == {"error": "setup_incomplete"}
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/api/bot_state").get_json() == {"bot_state": "initialize"}


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_token_required(
    first_run: tuple[Flask, str], fresh_paths: RuntimePaths, token: str | None
) -> None:
    app, _ = first_run
    client = app.test_client()
    form = setup_form(token or "", fresh_csrf(client, "/configuration"))
    if token is None:
        del form["setup_token"]
    assert client.post("/configuration", data=form).status_code == 403
    assert not fresh_paths.core_db_dir.exists()
    log = fresh_paths.global_log("auth_web.log").read_text()
    assert "setup_token_failure" in log
    assert "wrong-token" not in log


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ENTITY_CODE", "a"),
        ("START_TIME_MID_LOCAL", "09:00"),
        ("TIMEZONE", "Mars/Olympus"),
        ("BROKER_NAME", "ALPACA"),  # needs URL, key and secret
        ("LOCAL_PORT", "80"),
        ("ALERT_EMAIL", "ops@example.com"),  # SMTP is all or nothing
    ],
)
def test_bad_input_writes_nothing(
    first_run: tuple[Flask, str], fresh_paths: RuntimePaths, field: str, value: str
) -> None:
    app, token = first_run
    client = app.test_client()
    form = setup_form(token, fresh_csrf(client, "/configuration"), **{field: value})
    response = client.post("/configuration", data=form)
    assert response.status_code == 422
    assert f'data-field="{field}"' in response.get_data(as_text=True)
    assert not fresh_paths.core_db_dir.exists()
    assert not fresh_paths.secrets_dir.exists()
    assert fresh_paths.bot_state_file.exists() is False


def test_full_first_run(first_run: tuple[Flask, str], fresh_paths: RuntimePaths) -> None:
    app, token = first_run
    client = app.test_client()
    secret_value = "planted-broker-secret-123"
    form = setup_form(
        token,
        fresh_csrf(client, "/configuration"),
        BROKER_NAME="ALPACA",
        BROKER_URL="https://paper-api.example.com",
        BROKER_API_KEY="planted-broker-key-123",
        BROKER_SECRET_KEY=secret_value,
    )
    response = client.post("/configuration", data=form)
    assert response.status_code == 303 and response.headers["Location"] == "/register"
    paths = fresh_paths
    states = [r["to"] for r in read_history(paths) if not r["refused"]]
    assert states == ["initializing", "provisioning", "bootstrapping", "registration"]
    for name in CORE_DBS:
        assert _mode(paths.core_db(name)) == 0o600
    assert _mode(paths.core_db_dir) == 0o700
    assert verify(paths) == []
    for key in KEYS:
        assert _mode(paths.key_file(key)) == 0o600, key
    for name in SECRETS:
        assert _mode(paths.secrets_dir / name) == 0o600, name
        assert secret_value.encode() not in (paths.secrets_dir / name).read_bytes()
    assert _mode(paths.secrets_dir) == 0o700
    outputs = paths.bot_outputs(IDENTITY)
    for kind in ("coa", "ledger", "float"):
        assert outputs.ledger_db(kind).exists()
    for folder in (
        outputs.logs_dir,
        outputs.ledgers_dir,
        outputs.summaries_dir,
        outputs.trades_dir,
    ):
        assert folder.is_dir()
    status = json.loads(paths.status_file("provisioning_status.json").read_text())
    assert status["status"] == "waiting_registration"
    assert "provisioning_completed" in paths.global_log("provisioning.log").read_text()

    # registration: token needed, first user is admin, then 404
    form = {
        "csrf_token": fresh_csrf(client, "/register"),
        "username": "boss",
        "email": "boss@example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
    }
    assert client.post("/register", data={**form, "setup_token": "nope"}).status_code == 403
    response = client.post("/register", data={**form, "setup_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert paths.bot_state_file.read_text().strip() == "started"
    assert not paths.setup_token_file.exists()
    assert any(p.name.endswith(".json") for p in paths.requests_dir.iterdir())  # restart_web
    response = client.post("/register", data={**form, "username": "second", "setup_token": token})
    assert response.status_code == 404
    admin = app.test_client()
    token2 = fresh_csrf(admin)
    response = admin.post(
        "/login", data={"csrf_token": token2, "username": "boss", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert "(admin)" in admin.get("/dashboard").get_data(as_text=True)


def test_failed_bootstrap_goes_to_error_and_can_retry(
    first_run: tuple[Flask, str], fresh_paths: RuntimePaths
) -> None:
    app, token = first_run
    client = app.test_client()
    # A directory where the identity secret should go makes provisioning fail half-way.
    fresh_paths.secrets_dir.mkdir(parents=True)
    (fresh_paths.secrets_dir / "bot_identity.json.enc").mkdir()
    response = client.post(
        "/configuration", data=setup_form(token, fresh_csrf(client, "/configuration"))
    )
    assert response.status_code == 500
    assert fresh_paths.bot_state_file.read_text().strip() == "error"
    status = json.loads(fresh_paths.status_file("provisioning_status.json").read_text())
    assert status["status"] == "error" and status["step"] == "provisioning"
    page = client.get("/configuration").get_data(as_text=True)  # still the setup form
    assert "last setup attempt failed" in page
    (fresh_paths.secrets_dir / "bot_identity.json.enc").rmdir()
    response = client.post(
        "/configuration", data=setup_form(token, fresh_csrf(client, "/configuration"))
    )
    assert response.status_code == 303
    assert fresh_paths.bot_state_file.read_text().strip() == "registration"
