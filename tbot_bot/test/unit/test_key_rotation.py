"""Key rotation: backup, re-encrypt, verify, roll back on failure, recover after a crash."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from cryptography.fernet import Fernet, MultiFernet

from tbot_bot.config.key_rotation import (
    IN_PROGRESS,
    expand_scope,
    recover_interrupted_rotation,
    rotate,
)
from tbot_bot.config.path_resolver import KEY_CATEGORIES, RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError

STEPS = [
    "backup",
    "encrypted",
    "verified",
    "committed_secrets",
    "committed_keys",
    "reencrypted",
    "reread",
]
FAKE_HASH = b"$2b$12$" + b"a" * 53


class SimulatedCrash(BaseException):
    """Stands for the process dying: not an Exception, so rotate() cannot clean up."""


@pytest.fixture
def paths() -> RuntimePaths:
    paths = RuntimePaths.for_home()
    manager = SecretsManager(paths)
    for category in KEY_CATEGORIES:
        manager.ensure_key(category)
    manager.save("env", {"BROKER_NAME": "SIM", "MAX_TRADES": "4"})
    manager.save("broker", {"BROKER_API_KEY": "FAKE-API-KEY-1", "BROKER_SECRET_KEY": "FAKE-SEC-2"})
    manager.save("smtp", {})
    manager.save("bot_identity", {"ENTITY_CODE": "RIGD"})
    _make_users_db(paths, manager)
    return paths


def _make_users_db(paths: RuntimePaths, manager: SecretsManager) -> None:
    paths.core_db_dir.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(paths.core_db("SYSTEM_USERS.db")) as conn:
        conn.execute("CREATE TABLE system_users (id INTEGER PRIMARY KEY, password_hash TEXT)")
        conn.execute(
            "CREATE TABLE user_sessions (id INTEGER PRIMARY KEY, session_status TEXT,"
            " terminated_reason TEXT)"
        )
        token = manager.fernet("login").encrypt(FAKE_HASH).decode()
        conn.execute("INSERT INTO system_users (password_hash) VALUES (?)", (token,))
        conn.execute("INSERT INTO user_sessions (session_status) VALUES ('active')")


def _snapshot(paths: RuntimePaths) -> dict[str, bytes]:
    files = [*paths.keys_dir.iterdir(), *paths.secrets_dir.iterdir()]
    return {f.name: f.read_bytes() for f in files}


def _stored_hash(paths: RuntimePaths) -> str:
    with sqlite3.connect(paths.core_db("SYSTEM_USERS.db")) as conn:
        return str(conn.execute("SELECT password_hash FROM system_users").fetchone()[0])


def _audit_events(paths: RuntimePaths) -> list[str]:
    log = paths.global_log("security_users.log")
    return [json.loads(line)["event"] for line in log.read_text().splitlines()]


def test_rotation_reencrypts_and_keeps_a_verified_backup(paths: RuntimePaths) -> None:
    before = _snapshot(paths)
    backup = rotate(paths, ["env", "broker"], actor="test", reason="unit test")
    after = _snapshot(paths)
    assert after["env.key"] != before["env.key"]
    assert after["broker.key"] != before["broker.key"]
    assert after["smtp.key"] == before["smtp.key"]
    manager = SecretsManager(paths)
    assert manager.load("env") == {"BROKER_NAME": "SIM", "MAX_TRADES": "4"}
    assert manager.load("broker")["BROKER_API_KEY"] == "FAKE-API-KEY-1"
    assert (backup / "env.key").read_bytes() == before["env.key"]
    assert (backup / ".env_bot.enc").read_bytes() == before[".env_bot.enc"]
    manifest = json.loads((backup / "manifest.json").read_text())
    assert set(manifest["files"]) == {
        "env.key",
        ".env_bot.enc",
        "broker.key",
        "broker_credentials.json.enc",
    }
    assert not (backup / IN_PROGRESS).exists()
    assert backup.parent == paths.key_backups_dir
    assert oct(backup.stat().st_mode & 0o777) == "0o700"
    assert "key_rotated" in _audit_events(paths)
    assert "FAKE-API-KEY-1" not in paths.global_log("security_users.log").read_text()


def test_scope_all_skips_session_keys_unless_asked() -> None:
    assert "login" not in expand_scope("all")
    assert "flask_secret" not in expand_scope("all")
    assert "login" in expand_scope("all", include_session_keys=True)
    with pytest.raises(ConfigError, match="unknown key category"):
        expand_scope("master")


@pytest.mark.parametrize("step", STEPS)
def test_failure_at_any_step_leaves_every_byte_intact(paths: RuntimePaths, step: str) -> None:
    before = _snapshot(paths)
    hash_before = _stored_hash(paths)

    def fail(at: str) -> None:
        if at == step:
            raise RuntimeError(f"injected at {at}")

    with pytest.raises(ConfigError, match="rolled back"):
        rotate(paths, ["env", "broker", "login"], actor="test", reason="x", checkpoint=fail)
    assert _snapshot(paths) == before
    assert _stored_hash(paths) == hash_before
    assert SecretsManager(paths).load("env")["BROKER_NAME"] == "SIM"
    assert "key_rotation_failed" in _audit_events(paths)
    assert not paths.lock_file("secrets").exists()
    assert not list(paths.key_backups_dir.glob(f"*/{IN_PROGRESS}"))


@pytest.mark.parametrize("step", ["encrypted", "committed_secrets"])
def test_crash_mid_rotation_is_recovered_at_startup(paths: RuntimePaths, step: str) -> None:
    before = _snapshot(paths)

    def crash(at: str) -> None:
        if at == step:
            raise SimulatedCrash

    with pytest.raises(SimulatedCrash):
        rotate(paths, ["env", "broker"], actor="test", reason="x", checkpoint=crash)
    assert list(paths.key_backups_dir.glob(f"*/{IN_PROGRESS}"))
    recovered = recover_interrupted_rotation(paths)
    assert len(recovered) == 1
    assert _snapshot(paths) == before
    assert SecretsManager(paths).load("broker")["BROKER_SECRET_KEY"] == "FAKE-SEC-2"
    assert "key_rotation_recovered" in _audit_events(paths)


def test_login_rotation_keeps_logins_and_ends_sessions(paths: RuntimePaths) -> None:
    old_key = SecretsManager(paths).read_keys("login")[0]
    rotate(paths, ["login"], actor="test", reason="x")
    ring = SecretsManager(paths).read_keys("login")
    assert len(ring) == 2 and ring[1] == old_key
    token = _stored_hash(paths).encode()
    assert Fernet(ring[0]).decrypt(token) == FAKE_HASH
    with sqlite3.connect(paths.core_db("SYSTEM_USERS.db")) as conn:
        status = conn.execute("SELECT session_status FROM user_sessions").fetchone()[0]
    assert status == "terminated"
    rotate(paths, ["login"], actor="test", reason="again")
    assert SecretsManager(paths).read_keys("login")[1] == ring[0]
    assert old_key not in SecretsManager(paths).read_keys("login")


def test_interrupted_login_rotation_after_keyring_commit_is_completed(paths: RuntimePaths) -> None:
    def crash(at: str) -> None:
        if at == "committed_keys":
            raise SimulatedCrash

    with pytest.raises(SimulatedCrash):
        rotate(paths, ["login"], actor="test", reason="x", checkpoint=crash)
    ring = SecretsManager(paths).read_keys("login")
    recover_interrupted_rotation(paths)
    assert SecretsManager(paths).read_keys("login") == ring
    assert Fernet(ring[0]).decrypt(_stored_hash(paths).encode()) == FAKE_HASH
    assert MultiFernet([Fernet(k) for k in ring]).decrypt(_stored_hash(paths).encode())


def test_rotation_refuses_while_another_holds_the_lock(paths: RuntimePaths) -> None:
    lock = paths.lock_file("secrets")
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps({"pid": os.getppid(), "created_utc": "x"}))
    with pytest.raises(ConfigError, match="held by running process"):
        rotate(paths, ["env"], actor="test", reason="x")


def test_stale_lock_of_dead_process_is_reclaimed(paths: RuntimePaths) -> None:
    lock = paths.lock_file("secrets")
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps({"pid": 2**22 + 12345, "created_utc": "x"}))
    rotate(paths, ["env"], actor="test", reason="x")
    assert not lock.exists()


def test_backups_are_pruned_to_retention(paths: RuntimePaths) -> None:
    for _ in range(4):
        rotate(paths, ["smtp"], actor="test", reason="x", retention=2)
    assert len([d for d in paths.key_backups_dir.iterdir() if d.is_dir()]) == 2


def test_missing_key_cannot_be_rotated(paths: RuntimePaths) -> None:
    paths.key_file("acct_api").unlink()
    with pytest.raises(ConfigError, match="missing key"):
        rotate(paths, ["acct_api"], actor="test", reason="x")
