"""Planted secrets never reach files, database text, rendered pages or the status API (§4.10)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from itsdangerous import URLSafeSerializer

from tbot_bot.clock import FakeClock
from tbot_bot.config import redact
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.test.web.webkit import (
    PASSWORD,
    START,
    Outbox,
    fresh_csrf,
    login,
    make_app,
    provision,
    seed_runtime_files,
)
from tbot_web.support.log_reader import GLOBAL_LOGS

BROKER_KEY = "PLANTED-alpaca-key-7f3a9c"
BROKER_SECRET = "PLANTED-alpaca-secret-55be01"
SMTP_PASS = "PLANTED-smtp-pass-c0ffee"


def _files(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file()]


def _db_texts(paths: RuntimePaths) -> list[str]:
    texts: list[str] = []
    for db in paths.core_db_dir.glob("*.db"):
        conn = sqlite3.connect(db)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608 - names from sqlite
                texts.extend(str(value) for value in row if value is not None)
        conn.close()
    return texts


def test_planted_secrets_stay_hidden(tbot_home: Path) -> None:
    provision(
        tbot_home,
        {
            "BROKER_NAME": "ALPACA",
            "BROKER_URL": "https://paper-api.example.com",
            "BROKER_API_KEY": BROKER_KEY,
            "BROKER_SECRET_KEY": BROKER_SECRET,
            "ALERT_EMAIL": "ops@example.com",
            "SMTP_HOST": "mail.example.com",
            "SMTP_USER": "bot",
            "SMTP_PASS": SMTP_PASS,
        },
    )
    paths = RuntimePaths.for_home(tbot_home)
    seed_runtime_files(paths)
    outbox = Outbox()
    redact.clear_registered()  # provisioning ran in this process; the web must register by itself
    app = make_app(paths, FakeClock(START), outbox)
    admin = app.test_client()
    assert login(admin, "admin").status_code == 302
    session_token = URLSafeSerializer(app.secret_key or b"", salt="tbot-session").loads(
        admin.get_cookie("tbot_session").value  # type: ignore[union-attr]
    )
    anonymous = app.test_client()
    anonymous.post(
        "/password_reset",
        data={
            "csrf_token": fresh_csrf(anonymous, "/password_reset"),
            "email": "viewer@example.com",
        },
    )
    for thread in app.extensions["tbot"].mail_threads:
        thread.join(5)
    reset_token = re.search(r"/password_reset/([\w-]+)", outbox.sent[0][2]).group(1)  # type: ignore[union-attr]
    anonymous.get(f"/password_reset/{reset_token}")  # the token lands in a request path
    pages = [admin.get(url).get_data(as_text=True) for url in ("/settings", "/configuration")]
    pages += [admin.get(f"/logs?file={name}").get_data(as_text=True) for name in GLOBAL_LOGS]
    pages.append(admin.get("/api/status").get_data(as_text=True))
    planted = [BROKER_KEY, BROKER_SECRET, SMTP_PASS, PASSWORD, session_token, reset_token]
    for page in pages:
        for secret in planted:
            assert secret not in page
    assert "planted-status-api-key" not in pages[-1]
    raw = [(p, p.read_bytes()) for p in _files(tbot_home)]
    assert len(raw) > 20
    for path, content in raw:
        for secret in planted:
            assert secret.encode() not in content, (path, secret[:12])
    texts = _db_texts(paths)
    for secret in planted:
        assert not [t for t in texts if secret in t], secret[:12]


def test_secrets_the_web_never_uses_are_masked_in_free_text(tbot_home: Path) -> None:
    """A broker key quoted by the runtime (status error summary, a log line) is hidden (§4.10).

    The web process never needs the broker credentials itself; it must still know them to mask
    them. The registry is emptied first so provisioning in this process cannot do that job.
    """
    provision(
        tbot_home,
        {
            "BROKER_NAME": "ALPACA",
            "BROKER_URL": "https://paper-api.example.com",
            "BROKER_API_KEY": BROKER_KEY,
            "BROKER_SECRET_KEY": BROKER_SECRET,
        },
    )
    paths = RuntimePaths.for_home(tbot_home)
    seed_runtime_files(paths)
    status = json.loads(paths.status_file("status.json").read_text())
    status["state_reason"] = f"broker refused key {BROKER_KEY}"
    status["errors"] = {
        "count_today": 1,
        "last_error": {
            "ts_utc": "2025-03-04T14:29:00.000Z",
            "module": "tbot_bot.broker",
            "error_type": "AuthenticationError",
            "summary": f"401 for key {BROKER_KEY} / {BROKER_SECRET}",
            "error_id": "e-1",
        },
    }
    paths.status_file("status.json").write_text(json.dumps(status))
    line = {
        "ts_utc": "2025-03-04T14:29:00.000Z",
        "level": "ERROR",
        "module": "tbot_bot.broker",
        "event": "broker_error",
        "message": f"auth failed with {BROKER_KEY}",
        "extra": {"detail": f"secret {BROKER_SECRET}"},
    }
    log = paths.global_log("runner.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(json.dumps(line) + "\n")
    redact.clear_registered()
    app = make_app(paths, FakeClock(START), Outbox())
    viewer = app.test_client()
    assert login(viewer, "viewer").status_code == 302
    pages = {
        url: viewer.get(url).get_data(as_text=True)
        for url in ("/api/status", "/dashboard", "/logs?file=runner&hours=all")
    }
    assert "401 for key" in pages["/dashboard"]  # the planted text is really rendered
    assert "auth failed with" in pages["/logs?file=runner&hours=all"]
    for url, page in pages.items():
        for secret in (BROKER_KEY, BROKER_SECRET):
            assert secret not in page, (url, secret[:12])
