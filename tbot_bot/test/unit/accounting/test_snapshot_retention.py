"""Ledger snapshot retention (accounting spec §8.4, LEDGER_SNAPSHOT_RETENTION_DAYS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tbot_bot.accounting.codec import snapshot_stamp
from tbot_bot.accounting.snapshots import prune
from tbot_bot.config.path_resolver import RuntimePaths

NOW = datetime(2025, 7, 15, 21, 0, tzinfo=UTC)
ID = "TEST_USA_SIM_B01"


def _snapshot(paths: RuntimePaths, identity: str, age_days: float) -> Path:
    stamp = snapshot_stamp(NOW - timedelta(days=age_days))
    path = paths.ledger_snapshot_file(identity, "ledger", stamp, "run1")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"snapshot")
    return path


def test_old_snapshots_of_this_bot_are_pruned(tbot_home: Path) -> None:
    paths = RuntimePaths.for_home()
    old = _snapshot(paths, ID, 31)
    recent = _snapshot(paths, ID, 29)
    other_bot = _snapshot(paths, "OTHER_USA_SIM_B02", 90)
    stray = paths.ledger_snapshots_dir / f"{ID}_BOT_notes.db"
    stray.write_bytes(b"not a snapshot name")
    removed = prune(paths, ID, now=NOW, retention_days=30)
    assert removed == [old]
    assert not old.exists()
    assert recent.exists()
    assert other_bot.exists()  # another bot's history is not ours to prune
    assert stray.exists()  # a name without a stamp is left alone


def test_nothing_to_prune_without_a_folder(tbot_home: Path) -> None:
    assert prune(RuntimePaths.for_home(), ID, now=NOW, retention_days=30) == []
