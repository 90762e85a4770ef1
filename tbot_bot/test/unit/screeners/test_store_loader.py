"""Loader of the published universe: both shapes, invalid files, staleness in XNYS sessions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import DataError
from tbot_bot.screeners.store import (
    UniverseFiles,
    UniverseLoad,
    load_universe,
    publish,
    waiting_payload,
    write_json_atomic,
)
from tbot_bot.test.unit.screeners.helpers import AFTER_CLOSE, calendar, record


@pytest.fixture
def files(tbot_home: Path) -> UniverseFiles:
    return UniverseFiles(RuntimePaths.for_home())


def load(now: datetime = AFTER_CLOSE, max_age: int = 3) -> UniverseLoad:
    return load_universe(RuntimePaths.for_home(), calendar(), now, max_age)


def test_missing_file_is_empty(files: UniverseFiles) -> None:
    assert load().status == "universe_empty"


def test_published_object_is_ok(files: UniverseFiles) -> None:
    publish(files, [record("AAA", cap="5E9"), record("BBB")], {"raw": 9, "final": 2}, AFTER_CLOSE)
    loaded = load()
    assert loaded.status == "ok"
    assert loaded.tickers == ("AAA", "BBB")
    assert loaded.counts == {"raw": 9, "unfiltered": 0, "partial": 0, "final": 2}
    document = json.loads(files.published.read_text())
    assert document["status"] == "ok"
    assert document["build_timestamp_utc"] == "2025-07-15T22:00:00.000Z"


def test_object_without_status_but_with_symbols_is_ok(files: UniverseFiles) -> None:
    write_json_atomic(
        files.published,
        {"symbols": [record("AAA").to_json()], "build_timestamp_utc": "2025-07-15T22:00:00Z"},
    )
    assert load().status == "ok"


def test_waiting_payload_reads_as_empty(files: UniverseFiles) -> None:
    write_json_atomic(files.published, waiting_payload(AFTER_CLOSE))
    loaded = load()
    assert (loaded.status, loaded.reason, loaded.symbols) == (
        "universe_empty",
        "waiting_for_credentials",
        (),
    )


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2]",
        json.dumps(
            {"status": "ok", "symbols": "AAPL", "build_timestamp_utc": "2025-07-15T22:00:00Z"}
        ),
        json.dumps(
            {
                "status": "ok",
                "symbols": [{"symbol": "AAA"}],
                "build_timestamp_utc": "2025-07-15T22:00:00Z",
            }
        ),
        json.dumps(
            {
                "status": "ok",
                "symbols": [record("A").to_json(), record("A").to_json()],
                "build_timestamp_utc": "2025-07-15T22:00:00Z",
            }
        ),
        json.dumps({"symbols": [record("A").to_json()]}),
        json.dumps({"status": "building", "symbols": []}),
    ],
)
def test_unusable_files_are_invalid(files: UniverseFiles, content: str) -> None:
    files.ensure()
    files.published.write_text(content)
    loaded = load()
    assert loaded.status == "universe_invalid"
    assert loaded.reason


@pytest.mark.parametrize(
    ("now", "status", "sessions"),
    [
        (datetime(2025, 7, 18, 21, 0, tzinfo=UTC), "ok", 3),  # Wed, Thu, Fri closes
        (datetime(2025, 7, 21, 19, 59, tzinfo=UTC), "ok", 3),  # Monday before its close
        (datetime(2025, 7, 21, 20, 0, tzinfo=UTC), "universe_stale", 4),  # Monday's close
    ],
)
def test_staleness_counts_xnys_sessions(
    files: UniverseFiles, now: datetime, status: str, sessions: int
) -> None:
    publish(files, [record("AAA")], {"final": 1}, AFTER_CLOSE)
    loaded = load(now)
    assert (loaded.status, loaded.sessions_since_build) == (status, sessions)


def test_holiday_is_not_a_session(files: UniverseFiles) -> None:
    built = datetime(2025, 7, 2, 22, 0, tzinfo=UTC)  # Wednesday; Friday 4 July is a holiday
    publish(files, [record("AAA")], {"final": 1}, built)
    loaded = load_universe(
        RuntimePaths.for_home(), calendar(), datetime(2025, 7, 8, 21, 0, tzinfo=UTC), 3
    )
    assert (loaded.status, loaded.sessions_since_build) == ("ok", 3)  # Jul 3, 7, 8


def test_publish_refuses_empty_or_duplicate_records(files: UniverseFiles) -> None:
    with pytest.raises(DataError, match="zero final symbols"):
        publish(files, [], {}, AFTER_CLOSE)
    with pytest.raises(DataError, match="duplicate"):
        publish(files, [record("AAA"), record("AAA")], {}, AFTER_CLOSE)
    assert not files.published.exists()
