"""`bot_state`: the one token in `control/bot_state.txt` and its transition table (trading §8.2).

All reads and writes of the state go through this module. A missing or empty file reads as
`initialize`; an unknown token is a `StateError` (never guessed). Every accepted change and every
refused one appends `{ts_utc, from, to, reason, actor, refused}` (plus the common JSON-line fields
of web_runtime §8.7) to `output/logs/bot_state_history.log`; an illegal transition raises
`StateError`.

The web writes only the setup states, the first `started` and setup `error`; the runner writes the
rest. That split is a convention of the callers; this module enforces the transition table.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from tbot_bot.clock import Clock, SystemClock, iso_utc
from tbot_bot.config.audit import append_json_line
from tbot_bot.config.fileio import (
    OUTPUT_DIR_MODE,
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    atomic_write_text,
    ensure_dir,
)
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.redact import redact_text
from tbot_bot.errors import StateError

logger = logging.getLogger(__name__)

HISTORY_LOG = "bot_state_history.log"

SETUP_STATES: tuple[str, ...] = (
    "initialize",
    "initializing",
    "provisioning",
    "bootstrapping",
    "registration",
)
ACTIVE_STATES: tuple[str, ...] = (
    "started",
    "running",
    "idle",
    "analyzing",
    "trading",
    "monitoring",
    "updating",
)
HALTED_STATES: tuple[str, ...] = ("stopped",)
CLOSING_STATES: tuple[str, ...] = ("graceful_closing_positions", "emergency_closing_positions")
TERMINAL_STATES: tuple[str, ...] = ("shutdown_triggered", "shutdown", "error")
ALL_STATES: tuple[str, ...] = (
    SETUP_STATES + ACTIVE_STATES + HALTED_STATES + CLOSING_STATES + TERMINAL_STATES
)
INITIAL_STATE = "initialize"

# The transition table of trading spec §8.2 (plus the setup chain). Rules that apply to many
# states at once ("any -> shutdown", "started onward -> emergency_closing_positions", "each setup
# step may go to error") are added by `allowed_next` rather than repeated in every row.
_SETUP_CHAIN: dict[str, tuple[str, ...]] = {
    "initialize": ("initializing",),
    "initializing": ("provisioning",),
    "provisioning": ("bootstrapping",),
    "bootstrapping": ("registration",),
    "registration": ("started",),
}
_TABLE: dict[str, tuple[str, ...]] = {
    "started": ("running", "idle", "stopped", "shutdown_triggered", "error"),
    "idle": ("running", "stopped", "shutdown_triggered", "updating"),
    "running": (
        "analyzing",
        "trading",
        "monitoring",
        "idle",
        "graceful_closing_positions",
        "updating",
        "error",
    ),
    "analyzing": ("trading", "running", "idle", "graceful_closing_positions", "error"),
    "trading": ("monitoring", "running", "idle", "graceful_closing_positions", "error"),
    "monitoring": ("trading", "running", "idle", "graceful_closing_positions", "error"),
    "graceful_closing_positions": ("stopped", "error"),
    "emergency_closing_positions": ("shutdown_triggered", "error"),
    "shutdown_triggered": ("running", "idle"),
    "stopped": ("running", "idle"),
    # error -> initializing only while setup is incomplete (checked in `allowed_next`).
    "error": ("started", "stopped"),
    "updating": ("started", "error"),
    "shutdown": ("started",),
}
# "Any state from `started` onward" may enter HALTED (trading §8.2).
_HALT_SOURCES = frozenset(ALL_STATES) - frozenset(SETUP_STATES)

# One lock per process guards the read-check-write; `flock` guards it across processes.
_thread_lock = threading.Lock()


def allowed_next(current: str, *, setup_incomplete: bool = False) -> frozenset[str]:
    """The states `current` may move to. `setup_incomplete` enables `error -> initializing`."""
    _check_token(current)
    targets = set(_SETUP_CHAIN.get(current, ())) | set(_TABLE.get(current, ()))
    if current in SETUP_STATES and current != INITIAL_STATE:
        targets.add("error")
    if current == "error" and setup_incomplete:
        targets.add("initializing")
    if current in _HALT_SOURCES:
        targets.add("emergency_closing_positions")
    targets.add("shutdown")
    targets.discard(current)
    return frozenset(targets)


def _check_token(token: str) -> str:
    if token not in ALL_STATES:
        raise StateError(f"unknown bot_state {token!r}; expected one of: {', '.join(ALL_STATES)}")
    return token


@dataclass(frozen=True)
class Transition:
    """One recorded change (or refused change) of `bot_state`."""

    ts_utc: str
    from_state: str
    to_state: str
    reason: str
    actor: str
    refused: bool


class BotStateManager:
    """Reads and writes `bot_state` for one runtime home."""

    def __init__(
        self, paths: RuntimePaths, *, clock: Clock | None = None, identity: str | None = None
    ) -> None:
        self.paths = paths
        self.clock: Clock = clock or SystemClock()
        self.identity = identity

    def get_state(self) -> str:
        """The current token; a missing or empty file is `initialize`, an unknown token an error."""
        try:
            raw = self.paths.bot_state_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return INITIAL_STATE
        token = raw.strip()
        if not token:
            return INITIAL_STATE
        if token not in ALL_STATES:
            raise StateError(
                f"{self.paths.bot_state_file} holds unknown bot_state {token!r}; "
                f"expected one of: {', '.join(ALL_STATES)}"
            )
        return token

    def set_state(
        self, new: str, reason: str, actor: str, *, setup_incomplete: bool = False
    ) -> Transition:
        """Move to `new` if the table allows it; otherwise log `refused: true` and raise."""
        with self._locked():
            current = self.get_state()
            if new not in ALL_STATES or new not in allowed_next(
                current, setup_incomplete=setup_incomplete
            ):
                record = self._record(current, new, reason, actor, refused=True)
                raise StateError(
                    f"bot_state transition {current!r} -> {new!r} is not allowed "
                    f"(actor {actor}, reason {record.reason!r})"
                )
            ensure_dir(self.paths.control_dir, PRIVATE_DIR_MODE)
            atomic_write_text(self.paths.bot_state_file, new + "\n", PRIVATE_FILE_MODE)
            return self._record(current, new, reason, actor, refused=False)

    def _record(self, old: str, new: str, reason: str, actor: str, *, refused: bool) -> Transition:
        now = iso_utc(self.clock.now_utc())
        clean_reason = redact_text(str(reason))[:500]
        transition = Transition(now, old, new, clean_reason, actor, refused)
        verb = "refused" if refused else "changed"
        line: dict[str, object] = {
            "ts_utc": now,
            "level": "warning" if refused else "info",
            "bot_identity": self.identity,
            "module": __name__,
            "event": f"bot_state_{verb}",
            "message": f"bot_state {old} -> {new} {verb} ({clean_reason})",
            "run_id": None,
            "session": None,
            "user": actor,
            "from": old,
            "to": new,
            "reason": clean_reason,
            "actor": actor,
            "refused": refused,
            "extra": {},
        }
        ensure_dir(self.paths.global_logs_dir, OUTPUT_DIR_MODE)
        append_json_line(self.paths.global_log(HISTORY_LOG), line)
        log = logger.warning if refused else logger.info
        log("bot_state %s -> %s %s by %s", old, new, verb, actor)
        return transition

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-check-write across threads and processes (web and runner)."""
        ensure_dir(self.paths.locks_dir, PRIVATE_DIR_MODE)
        # A plain flock file (not the O_EXCL pid lock of locks.py): it is held for microseconds
        # and released by the kernel if the holder dies, so it never needs reclaiming.
        lock_path = self.paths.flock_file("bot_state")
        with _thread_lock:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)


def get_state(paths: RuntimePaths | None = None) -> str:
    """Module-level shortcut: the current `bot_state` of `paths` (default: `TBOT_HOME`)."""
    return BotStateManager(paths or RuntimePaths.for_home()).get_state()


def set_state(
    new: str,
    reason: str,
    actor: str,
    *,
    paths: RuntimePaths | None = None,
    clock: Clock | None = None,
    setup_incomplete: bool = False,
) -> Transition:
    """Module-level shortcut for `BotStateManager(paths).set_state(...)`."""
    manager = BotStateManager(paths or RuntimePaths.for_home(), clock=clock)
    return manager.set_state(new, reason, actor, setup_incomplete=setup_incomplete)


def read_history(paths: RuntimePaths, limit: int = 100) -> list[dict[str, object]]:
    """The last `limit` history lines (parsed), oldest first; unparsable lines are skipped."""
    path = paths.global_log(HISTORY_LOG)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records: list[dict[str, object]] = []
    for line in lines[-limit:]:
        with contextlib.suppress(json.JSONDecodeError):
            parsed = json.loads(line)
            if isinstance(parsed, dict):
                records.append(parsed)
    return records
