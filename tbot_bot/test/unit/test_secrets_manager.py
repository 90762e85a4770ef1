"""Secrets store: one key per purpose, 0600/0700, atomic writes, clear errors that lose nothing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tbot_bot.config import secrets_manager as sm
from tbot_bot.config.path_resolver import KEY_CATEGORIES, RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.errors import ConfigError

FAKE_BROKER = {"BROKER_API_KEY": "FAKEKEY-not-real-123", "BROKER_SECRET_KEY": "FAKESECRET-456"}


@pytest.fixture
def manager(monkeypatch: pytest.MonkeyPatch) -> SecretsManager:
    monkeypatch.setattr(sm, "DECRYPT_RETRY_DELAY_S", 0.0)
    manager = SecretsManager(RuntimePaths.for_home())
    for category in KEY_CATEGORIES:
        manager.ensure_key(category)
    return manager


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_one_key_file_per_purpose_with_private_modes(manager: SecretsManager) -> None:
    keys = sorted(p.name for p in manager.paths.keys_dir.iterdir())
    assert keys == sorted(f"{c}.key" for c in KEY_CATEGORIES)
    assert len({p.read_bytes() for p in manager.paths.keys_dir.iterdir()}) == len(keys)
    for path in manager.paths.keys_dir.iterdir():
        assert _mode(path) == 0o600
    assert _mode(manager.paths.keys_dir) == 0o700


def test_round_trip_without_plaintext_on_disk(manager: SecretsManager) -> None:
    manager.save("broker", FAKE_BROKER)
    secret_file = manager.paths.secret_file("broker")
    assert _mode(secret_file) == 0o600
    assert _mode(manager.paths.secrets_dir) == 0o700
    raw = secret_file.read_bytes()
    assert b"FAKEKEY" not in raw and b"FAKESECRET" not in raw
    assert manager.load("broker") == FAKE_BROKER
    assert not list(manager.paths.secrets_dir.glob("*.tmp"))


def test_ensure_key_never_replaces_an_existing_key(manager: SecretsManager) -> None:
    before = manager.paths.key_file("env").read_bytes()
    assert manager.ensure_key("env") is False
    assert manager.paths.key_file("env").read_bytes() == before


def test_keys_are_purpose_bound(manager: SecretsManager) -> None:
    manager.save("broker", FAKE_BROKER)
    token = manager.paths.secret_file("broker").read_bytes()
    manager.paths.secret_file("smtp").write_bytes(token)
    manager.paths.secret_file("smtp").chmod(0o600)
    with pytest.raises(ConfigError, match=r"smtp\.key"):
        manager.load("smtp")


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:-5] + b"AAAAA",  # tampered
        lambda data: b"",  # emptied
        lambda data: b"not a fernet token at all",
    ],
    ids=["truncated", "tampered", "empty", "garbage"],
)
def test_damaged_ciphertext_is_a_clear_error(manager: SecretsManager, damage) -> None:  # type: ignore[no-untyped-def]
    manager.save("env", {"BROKER_NAME": "SIM"})
    path = manager.paths.secret_file("env")
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ConfigError) as info:
        SecretsManager(manager.paths).load("env")
    message = str(info.value)
    assert ".env_bot.enc" in message and "env.key" in message


def test_wrong_key_is_a_clear_error(manager: SecretsManager) -> None:
    manager.save("env", {"BROKER_NAME": "SIM"})
    manager.paths.key_file("env").write_bytes(sm.new_key_material() + b"\n")
    with pytest.raises(ConfigError, match=r"cannot be decrypted with env\.key"):
        SecretsManager(manager.paths).load("env")


def test_missing_key_file_is_named_and_never_created_on_read(manager: SecretsManager) -> None:
    manager.save("env", {"BROKER_NAME": "SIM"})
    manager.paths.key_file("env").unlink()
    with pytest.raises(ConfigError, match=r"env\.key|key file for 'env' is missing"):
        SecretsManager(manager.paths).load("env")
    assert not manager.paths.key_file("env").exists()


def test_malformed_key_file(manager: SecretsManager) -> None:
    manager.paths.key_file("broker").write_bytes(b"short\n")
    with pytest.raises(ConfigError, match="malformed"):
        manager.save("broker", FAKE_BROKER)
    assert not manager.paths.secret_file("broker").exists()


def test_loose_permissions_are_refused(manager: SecretsManager) -> None:
    manager.save("env", {"BROKER_NAME": "SIM"})
    manager.paths.key_file("env").chmod(0o644)
    with pytest.raises(ConfigError, match="0644"):
        SecretsManager(manager.paths).load("env")
    manager.paths.key_file("env").chmod(0o600)
    manager.paths.secret_file("env").chmod(0o640)
    with pytest.raises(ConfigError, match="0640"):
        SecretsManager(manager.paths).load("env")


def test_unreadable_key_file(manager: SecretsManager) -> None:
    # Root reads any file whatever its mode, so unreadability is produced with a directory.
    manager.save("env", {"BROKER_NAME": "SIM"})
    key = manager.paths.key_file("env")
    key.unlink()
    key.mkdir(mode=0o700)
    with pytest.raises(ConfigError, match=r"cannot be read .*env\.key"):
        SecretsManager(manager.paths).load("env")


def test_missing_secret_names_the_file(manager: SecretsManager) -> None:
    with pytest.raises(ConfigError, match=r"broker_credentials\.json\.enc"):
        manager.load("broker")


def test_failed_write_keeps_the_old_secret(
    manager: SecretsManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager.save("env", {"BROKER_NAME": "SIM"})
    before = manager.paths.secret_file("env").read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        manager.save("env", {"BROKER_NAME": "ALPACA"})
    monkeypatch.undo()
    assert manager.paths.secret_file("env").read_bytes() == before
    assert not list(manager.paths.secrets_dir.glob("*.tmp"))


def test_loaded_secret_values_are_redacted_in_text(manager: SecretsManager) -> None:
    from tbot_bot.config.redact import redact_text

    manager.save("broker", FAKE_BROKER)
    SecretsManager(manager.paths).load("broker")
    text = redact_text("connect failed with key FAKEKEY-not-real-123 and FAKESECRET-456")
    assert "FAKEKEY" not in text and "FAKESECRET" not in text


def test_verify_all_reports_each_broken_file(manager: SecretsManager) -> None:
    manager.save("env", {"BROKER_NAME": "SIM"})
    manager.save("broker", FAKE_BROKER)
    assert manager.verify_all() == []
    manager.paths.secret_file("broker").write_bytes(b"garbage")
    problems = manager.verify_all()
    assert len(problems) == 1 and "broker_credentials.json.enc" in problems[0]
