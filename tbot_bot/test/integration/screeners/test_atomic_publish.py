"""Atomic publish: a process killed in the middle of writing leaves the last good universe."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.screeners.store import UniverseFiles, load_universe, publish
from tbot_bot.test.unit.screeners.helpers import AFTER_CLOSE, calendar, record

_CHILD = textwrap.dedent(
    """
    import os
    from decimal import Decimal
    from tbot_bot.clock import parse_iso_utc
    from tbot_bot.config.path_resolver import RuntimePaths
    from tbot_bot.screeners.records import UniverseRecord
    from tbot_bot.screeners.store import UniverseFiles, publish

    records = [
        UniverseRecord(f"N{i:03d}", "NYSE", "common", Decimal("10"), Decimal(10**9 + i))
        for i in range(500)
    ]
    real_write = os.write

    def write_half_then_die(fd, data):
        # Simulate a power cut: part of the new file reaches the disk, then the process is gone.
        real_write(fd, bytes(data[: len(data) // 2]))
        os._exit(3)

    os.write = write_half_then_die
    publish(UniverseFiles(RuntimePaths.for_home()), records, {"final": 500},
            parse_iso_utc("2025-07-16T22:00:00Z"))
    """
)


def test_crash_mid_write_keeps_the_last_good_file(tbot_home: Path) -> None:
    files = UniverseFiles(RuntimePaths.for_home())
    good = [record("AAA", cap="5000000000"), record("BBB", cap="4000000000")]
    publish(files, good, {"raw": 2, "unfiltered": 2, "partial": 2, "final": 2}, AFTER_CLOSE)
    before = files.published.read_bytes()

    env = {**os.environ, "TBOT_HOME": str(tbot_home)}
    child = subprocess.run([sys.executable, "-c", _CHILD], env=env, check=False, timeout=60)

    assert child.returncode == 3
    assert files.published.read_bytes() == before
    leftover = files.published.with_name(files.published.name + ".tmp")
    assert leftover.exists() and leftover.stat().st_size > 0  # the torn write went elsewhere
    loaded = load_universe(RuntimePaths.for_home(), calendar(), AFTER_CLOSE, 3)
    assert loaded.status == "ok"
    assert loaded.tickers == ("AAA", "BBB")

    publish(files, [record("CCC")], {"final": 1}, AFTER_CLOSE)
    assert load_universe(RuntimePaths.for_home(), calendar(), AFTER_CLOSE, 3).tickers == ("CCC",)
    assert not leftover.exists()


def test_failed_write_in_process_keeps_the_last_good_file(
    tbot_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = UniverseFiles(RuntimePaths.for_home())
    publish(files, [record("AAA")], {"final": 1}, AFTER_CLOSE)
    before = files.published.read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        publish(files, [record("ZZZ")], {"final": 1}, AFTER_CLOSE)
    monkeypatch.undo()
    assert files.published.read_bytes() == before
    assert not files.published.with_name(files.published.name + ".tmp").exists()
