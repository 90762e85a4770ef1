"""Atomic writes and permission rules (web_runtime §0).

Atomic write = `<name>.tmp` in the target directory with the final mode, flush, fsync, `os.replace`,
fsync the directory. A crash at any point leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from tbot_bot.errors import ConfigError

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
OUTPUT_DIR_MODE = 0o750
OUTPUT_FILE_MODE = 0o640


def ensure_dir(path: Path, mode: int = PRIVATE_DIR_MODE) -> Path:
    """Create `path` (and parents) and set its mode; parents keep their own modes."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    return path


def fsync_dir(path: Path) -> None:
    """Persist a rename: fsync the directory that holds the entry."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, mode: int = PRIVATE_FILE_MODE) -> None:
    """Replace `path` with `data` atomically; the file has `mode` from its first byte on."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed the create mode
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    os.close(fd)
    tmp.replace(path)
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, mode: int = PRIVATE_FILE_MODE) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def check_private_file(path: Path, what: str) -> None:
    """A key or secret readable by group or others is a ConfigError (web_runtime §0)."""
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} is missing: {path}") from exc
    except PermissionError as exc:
        raise ConfigError(f"{what} cannot be read (permission denied): {path}") from exc
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{what} {path} has mode {stat.S_IMODE(st.st_mode):04o}: group/others may read it; "
            "expected 0600 (fix: chmod 600)"
        )


def read_private_bytes(path: Path, what: str) -> bytes:
    """Read a key or secret after checking its mode; every failure names the file."""
    check_private_file(path, what)
    try:
        return path.read_bytes()
    except PermissionError as exc:
        raise ConfigError(f"{what} cannot be read (permission denied): {path}") from exc
    except OSError as exc:
        raise ConfigError(f"{what} cannot be read ({exc.strerror}): {path}") from exc
