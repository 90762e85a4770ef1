"""`tbot web` bind address (web_runtime §2.1, §7.1) and the waitress server itself."""

from __future__ import annotations

import io
import json
import threading

import httpx
import pytest

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_web.server import build_server, resolve_bind


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TBOT_WEB_HOST", raising=False)
    monkeypatch.delenv("TBOT_WEB_PORT", raising=False)


def test_after_setup_the_network_config_binds(
    home: RuntimePaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = SecretsManager(home)
    record = secrets.load("network_config")
    secrets.save("network_config", {**record, "LOCAL_IP": "127.0.0.2", "LOCAL_PORT": 7200})
    assert resolve_bind(home) == ("127.0.0.2", 7200)
    monkeypatch.setenv("TBOT_WEB_HOST", "127.0.0.3")
    monkeypatch.setenv("TBOT_WEB_PORT", "7300")
    assert resolve_bind(home) == ("127.0.0.3", 7300)
    assert resolve_bind(home, "127.0.0.4", 0) == ("127.0.0.4", 0)


def test_invalid_network_config_falls_back(home: RuntimePaths) -> None:
    SecretsManager(home).save("network_config", {"LOCAL_IP": "not-an-ip"})
    assert resolve_bind(home) == ("127.0.0.1", 6900)


def test_waitress_serves_with_headers(home: RuntimePaths) -> None:
    server = build_server(home, host="127.0.0.1", port=0, announce_to=io.StringIO())
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.effective_port}"
        response = httpx.get(base + "/healthz", timeout=5)
        assert response.json() == {"status": "ok"}
        assert "Server" not in response.headers  # empty ident
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    finally:
        server.close()
    lines = [json.loads(x) for x in home.global_log("web.log").read_text().splitlines()]
    assert lines[-1]["event"] == "web_started"
    assert lines[-1]["extra"]["port"] == server.effective_port


def test_module_entry_point_heartbeat_and_sigterm(fresh_paths: RuntimePaths) -> None:
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "tbot_web", "--home", str(fresh_paths.home), "--port", str(port)],
        stdout=subprocess.PIPE,
    )
    try:
        for _ in range(150):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        heartbeat = json.loads(fresh_paths.status_file("web.json").read_text())
        assert heartbeat["component"] == "web" and heartbeat["bind"].endswith(f":{port}")
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        output = process.stdout.read().decode() if process.stdout else ""
        token = fresh_paths.setup_token_file.read_text().strip()
        assert output.count(token) == 1  # the setup token is shown once, on the console
    finally:
        if process.poll() is None:
            process.kill()
