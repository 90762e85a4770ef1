"""Every global log line the web path writes is one JSON object with the §8.7 fields."""

from __future__ import annotations

import json
from collections.abc import Callable

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.test.web.webkit import TestClient, fresh_csrf

REQUIRED = ("ts_utc", "level", "bot_identity", "module", "event", "message")
LEVELS = {"debug", "info", "warning", "error", "critical"}


def test_global_logs_are_json_lines(
    home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    admin = client_as("admin")
    admin.post("/control/stop", data={"csrf_token": admin.csrf})
    admin.post("/users/create", data={"csrf_token": admin.csrf})  # 422
    anonymous = admin.application.test_client()
    anonymous.post("/login", data={"csrf_token": fresh_csrf(anonymous), "username": "x"})
    anonymous.post("/login", data={"csrf_token": "bad"})
    client_as("viewer").post("/control/kill", data={})  # CSRF failure
    logs = sorted(home.global_logs_dir.glob("*.log"))
    names = {p.name for p in logs}
    assert {
        "auth_web.log",
        "provisioning.log",
        "bot_state_history.log",
        "system_users.log",
        "security_users.log",
        "user_activity_monitoring.log",
    } <= names
    for path in logs:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            record = json.loads(line)
            assert isinstance(record, dict), (path.name, number)
            for field in REQUIRED:
                assert field in record, (path.name, number, field)
            assert record["level"] in LEVELS, (path.name, number)
            assert len(record["ts_utc"]) == 24 and record["ts_utc"].endswith("Z")
