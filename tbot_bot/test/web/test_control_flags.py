"""Control flags (web_runtime §1.3, §8.3): files, JSON bodies, mutual removal, roles, audit."""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Callable

import pytest

from tbot_bot.clock import iso_utc
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.runtime import control_flags
from tbot_bot.test.web.webkit import START, TestClient, force_state

FLAGS = {"start": "control_start.flag", "stop": "control_stop.flag", "kill": "control_kill.flag"}


def _present(paths: RuntimePaths) -> set[str]:
    return {kind for kind, name in FLAGS.items() if paths.control_flag(name).exists()}


def _post(client: TestClient, action: str, **fields: str) -> int:
    data = {"csrf_token": client.csrf, **fields}
    return client.post(f"/control/{action}", data=data).status_code


def test_operator_flags_and_mutual_removal(
    home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    operator = client_as("operator")
    assert _post(operator, "start") == 303
    assert _present(home) == {"start"}
    assert _post(operator, "stop", reason="lunch") == 303
    assert _present(home) == {"stop"}
    body = json.loads(home.control_flag("control_stop.flag").read_text())
    assert body == {
        "requested_by": "web:operator",
        "requested_at_utc": iso_utc(START),
        "reason": "lunch",
    }
    assert stat.S_IMODE(home.control_flag("control_stop.flag").stat().st_mode) == 0o600
    assert _post(operator, "start") == 303
    assert _present(home) == {"start"}
    assert _post(operator, "kill") == 400  # needs confirm=KILL
    assert _present(home) == {"start"}
    assert _post(operator, "kill", confirm="KILL") == 303
    assert _present(home) == {"kill"}
    assert _post(operator, "start") == 303
    assert _present(home) == {"start"}
    events = [json.loads(x) for x in home.global_log("security_users.log").read_text().splitlines()]
    controls = [e for e in events if e["event"] == "bot_control"]
    assert [e["extra"]["action"] for e in controls] == ["start", "stop", "start", "kill", "start"]
    with sqlite3.connect(home.core_db("SYSTEM_LOGS.db")) as conn:
        rows = conn.execute("SELECT COUNT(*) FROM system_logs WHERE event='bot_control'").fetchone()
    conn.close()
    assert rows[0] == 5


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_readers_cannot_control(
    role: str, home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    client = client_as(role)
    for action in FLAGS:
        assert _post(client, action, confirm="KILL") == 403
    assert _present(home) == set()
    assert 'id="controls"' not in client.get("/dashboard").get_data(as_text=True)


def test_start_from_halted_needs_admin_and_reset(
    home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    force_state(home, "shutdown_triggered")
    operator, admin = client_as("operator"), client_as("admin")
    assert _post(operator, "start", confirm_reset="RESET") == 403
    assert _post(admin, "start") == 400
    assert _present(home) == set()
    assert _post(admin, "start", confirm_reset="RESET") == 303
    assert _present(home) == {"start"}


def test_start_from_error_needs_admin(
    home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    force_state(home, "error")
    assert _post(client_as("operator"), "start") == 403
    assert _post(client_as("admin"), "start") == 303


def test_json_api_with_header_token(
    home: RuntimePaths, client_as: Callable[[str], TestClient]
) -> None:
    operator = client_as("operator")
    response = operator.post(
        "/control/stop",
        headers={"X-CSRF-Token": operator.csrf, "Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.get_json()["flag"] == "stop"


def test_flag_module(tbot_home: object) -> None:
    paths = RuntimePaths.for_home()
    assert control_flags.read_flag(paths, "kill") is None
    control_flags.request_kill(paths, "cli:ops", "manual")
    record = control_flags.read_flag(paths, "kill")
    assert record is not None and record.requested_by == "cli:ops" and record.valid
    paths.control_flag("control_kill.flag").write_text("{garbled")
    garbled = control_flags.read_flag(paths, "kill")
    assert garbled is not None and not garbled.valid  # still counts as a pending kill
    summary = control_flags.flags_summary(paths)
    assert summary["kill"] is not None and summary["start"] is None
    assert control_flags.clear_flag(paths, "kill") is True
    assert control_flags.clear_flag(paths, "kill") is False
