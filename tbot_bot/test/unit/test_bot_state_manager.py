"""bot_state: the transition table of trading §8.2, refused transitions, history log."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tbot_bot.clock import FakeClock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import StateError
from tbot_bot.runtime import bot_state_manager as bsm

# Every edge the spec lists explicitly (trading §8.2 table + setup chain), written out by hand so
# the test does not just mirror the module's table.
SPEC_EDGES = {
    ("initialize", "initializing"),
    ("initializing", "provisioning"),
    ("provisioning", "bootstrapping"),
    ("bootstrapping", "registration"),
    ("registration", "started"),
    ("initializing", "error"),
    ("provisioning", "error"),
    ("bootstrapping", "error"),
    ("registration", "error"),
    ("started", "running"),
    ("started", "idle"),
    ("started", "stopped"),
    ("started", "shutdown_triggered"),
    ("started", "error"),
    ("idle", "running"),
    ("idle", "stopped"),
    ("idle", "shutdown_triggered"),
    ("idle", "updating"),
    ("running", "analyzing"),
    ("running", "trading"),
    ("running", "monitoring"),
    ("running", "idle"),
    ("running", "graceful_closing_positions"),
    ("running", "updating"),
    ("running", "error"),
    ("analyzing", "trading"),
    ("analyzing", "running"),
    ("analyzing", "idle"),
    ("analyzing", "graceful_closing_positions"),
    ("analyzing", "error"),
    ("trading", "monitoring"),
    ("trading", "running"),
    ("trading", "idle"),
    ("trading", "graceful_closing_positions"),
    ("trading", "error"),
    ("monitoring", "trading"),
    ("monitoring", "running"),
    ("monitoring", "idle"),
    ("monitoring", "graceful_closing_positions"),
    ("monitoring", "error"),
    ("graceful_closing_positions", "stopped"),
    ("graceful_closing_positions", "error"),
    ("emergency_closing_positions", "shutdown_triggered"),
    ("emergency_closing_positions", "error"),
    ("shutdown_triggered", "running"),
    ("shutdown_triggered", "idle"),
    ("stopped", "running"),
    ("stopped", "idle"),
    ("error", "started"),
    ("error", "stopped"),
    ("updating", "started"),
    ("updating", "error"),
    ("shutdown", "started"),
}
SETUP = {"initialize", "initializing", "provisioning", "bootstrapping", "registration"}


def _expected(current: str, new: str, *, setup_incomplete: bool) -> bool:
    if current == new:
        return False
    if (current, new) in SPEC_EDGES or new == "shutdown":
        return True
    if new == "emergency_closing_positions" and current not in SETUP:
        return True
    return current == "error" and new == "initializing" and setup_incomplete


@pytest.fixture
def paths(tbot_home: Path) -> RuntimePaths:
    return RuntimePaths.for_home(tbot_home)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2025, 3, 4, 14, 30, tzinfo=UTC))


def _force(paths: RuntimePaths, state: str) -> None:
    paths.control_dir.mkdir(parents=True, exist_ok=True)
    paths.bot_state_file.write_text(state + "\n")


def test_missing_or_empty_file_reads_initialize(paths: RuntimePaths) -> None:
    assert bsm.get_state(paths) == "initialize"
    _force(paths, "")
    assert bsm.get_state(paths) == "initialize"


def test_unknown_token_is_an_error(paths: RuntimePaths) -> None:
    _force(paths, "dancing")
    with pytest.raises(StateError, match="dancing"):
        bsm.get_state(paths)


@pytest.mark.parametrize("current", bsm.ALL_STATES)
@pytest.mark.parametrize("setup_incomplete", [False, True])
def test_transition_table(
    paths: RuntimePaths, clock: FakeClock, current: str, setup_incomplete: bool
) -> None:
    manager = bsm.BotStateManager(paths, clock=clock)
    for new in bsm.ALL_STATES:
        _force(paths, current)
        allowed = _expected(current, new, setup_incomplete=setup_incomplete)
        if allowed:
            manager.set_state(new, "test", "test:actor", setup_incomplete=setup_incomplete)
            assert manager.get_state() == new
        else:
            with pytest.raises(StateError):
                manager.set_state(new, "test", "test:actor", setup_incomplete=setup_incomplete)
            assert manager.get_state() == current


def test_history_lines_and_file_mode(paths: RuntimePaths, clock: FakeClock) -> None:
    manager = bsm.BotStateManager(paths, clock=clock)
    manager.set_state("initializing", "form accepted", "web:setup")
    with pytest.raises(StateError):
        manager.set_state("running", "nope", "web:setup")
    lines = [
        json.loads(x) for x in paths.global_log("bot_state_history.log").read_text().splitlines()
    ]
    assert [(r["from"], r["to"], r["refused"]) for r in lines] == [
        ("initialize", "initializing", False),
        ("initializing", "running", True),
    ]
    for record in lines:
        for field in ("ts_utc", "level", "bot_identity", "module", "event", "message", "actor"):
            assert field in record
        assert record["ts_utc"] == "2025-03-04T14:30:00.000Z"
    assert paths.bot_state_file.read_text() == "initializing\n"
    assert stat.S_IMODE(paths.bot_state_file.stat().st_mode) == 0o600
    assert bsm.read_history(paths)[-1]["refused"] is True


def test_unknown_target_is_refused_and_logged(paths: RuntimePaths, clock: FakeClock) -> None:
    manager = bsm.BotStateManager(paths, clock=clock)
    with pytest.raises(StateError):
        manager.set_state("flying", "x", "test")
    assert bsm.read_history(paths)[-1]["to"] == "flying"
    assert manager.get_state() == "initialize"


def test_reason_is_redacted(paths: RuntimePaths, clock: FakeClock) -> None:
    manager = bsm.BotStateManager(paths, clock=clock)
    token = "gAAAAA" + "x" * 40
    manager.set_state("initializing", f"leaked {token}", "test")
    text = paths.global_log("bot_state_history.log").read_text()
    assert token not in text
