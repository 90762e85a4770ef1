"""UI routing by `bot_state` (web_runtime §1.6): which phase the UI is in and where `/` lands.

"Setup complete" = keys and secrets decrypt, the four core databases verify and an admin was
provisioned (exists and is not deactivated). A *locked* admin still counts: otherwise anyone could
lock the only admin with bad passwords and, in state `error`, flip the whole UI to the setup form.
It is computed only where the table needs it (`error` state), because it decrypts every secret
and runs integrity checks; even there the expensive part is cached per runtime home and redone
only when one of the files it reads changes (see `_file_stamps`). The provisioned-admin count is
two cheap queries and is always read fresh, so a change of admins never waits on a file stamp.
"""

from __future__ import annotations

import sqlite3
import threading
from enum import StrEnum
from pathlib import Path

from tbot_bot.config.path_resolver import CORE_DATABASES, KEY_CATEGORIES, SECRET_FILES, RuntimePaths
from tbot_bot.core.scripts.verify_all_core_databases import verify
from tbot_bot.errors import ConfigError
from tbot_bot.runtime.bot_state_manager import ACTIVE_STATES, CLOSING_STATES
from tbot_web.support.context import WebContext
from tbot_web.support.sql import query


class Phase(StrEnum):
    """Rows of the §1.6 table, first match wins."""

    SETUP_FORM = "setup_form"  # initialize, or error while setup is incomplete
    SETUP_WAIT = "setup_wait"  # initializing, provisioning, bootstrapping
    SETUP_REGISTER = "setup_register"  # registration, or zero users
    ACTIVE = "active"  # started ... updating, stopped
    CLOSING = "closing"  # graceful/emergency closing
    HALTED = "halted"  # error, shutdown, shutdown_triggered (setup complete)


SETUP_PHASES = frozenset({Phase.SETUP_FORM, Phase.SETUP_WAIT, Phase.SETUP_REGISTER})
ALL_PHASES = frozenset(Phase)
LANDING: dict[Phase, str] = {
    Phase.SETUP_FORM: "configuration.configuration",
    Phase.SETUP_WAIT: "main.wait",
    Phase.SETUP_REGISTER: "register.register",
}
_WAIT_STATES = frozenset({"initializing", "provisioning", "bootstrapping"})
_OPEN_STATES = frozenset(ACTIVE_STATES) | {"stopped"}


def user_counts(context: WebContext) -> tuple[int, int]:
    """(all users, provisioned admins); (0, 0) before SYSTEM_USERS.db exists or when unreadable.

    Provisioned admins = role admin and not deactivated, locked or not (see the module docstring).
    """
    if not context.paths.core_db("SYSTEM_USERS.db").exists():
        return 0, 0
    try:
        conn = context.connection("SYSTEM_USERS.db")
        users = int(conn.execute(query("users.count_users")).fetchone()[0])
        admins = int(conn.execute(query("users.count_provisioned_admins")).fetchone()[0])
    except (sqlite3.Error, ConfigError):
        return 0, 0
    return users, admins


def has_users(context: WebContext) -> bool:
    """At least one account exists (one cheap query; counts only where the table needs them)."""
    if not context.paths.core_db("SYSTEM_USERS.db").exists():
        return False
    try:
        conn = context.connection("SYSTEM_USERS.db")
        return bool(conn.execute(query("users.any_user")).fetchone()[0])
    except (sqlite3.Error, ConfigError):
        return False


FileStamp = tuple[int, int, int, int] | None
# Runtime home -> (stamps of the files read, verdict). A handful of homes at most in production;
# tests build many, so the oldest entry is dropped beyond the bound.
_CHECK_CACHE: dict[RuntimePaths, tuple[tuple[FileStamp, ...], bool]] = {}
_CHECK_CACHE_MAX = 32
_CHECK_LOCK = threading.Lock()
_REQUIRED_SECRETS = ("env", "broker", "bot_identity", "network_config")


def _stamp(path: Path) -> FileStamp:
    """(mtime_ns, size, inode, mode) of `path`, or None when it is absent or unreadable.

    Size and inode catch atomic replacements and most writes that land in the same mtime tick;
    mode catches a chmod (the checks refuse group/other-readable keys and databases).
    """
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode)


def _wal_stamp(db_path: Path) -> FileStamp:
    """The WAL file's stamp; an empty WAL holds nothing, so it reads as absent.

    SQLite creates an empty WAL when the first connection opens and may delete it when the last
    one closes; neither changes the database, so neither should cost a recomputation.
    """
    stamp = _stamp(db_path.with_name(db_path.name + "-wal"))
    return None if stamp is None or stamp[1] == 0 else stamp


def _file_stamps(paths: RuntimePaths) -> tuple[FileStamp, ...]:
    """Stamps of everything the expensive checks read: key and secret files, the core databases
    with their WAL files (where SQLite writes first) and the database directory's mode (its
    mtime moves whenever SQLite creates or removes a WAL/SHM file, so only the mode counts)."""
    files = [paths.key_file(category) for category in KEY_CATEGORIES]
    files += [paths.secret_file(category) for category in SECRET_FILES]
    stamps = [_stamp(path) for path in files]
    directory = _stamp(paths.core_db_dir)
    stamps.append(None if directory is None else (0, 0, 0, directory[3]))
    for name in CORE_DATABASES:
        db_path = paths.core_db(name)
        stamps += [_stamp(db_path), _wal_stamp(db_path)]
    return tuple(stamps)


def _files_verify(context: WebContext) -> bool:
    """The core databases verify and every key and secret decrypts (uncached)."""
    if verify(context.paths):
        return False
    secrets = context.secrets
    if not all(secrets.has_secret(category) for category in _REQUIRED_SECRETS):
        return False
    return not secrets.verify_all()


def _files_verify_cached(context: WebContext) -> bool:
    """`_files_verify`, reused while none of the files it reads has changed.

    The stamps are taken before the checks run, so a file changed during them is seen as changed
    on the next call. Two threads may both recompute after a change; the answers are the same.
    """
    stamps = _file_stamps(context.paths)
    with _CHECK_LOCK:
        hit = _CHECK_CACHE.get(context.paths)
    if hit is not None and hit[0] == stamps:
        return hit[1]
    verdict = _files_verify(context)
    with _CHECK_LOCK:
        _CHECK_CACHE.pop(context.paths, None)
        while len(_CHECK_CACHE) >= _CHECK_CACHE_MAX:
            del _CHECK_CACHE[next(iter(_CHECK_CACHE))]
        _CHECK_CACHE[context.paths] = (stamps, verdict)
    return verdict


def setup_complete(context: WebContext) -> bool:
    """Keys and secrets decrypt, the core databases verify and a provisioned admin exists."""
    if user_counts(context)[1] == 0:
        return False
    return _files_verify_cached(context)


def phase_for(state: str, *, context: WebContext) -> Phase:
    """The §1.6 row for `state` (first match wins)."""
    if state == "initialize":
        return Phase.SETUP_FORM
    if state == "error" and not setup_complete(context):
        return Phase.SETUP_FORM
    if state in _WAIT_STATES:
        return Phase.SETUP_WAIT
    if state == "registration" or not has_users(context):
        return Phase.SETUP_REGISTER
    if state in _OPEN_STATES:
        return Phase.ACTIVE
    if state in CLOSING_STATES:
        return Phase.CLOSING
    return Phase.HALTED
