"""`O_EXCL` lock files `{pid, created_utc}` under `control/locks/` (web_runtime §1.3).

A lock is reclaimed only when the process that holds it is dead, so two runners or two rotations
can never overlap on one home.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from tbot_bot.clock import iso_utc, utc_now
from tbot_bot.config.fileio import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, ensure_dir
from tbot_bot.errors import ConfigError


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder_pid(path: Path) -> int | None:
    try:
        data = json.loads(path.read_text())
        return int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def acquire(path: Path) -> None:
    """Create the lock file exclusively; adopt it only if its holder is dead."""
    ensure_dir(path.parent, PRIVATE_DIR_MODE)
    body = json.dumps({"pid": os.getpid(), "created_utc": iso_utc(utc_now())}).encode()
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        except FileExistsError:
            holder = _holder_pid(path)
            if holder is not None and _pid_alive(holder):
                raise ConfigError(
                    f"lock {path.name} is held by running process {holder}; try again later"
                ) from None
            # The holder died (or the file is unreadable garbage): reclaim it.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        return
    raise ConfigError(f"could not acquire lock {path}")


def is_held(path: Path) -> bool:
    """True while a live process holds the lock (a stale file of a dead process is not held)."""
    holder = _holder_pid(path)
    return holder is not None and _pid_alive(holder)


def release(path: Path) -> None:
    """Remove the lock if this process holds it."""
    if _holder_pid(path) == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def held(path: Path) -> Iterator[None]:
    acquire(path)
    try:
        yield
    finally:
        release(path)
