"""Key rotation with backup, verification and rollback (web_runtime §6.2).

Steps: lock -> back up every affected key and secret byte for byte (+ `IN_PROGRESS` marker) ->
re-encrypt into `.tmp` files with new keys held in memory -> verify the temporaries -> commit
(secrets, then keys) -> re-read everything with the committed keys -> clear the marker. Any
failure before the commit leaves the old files untouched; any failure after it restores them from
the backup. A crash leaves the marker, and `recover_interrupted_rotation` restores at next start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet

from tbot_bot.clock import utc_now
from tbot_bot.config import locks
from tbot_bot.config.audit import audit_event
from tbot_bot.config.fileio import (
    PRIVATE_DIR_MODE,
    atomic_write_bytes,
    ensure_dir,
    fsync_dir,
)
from tbot_bot.config.path_resolver import KEY_CATEGORIES, SECRET_FILES, RuntimePaths
from tbot_bot.config.secrets_manager import (
    KEYRING_CATEGORIES,
    SESSION_KEY_CATEGORIES,
    SecretsManager,
    canonical_json,
    new_key_material,
)
from tbot_bot.errors import ConfigError

IN_PROGRESS = "IN_PROGRESS"
MANIFEST = "manifest.json"
Checkpoint = Callable[[str], None]


def expand_scope(scope: str, *, include_session_keys: bool = False) -> list[str]:
    """`all` or one category stem -> the categories to rotate (present keys only for `all`)."""
    if scope == "all":
        return [
            c for c in KEY_CATEGORIES if include_session_keys or c not in SESSION_KEY_CATEGORIES
        ]
    if scope not in KEY_CATEGORIES:
        raise ConfigError(
            f"unknown key category {scope!r}; expected 'all' or one of: {', '.join(KEY_CATEGORIES)}"
        )
    return [scope]


@dataclass(frozen=True)
class _Planned:
    category: str
    key_path: Path
    new_key_bytes: bytes  # full new key-file content
    new_keys: list[bytes]
    secret_path: Path | None
    plaintext: bytes | None
    new_token: bytes | None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _backup(paths: RuntimePaths, categories: list[str]) -> Path:
    stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
    backup_dir = ensure_dir(paths.key_backups_dir / stamp, PRIVATE_DIR_MODE)
    ensure_dir(paths.key_backups_dir, PRIVATE_DIR_MODE)
    files: dict[str, str] = {}
    for category in categories:
        sources = [paths.key_file(category)]
        if category in SECRET_FILES and paths.secret_file(category).exists():
            sources.append(paths.secret_file(category))
        for source in sources:
            atomic_write_bytes(backup_dir / source.name, source.read_bytes())
            files[source.name] = _sha256(source)
    if "login" in categories and paths.core_db("SYSTEM_USERS.db").exists():
        target = backup_dir / "SYSTEM_USERS.db"
        with (
            contextlib.closing(sqlite3.connect(paths.core_db("SYSTEM_USERS.db"))) as src,
            contextlib.closing(sqlite3.connect(target)) as dst,
        ):
            src.backup(dst)
        target.chmod(0o600)
        files[target.name] = _sha256(target)
    manifest = {"categories": categories, "files": files, "created_utc": stamp}
    atomic_write_bytes(backup_dir / MANIFEST, canonical_json(manifest))
    atomic_write_bytes(backup_dir / IN_PROGRESS, b"")
    return backup_dir


def _plan(manager: SecretsManager, categories: list[str]) -> list[_Planned]:
    paths = manager.paths
    planned: list[_Planned] = []
    for category in categories:
        old_keys = manager.read_keys(category)
        new_key = new_key_material()
        keys = [new_key, old_keys[0]] if category in KEYRING_CATEGORIES else [new_key]
        secret_path = paths.secret_file(category) if category in SECRET_FILES else None
        plaintext = token = None
        if secret_path is not None and secret_path.exists():
            data = manager.decrypt_file(category, secret_path, keys=old_keys)
            plaintext = canonical_json(data)
            token = Fernet(new_key).encrypt(plaintext)
        planned.append(
            _Planned(
                category,
                paths.key_file(category),
                b"\n".join(keys) + b"\n",
                keys,
                secret_path,
                plaintext,
                token,
            )
        )
    return planned


def _tmp(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _write_temporaries(planned: list[_Planned]) -> None:
    for item in planned:
        if item.secret_path is not None and item.new_token is not None:
            atomic_write_bytes(_tmp(item.secret_path), item.new_token)
        atomic_write_bytes(_tmp(item.key_path), item.new_key_bytes)


def _verify_temporaries(planned: list[_Planned]) -> None:
    for item in planned:
        keys = [line for line in _tmp(item.key_path).read_bytes().splitlines() if line]
        if keys != item.new_keys:
            raise ConfigError(f"rotation verify failed: {item.key_path.name}.tmp differs")
        if item.secret_path is not None and item.new_token is not None:
            token = _tmp(item.secret_path).read_bytes()
            if MultiFernet([Fernet(k) for k in keys]).decrypt(token) != item.plaintext:
                raise ConfigError(f"rotation verify failed: {item.secret_path.name}.tmp")


def _commit(planned: list[_Planned], checkpoint: Checkpoint) -> None:
    for item in planned:
        if item.secret_path is not None and item.new_token is not None:
            _tmp(item.secret_path).replace(item.secret_path)
            fsync_dir(item.secret_path.parent)
    checkpoint("committed_secrets")
    for item in planned:
        _tmp(item.key_path).replace(item.key_path)
        fsync_dir(item.key_path.parent)
    checkpoint("committed_keys")


def reencrypt_password_hashes(db_path: Path, keys: list[bytes]) -> int:
    """Re-encrypt every stored bcrypt hash with the current login key in one transaction.

    Reads fall back to the previous key, so logins keep working before, during and after. Every
    active session ends, since session digests are keyed by login.key (web_runtime §4.5).
    """
    if not db_path.exists():
        return 0
    ring = MultiFernet([Fernet(k) for k in keys])
    current = Fernet(keys[0])
    with contextlib.closing(sqlite3.connect(db_path, isolation_level=None)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "system_users" not in tables:
            return 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute("SELECT id, password_hash FROM system_users").fetchall()
            for user_id, token in rows:
                plain = ring.decrypt(token.encode())
                fresh = current.encrypt(plain).decode()
                if current.decrypt(fresh.encode()) != plain:
                    raise ConfigError("login.key rotation: re-encrypted hash does not verify")
                conn.execute(
                    "UPDATE system_users SET password_hash = ? WHERE id = ?", (fresh, user_id)
                )
            if "user_sessions" in tables:
                conn.execute(
                    "UPDATE user_sessions SET session_status = 'terminated',"
                    " terminated_reason = 'key_rotation' WHERE session_status = 'active'"
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(rows)


def _reread(manager: SecretsManager, planned: list[_Planned]) -> None:
    for item in planned:
        keys = manager.read_keys(item.category)
        if keys != item.new_keys:
            raise ConfigError(f"rotation re-read failed: {item.key_path.name} is not the new key")
        if item.secret_path is not None and item.plaintext is not None:
            data = manager.decrypt_file(item.category, item.secret_path)
            if canonical_json(data) != item.plaintext:
                raise ConfigError(f"rotation re-read failed: {item.secret_path.name}")


def restore_backup(paths: RuntimePaths, backup_dir: Path) -> None:
    """Put every backed-up file back, byte for byte, and clear leftover temporaries."""
    manifest = json.loads((backup_dir / MANIFEST).read_text())
    for name in manifest["files"]:
        source = backup_dir / name
        if name == "SYSTEM_USERS.db":
            target = paths.core_db("SYSTEM_USERS.db")
        elif name.endswith(".key"):
            target = paths.keys_dir / name
        else:
            target = paths.secrets_dir / name
        atomic_write_bytes(target, source.read_bytes())
        for suffix in ("-wal", "-shm"):
            if name == "SYSTEM_USERS.db":
                with contextlib.suppress(FileNotFoundError):
                    target.with_name(target.name + suffix).unlink()
    _remove_temporaries(paths)


def _remove_temporaries(paths: RuntimePaths) -> None:
    for folder in (paths.keys_dir, paths.secrets_dir):
        if folder.exists():
            for tmp in folder.glob("*.tmp"):
                tmp.unlink()


def _prune(paths: RuntimePaths, keep: int) -> None:
    backups = sorted(
        d for d in paths.key_backups_dir.iterdir() if d.is_dir() and not (d / IN_PROGRESS).exists()
    )
    for old in backups[: max(0, len(backups) - keep)]:
        shutil.rmtree(old)


def _no_checkpoint(step: str) -> None:
    return None


def rotate(
    paths: RuntimePaths,
    categories: Iterable[str],
    *,
    actor: str,
    reason: str,
    retention: int = 30,
    checkpoint: Checkpoint = _no_checkpoint,
) -> Path:
    """Rotate the given key categories atomically; returns the backup directory.

    `checkpoint(step)` is called between steps; tests raise from it to prove every failure point
    leaves a usable home.
    """
    selected = list(dict.fromkeys(categories))
    manager = SecretsManager(paths)
    missing = [c for c in selected if not manager.key_exists(c)]
    if missing:
        raise ConfigError(f"cannot rotate missing key(s): {', '.join(missing)} (provision first)")
    with locks.held(paths.lock_file("secrets")):
        backup_dir = _backup(paths, selected)
        committed = False
        try:
            checkpoint("backup")
            planned = _plan(manager, selected)
            _write_temporaries(planned)
            checkpoint("encrypted")
            _verify_temporaries(planned)
            checkpoint("verified")
            committed = True
            _commit(planned, checkpoint)
            for item in planned:
                if item.category == "login":
                    reencrypt_password_hashes(paths.core_db("SYSTEM_USERS.db"), item.new_keys)
            checkpoint("reencrypted")
            _reread(manager, planned)
            checkpoint("reread")
        except Exception as exc:
            if committed:
                restore_backup(paths, backup_dir)
            else:
                _remove_temporaries(paths)
            (backup_dir / IN_PROGRESS).unlink()
            audit_event(
                paths,
                "key_rotation_failed",
                f"key rotation failed: {type(exc).__name__}",
                level="critical",
                actor=actor,
                categories=selected,
                reason=reason,
                backup_dir=str(backup_dir),
            )
            raise ConfigError(
                f"key rotation of {', '.join(selected)} failed and was rolled back: {exc}"
            ) from exc
        (backup_dir / IN_PROGRESS).unlink()
        audit_event(
            paths,
            "key_rotated",
            f"rotated {', '.join(selected)}",
            actor=actor,
            categories=selected,
            reason=reason,
            backup_dir=str(backup_dir),
        )
        _prune(paths, retention)
    return backup_dir


def recover_interrupted_rotation(paths: RuntimePaths) -> list[Path]:
    """At startup, before anything reads a secret: restore every rotation left `IN_PROGRESS`.

    A `login.key` rotation whose keyring `[new, old]` was already committed is completed, never
    undone, since stored hashes may already use the new key.
    """
    recovered: list[Path] = []
    if not paths.key_backups_dir.exists():
        return recovered
    for backup_dir in sorted(paths.key_backups_dir.iterdir()):
        if not (backup_dir / IN_PROGRESS).exists():
            continue
        login_keyring = _committed_login_keyring(paths, backup_dir)
        restore_backup(paths, backup_dir)
        if login_keyring is not None:
            atomic_write_bytes(paths.key_file("login"), b"\n".join(login_keyring) + b"\n")
            reencrypt_password_hashes(paths.core_db("SYSTEM_USERS.db"), login_keyring)
        (backup_dir / IN_PROGRESS).unlink()
        audit_event(
            paths,
            "key_rotation_recovered",
            "restored an interrupted key rotation",
            level="warning",
            actor="startup",
            backup_dir=str(backup_dir),
            completed_login=login_keyring is not None,
        )
        recovered.append(backup_dir)
    return recovered


def _committed_login_keyring(paths: RuntimePaths, backup_dir: Path) -> list[bytes] | None:
    backed_up = backup_dir / "login.key"
    current = paths.key_file("login")
    if not backed_up.exists() or not current.exists():
        return None
    old = [line for line in backed_up.read_bytes().splitlines() if line]
    now = [line for line in current.read_bytes().splitlines() if line]
    if len(now) == 2 and now != old and now[1] == old[0]:
        return now
    return None
