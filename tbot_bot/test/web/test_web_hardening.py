"""Web hardening (web_runtime §1.6, §4.4): bounded rate-limit memory, a rate-limited reset-token
GET, and the cached `setup_complete` checks in state `error`."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from flask import Flask

from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.core.scripts.verify_all_core_databases import verify
from tbot_bot.test.web.webkit import START, force_state, fresh_csrf
from tbot_web.support import routing
from tbot_web.support.rate_limit import LIMITS, RateLimiter

# -- 1. rate-limit memory ------------------------------------------------------------------------


def test_emptied_windows_are_forgotten() -> None:
    limiter = RateLimiter()
    for n in range(2000):
        assert limiter.hit("login", f"10.{n // 256}.{n % 256}.1", START).allowed
    assert limiter.tracked() == 2000
    later = START + timedelta(seconds=LIMITS["login"][1] + 1)
    # One hit in the bucket drops every client whose window emptied.
    assert limiter.hit("login", "192.0.2.1", later).allowed
    assert limiter.tracked() == 1
    limiter.prune(later + timedelta(seconds=LIMITS["login"][1] + 1))
    assert limiter.tracked() == 0


def test_prune_sweeps_every_bucket_by_its_own_window() -> None:
    limiter = RateLimiter()
    for n in range(50):
        limiter.hit("login", f"10.0.0.{n}", START)
        limiter.hit("reset_token", f"10.0.0.{n}", START)
    limiter.prune(START + timedelta(seconds=61))  # login's window (60 s) emptied, not reset's (1 h)
    assert limiter.tracked() == 50
    limiter.prune(START + timedelta(hours=1, seconds=1))
    assert limiter.tracked() == 0


def test_limits_still_enforced_after_pruning() -> None:
    limiter = RateLimiter()
    allowed, window_s = LIMITS["login"]
    for n in range(300):
        limiter.hit("login", f"10.1.{n}.9", START)
    now = START + timedelta(seconds=window_s + 1)
    verdicts = [limiter.hit("login", "198.51.100.7", now) for _ in range(allowed + 1)]
    assert [v.allowed for v in verdicts] == [True] * allowed + [False]
    assert verdicts[-1].retry_after_s > 0
    # The refused client stays tracked (its window is full, not empty) while others are pruned.
    assert limiter.tracked() == 1
    assert limiter.hit("login", "198.51.100.7", now + timedelta(seconds=30)).allowed is False
    assert limiter.hit("login", "198.51.100.7", now + timedelta(seconds=window_s + 1)).allowed


def test_client_bound_evicts_the_oldest_idle() -> None:
    limiter = RateLimiter({"b": (2, 3600)}, max_clients=3)
    for ip in ("a", "b", "c"):
        limiter.hit("b", ip, START)
    limiter.hit("b", "a", START + timedelta(seconds=1))  # a is now the most recently hit
    limiter.hit("b", "d", START + timedelta(seconds=2))  # evicts b, the oldest idle
    assert limiter.tracked() == 3
    # a kept its window (2 hits: full); b was forgotten and starts afresh.
    assert limiter.hit("b", "a", START + timedelta(seconds=3)).allowed is False
    assert limiter.hit("b", "b", START + timedelta(seconds=3)).allowed is True
    assert limiter.tracked() == 3
    with pytest.raises(ValueError, match="max_clients"):
        RateLimiter(max_clients=0)


# -- 2. GET /password_reset/<token> is rate limited ----------------------------------------------


def test_reset_token_get_is_rate_limited(app: Flask, clock: FakeClock) -> None:
    client = app.test_client()
    allowed, _window = LIMITS["reset_token"]
    url = "/password_reset/not-a-real-token-" + "x" * 20
    codes = [
        client.get(url, environ_base={"REMOTE_ADDR": "10.7.0.1"}).status_code
        for _ in range(allowed)
    ]
    assert codes == [400] * allowed
    refused = client.get(url, environ_base={"REMOTE_ADDR": "10.7.0.1"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # GET and POST share the bucket: the POST from this address is refused too.
    csrf = fresh_csrf(client)
    form = {"csrf_token": csrf, "password": "p" * 16, "confirm": "p" * 16}
    posted = client.post(url, data=form, environ_base={"REMOTE_ADDR": "10.7.0.1"})
    assert posted.status_code == 429
    # Other addresses are unaffected, and the window passes.
    assert client.get(url, environ_base={"REMOTE_ADDR": "10.7.0.2"}).status_code == 400
    clock.sleep_until(clock.now_utc() + timedelta(hours=1, seconds=1))
    assert client.get(url, environ_base={"REMOTE_ADDR": "10.7.0.1"}).status_code == 400


# -- 3. setup_complete is cached by file stamps ---------------------------------------------------


@pytest.fixture
def verify_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the core-database verifications `setup_complete` runs (one per recomputation)."""
    monkeypatch.setattr(routing, "_CHECK_CACHE", {})
    calls: list[int] = []

    def counting(paths: RuntimePaths) -> list[str]:
        calls.append(1)
        return verify(paths)

    monkeypatch.setattr(routing, "verify", counting)
    return calls


def test_setup_complete_reused_while_files_unchanged(
    app: Flask, home: RuntimePaths, verify_calls: list[int]
) -> None:
    force_state(home, "error")
    client = app.test_client()
    for url in ("/", "/login", "/api/bot_state", "/healthz", "/login"):
        response = client.get(url)
        assert response.status_code in {200, 302}, url
    assert client.get("/").headers["Location"].endswith("/login")  # halted, not setup
    assert len(verify_calls) == 1
    # An unrelated file (the state token) changing does not recompute.
    force_state(home, "error")
    client.get("/login")
    assert len(verify_calls) == 1


def test_setup_complete_recomputed_after_a_relevant_change(
    app: Flask, home: RuntimePaths, verify_calls: list[int]
) -> None:
    force_state(home, "error")
    client = app.test_client()
    assert client.get("/").headers["Location"].endswith("/login")
    assert len(verify_calls) == 1
    # A rewritten secret (same content, new file) is noticed.
    secrets = SecretsManager(home)
    secrets.save("broker", secrets.load("broker"))
    assert client.get("/").headers["Location"].endswith("/login")
    assert len(verify_calls) == 2
    # A key file that group/others may read breaks setup: the UI falls back to the setup form.
    key = home.key_file("broker")
    key.chmod(0o644)
    assert client.get("/").headers["Location"] == "/configuration"
    assert len(verify_calls) == 3
    key.chmod(0o600)
    assert client.get("/").headers["Location"].endswith("/login")
    assert len(verify_calls) == 4
    # A core database changing (a write through SQLite) is noticed too.
    db_path = home.core_db("SYSTEM_LOGS.db")
    os.utime(db_path, ns=(0, db_path.stat().st_mtime_ns + 1_000_000))
    client.get("/login")
    assert len(verify_calls) == 5
